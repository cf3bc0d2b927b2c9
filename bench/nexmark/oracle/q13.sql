-- q13: bids enriched from the side input on auction mod 10000.
SELECT B.auction, B.bidder, B.price, B.dateTime, S.value FROM bid B JOIN side_input S ON B.auction % 10000 = S.key;
