CREATE TABLE clicks (page VARCHAR, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT page FROM clicks WHERE REGEXP_EXTRACT(page, '/(item|cart', 1) IS NOT NULL;
