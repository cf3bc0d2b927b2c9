-- q4: per category, the average (BIGINT, truncated) of the winning prices of its auctions; a winning price is
-- the highest bid within the auction's lifetime [dateTime, expires].
SELECT category, SUM(final) / COUNT(final)
FROM (
  SELECT A.id, A.category, MAX(B.price) AS final
  FROM auction A JOIN bid B ON A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
  GROUP BY A.id, A.category
)
GROUP BY category;
