package agg

import (
	"testing"

	"pgregory.net/rapid"
)

// TestIntSetIsASet: random adds — few distinct values and many, 0 and
// the largest among them — tell new values as a map does, and the set
// holds exactly the map's keys.
func TestIntSetIsASet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vals := rapid.SliceOf(rapid.OneOf(
			rapid.Uint64Range(0, 20),
			rapid.Uint64(),
			rapid.SampledFrom([]uint64{0, 1 << 63, ^uint64(0), 0x9E3779B97F4A7C15}),
		)).Draw(t, "values")
		var s intSet
		m := map[uint64]bool{}
		for _, x := range vals {
			if got, want := s.add(x), !m[x]; got != want {
				t.Fatalf("add(%d) = %v, want %v", x, got, want)
			}
			m[x] = true
			if s.len() != len(m) {
				t.Fatalf("len %d, want %d", s.len(), len(m))
			}
		}
		seen := map[uint64]bool{}
		s.each(func(x uint64) {
			if !m[x] || seen[x] {
				t.Fatalf("each gives %d: not added, or twice", x)
			}
			seen[x] = true
		})
		if len(seen) != len(m) {
			t.Fatalf("each gives %d values, want %d", len(seen), len(m))
		}
	})
}
