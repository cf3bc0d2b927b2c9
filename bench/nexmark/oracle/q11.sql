-- q11: bids per bidder per SESSION (gap 10 s): a session starts when a bidder's gap exceeds 10 s (the windows
-- [t, t + 10 s) of bids exactly 10 s apart touch, and touching windows merge, as in Flink); it starts at its first
-- bid and ends at its last bid + 10 s.
WITH gaps AS (
  SELECT bidder, dateTime,
    CASE WHEN dateTime - LAG(dateTime) OVER (PARTITION BY bidder ORDER BY dateTime) <= 10000 THEN 0 ELSE 1 END AS new
  FROM bid
),
sessions AS (
  SELECT bidder, dateTime, SUM(new) OVER (PARTITION BY bidder ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS s
  FROM gaps
)
SELECT bidder, COUNT(*), MIN(dateTime), MAX(dateTime) + 10000 FROM sessions GROUP BY bidder, s;
