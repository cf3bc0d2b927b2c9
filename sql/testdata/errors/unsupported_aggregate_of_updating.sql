CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- Nexmark q4's shape: an aggregate over a GROUP BY without a window (an updating input).
INSERT INTO out
SELECT seller, AVG(final) AS avg_final
FROM (SELECT a.id, a.seller, MAX(b.price) AS final
      FROM auctions a JOIN bids b ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' MINUTE
      GROUP BY a.id, a.seller) AS q
GROUP BY seller;
