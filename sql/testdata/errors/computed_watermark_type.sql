CREATE TABLE t (
  ms BIGINT,
  ts AS ms + 1000,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen');
