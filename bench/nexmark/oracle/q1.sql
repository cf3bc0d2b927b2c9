-- q1: 0.908 * price as an exact DECIMAL(23, 3).
SELECT auction, bidder, printf('%d.%03d', price * 908 / 1000, price * 908 % 1000) AS price, dateTime, extra FROM bid;
