// Package sql is Sluice's planner for Flink-style streaming SQL: DDL with
// connector options and watermarks, a catalog of tables, and INSERT INTO …
// SELECT queries turned into a dataflow graph of operators.
//
// It sits above the engine: sql imports runtime and operators, never the
// other way round. Its parts:
//
//   - sql/parser: our lexer, script splitter (statements with their file
//     positions) and DDL parser (CREATE TABLE … WITH, WATERMARK FOR, DROP,
//     SHOW TABLES, DESCRIBE, SET 'key' = 'value').
//   - sql/catalog: the tables, in memory or in a folder (--catalog DIR).
//   - sql/query: queries parsed with sql/parser's query parser (its AST),
//     names resolved and scalar expressions translated to operators/expr,
//     every error positioned at line:column of the job file from the AST's
//     positions.
//   - this package: the planner. A query becomes, per INSERT: the source of
//     each table in FROM (connector by name, watermark from the table), a
//     calc (WHERE + projections the aggregation needs), a keyed exchange on
//     the GROUP BY keys, a window (TUMBLE/HOP/SESSION) or groupagg (no
//     window: a changelog, accepted only by sinks that take updates), a calc
//     for HAVING and the final projection (window bounds mapped from
//     TUMBLE_START/_END etc.), and the sink; interval joins from
//     `a JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - x AND a.ts + y`;
//     window joins of two windowed inputs on their window_start and
//     window_end (windowjoin.go: operators/join.NewWindow); regular joins (joins.go: operators/join.NewRegular, INNER, LEFT,
//     RIGHT, FULL, the non-equi terms of ON as the residual) for every
//     other join with an equality between its sides; UNION ALL as several
//     inputs of one sink; a subquery numbering its
//     rows with ROW_NUMBER() OVER (…) filtered on the number outside it
//     (rank.go) as a Top-N or deduplication (operators/rank); OVER
//     aggregates of a select list (over.go: operators/over, one window);
//     PROCTIME() as a processing-time attribute whose windows fire on the
//     clock (proctime.go); a table's computed columns (name AS expr,
//     a watermark on one too), computed in its source's subtasks
//     (computed.go); temporal joins FOR SYSTEM_TIME AS OF, event or
//     processing time (temporal.go: operators/join.NewTemporal,
//     NewProcTemporal); a Top-N partitioned by a window table function's
//     window_start and window_end as a window Top-N (windowrank.go:
//     operators/rank.NewWindow). All INSERTs of a file form
//     one job. SET options (settings.go: state TTL, key limit) apply to
//     the queries after them.
package sql
