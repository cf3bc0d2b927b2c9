-- Relations of FROM: subqueries (with and without an alias, with a column
-- list), queries of WITH (each sees the ones before it), UNION ALL inside
-- a subquery, joins of three relations, and comma joins whose condition is
-- in WHERE.
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '19',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '100', 'fields.amount.end' = '119',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE shipments (order_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '0', 'fields.order_id.end' = '19',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:05Z', 'fields.ts.step' = '1s');
CREATE TABLE windowed WITH ('connector' = 'collect');
CREATE TABLE unaliased WITH ('connector' = 'collect');
CREATE TABLE ctes WITH ('connector' = 'collect');
CREATE TABLE unions WITH ('connector' = 'collect');
CREATE TABLE comma WITH ('connector' = 'collect');
CREATE TABLE three WITH ('connector' = 'collect');
-- The subquery passes its time attribute on: the window groups by it.
INSERT INTO windowed
SELECT parity, TUMBLE_END(ts, INTERVAL '10' SECOND) AS we, COUNT(*) AS n, SUM(big) AS total
FROM (SELECT id % 2 AS parity, amount * 10 AS big, ts FROM orders WHERE amount > 103) AS o
GROUP BY parity, TUMBLE(ts, INTERVAL '10' SECOND);
-- Without an alias, with a column list.
INSERT INTO unaliased
SELECT id, amount FROM (SELECT id, amount FROM orders WHERE id < 3);
INSERT INTO unaliased
SELECT b.x, b.y FROM (SELECT id, amount - 100 FROM orders WHERE id >= 18) AS b (x, y);
-- WITH: the second query reads the first.
INSERT INTO ctes
WITH cheap AS (SELECT id, amount, ts FROM orders WHERE amount < 110),
     cheap_even (k, amt) AS (SELECT id, amount FROM cheap WHERE id % 2 = 0)
SELECT k, amt FROM cheap_even WHERE k > 2;
-- UNION ALL inside a subquery, filtered outside.
INSERT INTO unions
SELECT src, id FROM (
  SELECT 'low' AS src, id FROM orders WHERE id < 2
  UNION ALL
  SELECT 'high', id FROM orders WHERE id > 17
) AS u WHERE id <> 19;
-- A comma join: the join condition is in WHERE, with a filter beside it.
INSERT INTO comma
SELECT o.id, s.ts
FROM orders o, shipments s
WHERE s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND AND o.id % 5 = 0;
-- Three relations: two joins, the second over a subquery.
INSERT INTO three
SELECT o.id, s.ts AS shipped, l.ts AS late
FROM orders o
JOIN shipments s ON s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND
JOIN (SELECT order_id, ts FROM shipments WHERE order_id % 7 = 0) AS l
  ON l.order_id = o.id AND l.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND;
