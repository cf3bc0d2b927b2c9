-- q14: bids with 0.908 * price (exact DECIMAL(23, 3)) between 1,000,000 and 50,000,000 (exclusive), the time of
-- day of their hour (UTC) and the number of 'c' in extra.
SELECT auction, bidder, printf('%d.%03d', price * 908 / 1000, price * 908 % 1000),
  CASE
    WHEN CAST(strftime('%H', dateTime / 1000, 'unixepoch') AS INTEGER) BETWEEN 8 AND 18 THEN 'dayTime'
    WHEN CAST(strftime('%H', dateTime / 1000, 'unixepoch') AS INTEGER) <= 6
      OR CAST(strftime('%H', dateTime / 1000, 'unixepoch') AS INTEGER) >= 20 THEN 'nightTime'
    ELSE 'otherTime'
  END,
  dateTime, extra, length(extra) - length(replace(extra, 'c', ''))
FROM bid
WHERE price * 908 > 1000000 * 1000 AND price * 908 < 50000000 * 1000;
