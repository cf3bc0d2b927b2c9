-- A state TTL that is not a duration.
SET 'table.exec.state.ttl' = '1 hx';
