CREATE TABLE t (a BIGINT, b AS a + 1) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT a FROM t;
