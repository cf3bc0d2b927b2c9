package runtime

import (
	"context"
	"sync"
	"testing"
)

// kindSource emits one batch whose rows carry changelog kinds (k: the row's
// kind number), then ends.
type kindSource struct{ b *Batch }

func (s *kindSource) Open(*Context) error { s.b = NewBatch(kvSchema); return nil }
func (s *kindSource) Poll(context.Context) (*Batch, int, error) {
	if s.b.N > 0 {
		return nil, 0, errEOF
	}
	for i := 0; i < 400; i++ {
		s.b.AppendValues(IntValue(int64(i%4)), IntValue(int64(i)), TimeValue(0))
		s.b.SetKind(i, RowKind(i%4))
	}
	s.b.Sel = []int32{1, 2, 3, 5, 6, 7, 4} // a filtered view: two rows of each update kind, one insert
	return s.b, 0, nil
}
func (s *kindSource) Close() error { return nil }

type kindCheck struct {
	Base
	mu   *sync.Mutex
	seen *[]string
}

func (k *kindCheck) ProcessBatch(_ int, b *Batch, _ Output) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		// The source set kind = k column.
		if RowKind(b.Cols[0].I64[r]) != b.Kind(r) {
			*k.seen = append(*k.seen, "mismatch")
		}
		*k.seen = append(*k.seen, b.Kind(r).String())
	}
	return nil
}

func TestRowKindsTravelThroughExchanges(t *testing.T) {
	for _, part := range []Partitioning{Keyed, Rebalance, Global} {
		var seen []string
		var mu sync.Mutex
		g := NewGraph("t")
		s := g.AddSource("src", kvSchema, 1, func() Source { return &kindSource{} }, NoWatermarks)
		c := g.AddOperator("check", kvSchema, 3, 1, func() Operator { return &kindCheck{mu: &mu, seen: &seen} })
		g.Connect(s, c, part, 1)
		if err := Run(context.Background(), g, Options{Parallelism: 1}); err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, k := range seen {
			counts[k]++
		}
		if len(seen) != 7 || counts["mismatch"] != 0 || counts["+I"] != 1 || counts["-U"] != 2 || counts["+U"] != 2 || counts["-D"] != 2 {
			t.Fatalf("%s: kinds %v", part, seen)
		}
	}
}
