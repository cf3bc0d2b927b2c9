-- q18: each bidder's last bid on each auction (latest dateTime).
SELECT auction, bidder, price, channel, url, dateTime, extra FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number FROM bid
) WHERE rank_number <= 1;
