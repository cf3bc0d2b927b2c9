CREATE TABLE t (a BIGINT, total AS SUM(a)) WITH ('connector' = 'datagen');
