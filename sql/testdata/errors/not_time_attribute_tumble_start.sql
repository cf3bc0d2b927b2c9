CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- TUMBLE_START of a group window is a plain TIMESTAMP (TUMBLE_ROWTIME is the time attribute).
INSERT INTO out
SELECT COUNT(*)
FROM (SELECT TUMBLE_START(`dateTime`, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n FROM bid GROUP BY TUMBLE(`dateTime`, INTERVAL '10' SECOND))
GROUP BY TUMBLE(ws, INTERVAL '1' MINUTE);
