CREATE TABLE clicks (page VARCHAR, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- Only a ROW_NUMBER() alias may be filtered in the WHERE of its own SELECT.
INSERT INTO out SELECT page, ms * 2 AS double_ms FROM clicks WHERE double_ms > 10;
