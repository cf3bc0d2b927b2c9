CREATE TABLE t (a BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT a FROM t;
