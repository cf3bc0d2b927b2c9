package normalize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// in is an upsert table keyed by (k, region).
var in = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "region", Type: runtime.Varchar},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "note", Type: runtime.Varchar, Nullable: true},
)

var keyCols = []int{0, 1}

type change struct {
	kind runtime.RowKind
	row  []runtime.Value
}

func key(row []runtime.Value) string { return rttest.Format(row[:2]) }

// upserts returns n random upsert changes over keys keys: +I or +U of a
// new row (often equal to the last one), or -D carrying only the key.
func upserts(rnd *rand.Rand, n, keys int) []change {
	regions := []string{"eu", "us"}
	out := make([]change, n)
	for i := range out {
		k := rnd.IntN(keys)
		row := []runtime.Value{runtime.IntValue(int64(k / 2)), runtime.StringValue(regions[k%2]),
			runtime.IntValue(int64(rnd.IntN(3))), runtime.NullValue(runtime.Varchar)}
		if rnd.IntN(3) == 0 {
			row[3] = runtime.StringValue("n" + fmt.Sprint(rnd.IntN(2)))
		}
		switch rnd.IntN(6) {
		case 0:
			row[2], row[3] = runtime.NullValue(runtime.BigInt), runtime.NullValue(runtime.Varchar) // a delete has the key only
			out[i] = change{runtime.Delete, row}
		case 1, 2:
			out[i] = change{runtime.Insert, row}
		default:
			out[i] = change{runtime.UpdateAfter, row}
		}
	}
	return out
}

// reference is ChangelogNormalize without a TTL, row by row: the
// expected output of each key, in order.
func reference(changes []change) map[string][]string {
	held := map[string][]runtime.Value{}
	out := map[string][]string{}
	for _, c := range changes {
		k := key(c.row)
		old, ok := held[k]
		switch c.kind {
		case runtime.Insert, runtime.UpdateAfter:
			switch {
			case !ok:
				out[k] = append(out[k], "+I"+rttest.Format(c.row))
			case rttest.Format(old) == rttest.Format(c.row):
				continue
			default:
				out[k] = append(out[k], "-U"+rttest.Format(old), "+U"+rttest.Format(c.row))
			}
			held[k] = c.row
		default:
			if ok {
				out[k] = append(out[k], "-D"+rttest.Format(old))
				delete(held, k)
			}
		}
	}
	return out
}

// byKey splits a changelog ("kind values" strings) by key.
func byKey(log []string) map[string][]string {
	out := map[string][]string{}
	for _, l := range log {
		vals := strings.SplitN(l[2:], ",", 3)
		k := vals[0] + "," + vals[1]
		out[k] = append(out[k], l)
	}
	return out
}

// checkRetract applies log to a multiset: it must never retract a row it
// does not hold.
func checkRetract(t *testing.T, log []string) {
	t.Helper()
	held := map[string]int{}
	for i, l := range log {
		if l[0] == '+' {
			held[l[2:]]++
			continue
		}
		if held[l[2:]] == 0 {
			t.Fatalf("change %d (%s) retracts a row not held", i, l)
		}
		held[l[2:]]--
	}
}

func toBatches(changes []change, size int) []*runtime.Batch {
	var out []*runtime.Batch
	for i := 0; i < len(changes); i += size {
		b := runtime.NewBatch(in)
		for _, c := range changes[i:min(i+size, len(changes))] {
			b.AppendValues(c.row...)
			b.SetKind(b.N-1, c.kind)
		}
		out = append(out, b)
	}
	return out
}

// changeSource: subtask s emits the changes of the keys that hash to it
// (a key's changes stay in one source partition, in order).
type changeSource struct {
	changes []change
	batches []*runtime.Batch
}

func (s *changeSource) Open(ctx *runtime.Context) error {
	var mine []change
	for _, c := range s.changes {
		if int(c.row[0].I)%ctx.Parallelism == ctx.Subtask {
			mine = append(mine, c)
		}
	}
	s.batches = toBatches(mine, 1+len(mine)/7)
	return nil
}

