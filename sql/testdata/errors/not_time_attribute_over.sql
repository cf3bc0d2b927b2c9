CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- An OVER aggregation drops time attributes.
INSERT INTO out
SELECT COUNT(*)
FROM (SELECT `dateTime`, SUM(price) OVER (PARTITION BY auction ORDER BY `dateTime` ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM bid)
GROUP BY TUMBLE(`dateTime`, INTERVAL '10' SECOND);
