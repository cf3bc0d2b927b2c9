-- Window joins: two window aggregations (or window table functions) joined
-- on window_start, window_end and a key, INNER and LEFT, each window's pairs
-- emitted once when the watermark passes its end (collect-only).
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.auction.kind' = 'sequence', 'fields.auction.start' = '0', 'fields.auction.end' = '19',
      'fields.price.kind' = 'sequence', 'fields.price.start' = '1', 'fields.price.end' = '20',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE inner_joined WITH ('connector' = 'collect');
CREATE TABLE left_joined WITH ('connector' = 'collect');
CREATE VIEW evens AS
  SELECT auction % 3 AS k, window_start, window_end, COUNT(*) AS n
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND))
  WHERE auction % 2 = 0 GROUP BY auction % 3, window_start, window_end;
CREATE VIEW odds AS
  SELECT auction % 3 AS k, window_start AS ws, window_end AS we, SUM(price) AS total
  FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND))
  WHERE auction % 2 = 1 GROUP BY auction % 3, window_start, window_end;
INSERT INTO inner_joined
SELECT e.k, e.window_start, e.window_end, e.n, o.total
FROM evens e JOIN odds o ON e.window_start = o.ws AND e.window_end = o.we AND e.k = o.k;
INSERT INTO left_joined
SELECT b.auction, b.window_start, o.total
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND)) b
LEFT JOIN odds o ON b.window_start = o.ws AND b.window_end = o.we AND b.auction % 3 = o.k AND o.total > 5
WHERE b.auction < 10;
