CREATE TABLE t (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE FUNCTION f
  AS 'com.example.udf.Missing' LANGUAGE JAVA;
SELECT f(a) FROM t;
