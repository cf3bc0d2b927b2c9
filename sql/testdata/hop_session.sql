-- Hopping windows and sessions over the same stream.
CREATE TABLE events (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '300',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '2',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '100ms');
CREATE TABLE hopping WITH ('connector' = 'collect');
CREATE TABLE sessions WITH ('connector' = 'collect');
INSERT INTO hopping
SELECT k, HOP_START(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS ws,
       HOP_END(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS we, COUNT(*) AS n
FROM events
GROUP BY k, HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND);
-- Keys 0..2 take turns, so each key sees a row every 300 ms: a 250 ms gap
-- makes every row its own session; a 300 ms gap (inclusive) makes one.
INSERT INTO sessions
SELECT k, SESSION_START(ts, INTERVAL '300' MILLISECOND) AS s, SESSION_END(ts, INTERVAL '300' MILLISECOND) AS e, COUNT(*) AS n
FROM events
WHERE ts < TIMESTAMP '2026-01-01 00:00:03'
GROUP BY k, SESSION(ts, INTERVAL '300' MILLISECOND);
