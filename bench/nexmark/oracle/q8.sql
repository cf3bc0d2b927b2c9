-- q8: people who created an auction in the 10 s TUMBLE window in which they entered the system.
WITH P AS (SELECT id, name, dateTime / 10000 * 10000 AS ws FROM person GROUP BY id, name, dateTime / 10000),
A AS (SELECT seller, dateTime / 10000 * 10000 AS ws FROM auction GROUP BY seller, dateTime / 10000)
SELECT P.id, P.name, P.ws FROM P JOIN A ON P.id = A.seller AND P.ws = A.ws;
