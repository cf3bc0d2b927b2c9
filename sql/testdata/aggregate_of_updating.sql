-- Nexmark q4's shape: an aggregate over a GROUP BY without a window. The
-- inner result is updating (each new bid may raise an auction's MAX), so
-- the outer AVG retracts the old maximum before adding the new one.
CREATE TABLE auctions (id BIGINT, seller BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '10',
      'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '9',
      'fields.seller.kind' = 'sequence', 'fields.seller.start' = '0', 'fields.seller.end' = '2',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '30',
      'fields.auction.kind' = 'sequence', 'fields.auction.start' = '0', 'fields.auction.end' = '9',
      'fields.price.kind' = 'sequence', 'fields.price.start' = '1', 'fields.price.end' = '30',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1s');
CREATE TABLE avg_final WITH ('connector' = 'collect');
CREATE TABLE counts_of_counts WITH ('connector' = 'collect');
INSERT INTO avg_final
SELECT seller, AVG(final) AS avg_final, COUNT(*) AS auctions, MAX(final) AS top
FROM (SELECT a.id, a.seller, MAX(b.price) AS final
      FROM auctions a JOIN bids b ON a.id = b.auction AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' MINUTE
      GROUP BY a.id, a.seller) AS q
GROUP BY seller;
-- How many auctions have each number of bids under 20: a count of counts.
INSERT INTO counts_of_counts
WITH per_auction AS (SELECT auction, COUNT(*) AS n FROM bids WHERE price <= 20 GROUP BY auction)
SELECT n, COUNT(*) AS auctions FROM per_auction GROUP BY n;
