CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- WHERE rn in the SELECT that numbers the rows, next to another window function.
INSERT INTO out
SELECT auction, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn,
  SUM(price) OVER (PARTITION BY auction ORDER BY ts) AS total
FROM bids WHERE rn <= 1;
