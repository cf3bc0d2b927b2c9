CREATE TABLE t (a BIGINT, s VARCHAR, d AS CASE WHEN a > 0 THEN a ELSE s END)
WITH ('connector' = 'datagen');
