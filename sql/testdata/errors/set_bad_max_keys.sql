SET 'sluice.state.max-keys' = '-5';
