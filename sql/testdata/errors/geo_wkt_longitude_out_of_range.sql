CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT id FROM vehicles
WHERE ST_CONTAINS('POLYGON((48.8 2.2, 48.8 2.5, 200 2.5, 48.8 2.2))', lat, lon);
