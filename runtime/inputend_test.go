package runtime

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedSource is a sliceSource that delivers nothing until open() is true.
type gatedSource struct {
	sliceSource
	open func() bool
}

func (s *gatedSource) Poll(ctx context.Context) (*Batch, int, error) {
	if !s.open() {
		return nil, 0, nil
	}
	return s.sliceSource.Poll(ctx)
}

// endRecorder records, per subtask, what it sees: "rows N" per batch of
// input N, "end N" per EndInput, "finish".
type endRecorder struct {
	Base
	mu     *sync.Mutex
	events map[int][]string
	ended1 *atomic.Int32
	sub    int
}

func (o *endRecorder) Open(ctx *Context) error { o.sub = ctx.Subtask; return nil }

func (o *endRecorder) log(e string) {
	o.mu.Lock()
	o.events[o.sub] = append(o.events[o.sub], e)
	o.mu.Unlock()
}

func (o *endRecorder) ProcessBatch(in int, _ *Batch, _ Output) error {
	o.log(fmt.Sprintf("rows %d", in))
	return nil
}

func (o *endRecorder) EndInput(in int, _ Output) error {
	o.log(fmt.Sprintf("end %d", in))
	if in == 1 {
		o.ended1.Add(1)
	}
	return nil
}

func (o *endRecorder) Finish(Output) error { o.log("finish"); return nil }

// TestEndInputCalledWhenEveryLaneOfAnInputEnds checks that an InputEnder
// hears of the end of input 1 (fed by two source subtasks) once, while
// input 0 is still open, and of input 0's end before Finish.
func TestEndInputCalledWhenEveryLaneOfAnInputEnds(t *testing.T) {
	const par = 2
	var mu sync.Mutex
	events := map[int][]string{}
	var ended1 atomic.Int32
	data := kvRows(2, 3, 10)
	g := NewGraph("t")
	probe := g.AddSource("probe", kvSchema, par, func() Source {
		return &gatedSource{sliceSource: sliceSource{schema: kvSchema, batches: data}, open: func() bool { return ended1.Load() == par }}
	}, WatermarkStrategy{TimeColumn: 2})
	build := g.AddSource("build", kvSchema, par, func() Source { return &sliceSource{schema: kvSchema, batches: data} }, WatermarkStrategy{TimeColumn: 2})
	op := g.AddOperator("join", kvSchema, par, 2, func() Operator {
		return &endRecorder{mu: &mu, events: events, ended1: &ended1}
	})
	g.ConnectPort(probe, 0, op, 0, Keyed, 0)
	g.ConnectPort(build, 0, op, 1, Keyed, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Run(ctx, g, Options{Parallelism: par, BufferRows: 64}); err != nil {
		t.Fatal(err)
	}
	for sub := range par {
		ev := events[sub]
		idx := map[string]int{}
		for i, e := range ev {
			if e == "end 0" || e == "end 1" || e == "finish" {
				if _, dup := idx[e]; dup {
					t.Fatalf("subtask %d: %q twice: %v", sub, e, ev)
				}
			}
			if _, seen := idx[e]; !seen {
				idx[e] = i
			}
		}
		e1, ok1 := idx["end 1"]
		e0, ok0 := idx["end 0"]
		fin, okf := idx["finish"]
		if !ok1 || !ok0 || !okf || !(e1 < e0 && e0 < fin) {
			t.Fatalf("subtask %d: want end 1, then end 0, then finish: %v", sub, ev)
		}
		if r0, ok := idx["rows 0"]; ok && r0 < e1 {
			t.Fatalf("subtask %d: input 0 delivered rows before input 1 ended: %v", sub, ev)
		}
		for _, e := range ev[e1:] {
			if e == "rows 1" {
				t.Fatalf("subtask %d: rows of input 1 after its end: %v", sub, ev)
			}
		}
	}
}
