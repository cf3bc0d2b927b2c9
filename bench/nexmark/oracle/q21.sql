-- q21: bids with a channel id: from the channel's name, or REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2).
WITH b AS MATERIALIZED (
  SELECT auction, bidder, price, channel, lower(channel) AS lc,
    CASE
      WHEN substr(url, 1, 11) = 'channel_id=' THEN substr(url, 12)
      WHEN instr(url, '&channel_id=') > 0 THEN substr(url, instr(url, '&channel_id=') + 12)
    END AS rest
  FROM bid
),
e AS (
  SELECT *, CASE WHEN rest IS NULL THEN NULL WHEN instr(rest, '&') > 0 THEN substr(rest, 1, instr(rest, '&') - 1)
    ELSE rest END AS extracted
  FROM b
)
SELECT auction, bidder, price, channel,
  CASE lc WHEN 'apple' THEN '0' WHEN 'google' THEN '1' WHEN 'facebook' THEN '2' WHEN 'baidu' THEN '3'
    ELSE extracted END
FROM e
WHERE extracted IS NOT NULL OR lc IN ('apple', 'google', 'facebook', 'baidu');