func (s *changeSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if len(s.batches) == 0 {
		return nil, 0, io.EOF
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, 0, nil
}

func (s *changeSource) Close() error { return nil }

// TestNormalizeMatchesReference runs random upsert streams through
// runtime.Run (keyed by the upsert key, parallelism 1 and 3) and checks
// each key's output against a row-by-row reference, and that the output
// is a retract changelog.
func TestNormalizeMatchesReference(t *testing.T) {
	for seed := range uint64(6) {
		for _, par := range []int{1, 3} {
			changes := upserts(rand.New(rand.NewPCG(seed, 9)), 3000, 40)
			newOp, out, err := New(Spec{In: in, KeyCols: keyCols})
			if err != nil {
				t.Fatal(err)
			}
			c, sink := rttest.NewCollector(out)
			g := runtime.NewGraph("normalize")
			src := g.AddSource("src", in, par, func() runtime.Source { return &changeSource{changes: changes} }, runtime.NoWatermarks)
			n := g.AddOperator("normalize", out, par, 1, newOp)
			g.Connect(src, n, runtime.Keyed, keyCols...)
			g.Connect(n, g.AddOperator("collect", out, 1, 1, sink), runtime.Global)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err = runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: metrics.NewSet()})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			log := c.Changelog()
			checkRetract(t, log)
			got, want := byKey(log), reference(changes)
			for k := range want {
				if !slices.Equal(got[k], want[k]) {
					t.Fatalf("seed %d par %d key %s:\n got %s\nwant %s", seed, par, k, strings.Join(got[k], " "), strings.Join(want[k], " "))
				}
			}
			if len(got) != len(want) {
				t.Fatalf("seed %d par %d: output for %d keys, want %d", seed, par, len(got), len(want))
			}
		}
	}
}

type harness struct {
	t  *testing.T
	op *op
	c  *rttest.Collector
}

func newHarness(t *testing.T, spec Spec) *harness {
	t.Helper()
	newOp, out, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, op: newOp().(*op)}
	h.c, _ = rttest.NewCollector(out)
	if err := h.op.Open(rttest.NewContext("normalize", 0, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.op.Close() })
	return h
}

func (h *harness) feed(changes []change) error {
	for _, b := range toBatches(changes, 50) {
		if err := h.op.ProcessBatch(0, b, h.c); err != nil {
			return err
		}
	}
	return nil
}

// TestNormalizeRestoreContinuesAsUninterrupted: snapshot midway, restore
// into a new operator, and the output goes on exactly as one operator's.
func TestNormalizeRestoreContinuesAsUninterrupted(t *testing.T) {
	changes := upserts(rand.New(rand.NewPCG(7, 7)), 4000, 300)
	whole := newHarness(t, Spec{In: in, KeyCols: keyCols})
	if err := whole.feed(changes); err != nil {
		t.Fatal(err)
	}
	first := newHarness(t, Spec{In: in, KeyCols: keyCols})
	if err := first.feed(changes[:2500]); err != nil {
		t.Fatal(err)
	}
	data, err := first.op.SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	second := newHarness(t, Spec{In: in, KeyCols: keyCols})
	if err := second.op.RestoreState(data); err != nil {
		t.Fatal(err)
	}
	if err := second.feed(changes[2500:]); err != nil {
		t.Fatal(err)
	}
	if got, want := append(first.c.Changelog(), second.c.Changelog()...), whole.c.Changelog(); !slices.Equal(got, want) {
		t.Fatalf("restored output differs: %d changes, want %d", len(got), len(want))
	}
	// A corrupt snapshot is refused and leaves the operator empty.
	bad := newHarness(t, Spec{In: in, KeyCols: keyCols})
	data[len(data)/2] ^= 0xff
	if err := bad.op.RestoreState(data); err == nil || !strings.Contains(err.Error(), `changelog normalize operator "normalize": cannot restore state`) {
		t.Fatalf("corrupt snapshot: %v", err)
	}
	if bad.op.live != 0 || bad.op.table.Len() != 0 {
		t.Fatal("a failed restore left state behind")
	}
}

func row(k int64, region string, v int64) []runtime.Value {
	return []runtime.Value{runtime.IntValue(k), runtime.StringValue(region), runtime.IntValue(v), runtime.NullValue(runtime.Varchar)}
}

