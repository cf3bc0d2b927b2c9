package join

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The schemas most tests join: a(k, ts, name) with b(k, ts, name, x), on k,
// with an INT key on the right to exercise INT/BIGINT mixing.
var (
	leftSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "name", Type: runtime.Varchar},
	)
	rightSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.Int, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "name", Type: runtime.Varchar},
		runtime.Field{Name: "x", Type: runtime.Double, Nullable: true},
	)
)

func kvSpec(lower, upper int64) Spec {
	return Spec{Left: leftSchema, Right: rightSchema, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}
}

// lrow and rrow build rows of leftSchema and rightSchema; a nil key is NULL.
func lrow(k any, ts int64, name string) []runtime.Value {
	return []runtime.Value{keyValue(k, runtime.BigInt), runtime.TimeValue(ts), runtime.StringValue(name)}
}

func rrow(k any, ts int64, name string) []runtime.Value {
	return []runtime.Value{keyValue(k, runtime.Int), {Type: runtime.BigInt, I: ts}, runtime.StringValue(name), runtime.FloatValue(float64(ts) / 2)}
}

func keyValue(k any, t runtime.Type) runtime.Value {
	if k == nil {
		return runtime.NullValue(t)
	}
	return runtime.Value{Type: t, I: int64(k.(int))}
}

// format renders a row as the collector does: values as SQL prints them,
// comma-separated, each value retyped to its column's type.
func format(s *runtime.Schema, vals []runtime.Value) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		v.Type = s.Fields[i].Type
		b.WriteString(v.String())
	}
	return b.String()
}

func joined(left, right []runtime.Value) string {
	return format(leftSchema, left) + "," + format(rightSchema, right)
}

// nestedLoop is the reference join: every pair of rows, checked one by one.
func nestedLoop(spec Spec, left, right [][]runtime.Value) []string {
	var out []string
	for _, l := range left {
		for _, r := range right {
			if pairMatches(spec, l, r) {
				out = append(out, format(spec.Left, l)+","+format(spec.Right, r))
			}
		}
	}
	slices.Sort(out)
	return out
}

func pairMatches(spec Spec, l, r []runtime.Value) bool {
	for i := range spec.LeftKeys {
		a, b := l[spec.LeftKeys[i]], r[spec.RightKeys[i]]
		if a.Null || b.Null || a.I != b.I || a.S != b.S || a.F != b.F || a.F != a.F {
			return false
		}
	}
	lt, rt := l[spec.LeftTime], r[spec.RightTime]
	if lt.Null || rt.Null {
		return false
	}
	d := rt.I - lt.I
	return d >= spec.Lower && d <= spec.Upper
}

// batchOf builds a batch of s holding rows.
func batchOf(s *runtime.Schema, rows [][]runtime.Value) *runtime.Batch {
	b := runtime.NewBatch(s)
	b.Reset()
	for _, r := range rows {
		b.AppendValues(r...)
	}
	return b
}

// step is one step of a scripted source: emit rows as one batch of
// partition part, or (when wait is set) wait until it is closed, or (when
// signal is set) close it.
type step struct {
	part   int
	rows   [][]runtime.Value
	wait   <-chan struct{}
	signal chan struct{}
}

// testSource runs a script. Subtask i of a parallel source plays the batch
// steps of the partitions p with p % parallelism == i, and every wait and
// signal step (use those with parallelism 1 only).
type testSource struct {
	schema *runtime.Schema
	script []step
	ctx    *runtime.Context
	next   int
	out    *runtime.Batch
}

func (s *testSource) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.out = runtime.NewBatch(s.schema)
	return nil
}

func (s *testSource) Poll(context.Context) (*runtime.Batch, int, error) {
	for s.next < len(s.script) {
		st := s.script[s.next]
		switch {
		case st.wait != nil:
			select {
			case <-st.wait:
				s.next++
				continue
			default:
				return nil, 0, nil // polled again in a few ms
			}
		case st.signal != nil:
			close(st.signal)
			s.next++
			continue
		}
		s.next++
		if st.part%s.ctx.Parallelism != s.ctx.Subtask {
			continue
		}
		s.out.Reset()
		for _, r := range st.rows {
			s.out.AppendValues(r...)
		}
		return s.out, st.part, nil
	}
	return nil, 0, io.EOF
}

func (s *testSource) Close() error {
	if s.out != nil {
		s.out.Release()
	}
	return nil
}

// batches turns rows into a script of batches of at most size rows,
// spread round-robin over parts partitions, keeping the order of rows
// within each partition.
func batches(rows [][]runtime.Value, size, parts int) []step {
	var out []step
	for i := 0; i < len(rows); i += size {
		out = append(out, step{part: (i / size) % parts, rows: rows[i:min(i+size, len(rows))]})
	}
	return out
}

