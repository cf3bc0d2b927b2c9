package join

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
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

// format renders a row as the collector does (rttest.Format), each value
// retyped to its column's type.
func format(s *runtime.Schema, vals []runtime.Value) string {
	typed := make([]runtime.Value, len(vals))
	for i, v := range vals {
		v.Type = s.Fields[i].Type
		typed[i] = v
	}
	return rttest.Format(typed)
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
	joined  *atomic.Int64 // rows the join subtasks have processed, when counted
}

func (p *probe) Open(ctx *runtime.Context) error {
	p.ctx = ctx
	return p.Operator.Open(ctx)
}

func (p *probe) ProcessBatch(in int, b *runtime.Batch, out runtime.Output) error {
	err := p.Operator.ProcessBatch(in, b, out)
	if p.shared.joined != nil {
		p.shared.joined.Add(int64(b.Len()))
	}
	return err
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

// job describes a test job: two sources, the join, a collector.
type job struct {
	spec        Spec
	left, right []rttest.Chunk
	srcOpts     [2][]rttest.SourceOption // of the left and right source
	srcPar      int                      // source parallelism (default 1)
	joinPar     int                      // join parallelism (default 1)
	outOfOrder  time.Duration            // sources' MaxOutOfOrderness
	gateAt      int64                    // with gate: close gate once every join subtask saw this watermark
	gate        chan struct{}
	joined      *atomic.Int64 // when set, counts the rows the join has processed
	log         io.Writer     // when set, receives the job's log lines
}

// run runs j and returns the sorted output rows and the late rows counted.
func (j *job) run(t *testing.T) (rows []string, late int) {
	t.Helper()
	newOp, out, err := New(j.spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srcPar, joinPar := max(j.srcPar, 1), max(j.joinPar, 1)
	shared := &probes{gateAt: j.gateAt, gate: j.gate, par: int32(joinPar), joined: j.joined}
	g := runtime.NewGraph("join-test")
	wmL := runtime.WatermarkStrategy{TimeColumn: j.spec.LeftTime, MaxOutOfOrderness: j.outOfOrder}
	wmR := runtime.WatermarkStrategy{TimeColumn: j.spec.RightTime, MaxOutOfOrderness: j.outOfOrder}
	ls := g.AddSource("left", j.spec.Left, srcPar, rttest.Source(j.spec.Left, j.left, j.srcOpts[0]...), wmL)
	rs := g.AddSource("right", j.spec.Right, srcPar, rttest.Source(j.spec.Right, j.right, j.srcOpts[1]...), wmR)
	jn := g.AddOperator("join", out, joinPar, 2, func() runtime.Operator {
		p := &probe{Operator: newOp(), shared: shared}
		shared.mu.Lock()
		shared.all = append(shared.all, p)
		shared.mu.Unlock()
		return p
	})
	got, newSink := rttest.NewCollector(out)
	sink := g.AddOperator("sink", out, 1, 1, newSink)
	g.ConnectPort(ls, 0, jn, 0, runtime.Keyed, j.spec.LeftKeys...)
	g.ConnectPort(rs, 0, jn, 1, runtime.Keyed, j.spec.RightKeys...)
	g.Connect(jn, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opt := runtime.Options{Parallelism: joinPar, BufferRows: 256, Metrics: metrics.NewSet()}
	if j.log != nil {
		opt.Logger = slog.New(runtime.NewLineHandler(j.log, nil))
	}
	if err := runtime.Run(ctx, g, opt); err != nil {
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
	return got.Sorted(), shared.late()
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
