CREATE TABLE src (a BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
-- PARTITIONED in a comment
CREATE TABLE sink (a BIGINT, `partitioned` VARCHAR)
  PARTITIONED BY (a) WITH ('connector' = 'print');
INSERT INTO sink SELECT a, 'x' FROM src;
