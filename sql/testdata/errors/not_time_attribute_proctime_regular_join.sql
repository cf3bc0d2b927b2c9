CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- A processing-time attribute follows the same rules: a regular join drops it.
CREATE VIEW b_proc AS SELECT *, PROCTIME() AS p_time FROM bid;
INSERT INTO out
SELECT COUNT(*)
FROM (SELECT b.price, b.p_time FROM b_proc b JOIN auction a ON b.auction = a.id)
GROUP BY TUMBLE(p_time, INTERVAL '10' SECOND);
