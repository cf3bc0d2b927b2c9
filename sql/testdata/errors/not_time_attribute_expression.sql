CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- An expression over a time attribute is a plain TIMESTAMP.
INSERT INTO out
SELECT COUNT(*)
FROM (SELECT price, `dateTime` + INTERVAL '1' HOUR AS later FROM bid)
GROUP BY TUMBLE(later, INTERVAL '10' SECOND);
