CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
CREATE TABLE log WITH ('connector' = 'append');
-- RANK() is not planned: only ROW_NUMBER().
INSERT INTO out
SELECT auction, price FROM (
  SELECT auction, price, RANK() OVER (PARTITION BY auction ORDER BY price DESC) AS r FROM bids
) WHERE r <= 3;
