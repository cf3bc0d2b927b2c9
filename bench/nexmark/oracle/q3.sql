-- q3: sellers in OR, ID or CA of auctions of category 10 (a regular join: every match, whichever came first).
SELECT P.name, P.city, P.state, A.id
FROM auction AS A JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
