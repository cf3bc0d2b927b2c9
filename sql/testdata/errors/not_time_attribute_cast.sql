CREATE TABLE bid (auction BIGINT, price BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE auction (id BIGINT, seller BIGINT, `dateTime` TIMESTAMP(3), WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '1' SECOND)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
-- So is a CAST of one, read by a window table function.
CREATE VIEW casted AS SELECT price, CAST(`dateTime` AS TIMESTAMP(3)) AS t FROM bid;
INSERT INTO out
SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE casted, DESCRIPTOR(t), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
