// Package parser reads Sluice SQL scripts: it splits a script into
// statements, parses the DDL (CREATE TABLE, CREATE VIEW, CREATE FUNCTION,
// DROP TABLE, DROP VIEW, SHOW TABLES, DESCRIBE) and SET into an AST, and
// parses queries (INSERT, SELECT, WITH) into an AST on request
// (ParseQuery, Statement.ParseQuery).
//
// # Which parser owns which forms
//
// This package owns the whole grammar: the DDL, and, since it has a query
// parser of its own, the queries too. One grammar gives one AST with
// exact positions (line:column in the job file) for every node, so that
// the planner can place each error where the mistake is, and it reads
// Flink SQL as Flink users write it (Nexmark's queries q0–q22 parse as
// written). The planner reads every query from this AST (sql/query binds
// its names and translates its expressions); the MySQL-dialect parser and
// the text rewriting it needed are gone. Views are parsed here too (a
// CREATE VIEW carries its query's AST), as are computed columns and
// watermark expressions.
//
// # The DDL
//
// The DDL follows Flink SQL:
//
//	CREATE TABLE [IF NOT EXISTS] name (
//	    col TYPE [NOT NULL | NULL] [PRIMARY KEY NOT ENFORCED] [COMMENT '…'], …
//	    [, col AS expr [COMMENT '…']]            -- a computed column
//	    [, WATERMARK FOR ts AS expr]              -- fast path: ts [- INTERVAL 'n' UNIT]
//	    [, [CONSTRAINT c] PRIMARY KEY (col, …) NOT ENFORCED]
//	) [PARTITIONED BY (col, …)] [WITH ('key' = 'value', …)]
//
//	CREATE TABLE name WITH (…)      -- a sink whose columns the query defines
//	CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(col, …)] AS query
//	CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS] name AS 'identifier' [LANGUAGE lang]
//	DROP TABLE [IF EXISTS] name
//	DROP [TEMPORARY] VIEW [IF EXISTS] name
//	SHOW TABLES
//	DESCRIBE name | DESC name
//	SET 'key' = 'value'             -- a job option (the planner knows the keys)
//
// Types: BOOLEAN, INT/INTEGER, BIGINT, DOUBLE/DOUBLE PRECISION/FLOAT,
// VARCHAR/VARCHAR(n)/STRING (n is accepted, not enforced),
// TIMESTAMP/TIMESTAMP(3) [WITHOUT TIME ZONE]. Interval units: MILLISECOND,
// SECOND, MINUTE, HOUR, DAY, singular or plural, with a whole, non-negative
// count written as a quoted string or a bare number. A PRIMARY KEY is kept
// in the AST, must be NOT ENFORCED (Sluice never checks uniqueness, as
// Flink) and makes its columns NOT NULL. METADATA columns are refused.
//
// # Queries
//
// ParseQuery reads INSERT INTO t [(cols)] query, or a query:
//
//	[WITH name [(cols)] AS (query), …]
//	select | VALUES (expr, …), … | query UNION [ALL] query | query EXCEPT query | query INTERSECT query | (query)
//	[ORDER BY expr [ASC|DESC] [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET n]
//
//	SELECT [DISTINCT|ALL] expr [[AS] alias] | * | t.*, …
//	[FROM table-ref [, | [INNER] JOIN | LEFT|RIGHT|FULL [OUTER] JOIN | CROSS JOIN table-ref [ON cond | USING (cols)]] …]
//	[WHERE cond] [GROUP BY expr, …] [HAVING cond]
//
// where a table-ref is name [FOR SYSTEM_TIME AS OF expr] [[AS] alias
// [(cols)]], (query) [[AS] alias], (joins), or TABLE(f(args)), a
// table-valued function whose arguments may be TABLE t [PARTITION BY
// cols], DESCRIPTOR(cols) and name => value. Expressions have Flink's
// precedence: OR, AND, NOT, the comparisons with IS, BETWEEN, IN, LIKE
// and SIMILAR TO, + -, * / % ||, unary - +. Calls take DISTINCT, *,
// FILTER (WHERE …) and OVER (PARTITION BY … ORDER BY … ROWS|RANGE …) or
// OVER name; CAST/TRY_CAST, CASE, EXTRACT, POSITION, SUBSTRING, TRIM,
// OVERLAY, INTERVAL literals (including INTERVAL 10 SECOND and
// MINUTE TO SECOND), typed literals, subqueries (scalar, IN, EXISTS) and
// x[i] have their own forms. A word is reserved only where the grammar
// needs it to end an expression or a table reference (FROM, WHERE, JOIN,
// ON, …); key, value, day, time and the like are names. Recognised but
// unsupported constructs (GROUPING SETS, ROLLUP, CUBE, MATCH_RECOGNIZE,
// LATERAL, UNNEST, NATURAL JOIN, the WINDOW clause, ${NAME}
// placeholders) fail with "… is not supported" at their position.
//
// The AST is the planner's: every node has its position (Position());
// String() prints it back as canonical SQL (upper-case keywords, names in
// backticks, parentheses where precedence needs them), which parses to an
// equal AST.
//
// # Lexical rules
//
// Keywords are case-insensitive; `backticks` quote a name (a doubled
// backtick stands for one); 'single quotes' quote a string (a doubled
// quote stands for one; a backslash is an ordinary character); comments
// are -- to the end of the line and /* … */ (not nested). Text in "double
// quotes" is a name in a query, as in Flink; the DDL does not accept it.
// Positions are 1-based line:column, columns counted in characters (a tab
// is one character, an invalid UTF-8 byte is one character).
//
// Every error is a *SyntaxError naming the line and column in the script;
// the errors of queries say what was expected and what was found, e.g.
// "line 3:17: expected ')' to close the call of COUNT at 3:5, found 'FROM'".
package parser
