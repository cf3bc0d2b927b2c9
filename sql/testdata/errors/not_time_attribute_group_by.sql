CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- A GROUP BY without a window drops time attributes.
INSERT INTO out
SELECT COUNT(*) FROM (SELECT `dateTime`, COUNT(*) AS n FROM bid GROUP BY `dateTime`)
GROUP BY TUMBLE(`dateTime`, INTERVAL '10' SECOND);
