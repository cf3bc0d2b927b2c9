CREATE TABLE clicks (page VARCHAR, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
CREATE TABLE appends WITH ('connector' = 'append');
INSERT INTO appends SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;
