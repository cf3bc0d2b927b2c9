-- FILTER (WHERE …) counts a row for one aggregate only where the condition
-- is TRUE, in GROUP BY and in group windows (Nexmark q15–q17). amount runs
-- 100..119, one row a second.
CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '20',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '19',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '100', 'fields.amount.end' = '119',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE per_parity WITH ('connector' = 'collect');
CREATE TABLE per_window WITH ('connector' = 'collect');
INSERT INTO per_parity
SELECT amount % 2 AS parity,
       COUNT(*) AS n,
       COUNT(*) FILTER (WHERE amount < 110) AS low,
       SUM(amount) FILTER (WHERE amount >= 110) AS high_total,
       COUNT(DISTINCT id % 3) FILTER (WHERE amount > 115) AS distinct_late,
       COUNT(*) filter (where amount > 1000) AS none
FROM orders
GROUP BY amount % 2;
INSERT INTO per_window
SELECT TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws,
       COUNT(*) FILTER (WHERE id % 2 = 0) AS even,
       MAX(amount) FILTER (WHERE id < 5) AS early_max
FROM orders
GROUP BY TUMBLE(ts, INTERVAL '10' SECOND);
