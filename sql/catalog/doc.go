// Package catalog keeps the tables a Sluice job can read and write — their
// columns, event time, primary key and connector options — in the manner of
// the AWS Glue Data Catalog: in memory for one job (New), or in a folder
// (Open) so that later jobs use tables defined earlier.
//
// A folder catalog keeps one JSON file per table, <name>.json with the name
// in lower case; it reads the folder on every call, so several processes
// may share one folder. Names are matched case-insensitively.
package catalog
