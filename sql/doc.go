// Package sql is Sluice's planner for Flink-style streaming SQL: DDL with
// connector options and watermarks, a catalog of tables, and INSERT INTO …
// SELECT queries turned into a dataflow graph of operators.
//
// It sits above the engine: sql imports runtime and operators, never the
// other way round.
package sql
