CREATE TABLE t (
  a BIGINT,
  b AS a + 1,
  c AS b * 2
) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT c FROM t;
