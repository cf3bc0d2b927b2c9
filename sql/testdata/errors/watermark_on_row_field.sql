CREATE TABLE events (kind INT, bid ROW<price BIGINT, `dateTime` TIMESTAMP(3)>,
  WATERMARK FOR bid.`dateTime` AS bid.`dateTime` - INTERVAL '4' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '3');
SELECT kind FROM events;
