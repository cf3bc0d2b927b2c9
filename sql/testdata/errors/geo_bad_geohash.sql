CREATE TABLE vehicles (id BIGINT, lat DOUBLE, lon DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT id, ST_DISTANCE(lat, lon, GEOHASH_LAT('u09tvx'), GEOHASH_LON('u09tva')) FROM vehicles;
