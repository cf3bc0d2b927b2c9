// Package catalog keeps the tables a Sluice job can read and write — their
// columns, event time, primary key and connector options — in the manner of
// the AWS Glue Data Catalog: in memory for one job (New), or in a folder
// (Open) so that later jobs use tables defined earlier.
//
// A folder catalog keeps one JSON file per table, <name>.json with the name
// in lower case; it reads the folder on every call, so several processes
// may share one folder. Names are matched case-insensitively.
//
// ROW columns: the runtime has no ROW type, so a ROW column is its fields.
// A table declared with person ROW<id BIGINT, name VARCHAR> has the
// columns person.id and person.name (nested ROWs: a.b.c), in place of
// person; Table.Rows remembers the ROW as declared, for DESCRIBE. A field
// is nullable when it or its ROW is. Queries select the fields —
// SELECT person.id works, SELECT person is an error that names them — and
// connectors read and write the fields as columns of those names.
package catalog
