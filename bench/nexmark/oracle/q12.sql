-- q12: processing-time windows cannot be computed from the events: each bidder's total count, to compare
-- with the sum of its counts over Sluice's windows.
SELECT bidder, COUNT(*), NULL, NULL FROM bid GROUP BY bidder;
