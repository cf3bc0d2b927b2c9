package join

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// A job that fails once part-way and restarts from its latest checkpoint
// must commit exactly the rows of an uninterrupted run: the joins'
// snapshots, taken at barriers, carry their state across the restart.

// tjCkSource emits chunks (one per poll, a little apart) and checkpoints
// how many it has sent. It runs with parallelism 1.
type tjCkSource struct {
	schema *runtime.Schema
	chunks []rttest.Chunk
	next   int
	b      *runtime.Batch
}

func (s *tjCkSource) RestorePositions(all [][]byte) error {
	for _, d := range all {
		s.next = int(binary.LittleEndian.Uint64(d))
	}
	return nil
}

func (s *tjCkSource) SnapshotPosition() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(s.next)), nil
}

func (s *tjCkSource) Open(*runtime.Context) error { s.b = runtime.NewBatch(s.schema); return nil }

func (s *tjCkSource) Partitions() []int {
	var parts []int
	for _, c := range s.chunks {
		if !slices.Contains(parts, c.Part) {
			parts = append(parts, c.Part)
		}
	}
	return parts
}

func (s *tjCkSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.next >= len(s.chunks) {
		return nil, 0, io.EOF
	}
	time.Sleep(500 * time.Microsecond)
	c := s.chunks[s.next]
	s.next++
	s.b.Reset()
	for _, r := range c.Rows {
		s.b.AppendValues(r...)
	}
	return s.b, c.Part, nil
}

func (s *tjCkSource) Close() error { return nil }

// tjFailOnce wraps a join subtask: subtask 0 fails at its after-th batch,
// once across runs. Snapshots go to the join.
type tjFailOnce struct {
	runtime.Operator
	armed *atomic.Bool
	after int
	sub   int
	seen  int
}

func (f *tjFailOnce) Open(ctx *runtime.Context) error {
	f.sub = ctx.Subtask
	return f.Operator.Open(ctx)
}

func (f *tjFailOnce) ProcessBatch(in int, b *runtime.Batch, out runtime.Output) error {
	f.seen++
	if f.sub == 0 && f.seen == f.after && f.armed.CompareAndSwap(true, false) {
		return errors.New("injected failure")
	}
	return f.Operator.ProcessBatch(in, b, out)
}

func (f *tjFailOnce) SnapshotState(id int64) ([]byte, error) {
	return f.Operator.(runtime.Snapshotter).SnapshotState(id)
}

func (f *tjFailOnce) RestoreState(d []byte) error {
	if len(d) > 0 {
		tjRestores.Add(1)
	}
	return f.Operator.(runtime.Snapshotter).RestoreState(d)
}

// tjRestores counts the join subtasks restored from a non-empty snapshot.
var tjRestores atomic.Int64

// tjTxSink commits its rows exactly once: rows received before a barrier
// are published once that checkpoint is complete, under its id.
type tjTxSink struct {
	runtime.Base
	mu        *sync.Mutex
	committed map[int64][]string
	own       sync.Mutex
	buf       []string
	pending   map[int64][]string
}

func (s *tjTxSink) Open(*runtime.Context) error {
	if s.pending == nil {
		s.pending = map[int64][]string{}
	}
	return nil
}

func (s *tjTxSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	s.own.Lock()
	defer s.own.Unlock()
	for i := 0; i < b.Len(); i++ {
		s.buf = append(s.buf, tjQuote(b.Values(i)))
	}
	return nil
}

