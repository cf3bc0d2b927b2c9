-- Window table functions: TUMBLE, HOP and CUMULATE in FROM, grouped by
-- window_start and window_end (a window aggregation, append-only), a bare
-- assignment, and windows cascading on window_time.
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.auction.kind' = 'sequence', 'fields.auction.start' = '0', 'fields.auction.end' = '19',
      'fields.price.kind' = 'sequence', 'fields.price.start' = '1', 'fields.price.end' = '20',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE tumbled WITH ('connector' = 'append');
CREATE TABLE hopped WITH ('connector' = 'append');
CREATE TABLE cumulated WITH ('connector' = 'append');
CREATE TABLE assigned WITH ('connector' = 'append');
CREATE TABLE cascaded WITH ('connector' = 'append');
INSERT INTO tumbled
SELECT auction % 2 AS parity, window_start, window_end, COUNT(*) AS n, SUM(price) AS total
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, auction % 2;
INSERT INTO hopped
SELECT window_start, window_end, COUNT(*) AS n, MAX(price) AS top
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE price > 2
GROUP BY window_start, window_end;
INSERT INTO cumulated
SELECT window_start, window_end, SUM(price) AS total
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
INSERT INTO assigned
SELECT b.auction, b.window_start, b.window_time
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '4' SECOND, INTERVAL '1' SECOND)) AS b
WHERE b.auction < 6;
INSERT INTO cascaded
WITH per10 AS (
  SELECT window_start AS ws10, window_time AS rowtime, SUM(price) AS total
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end, window_time)
SELECT window_start, window_end, SUM(total) AS total, COUNT(*) AS windows
FROM TABLE(TUMBLE(TABLE per10, DESCRIPTOR(rowtime), INTERVAL '20' SECOND))
GROUP BY window_start, window_end;
