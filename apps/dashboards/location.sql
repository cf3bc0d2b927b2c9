-- sluice run location-dashboard: live location dashboards over the embedded stream store.
-- Simulated vehicles drive around Berlin and report their position every second into the store
-- stream 'positions'; the queries below read them back and feed a map and a geofence.
CREATE TABLE vehicle_gen (id VARCHAR, lat DOUBLE, lon DOUBLE, speed DOUBLE, ts TIMESTAMP(3))
  WITH ('connector' = 'vehicles', 'vehicles' = '{{.Vehicles}}', 'bbox' = '13.088,52.338,13.761,52.675',
    'start' = 'now', 'rows-per-second' = '{{.Rate}}');
CREATE TABLE positions_out (id VARCHAR, lat DOUBLE, lon DOUBLE, speed DOUBLE, ts TIMESTAMP(3))
  WITH ('connector' = 'store', 'stream' = 'positions', 'partition-key' = 'id', 'stream.create-shards' = '4');
INSERT INTO positions_out SELECT id, lat, lon, speed, ts FROM vehicle_gen;

-- The positions, read back from the stream (from this run's start).
CREATE TABLE positions (id VARCHAR, lat DOUBLE, lon DOUBLE, speed DOUBLE, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '{{.Lag}}' SECOND)
  WITH ('connector' = 'store', 'stream' = 'positions', 'stream.create-shards' = '4', {{.Startup}}{{.MaxFuture}});

-- The state of the joins below (one key per window end) and of the geofence (one per vehicle)
-- is dropped when idle for a minute.
SET 'table.exec.state.ttl' = '1 min';

-- Vehicles and average speed per geohash cell (about 1.2 km × 0.6 km) and 10 s window.
CREATE VIEW cells AS
SELECT window_end, GEOHASH(lat, lon, 6) AS cell, COUNT(DISTINCT id) AS vehicles, AVG(speed) AS avg_kmh
FROM TABLE(TUMBLE(TABLE positions, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, GEOHASH(lat, lon, 6);
-- The latest window's cells only: joined with the latest window end, so that a cell left
-- empty leaves the map (the join retracts the previous window's rows).
CREATE VIEW latest_window AS SELECT MAX(window_end) AS window_end FROM cells;
CREATE VIEW latest_cells AS
SELECT c.cell, c.vehicles, c.avg_kmh, c.window_end
FROM cells AS c JOIN latest_window AS l ON c.window_end = l.window_end;

CREATE TABLE vehicles_map (cell VARCHAR, vehicles BIGINT, avg_kmh DOUBLE, window_end TIMESTAMP(3))
  WITH ('connector' = 'dashboard', 'title' = 'Vehicles per cell, last 10 s', 'chart' = 'map',
    'cell' = 'cell', 'value' = 'vehicles', 'retain' = '100000 rows');
INSERT INTO vehicles_map SELECT cell, vehicles, avg_kmh, window_end FROM latest_cells;
CREATE TABLE speed_map (cell VARCHAR, avg_kmh DOUBLE, vehicles BIGINT, window_end TIMESTAMP(3))
  WITH ('connector' = 'dashboard', 'title' = 'Average speed per cell, km/h, last 10 s', 'chart' = 'map',
    'cell' = 'cell', 'value' = 'avg_kmh', 'retain' = '100000 rows');
INSERT INTO speed_map SELECT cell, avg_kmh, vehicles, window_end FROM latest_cells;

-- The geofence: the centre of Berlin, inside its Ringbahn (WKT is longitude first). A vehicle enters it when a report
-- is inside and the vehicle's previous report was outside.
CREATE VIEW fenced AS
SELECT id, lat, lon, speed, ts,
  ST_CONTAINS('{{.Fence}}', lat, lon) AS inside
FROM positions;
CREATE VIEW moves AS
SELECT id, lat, lon, speed, ts, inside,
  SUM(CASE WHEN inside THEN 1 ELSE 0 END) OVER (PARTITION BY id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS inside_last2,
  COUNT(*) OVER (PARTITION BY id ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS reports_last2
FROM fenced;

CREATE TABLE geofence_entries (id VARCHAR, entered_at TIMESTAMP(3), lat DOUBLE, lon DOUBLE, speed DOUBLE)
  WITH ('connector' = 'dashboard', 'title' = 'Vehicles entering the geofence', 'chart' = 'table', 'retain' = '200 rows');
INSERT INTO geofence_entries
SELECT id, ts AS entered_at, lat, lon, speed FROM moves
WHERE inside AND inside_last2 = 1 AND reports_last2 = 2;

-- The same as an alarm per vehicle, ALARM while inside: its OK → ALARM notifications (the entries)
-- go to the topic 'geofence', printed by its subscription.
CREATE TOPIC geofence;
CREATE SUBSCRIPTION console ON TOPIC geofence WITH ('protocol' = 'stdout',
  'filter-policy' = '{"NewStateValue": ["ALARM"], "OldStateValue": ["OK"]}');
CREATE TABLE in_geofence (id VARCHAR, reported_at TIMESTAMP(3), inside BIGINT) WITH (
  'connector' = 'alarm', 'topic' = 'geofence', 'alarm-name' = 'Geofence',
  'alarm-description' = 'vehicle inside the geofence', 'metric' = 'inside', 'dimensions' = 'id',
  'period' = 'reported_at', 'period.length' = '1 s', 'comparison' = 'GreaterThanThreshold', 'threshold' = '0.5',
  'evaluation-periods' = '1');
INSERT INTO in_geofence SELECT id, ts AS reported_at, CASE WHEN inside THEN 1 ELSE 0 END AS inside FROM fenced;
