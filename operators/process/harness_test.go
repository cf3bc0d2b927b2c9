package process

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// partSource emits pre-built rows, batchRows at a time, round-robin over
// the partitions its subtask owns (partition p belongs to subtask
// p % parallelism). When hold is set, it keeps the job open after its rows
// until hold returns false (or a deadline passes), so processing-time
// timers get to fire.
type partSource struct {
	schema    *runtime.Schema
	parts     [][][]runtime.Value
	batchRows int
	hold      func() bool

	mine     []int
	next     []int
	rr       int
	out      *runtime.Batch
	deadline time.Time
}

func (s *partSource) Open(ctx *runtime.Context) error {
	for p := range s.parts {
		if p%ctx.Parallelism == ctx.Subtask {
			s.mine = append(s.mine, p)
		}
	}
	s.next = make([]int, len(s.parts))
	s.out = runtime.NewBatch(s.schema)
	return nil
}

func (s *partSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	for range s.mine {
		p := s.mine[s.rr%len(s.mine)]
		s.rr++
		rows := s.parts[p][s.next[p]:]
		if len(rows) == 0 {
			continue
		}
		rows = rows[:min(len(rows), s.batchRows)]
		s.next[p] += len(rows)
		s.out.Reset()
		for _, r := range rows {
			s.out.AppendValues(r...)
		}
		return s.out, p, nil
	}
	if s.hold != nil {
		if s.deadline.IsZero() {
			s.deadline = time.Now().Add(10 * time.Second)
		}
		if s.hold() && time.Now().Before(s.deadline) {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
			return nil, 0, nil
		}
	}
	return nil, 0, io.EOF
}

func (s *partSource) Close() error {
	if s.out != nil {
		s.out.Release()
	}
	return nil
}

// collector is a sink gathering rows as comma-separated strings.
type collector struct {
	mu   sync.Mutex
	rows []string
	n    atomic.Int64
}

type collectOp struct {
	runtime.Base
	c *collector
}

func (o *collectOp) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	if b.Len() > runtime.DefaultBatchRows {
		panic("batch larger than DefaultBatchRows")
	}
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		var sb strings.Builder
		for j, v := range b.Values(i) {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(v.String())
		}
		o.c.rows = append(o.c.rows, sb.String())
	}
	o.c.n.Add(int64(b.Len()))
	return nil
}

func (c *collector) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.rows)
	slices.Sort(out)
	return out
}

// job describes a source → keyed process → sink job.
type job struct {
	in, out   *runtime.Schema
	parts     [][][]runtime.Value
	wm        runtime.WatermarkStrategy
	keyCols   []int
	newFunc   func() Func
	opts      state.Options
	srcPar    int // 0: the job's parallelism
	batchRows int
	hold      func(c *collector) bool
	runOpts   runtime.Options
}

// run executes the job with the process operator at parallelism par and
// returns the sorted output rows.
func (j job) run(t *testing.T, par int) ([]string, error) {
	t.Helper()
	c := &collector{}
	g := runtime.NewGraph("process-test")
	srcPar := j.srcPar
	if srcPar == 0 {
		srcPar = par
	}
	batchRows := j.batchRows
	if batchRows == 0 {
		batchRows = 100
	}
	var hold func() bool
	if j.hold != nil {
		hold = func() bool { return j.hold(c) }
	}
	src := g.AddSource("src", j.in, srcPar, func() runtime.Source {
		return &partSource{schema: j.in, parts: j.parts, batchRows: batchRows, hold: hold}
	}, j.wm)
	proc := g.AddOperator("proc", j.out, par, 1, New(j.in, j.out, j.keyCols, j.newFunc, j.opts))
	sink := g.AddOperator("sink", j.out, 1, 1, func() runtime.Operator { return &collectOp{c: c} })
	g.Connect(src, proc, runtime.Keyed, j.keyCols...)
	g.Connect(proc, sink, runtime.Global)
	opts := j.runOpts
	opts.Parallelism = par
	err := runtime.Run(context.Background(), g, opts)
	return c.sorted(), err
}
