CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE rates (k BIGINT, r BIGINT, ts TIMESTAMP(3), PRIMARY KEY (k) NOT ENFORCED, WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- FOR SYSTEM_TIME AS OF takes a time attribute of the left side: not one a regular join dropped.
INSERT INTO out
SELECT j.price, x.r
FROM (SELECT b.price, b.auction, b.`dateTime` FROM bid b JOIN bid c ON b.auction = c.price) AS j
JOIN rates FOR SYSTEM_TIME AS OF j.`dateTime` AS x ON j.auction = x.k;
