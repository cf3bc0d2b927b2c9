CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- A UNION ALL column is a time attribute only when it is one in every branch.
INSERT INTO out
SELECT COUNT(*)
FROM (SELECT `dateTime` FROM bid UNION ALL SELECT `dateTime` + INTERVAL '1' SECOND FROM auction)
GROUP BY TUMBLE(`dateTime`, INTERVAL '10' SECOND);
