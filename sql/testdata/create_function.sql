-- CREATE FUNCTION names a Go function (registered with
-- sluice.RegisterFunction, or built in) for the queries after it.
CREATE TABLE words (id BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '3',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3');
CREATE FUNCTION shout AS 'go:upper';
CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS twice AS 'REPEAT' LANGUAGE GO;
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT id, shout('v' || CAST(id AS VARCHAR)) AS loud, twice(CAST(id AS VARCHAR), 2) AS w2 FROM words;
