-- sluice run clickstream-dashboard: live clickstream dashboards over the embedded stream store.
-- Generated clicks go into the store stream 'clicks', as a web server's producer would write them;
-- the queries below read them back and feed four dashboards.
CREATE TABLE click_gen (user_id BIGINT, p DOUBLE, r INT, lat BIGINT, ts TIMESTAMP(3))
  WITH ('connector' = 'datagen', 'rows-per-second' = '{{.Rate}}',
    'fields.user_id.min' = '1', 'fields.user_id.max' = '5000',
    'fields.r.min' = '0', 'fields.r.max' = '4',
    'fields.lat.min' = '5', 'fields.lat.max' = '120',
    'fields.ts.kind' = 'sequence', 'fields.ts.start' = 'now', 'fields.ts.step' = '{{.Step}}');
CREATE TABLE clicks_out (user_id BIGINT, page VARCHAR, region VARCHAR, latency_ms BIGINT, ts TIMESTAMP(3))
  WITH ('connector' = 'store', 'stream' = 'clicks', 'partition-key' = 'user_id', 'stream.create-shards' = '4');
-- 20 product pages, the first ones far more popular (page = FLOOR(20 p²), p uniform);
-- latency grows with the region's distance.
INSERT INTO clicks_out
SELECT user_id,
  CONCAT('/product/', LPAD(CAST(CAST(FLOOR(20 * p * p) AS BIGINT) AS VARCHAR), 2, '0')) AS page,
  CASE r WHEN 0 THEN 'eu-west' WHEN 1 THEN 'eu-central' WHEN 2 THEN 'us-east' WHEN 3 THEN 'us-west' ELSE 'ap-south' END AS region,
  lat + 30 * r AS latency_ms, ts
FROM click_gen;

-- The clicks, read back from the stream (from this run's start).
CREATE TABLE clicks (user_id BIGINT, page VARCHAR, region VARCHAR, latency_ms BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '{{.Lag}}' SECOND)
  WITH ('connector' = 'store', 'stream' = 'clicks', 'stream.create-shards' = '4', {{.Startup}}{{.MaxFuture}});

-- Page views per page and 10 s: a line per page.
CREATE TABLE views_per_page (page VARCHAR, window_end TIMESTAMP(3), views BIGINT)
  WITH ('connector' = 'dashboard', 'title' = 'Page views / 10 s', 'chart' = 'line',
    'x' = 'window_end', 'y' = 'views', 'series' = 'page', 'retain' = '3600 rows');
INSERT INTO views_per_page
SELECT page, window_end, COUNT(*) AS views
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, page;

-- Top 10 pages over the last minute (a minute sliding by 10 s): each page's latest minute, ranked.
-- An updating result, with each page's rank: a page that falls out of the top 10 is retracted.
CREATE VIEW page_minutes AS
SELECT page, window_end, COUNT(*) AS views
FROM TABLE(HOP(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND, INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, page;
CREATE VIEW page_last_minute AS
SELECT page, views, window_end FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY page ORDER BY window_end DESC) AS rn FROM page_minutes)
WHERE rn = 1;
CREATE TABLE top_pages (rn BIGINT, page VARCHAR, views BIGINT, minute_end TIMESTAMP(3))
  WITH ('connector' = 'dashboard', 'title' = 'Top 10 pages, last minute', 'chart' = 'table');
INSERT INTO top_pages
SELECT rn, page, views, window_end AS minute_end FROM (
  SELECT *, ROW_NUMBER() OVER (ORDER BY views DESC) AS rn FROM page_last_minute)
WHERE rn <= 10;

-- Distinct users per 10 s: one figure and its trend.
CREATE TABLE distinct_users (window_end TIMESTAMP(3), users BIGINT)
  WITH ('connector' = 'dashboard', 'title' = 'Distinct users / 10 s', 'chart' = 'number', 'value' = 'users');
INSERT INTO distinct_users
SELECT window_end, COUNT(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;

-- Latency by region over the latest 10 s: a bar per region (a region's new window replaces its old one).
CREATE TABLE latency_by_region (region VARCHAR, window_end TIMESTAMP(3), avg_ms DOUBLE, max_ms BIGINT)
  WITH ('connector' = 'dashboard', 'title' = 'Latency by region, ms (last 10 s)', 'chart' = 'bar',
    'x' = 'region', 'y' = 'avg_ms,max_ms', 'key' = 'region');
INSERT INTO latency_by_region
SELECT region, window_end, AVG(CAST(latency_ms AS DOUBLE)) AS avg_ms, MAX(latency_ms) AS max_ms
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, region;
