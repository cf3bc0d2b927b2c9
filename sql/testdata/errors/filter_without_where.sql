CREATE TABLE bids (auction BIGINT, price BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT auction, COUNT(*) FILTER (price > 10) AS n
FROM bids GROUP BY auction;
