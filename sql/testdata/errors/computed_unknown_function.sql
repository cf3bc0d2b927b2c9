CREATE TABLE t (
  a BIGINT,
  s VARCHAR,
  u AS UPPPER(s)
) WITH ('connector' = 'datagen');
