CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- An event-time temporal join needs the versioned side's PRIMARY KEY.
INSERT INTO out
SELECT b.auction, a.seller FROM bids b
JOIN auctions FOR SYSTEM_TIME AS OF b.ts AS a ON b.auction = a.id;
