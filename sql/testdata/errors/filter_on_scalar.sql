CREATE TABLE t (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT UPPER(CAST(a AS VARCHAR)) FILTER (WHERE a > 1) FROM t;
