package store

import (
	"errors"
	"fmt"
	"testing"
)

// checkCover fails unless the open shards of m cover the hash key space
// exactly once.
func checkCover(t *testing.T, m *ShardMap) {
	t.Helper()
	open := m.Open()
	if len(open) == 0 || open[0].Range.Start != (HashKey{}) || open[len(open)-1].Range.End != MaxHashKey {
		t.Fatalf("open shards do not span the space: %v", open)
	}
	for i := 1; i < len(open); i++ {
		if open[i].Range.Start != open[i-1].Range.End.Add(1) {
			t.Fatalf("gap or overlap between %s and %s", open[i-1].ID, open[i].ID)
		}
	}
}

func TestRouteByMD5(t *testing.T) {
	m := NewShardMap(4)
	checkCover(t, m)
	counts := map[string]int{}
	for i := 0; i < 4000; i++ {
		k := fmt.Sprintf("key-%d", i)
		s := m.Route(HashKeyOf(k))
		if !s.Range.Contains(HashKeyOf(k)) {
			t.Fatalf("%s routed to %s which does not hold its hash key", k, s.ID)
		}
		counts[s.ID]++
	}
	for id, n := range counts {
		if n < 800 || n > 1200 {
			t.Fatalf("shard %s got %d of 4000 keys: %v", id, n, counts)
		}
	}
}

func TestSplitAndMerge(t *testing.T) {
	m := NewShardMap(2)
	s0 := m.Shards[0]
	mid := s0.Range.Start.Add(1 << 40)
	lo, hi, err := m.Split(s0.ID, mid)
	if err != nil {
		t.Fatal(err)
	}
	if !s0.Closed || lo.Parent != s0.ID || hi.Parent != s0.ID || lo.ID != "shardId-000000000002" || hi.Range.Start != mid {
		t.Fatalf("split: %+v %+v %+v", s0, lo, hi)
	}
	checkCover(t, m)
	merged, err := m.Merge(hi.ID, m.Shards[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Parent != hi.ID || merged.AdjacentParent != m.Shards[1].ID || merged.Range.End != MaxHashKey {
		t.Fatalf("merge: %+v", merged)
	}
	checkCover(t, m)
	if ch := m.Children(s0.ID); len(ch) != 2 {
		t.Fatalf("children of %s: %v", s0.ID, ch)
	}
	f := func(err error, code string) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Fatalf("got %v, want %s", err, code)
		}
	}
	_, _, err = m.Split(s0.ID, mid)
	f(err, ErrResourceInUse)
	_, _, err = m.Split(lo.ID, lo.Range.Start)
	f(err, ErrInvalidArgument)
	_, err = m.Merge(lo.ID, "shardId-000000000099")
	f(err, ErrResourceNotFound)
	m2 := NewShardMap(3)
	_, err = m2.Merge(m2.Shards[0].ID, m2.Shards[2].ID)
	f(err, ErrInvalidArgument)
}
