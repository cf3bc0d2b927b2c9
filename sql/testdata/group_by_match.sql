-- GROUP BY keys are matched with the select list by what they compute, not
-- by how they are written; a group window over a join names its qualified
-- time column.
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '19',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '100', 'fields.amount.end' = '119',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE shipments (order_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '0', 'fields.order_id.end' = '19',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:05Z', 'fields.ts.step' = '1s');
CREATE TABLE by_cast WITH ('connector' = 'collect');
CREATE TABLE by_qualified WITH ('connector' = 'collect');
CREATE TABLE joined_windows WITH ('connector' = 'collect');
-- The CAST of the select list is the GROUP BY key, written differently.
INSERT INTO by_cast
SELECT CAST(amount % 3 AS VARCHAR) AS bucket, COUNT(*) AS n, cast(amount % 3 as string) || '!' AS shout
FROM orders
GROUP BY CAST(amount % 3 AS STRING);
-- A qualified key matches the bare column, and the other way round.
INSERT INTO by_qualified
SELECT amount % 2 AS parity, o.id % 5 AS five, COUNT(*) AS n
FROM orders AS o
GROUP BY o.amount % 2, id % 5;
-- Both sides of the join have ts: the window names the orders' one.
INSERT INTO joined_windows
SELECT TUMBLE_START(o.ts, INTERVAL '5' SECOND) AS ws, COUNT(*) AS n, SUM(o.amount) AS total
FROM orders o JOIN shipments s
  ON s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND
GROUP BY TUMBLE(o.ts, INTERVAL '5' SECOND);