// collector is a sink gathering the rows it receives as strings.
type collector struct {
	runtime.Base
	mu   *sync.Mutex
	rows *[]string
}

func (c *collector) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		vals := b.Values(i)
		parts := make([]string, len(vals))
		for j, v := range vals {
			parts[j] = v.String()
		}
		*c.rows = append(*c.rows, strings.Join(parts, ","))
	}
	return nil
}

// probe wraps a join subtask: it records the subtask's context and closes
// gate once every subtask has seen a watermark >= gateAt.
type probe struct {
	runtime.Operator
	shared *probes
	ctx    *runtime.Context
	passed bool
}

type probes struct {
	gateAt  int64
	gate    chan struct{}
	par     int32
	reached atomic.Int32
	mu      sync.Mutex
	all     []*probe
}

func (p *probe) Open(ctx *runtime.Context) error {
	p.ctx = ctx
	return p.Operator.Open(ctx)
}

func (p *probe) ProcessWatermark(wm int64, out runtime.Output) error {
	err := p.Operator.ProcessWatermark(wm, out)
	if s := p.shared; s.gate != nil && !p.passed && wm >= s.gateAt {
		p.passed = true
		if s.reached.Add(1) == s.par {
			close(s.gate)
		}
	}
	return err
}

func (s *probes) late() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.all {
		n += int(p.ctx.Metrics.LateRowsDropped.Get())
	}
	return n
}

// job describes a test job: two scripted sources, the join, a collector.
type job struct {
	spec        Spec
	left, right []step
	srcPar      int           // source parallelism (default 1)
	joinPar     int           // join parallelism (default 1)
	outOfOrder  time.Duration // sources' MaxOutOfOrderness
	gateAt      int64         // with gate: close gate once every join subtask saw this watermark
	gate        chan struct{}
}

// run runs j and returns the sorted output rows and the late rows counted.
func (j *job) run(t *testing.T) (rows []string, late int) {
	t.Helper()
	newOp, out, err := New(j.spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srcPar, joinPar := max(j.srcPar, 1), max(j.joinPar, 1)
	shared := &probes{gateAt: j.gateAt, gate: j.gate, par: int32(joinPar)}
	g := runtime.NewGraph("join-test")
	wmL := runtime.WatermarkStrategy{TimeColumn: j.spec.LeftTime, MaxOutOfOrderness: j.outOfOrder}
	wmR := runtime.WatermarkStrategy{TimeColumn: j.spec.RightTime, MaxOutOfOrderness: j.outOfOrder}
	ls := g.AddSource("left", j.spec.Left, srcPar, func() runtime.Source { return &testSource{schema: j.spec.Left, script: j.left} }, wmL)
	rs := g.AddSource("right", j.spec.Right, srcPar, func() runtime.Source { return &testSource{schema: j.spec.Right, script: j.right} }, wmR)
	jn := g.AddOperator("join", out, joinPar, 2, func() runtime.Operator {
		p := &probe{Operator: newOp(), shared: shared}
		shared.mu.Lock()
		shared.all = append(shared.all, p)
		shared.mu.Unlock()
		return p
	})
	mu, got := new(sync.Mutex), new([]string)
	sink := g.AddOperator("sink", out, 1, 1, func() runtime.Operator { return &collector{mu: mu, rows: got} })
	g.ConnectPort(ls, 0, jn, 0, runtime.Keyed, j.spec.LeftKeys...)
	g.ConnectPort(rs, 0, jn, 1, runtime.Keyed, j.spec.RightKeys...)
	g.Connect(jn, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: joinPar, BufferRows: 256, Metrics: metrics.NewSet()}); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, p := range shared.all {
		if n := p.ctx.Metrics.StateKeys(); n != 0 {
			t.Fatalf("join subtask %d holds %d keys after the final watermark", p.ctx.Subtask, n)
		}
		l, r := p.Operator.(*intervalJoin).bufferedRows()
		if l != 0 || r != 0 {
			t.Fatalf("join subtask %d buffers %d left and %d right rows after the final watermark", p.ctx.Subtask, l, r)
		}
	}
	rows = slices.Clone(*got)
	slices.Sort(rows)
	return rows, shared.late()
}

func sameRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %d rows, want %d\ngot:\n  %s\nwant:\n  %s", what, len(got), len(want),
			strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// pairs renders the expected output of the index pairs (left i, right j).
func pairs(left, right [][]runtime.Value, ij ...[2]int) []string {
	out := make([]string, 0, len(ij))
	for _, p := range ij {
		out = append(out, joined(left[p[0]], right[p[1]]))
	}
	return out
}
