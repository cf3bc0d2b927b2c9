CREATE TABLE views (page_id BIGINT, ms BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT pgae_id, TUMBLE_END(ts, INTERVAL '1' MINUTE) AS we, COUNT(*) AS n
FROM views
GROUP BY page_id, TUMBLE(ts, INTERVAL '1' MINUTE);
