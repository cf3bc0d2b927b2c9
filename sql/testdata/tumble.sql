-- Tumbling windows: per key and second, with window bounds, HAVING and every aggregate.
CREATE TABLE clicks (
  user_id BIGINT,
  page    BIGINT,
  ms      DOUBLE,
  ts      TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '200' MILLISECOND
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '600', 'seed' = '7',
  'fields.user_id.min' = '1', 'fields.user_id.max' = '20',
  'fields.page.kind' = 'sequence', 'fields.page.start' = '0', 'fields.page.end' = '2',
  'fields.ms.min' = '1', 'fields.ms.max' = '100',
  'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms', 'fields.ts.max-past' = '150ms'
);
CREATE TABLE per_second WITH ('connector' = 'collect');
INSERT INTO per_second
SELECT page,
       TUMBLE_START(ts, INTERVAL '1' SECOND) AS window_start,
       TUMBLE_END(ts, INTERVAL '1' SECOND)   AS window_end,
       COUNT(*) AS views, COUNT(DISTINCT user_id) AS users,
       MIN(ms) AS fastest, MAX(ms) AS slowest, ROUND(AVG(ms), 2) AS avg_ms, SUM(page) AS page_sum
FROM clicks
GROUP BY page, TUMBLE(ts, INTERVAL '1' SECOND)
HAVING COUNT(*) >= 10;
