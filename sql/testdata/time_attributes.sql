-- Time attributes flow through the query: window aggregations over views,
-- subqueries, queries of WITH, UNION ALL and interval joins are append-only
-- window aggregations ('append' sinks refuse anything else), and windows
-- cascade on window_time and TUMBLE_ROWTIME.
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '40',
      'fields.auction.kind' = 'sequence', 'fields.auction.start' = '0', 'fields.auction.end' = '39',
      'fields.price.kind' = 'sequence', 'fields.price.start' = '1', 'fields.price.end' = '40',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '40',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '39',
      'fields.seller.kind' = 'sequence', 'fields.seller.start' = '0', 'fields.seller.end' = '39',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:05Z', 'fields.ts.step' = '1s');
CREATE TABLE tvf_view WITH ('connector' = 'append');
CREATE TABLE hop_view WITH ('connector' = 'append');
CREATE TABLE hop_group_view WITH ('connector' = 'append');
CREATE TABLE renamed_subquery WITH ('connector' = 'append');
CREATE TABLE cte WITH ('connector' = 'append');
CREATE TABLE unions WITH ('connector' = 'append');
CREATE TABLE join_right_time WITH ('connector' = 'append');
CREATE TABLE join_left_time WITH ('connector' = 'append');
CREATE TABLE join_tvf WITH ('connector' = 'append');
CREATE TABLE cascade_rowtime WITH ('connector' = 'append');
CREATE TABLE cascade_window_time WITH ('connector' = 'append');
CREATE VIEW tumbled AS SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND));
CREATE VIEW hopped AS
  SELECT auction, price, window_start AS ws, window_end AS we
  FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
  WHERE price % 2 = 0;
CREATE VIEW cheap AS SELECT auction, price, ts AS t FROM bids WHERE price <= 30;
-- A window table function read through a view.
INSERT INTO tvf_view
SELECT auction % 2 AS parity, window_start, window_end, COUNT(*) AS n, SUM(price) AS total
FROM tumbled GROUP BY auction % 2, window_start, window_end;
-- HOP through a view that renames its window columns and filters.
INSERT INTO hop_view SELECT ws, we, COUNT(*) AS n, SUM(price) AS total FROM hopped GROUP BY ws, we;
-- A HOP group window over a view's renamed time attribute.
INSERT INTO hop_group_view
SELECT HOP_START(t, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, MAX(price) AS top
FROM cheap GROUP BY HOP(t, INTERVAL '5' SECOND, INTERVAL '10' SECOND);
-- A subquery with a filter and a renamed time attribute (twice).
INSERT INTO renamed_subquery
SELECT TUMBLE_START(t2, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, SUM(price) AS total
FROM (SELECT price, ts AS t1, ts AS t2 FROM bids WHERE auction % 3 = 0) AS b
GROUP BY TUMBLE(t2, INTERVAL '10' SECOND);
-- A query of WITH, read by a window table function.
INSERT INTO cte
WITH pricey AS (SELECT auction, price, ts FROM bids WHERE price > 10)
SELECT window_start, window_end, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE pricey, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
-- UNION ALL of two branches with time attributes.
INSERT INTO unions
SELECT TUMBLE_START(ts, INTERVAL '20' SECOND) AS ws, COUNT(*) AS n
FROM (SELECT ts FROM bids WHERE price < 5 UNION ALL SELECT ts FROM auctions WHERE id > 35)
GROUP BY TUMBLE(ts, INTERVAL '20' SECOND);
-- An interval join keeps both sides' time attributes; a window over the
-- left side's fires a minute later (the bound), so no joined row is late.
INSERT INTO join_right_time
SELECT TUMBLE_START(a.ts, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, SUM(b.price) AS total
FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE
GROUP BY TUMBLE(a.ts, INTERVAL '10' SECOND);
INSERT INTO join_left_time
SELECT TUMBLE_START(b.ts, INTERVAL '10' SECOND) AS ws, TUMBLE_END(b.ts, INTERVAL '10' SECOND) AS we, COUNT(*) AS n
FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE
GROUP BY TUMBLE(b.ts, INTERVAL '10' SECOND);
INSERT INTO join_tvf
WITH j AS (
  SELECT b.price, a.seller, b.ts AS bid_time
  FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE)
SELECT window_start, window_end, window_time, SUM(price) AS total
FROM TABLE(TUMBLE(TABLE j, DESCRIPTOR(bid_time), INTERVAL '20' SECOND))
GROUP BY window_start, window_end, window_time;
-- Cascading windows: TUMBLE_ROWTIME, and window_time through a subquery.
INSERT INTO cascade_rowtime
SELECT TUMBLE_START(rt, INTERVAL '20' SECOND) AS ws, COUNT(*) AS windows, SUM(n) AS n
FROM (SELECT TUMBLE_ROWTIME(ts, INTERVAL '5' SECOND) AS rt, COUNT(*) AS n FROM bids GROUP BY TUMBLE(ts, INTERVAL '5' SECOND))
GROUP BY TUMBLE(rt, INTERVAL '20' SECOND);
INSERT INTO cascade_window_time
WITH per10 AS (SELECT window_time AS rt, SUM(price) AS total FROM tumbled GROUP BY window_start, window_end, window_time),
     again AS (SELECT * FROM per10)
SELECT window_start, window_end, COUNT(*) AS windows, SUM(total) AS total
FROM TABLE(TUMBLE(TABLE again, DESCRIPTOR(rt), INTERVAL '20' SECOND))
GROUP BY window_start, window_end;
