CREATE TABLE orders (id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
-- The query of a view is planned when the view is created: its errors are placed in it.
CREATE VIEW v AS
SELECT id, amuont FROM orders;
