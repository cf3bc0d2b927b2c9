-- q7: the bids with the highest price of each 10 s TUMBLE window, joined back to the bids between the window's
-- end - 10 s and its end (both inclusive, as BETWEEN). Columns in the SELECT's order: auction, price, bidder.
WITH maxes AS (SELECT MAX(price) AS maxprice, dateTime / 10000 * 10000 + 10000 AS we FROM bid GROUP BY dateTime / 10000)
SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
FROM bid B JOIN maxes M ON B.price = M.maxprice
WHERE B.dateTime BETWEEN M.we - 10000 AND M.we;
