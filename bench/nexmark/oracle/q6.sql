-- q6 (as its text intends; Flink cannot run it): each auction's winning bid (highest price within its
-- lifetime, ties to the earlier bid), then per seller the average (BIGINT) of the winning prices of the row
-- and the 10 before it, ordered by the bid's dateTime.
WITH winners AS (
  SELECT id, seller, price, dateTime FROM (
    SELECT A.id, A.seller, B.price, B.dateTime,
      ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price DESC, B.dateTime ASC) AS rownum
    FROM auction A JOIN bid B ON A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
  ) WHERE rownum <= 1
)
SELECT seller, CAST(SUM(price) OVER w / COUNT(price) OVER w AS INTEGER)
FROM winners
WINDOW w AS (PARTITION BY seller ORDER BY dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW);
