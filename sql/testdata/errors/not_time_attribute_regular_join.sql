CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- A regular join (no time bounds) drops time attributes: no window over its result.
INSERT INTO out
SELECT TUMBLE_START(`dateTime`, INTERVAL '10' SECOND), COUNT(*)
FROM (SELECT b.price, b.`dateTime` FROM bid b JOIN auction a ON b.auction = a.id) AS j
GROUP BY TUMBLE(`dateTime`, INTERVAL '10' SECOND);
