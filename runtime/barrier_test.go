package runtime

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"
)

// tally counts, per barrier, the rows each participant had seen before it.
type tally struct {
	mu     sync.Mutex
	before map[string]map[int64]int64 // participant → barrier → rows
	seen   map[string]map[int64]int   // participant → barrier → subtasks that saw it
}

func (t *tally) record(who string, id, rows int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.before[who] == nil {
		t.before[who] = map[int64]int64{}
		t.seen[who] = map[int64]int{}
	}
	t.before[who][id] += rows
	t.seen[who][id]++
}

type barrierSource struct {
	t       *tally
	batches int
	rows    int64
	b       *Batch
}

func (s *barrierSource) Open(*Context) error { s.b = NewBatch(kvSchema); return nil }
func (s *barrierSource) Poll(context.Context) (*Batch, int, error) {
	if s.batches == 0 {
		return nil, 0, io.EOF
	}
	s.batches--
	time.Sleep(500 * time.Microsecond)
	s.b.Reset()
	for i := 0; i < 64; i++ {
		s.b.AppendValues(IntValue(s.rows), IntValue(1), TimeValue(s.rows))
		s.rows++
	}
	return s.b, 0, nil
}
func (s *barrierSource) OnBarrier(b Barrier) error { s.t.record("source", b.ID, s.rows); return nil }
func (s *barrierSource) Close() error              { return nil }

type barrierCounter struct {
	Base
	name string
	t    *tally
	rows int64
}

func (c *barrierCounter) ProcessBatch(_ int, b *Batch, out Output) error {
	c.rows += int64(b.Len())
	return out.Emit(b)
}
func (c *barrierCounter) OnBarrier(b Barrier, _ Output) error {
	c.t.record(c.name, b.ID, c.rows)
	return nil
}

func TestBarriersAreAlignedAcrossInputs(t *testing.T) {
	tl := &tally{before: map[string]map[int64]int64{}, seen: map[string]map[int64]int{}}
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 3, func() Source { return &barrierSource{t: tl, batches: 400} }, NoWatermarks)
	mid := g.AddOperator("mid", kvSchema, 2, 1, func() Operator { return &barrierCounter{name: "mid", t: tl} })
	sink := g.AddOperator("sink", kvSchema, 1, 1, func() Operator { return &barrierCounter{name: "sink", t: tl} })
	g.Connect(src, mid, Keyed, 0)
	g.Connect(mid, sink, Global)
	barriers := make(chan Barrier)
	go func() {
		for id := int64(1); id <= 5; id++ {
			time.Sleep(15 * time.Millisecond)
			barriers <- Barrier{ID: id}
		}
	}()
	if err := Run(context.Background(), g, Options{Barriers: barriers, BufferRows: 256}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for id := int64(1); id <= 5; id++ {
		if tl.seen["source"][id] != 3 {
			continue // a source had ended before this barrier
		}
		want := tl.before["source"][id]
		if tl.seen["mid"][id] != 2 || tl.seen["sink"][id] != 1 {
			t.Fatalf("barrier %d seen by %d mid and %d sink subtasks", id, tl.seen["mid"][id], tl.seen["sink"][id])
		}
		if got := tl.before["mid"][id]; got != want {
			t.Fatalf("barrier %d: mid saw %d rows before it, sources had emitted %d", id, got, want)
		}
		if got := tl.before["sink"][id]; got != want {
			t.Fatalf("barrier %d: sink saw %d rows before it, sources had emitted %d", id, got, want)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("only %d barriers went through all sources", checked)
	}
}
