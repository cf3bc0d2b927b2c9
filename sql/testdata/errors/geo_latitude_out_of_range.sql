CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT id, ST_DISTANCE(lat, lon, 95.5, 2.35) FROM vehicles;
