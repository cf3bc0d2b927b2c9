package store

import (
	"math/bits"
	"sort"
)

// Clone returns a deep copy of m.
func (m *ShardMap) Clone() *ShardMap {
	c := &ShardMap{NextID: m.NextID, Shards: make([]*Shard, len(m.Shards))}
	for i, sh := range m.Shards {
		cp := *sh
		c.Shards[i] = &cp
	}
	return c
}

// SnapKeys is how close (in hash keys) a boundary of EvenRanges(n) must be
// to a boundary of the open shards for UniformTarget to keep the open one:
// i*floor(2^128/a) and j*floor(2^128/b) for the same fraction of the space
// differ by less than a or b, so without snapping, doubling 5 shards to 10
// would split every shard twice, once a single key away from its middle.
const SnapKeys = 1 << 16

// UniformTarget is the n ranges UpdateShardCount with UNIFORM_SCALING
// reshards m to: EvenRanges(n), as CreateStream's, except that a boundary
// within SnapKeys of a boundary of m's open shards stays where that one is.
// So doubling splits each shard once and halving merges pairs, as in
// Kinesis ("double or halve ... the fewest number of splits or merges").
func (m *ShardMap) UniformTarget(n int) []HashRange {
	target := EvenRanges(n)
	open := m.Open()
	for i := 1; i < len(target); i++ {
		t := target[i].Start
		// The first open shard starting at or after t - SnapKeys.
		j := sort.Search(len(open), func(j int) bool { return open[j].Range.Start.Cmp(t) >= 0 || near(open[j].Range.Start, t) })
		if j < len(open) && open[j].Range.Start != (HashKey{}) && near(open[j].Range.Start, t) {
			target[i].Start = open[j].Range.Start
			target[i-1].End = target[i].Start.Sub(1)
		}
	}
	return target
}

// near reports whether a and b are within SnapKeys of each other.
func near(a, b HashKey) bool {
	if a.Cmp(b) > 0 {
		a, b = b, a
	}
	lo, borrow := bits.Sub64(b.Lo, a.Lo, 0)
	return b.Hi-a.Hi-borrow == 0 && lo <= SnapKeys
}

// UniformStep makes one SplitShard or MergeShards step that brings the open
// shards closer to target (UniformTarget's ranges) and reports whether it
// made one (false once the open shards are exactly those ranges). Splits come first: every boundary of the
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
	target := c.UniformTarget(n)
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
