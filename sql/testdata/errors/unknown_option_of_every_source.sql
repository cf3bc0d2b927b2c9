CREATE TABLE clicks (page VARCHAR, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'scan.watermark.idle-timout' = '10 s');
