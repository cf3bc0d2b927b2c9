// Package parser reads Sluice SQL scripts: it splits a script into
// statements, parses the DDL (CREATE TABLE, DROP TABLE, SHOW TABLES,
// DESCRIBE) and SET into an AST, and keeps queries (INSERT, SELECT, WITH) as their
// raw text for the query parser of the planner.
//
// The DDL follows Flink SQL:
//
//	CREATE TABLE [IF NOT EXISTS] name (
//	    col TYPE [NOT NULL | NULL] [PRIMARY KEY NOT ENFORCED], …
//	    [, WATERMARK FOR ts AS ts [- INTERVAL 'n' UNIT]]
//	    [, [CONSTRAINT c] PRIMARY KEY (col, …) NOT ENFORCED]
//	) [WITH ('key' = 'value', …)]
//
//	CREATE TABLE name WITH (…)      -- a sink whose columns the query defines
//	DROP TABLE [IF EXISTS] name
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
// Flink) and makes its columns NOT NULL.
//
// Lexical rules: keywords are case-insensitive; `backticks` quote a name
// (a doubled backtick stands for one); 'single quotes' quote a string (a
// doubled quote stands for one; a backslash is an ordinary character);
// comments are -- to the end of the line and /* … */ (not nested). Text in
// "double quotes" is lexed as one token, so that a ';' inside it does not
// split a query, but the DDL does not accept it. Positions are 1-based
// line:column, columns counted in characters (a tab is one character, an
// invalid UTF-8 byte is one character).
//
// Every error is a *SyntaxError naming the line and column in the script.
package parser
