-- q5: per HOP window (2 s slide, 10 s size), the auctions with the most bids.
WITH k(k) AS (VALUES (0), (1), (2), (3), (4)),
w AS (SELECT auction, dateTime / 2000 * 2000 - k * 2000 AS ws FROM bid, k),
counts AS (SELECT auction, ws, COUNT(*) AS num FROM w GROUP BY auction, ws),
maxes AS (SELECT ws, MAX(num) AS maxn FROM counts GROUP BY ws)
SELECT c.auction, c.num FROM counts c JOIN maxes m ON c.ws = m.ws AND c.num >= m.maxn;
