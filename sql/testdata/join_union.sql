-- An interval join, UNION ALL of two filters into one sink, and a second INSERT into that sink.
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '19',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '100', 'fields.amount.end' = '119',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE shipments (order_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '0', 'fields.order_id.end' = '19',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:05Z', 'fields.ts.step' = '1s');
CREATE TABLE shipped WITH ('connector' = 'collect');
CREATE TABLE big_or_small WITH ('connector' = 'collect');
-- Every shipment comes 5 s after its order: within 10 s, but not within 3 s.
INSERT INTO shipped
SELECT o.id, o.amount, s.ts AS shipped_at
FROM orders o JOIN shipments s
  ON s.order_id = o.id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '10' SECOND
WHERE o.amount % 2 = 0;
INSERT INTO big_or_small
SELECT id, 'small' AS size FROM orders WHERE amount < 103
UNION ALL
SELECT id, 'big' FROM orders WHERE amount >= 117;
-- A second INSERT into the same table feeds the same sink.
INSERT INTO big_or_small SELECT id, 'middle' FROM orders WHERE amount = 110;
