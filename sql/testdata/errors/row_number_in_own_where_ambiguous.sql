CREATE TABLE bids (auction BIGINT, price BIGINT, rn BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- rn is a column of bids and the alias of ROW_NUMBER(): WHERE rn is ambiguous.
INSERT INTO out
SELECT auction, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bids WHERE rn <= 1;
