-- q19: the 10 highest bids of each auction with their rank (price ties to the earlier bid).
SELECT * FROM (
  SELECT auction, bidder, price, channel, url, dateTime, extra,
    ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, dateTime ASC) AS rank_number
  FROM bid
) WHERE rank_number <= 10;
