CREATE TABLE views (page_id BIGINT, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT page_id, COUNT(*) AS n
FROM (SELECT page_id, ts FROM views WHERE ms > 100)
GROUP BY page_id, TUMBLE(ts, INTERVAL '1' MINUTE);
