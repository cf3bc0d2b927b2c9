-- Temporal joins: each order joins the version of its currency's rate valid
-- at the order's time (event time; LEFT pads the orders before the first
-- rate), and, with PROCTIME(), the last rate of a bounded table (read to
-- its end first).
CREATE TABLE orders (id BIGINT, cur BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '8',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '7',
      'fields.cur.kind' = 'sequence', 'fields.cur.start' = '0', 'fields.cur.end' = '1',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE rates (cur BIGINT, rate BIGINT, ts TIMESTAMP(3), PRIMARY KEY (cur) NOT ENFORCED, WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '6',
      'fields.cur.kind' = 'sequence', 'fields.cur.start' = '0', 'fields.cur.end' = '1',
      'fields.rate.kind' = 'sequence', 'fields.rate.start' = '10', 'fields.rate.end' = '15',
      'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:01Z', 'fields.ts.step' = '1500ms');
CREATE TABLE at_order_time WITH ('connector' = 'collect');
CREATE TABLE latest WITH ('connector' = 'collect');
INSERT INTO at_order_time
SELECT o.id, o.ts, r.rate FROM orders AS o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur;
INSERT INTO latest
SELECT o.id, r.rate FROM (SELECT *, PROCTIME() AS pt FROM orders) AS o
JOIN rates FOR SYSTEM_TIME AS OF o.pt AS r ON o.id % 2 = r.cur;
