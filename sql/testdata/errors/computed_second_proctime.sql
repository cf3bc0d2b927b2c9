CREATE TABLE t (p1 AS PROCTIME(), a BIGINT, p2 AS PROCTIME()) WITH ('connector' = 'datagen');
