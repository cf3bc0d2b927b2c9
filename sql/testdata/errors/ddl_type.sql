CREATE TABLE t (a INT, b FLAOT) WITH ('connector' = 'datagen');
