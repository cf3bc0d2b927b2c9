CREATE TABLE bids (auction BIGINT, price BIGINT, channel VARCHAR) WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT auction, COUNT(*) AS n,
       LISTAGG(price, ';') AS prices
FROM bids GROUP BY auction;
