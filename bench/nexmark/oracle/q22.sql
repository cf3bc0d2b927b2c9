-- q22: the first three directories of the bid's url: SPLIT_INDEX(url, '/', 3), 4 and 5 (fields of url split at
-- '/', from 0; NULL when there are fewer).
WITH s0 AS MATERIALIZED (
  SELECT auction, bidder, price, channel, url || '/' AS r0 FROM bid
),
s1 AS MATERIALIZED (SELECT *, substr(r0, instr(r0, '/') + 1) AS r1 FROM s0),
s2 AS MATERIALIZED (SELECT *, CASE WHEN instr(r1, '/') > 0 THEN substr(r1, instr(r1, '/') + 1) END AS r2 FROM s1),
s3 AS MATERIALIZED (SELECT *, CASE WHEN instr(r2, '/') > 0 THEN substr(r2, instr(r2, '/') + 1) END AS r3 FROM s2),
s4 AS MATERIALIZED (SELECT *, CASE WHEN instr(r3, '/') > 0 THEN substr(r3, instr(r3, '/') + 1) END AS r4 FROM s3),
s5 AS MATERIALIZED (SELECT *, CASE WHEN instr(r4, '/') > 0 THEN substr(r4, instr(r4, '/') + 1) END AS r5 FROM s4)
SELECT auction, bidder, price, channel,
  CASE WHEN instr(r3, '/') > 0 THEN substr(r3, 1, instr(r3, '/') - 1) END,
  CASE WHEN instr(r4, '/') > 0 THEN substr(r4, 1, instr(r4, '/') - 1) END,
  CASE WHEN instr(r5, '/') > 0 THEN substr(r5, 1, instr(r5, '/') - 1) END
FROM s5;
