package store

import (
	"math/rand/v2"
	"testing"
)

// From any shard layout (random splits and merges of a uniform stream),
// UniformStep reaches exactly EvenRanges(n) through valid splits and merges
// that keep the open shards covering the space.
func TestUniformStepReachesEvenRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		m := NewShardMap(1 + r.IntN(12))
		for k := r.IntN(6); k > 0; k-- {
			open := m.Open()
			if i := r.IntN(len(open)); r.IntN(2) == 0 && i+1 < len(open) {
				if _, err := m.Merge(open[i].ID, open[i+1].ID); err != nil {
					t.Fatal(err)
				}
			} else {
				mid := open[i].Range.Start.Add(1 + r.Uint64N(1<<40))
				if !open[i].Range.Contains(mid) {
					continue
				}
				if _, _, err := m.Split(open[i].ID, mid); err != nil {
					t.Fatal(err)
				}
			}
		}
		cur := len(m.Open())
		n := (cur+1)/2 + r.IntN(2*cur-(cur+1)/2+1)
		steps, created, err := m.UniformPlan(n)
		if err != nil {
			t.Fatal(err)
		}
		target := m.UniformTarget(n)
		even := EvenRanges(n)
		for i := range target {
			if !near(target[i].Start, even[i].Start) || !near(target[i].End, even[i].End) {
				t.Fatalf("%d -> %d: target range %d is %v, far from %v", cur, n, i, target[i], even[i])
			}
		}
		before := len(m.Shards)
		for done := 0; ; done++ {
			ok, err := m.UniformStep(target)
			if err != nil {
				t.Fatalf("trial %d: %d -> %d: step %d: %v", trial, cur, n, done, err)
			}
			if !ok {
				if done != steps {
					t.Fatalf("plan said %d steps, took %d", steps, done)
				}
				break
			}
			checkCover(t, m)
		}
		if len(m.Shards)-before != created {
			t.Fatalf("plan said %d shards created, got %d", created, len(m.Shards)-before)
		}
		open := m.Open()
		if len(open) != n {
			t.Fatalf("%d -> %d: %d open shards", cur, n, len(open))
		}
		for i, sh := range open {
			if sh.Range != target[i] {
				t.Fatalf("%d -> %d: shard %d range %v, want %v", cur, n, i, sh.Range, target[i])
			}
		}
	}
}

// Doubling and halving a uniform stream take the fewest steps: one split per
// shard, one merge per pair.
func TestUniformStepDoubleAndHalve(t *testing.T) {
	for _, c := range []struct{ from, to, steps int }{{4, 8, 4}, {8, 4, 4}, {1, 2, 1}, {1, 3, 2}, {5, 5, 0},
		{5, 10, 5}, {10, 5, 5}, {3, 6, 3}, {7, 14, 7}, {14, 7, 7}, {625, 1250, 625}, {1250, 625, 625}} {
		steps, _, err := NewShardMap(c.from).UniformPlan(c.to)
		if err != nil || steps != c.steps {
			t.Errorf("%d -> %d: %d steps, %v; want %d", c.from, c.to, steps, err, c.steps)
		}
	}
}

// Middle halves a range: the whole space at 2^127, a two-key range at its
// second key, and any range strictly inside, past its first key.
func TestHashRangeMiddle(t *testing.T) {
	if got := (HashRange{HashKey{}, MaxHashKey}).Middle(); got != (HashKey{1 << 63, 0}) {
		t.Fatalf("middle of the space: %v", got)
	}
	if got := (HashRange{HashKey{0, 7}, HashKey{0, 8}}).Middle(); got != (HashKey{0, 8}) {
		t.Fatalf("middle of [7, 8]: %v", got)
	}
	for _, n := range []int{3, 7, 10} {
		for _, r := range EvenRanges(n) {
			m := r.Middle()
			if m.Cmp(r.Start) <= 0 || m.Cmp(r.End) > 0 {
				t.Fatalf("middle %v outside (%v, %v]", m, r.Start, r.End)
			}
			lower, upper := m.Sub(1).big(), r.End.big()
			lower.Sub(lower, r.Start.big())
			upper.Sub(upper, m.big())
			if d := lower.Sub(lower, upper); d.Sign() < 0 || d.Int64() > 1 {
				t.Fatalf("halves of %v differ by %v", r, d)
			}
		}
	}
}
