-- A SET of an option Sluice does not know.
SET 'table.exec.state.ttl' = '1 h';
SET 'sluice.state.max-key' = '10';