// TestNormalizeTTLForgetsIdleKeys: a key idle for the TTL is forgotten —
// its next row is +I, its delete is dropped — and equal rows are emitted
// again (downstream state may have expired too), as Flink does.
func TestNormalizeTTLForgetsIdleKeys(t *testing.T) {
	clock := int64(1_000_000)
	h := newHarness(t, Spec{In: in, KeyCols: keyCols, TTL: time.Second, Clock: func() int64 { return clock }})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.feed([]change{{runtime.Insert, row(1, "eu", 1)}, {runtime.Insert, row(2, "eu", 1)}}))
	clock += 600
	must(h.feed([]change{{runtime.UpdateAfter, row(1, "eu", 1)}}))
	clock += 600 // key 2 idle 1.2 s, key 1 0.6 s
	must(h.feed([]change{{runtime.Delete, row(2, "eu", 0)}, {runtime.UpdateAfter, row(1, "eu", 2)}}))
	clock += 5000
	must(h.op.OnProcessingTime(clock, h.c))
	must(h.feed([]change{{runtime.UpdateAfter, row(1, "eu", 3)}}))
	want := []string{"+I1,eu,1,NULL", "+I2,eu,1,NULL", "-U1,eu,1,NULL", "+U1,eu,1,NULL",
		"-U1,eu,1,NULL", "+U1,eu,2,NULL", "+I1,eu,3,NULL"}
	if got := h.c.Changelog(); !slices.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

func TestNormalizeMaxKeys(t *testing.T) {
	h := newHarness(t, Spec{In: in, KeyCols: keyCols, MaxKeys: 2})
	if err := h.feed([]change{{runtime.Insert, row(1, "eu", 1)}, {runtime.Insert, row(2, "eu", 1)}, {runtime.Delete, row(1, "eu", 1)},
		{runtime.Insert, row(3, "eu", 1)}}); err != nil {
		t.Fatalf("2 live keys: %v", err)
	}
	err := h.feed([]change{{runtime.Insert, row(4, "eu", 1)}})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "holds 3 keys in this subtask, over its limit of 2") {
		t.Fatalf("got %v, want the state limit", err)
	}
}

// TestNormalizeCompactsDeletedKeys: many keys inserted and deleted leave
// no slots behind, and the keys still held keep their rows.
func TestNormalizeCompactsDeletedKeys(t *testing.T) {
	h := newHarness(t, Spec{In: in, KeyCols: keyCols})
	var changes []change
	for k := range int64(5000) {
		changes = append(changes, change{runtime.Insert, row(k, "us", k)})
		if k%100 != 0 {
			changes = append(changes, change{runtime.Delete, row(k, "us", 0)})
		}
	}
	if err := h.feed(changes); err != nil {
		t.Fatal(err)
	}
	if h.op.live != 50 || h.op.table.Len() > 2048 {
		t.Fatalf("%d live keys in %d slots, want 50 in few", h.op.live, h.op.table.Len())
	}
	h.c.Reset()
	if err := h.feed([]change{{runtime.UpdateAfter, row(4900, "us", -1)}, {runtime.Delete, row(4800, "us", 0)}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"-U4900,us,4900,NULL", "+U4900,us,-1,NULL", "-D4800,us,4800,NULL"}
	if got := h.c.Changelog(); !slices.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

func TestNormalizeSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want string
	}{
		{Spec{}, "no input schema"},
		{Spec{In: in}, "no key columns"},
		{Spec{In: in, KeyCols: []int{4}}, "key column 4 out of range (the input has 4 columns)"},
		{Spec{In: in, KeyCols: []int{1, 1}}, "key column 1 (region) given twice"},
		{Spec{In: in, KeyCols: []int{0}, TTL: -1}, "negative state TTL"},
	} {
		if _, _, err := New(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.spec, err, tc.want)
		}
	}
}

// BenchmarkNormalize: upserts over 10,000 keys, a batch at a time.
func BenchmarkNormalize(b *testing.B) {
	batches := toBatches(upserts(rand.New(rand.NewPCG(1, 1)), 64*1024, 20000), runtime.DefaultBatchRows)
	newOp, _, err := New(Spec{In: in, KeyCols: keyCols})
	if err != nil {
		b.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("normalize", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	var sink rttest.Discard
	rows := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bt := batches[i%len(batches)]
		if err := o.ProcessBatch(0, bt, &sink); err != nil {
			b.Fatal(err)
		}
		rows += bt.N
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
