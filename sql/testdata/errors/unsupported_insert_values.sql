CREATE TABLE t (k BIGINT, v BIGINT, s VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out VALUES (1, 2);