func (s *tjTxSink) SnapshotState(id int64) ([]byte, error) {
	s.own.Lock()
	defer s.own.Unlock()
	s.pending[id] = append(s.pending[id], s.buf...)
	s.buf = nil
	var lines []string
	for ck, rows := range s.pending {
		for _, r := range rows {
			lines = append(lines, fmt.Sprint(ck, "\t", r))
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}

func (s *tjTxSink) RestoreState(d []byte) error {
	s.pending = map[int64][]string{}
	for _, l := range strings.Split(string(d), "\n") {
		if l == "" {
			continue
		}
		var ck int64
		id, row, _ := strings.Cut(l, "\t")
		fmt.Sscan(id, &ck)
		s.pending[ck] = append(s.pending[ck], row)
	}
	return nil
}

func (s *tjTxSink) NotifyCheckpointComplete(id int64) error {
	s.own.Lock()
	defer s.own.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for ck, rows := range s.pending {
		if ck <= id {
			if _, done := s.committed[ck]; !done {
				s.committed[ck] = rows
			}
			delete(s.pending, ck)
		}
	}
	return nil
}

// runWithFailure runs j with checkpoints every few milliseconds, its
// operator failing once at batch failAt of subtask 0, restarting from the
// latest checkpoint, and returns the rows committed.
func (j *tjJob) runWithFailure(t tjT, dir string, failAt int) []string {
	t.Helper()
	g := runtime.NewGraph("tj-ck")
	armed := new(atomic.Bool)
	armed.Store(true)
	op := g.AddOperator("join", j.out, j.par, 2, func() runtime.Operator {
		return &tjFailOnce{Operator: j.newOp(), armed: armed, after: failAt}
	})
	for i := range 2 {
		wm := runtime.WatermarkStrategy{TimeColumn: j.timeCols[i], MaxOutOfOrderness: j.outOfOrder}
		schema, chunks := j.schemas[i], j.chunks[i]
		src := g.AddSource(fmt.Sprintf("in%d", i), schema, 1, func() runtime.Source { return &tjCkSource{schema: schema, chunks: chunks} }, wm)
		if j.kindCol[i] >= 0 {
			col := j.kindCol[i]
			k := g.AddOperator(fmt.Sprintf("kinds%d", i), schema, 1, 1, func() runtime.Operator { return &tjKindOp{col: col} })
			g.Connect(src, k, runtime.Forward)
			src = k
		}
		g.ConnectPort(src, 0, op, i, runtime.Keyed, j.keyCols[i]...)
	}
	var mu sync.Mutex
	committed := map[int64][]string{}
	sink := g.AddOperator("sink", j.out, 1, 1, func() runtime.Operator { return &tjTxSink{mu: &mu, committed: committed} })
	g.Connect(op, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runtime.RunWithRestarts(ctx, g, runtime.Options{Parallelism: j.par, BufferRows: 64,
		Checkpoints: &runtime.CheckpointOptions{Dir: dir, Interval: 3 * time.Millisecond}},
		runtime.RestartOptions{Attempts: 2, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if armed.Load() {
		t.Fatalf("the failure at batch %d was not injected", failAt)
	}
	var rows []string
	for _, rs := range committed {
		rows = append(rows, rs...)
	}
	slices.Sort(rows)
	return rows
}

// TestJoinsRestartFromCheckpointExactlyOnce runs the event-time temporal
// join and the window join as jobs that fail once part-way and restart from
// their latest checkpoint, and checks that the rows committed are exactly
// those of an uninterrupted run.
func TestJoinsRestartFromCheckpointExactlyOnce(t *testing.T) {
	n := 0
	restores := tjRestores.Load()
	rapid.Check(t, func(rt *rapid.T) {
		if n++; n > 25 { // each case runs two jobs: keep the test short
			return
		}
		dir := t.TempDir()
		par := rapid.SampledFrom([]int{1, 3}).Draw(rt, "par")
		size := rapid.IntRange(1, 4).Draw(rt, "chunk")
		const outOfOrder = 10
		var j tjJob
		if rapid.Bool().Draw(rt, "temporal") {
			probes, changes, _ := tjGenOnTime(rt, outOfOrder)
			newOp, out, err := NewTemporal(tjSpec(rapid.Bool().Draw(rt, "left"), false))
			if err != nil {
				rt.Fatal(err)
			}
			j = tjJob{
				schemas:  [2]*runtime.Schema{tjProbeSchema, tjVerSchema},
				chunks:   [2][]rttest.Chunk{rttest.Split(probes, size), rttest.Split(changes, size)},
				timeCols: [2]int{1, 2}, keyCols: [2][]int{{0}, {1}}, kindCol: [2]int{-1, 0},
				outOfOrder: outOfOrder * time.Millisecond, par: par, newOp: newOp, out: out,
			}
		} else {
			var parts [2][][][]runtime.Value
			v := int64(0)
			for side := range 2 {
				parts[side] = make([][][]runtime.Value, 2)
				for p := range 2 {
					b := int64(outOfOrder)
					for range rapid.IntRange(0, 40).Draw(rt, "rows") {
						b += rapid.Int64Range(0, 5).Draw(rt, "step")
						ts := b - rapid.Int64Range(0, outOfOrder).Draw(rt, "jitter")
						for _, w := range wjWindows(true, ts) {
							v++
							parts[side][p] = append(parts[side][p], wjDraw(rt, side, 4, ts, w[0], w[1], v))
						}
					}
				}
			}
			newOp, out, err := NewWindow(wjSpec(true, true, false))
			if err != nil {
				rt.Fatal(err)
			}
			j = tjJob{
				schemas:  [2]*runtime.Schema{wjLeftSchema, wjRightSchema},
				chunks:   [2][]rttest.Chunk{rttest.Split(parts[0], size), rttest.Split(parts[1], size)},
				timeCols: [2]int{1, 2}, keyCols: [2][]int{{0}, {1}}, kindCol: [2]int{-1, -1},
				outOfOrder: outOfOrder * time.Millisecond, par: par, newOp: newOp, out: out,
			}
		}
		batches := len(j.chunks[0]) + len(j.chunks[1])
		if batches < 4 {
			return
		}
		want, _ := j.run(rt)
		got := j.runWithFailure(rt, dir, rapid.IntRange(1, max(1, batches/(2*par))).Draw(rt, "failAt"))
		tjSameRows(rt, "committed after a restart", got, tjQuoteAll(want))
	})
	if tjRestores.Load() == restores {
		t.Fatal("no join subtask was ever restored from a snapshot: the failures all came before the first checkpoint")
	}
}
