package store

import "math/bits"

// Clone returns a deep copy of m.
func (m *ShardMap) Clone() *ShardMap {
	c := &ShardMap{NextID: m.NextID, Shards: make([]*Shard, len(m.Shards))}
	for i, sh := range m.Shards {
		cp := *sh
		c.Shards[i] = &cp
	}
	return c
}

// UniformStep makes one SplitShard or MergeShards step that brings the open
// shards closer to the n shards of EvenRanges(n), as UpdateShardCount with
// UNIFORM_SCALING does, and reports whether it made one (false once the open
// shards are exactly those ranges). Splits come first: every boundary of the
// target ranges that falls inside an open shard splits it there; then
// neighbouring open shards that lie within one target range are merged. Each
// step is an ordinary Split or Merge, so every shard keeps at most a Parent
// and an AdjacentParent and readers follow the lineage as after any reshard.
// target is EvenRanges(n) (passed so that callers compute it once).
func (m *ShardMap) UniformStep(target []HashRange) (bool, error) {
	open := m.Open()
	starts := make(map[HashKey]bool, len(target))
	for _, r := range target {
		starts[r.Start] = true
	}
	i := 0
	for _, r := range target {
		for i < len(open) && open[i].Range.End.Cmp(r.Start) < 0 {
			i++
		}
		if i < len(open) && open[i].Range.Start.Cmp(r.Start) < 0 {
			_, _, err := m.Split(open[i].ID, r.Start)
			return err == nil, err
		}
	}
	for i := 0; i+1 < len(open); i++ {
		if !starts[open[i+1].Range.Start] {
			_, err := m.Merge(open[i].ID, open[i+1].ID)
			return err == nil, err
		}
	}
	return false, nil
}

// UniformPlan counts the steps UniformStep takes from m to n uniform shards
// and the shards they create, without changing m.
func (m *ShardMap) UniformPlan(n int) (steps, created int, err error) {
	c := m.Clone()
	target := EvenRanges(n)
	before := len(c.Shards)
	for {
		ok, err := c.UniformStep(target)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			return steps, len(c.Shards) - before, nil
		}
		steps++
	}
}

// Middle is the hash key that splits r into two halves of equal size (the
// upper half one key smaller when r has an odd number of keys): a
// NewStartingHashKey for a shard with range r. r must hold two keys or more.
func (r HashRange) Middle() HashKey {
	lo, b := bits.Sub64(r.End.Lo, r.Start.Lo, 0)
	hi, _ := bits.Sub64(r.End.Hi, r.Start.Hi, b)
	lo, hi = lo>>1|hi<<63, hi>>1
	lo, c := bits.Add64(r.Start.Lo, lo, 0)
	return HashKey{r.Start.Hi + hi + c, lo}.Add(1)
}
