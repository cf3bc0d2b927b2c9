-- GROUP BY without a window: an updating result (its final rows are shown).
CREATE TABLE orders (customer BIGINT, amount BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
      'fields.customer.kind' = 'sequence', 'fields.customer.start' = '1', 'fields.customer.end' = '4',
      'fields.amount.kind' = 'sequence', 'fields.amount.start' = '1', 'fields.amount.end' = '1000');
CREATE TABLE totals WITH ('connector' = 'collect');
INSERT INTO totals
SELECT customer, COUNT(*) AS orders, SUM(amount) AS total, MAX(amount) AS biggest
FROM orders GROUP BY customer;
