-- q17: per auction and day, bids in three price ranks and min, max, average (BIGINT) and sum of the prices.
SELECT auction, strftime('%Y-%m-%d', dateTime / 1000, 'unixepoch') AS day,
  COUNT(*),
  COUNT(*) FILTER (WHERE price < 10000),
  COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000),
  COUNT(*) FILTER (WHERE price >= 1000000),
  MIN(price), MAX(price), SUM(price) / COUNT(price), SUM(price)
FROM bid
GROUP BY auction, day;
