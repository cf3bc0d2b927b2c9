-- Views: a view reads a table or another view, keeps the time attribute of
-- its query (so a group window can follow), takes a column list, and can be
-- dropped and defined again.
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '19',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '100', 'fields.amount.end' = '119',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE per_window WITH ('connector' = 'collect');
CREATE TABLE renamed WITH ('connector' = 'collect');
CREATE VIEW big_orders AS SELECT id, amount, ts FROM orders WHERE amount >= 110;
CREATE TEMPORARY VIEW big_even (k, amt) AS SELECT id, amount FROM big_orders WHERE id % 2 = 0;
INSERT INTO per_window
SELECT TUMBLE_START(ts, INTERVAL '5' SECOND) AS ws, COUNT(*) AS n, SUM(amount) AS total
FROM big_orders
GROUP BY TUMBLE(ts, INTERVAL '5' SECOND);
INSERT INTO renamed SELECT k, amt FROM big_even WHERE k < 16;
DROP VIEW big_even;
CREATE VIEW big_even AS SELECT id AS k, amount - 100 AS amt FROM orders WHERE id = 18;
INSERT INTO renamed SELECT k, amt FROM big_even;
