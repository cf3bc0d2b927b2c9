CREATE TABLE src (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
CREATE TABLE out (a BIGINT, twice AS a * 2) WITH ('connector' = 'blackhole');
INSERT INTO out (a, twice) SELECT a, a FROM src;
