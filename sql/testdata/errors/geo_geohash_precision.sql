CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT id, GEOHASH(lat, lon, 13) FROM vehicles;
