-- q10: every bid with its day and minute (UTC) as the partition columns dt and hm.
SELECT auction, bidder, price, dateTime, extra,
       strftime('%Y-%m-%d', dateTime / 1000, 'unixepoch'), strftime('%H:%M', dateTime / 1000, 'unixepoch')
FROM bid;
