-- q0: pass-through of the bids.
SELECT auction, bidder, price, dateTime, extra FROM bid;
