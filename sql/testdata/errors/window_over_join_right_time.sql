CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- Over a join the group window names the event time the join keeps (the left side's).
INSERT INTO out
SELECT COUNT(*) AS n
FROM bids b JOIN auctions a ON b.auction = a.id AND a.ts BETWEEN b.ts AND b.ts + INTERVAL '1' MINUTE
GROUP BY TUMBLE(a.ts, INTERVAL '10' SECOND);
