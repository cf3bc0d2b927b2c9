package groupagg

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var in = runtime.NewSchema(runtime.Field{Name: "page", Type: runtime.Varchar}, runtime.Field{Name: "ms", Type: runtime.BigInt, Nullable: true})

func row(page string, ms int64) []runtime.Value {
	return []runtime.Value{runtime.StringValue(page), runtime.IntValue(ms)}
}

func TestChangelogPerBatch(t *testing.T) {
	newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "total"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "(page VARCHAR NOT NULL, n BIGINT NOT NULL, total BIGINT)" {
		t.Fatalf("schema %s", got)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	feed := func(rows ...[]runtime.Value) {
		t.Helper()
		if err := o.ProcessBatch(0, rttest.NewBatch(in, rows...), c); err != nil {
			t.Fatal(err)
		}
	}
	feed(row("/", 10), row("/a", 1), row("/", 5))
	feed(row("/a", 2))
	feed(row("/b", 7), row("/", 1))
	want := []string{
		"+I/,2,15", "+I/a,1,1",
		"-U/a,1,1", "+U/a,2,3",
		"-U/,2,15", "+I/b,1,7", "+U/,3,16",
	}
	if got := c.Changelog(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}

func TestUpdatingInputIsRejected(t *testing.T) {
	newOp, _, err := New(Spec{In: in, KeyCols: []int{0}, Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp()
	o.Open(rttest.NewContext("agg", 0, 1))
	defer o.Close()
	b := rttest.NewBatch(in, row("/", 1))
	b.SetKind(0, runtime.UpdateBefore)
	if err := o.ProcessBatch(0, b, &rttest.Discard{}); err == nil || !strings.Contains(err.Error(), "updating input") {
		t.Fatalf("got %v", err)
	}
}

func TestSameFinalResultAtAnyParallelism(t *testing.T) {
	var rows [][]runtime.Value
	for i := 0; i < 5000; i++ {
		rows = append(rows, row([]string{"/", "/a", "/b", "/c"}[i%4], int64(i)))
	}
	final := func(par int) map[string]string {
		t.Helper()
		newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Max, Col: 1, Name: "max"}}})
		if err != nil {
			t.Fatal(err)
		}
		g := runtime.NewGraph("t")
		src := g.AddSource("src", in, 1, rttest.Source(in, rttest.Deal(rows, 100, 2)), runtime.NoWatermarks)
		a := g.AddOperator("agg", out, par, 1, newOp)
		c, sink := rttest.NewCollector(out)
		k := g.AddOperator("sink", out, 1, 1, sink)
		g.Connect(src, a, runtime.Keyed, 0)
		g.Connect(a, k, runtime.Global)
		if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		// Apply the changelog: the last +I/+U per key, with every -U
		// matching the result it retracts.
		cur := map[string]string{}
		kinds := c.Kinds()
		for i, v := range c.Rows() {
			key, val := v[0].S, rttest.Format(v)
			switch kinds[i] {
			case runtime.UpdateBefore:
				if cur[key] != val {
					t.Fatalf("-U %s retracts %q, current %q", val, val, cur[key])
				}
				delete(cur, key)
			default:
				if _, ok := cur[key]; ok {
					t.Fatalf("%s without retracting %q", val, cur[key])
				}
				cur[key] = val
			}
		}
		return cur
	}
	one, four := final(1), final(4)
	want := map[string]string{"/": "/,1250,4996", "/a": "/a,1250,4997", "/b": "/b,1250,4998", "/c": "/c,1250,4999"}
	for k, v := range want {
		if one[k] != v || four[k] != v {
			t.Fatalf("key %s: parallelism 1 %q, 4 %q, want %q", k, one[k], four[k], v)
		}
	}
}

// changelogOf runs spec over the batches (each row +I unless kinds names
// its kind, in order over all batches) and returns the changelog.
func changelogOf(t *testing.T, spec Spec, kinds []runtime.RowKind, batches ...[][]runtime.Value) []string {
	t.Helper()
	newOp, out, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	k := 0
	for _, rows := range batches {
		b := rttest.NewBatch(spec.In, rows...)
		for r := range rows {
			if k < len(kinds) {
				b.SetKind(r, kinds[k])
			}
			k++
		}
		if err := o.ProcessBatch(0, b, c); err != nil {
			t.Fatal(err)
		}
	}
	return c.Changelog()
}

// TestUnchangedMaxEmitsNothing: over an append-only input, a group whose
// MAX a batch leaves as it was emits no -U/+U pair (Flink's behaviour);
// a group whose MAX changes, and a new group, still do.
func TestUnchangedMaxEmitsNothing(t *testing.T) {
	spec := Spec{In: in, KeyCols: []int{0}, Aggs: []agg.Spec{{Func: agg.Max, Col: 1, Name: "max"}}}
	got := changelogOf(t, spec, nil,
		[][]runtime.Value{row("/", 10), row("/a", 3)},
		[][]runtime.Value{row("/", 5), row("/a", 4), row("/b", 1)},
		[][]runtime.Value{row("/", 10), row("/a", 4)},
		[][]runtime.Value{row("/", 20)},
	)
	want := []string{"+I/,10", "+I/a,3", "-U/a,3", "+U/a,4", "+I/b,1", "-U/,10", "+U/,20"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}

// TestUnchangedResultEmitsWithTTL: with a state TTL every touched group
// emits its update, unchanged or not (as Flink), so that state downstream
// keeps being refreshed.
func TestUnchangedResultEmitsWithTTL(t *testing.T) {
	spec := Spec{In: in, KeyCols: []int{0}, Aggs: []agg.Spec{{Func: agg.Max, Col: 1, Name: "max"}}, TTL: time.Hour, Clock: func() int64 { return 1000 }}
	got := changelogOf(t, spec, nil, [][]runtime.Value{row("/", 10)}, [][]runtime.Value{row("/", 5)})
	want := []string{"+I/,10", "-U/,10", "+U/,10"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}

// TestUnchangedRetractResultEmitsNothing: over an updating input, a
// retraction or an addition that leaves a group's result as it was emits
// nothing; one that changes it emits -U/+U, and the last retraction -D.
func TestUnchangedRetractResultEmitsNothing(t *testing.T) {
	spec := Spec{In: in, KeyCols: []int{0}, Retract: true, Aggs: []agg.Spec{{Func: agg.Max, Col: 1, Name: "max"}}}
	I, D := runtime.Insert, runtime.Delete
	got := changelogOf(t, spec, []runtime.RowKind{I, I, D, I, D, D},
		[][]runtime.Value{row("/", 10), row("/", 5)},
		[][]runtime.Value{row("/", 5)},
		[][]runtime.Value{row("/", 7)},
		[][]runtime.Value{row("/", 10)},
		[][]runtime.Value{row("/", 7)},
	)
	want := []string{"+I/,10", "-U/,10", "+U/,7", "-D/,7"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}
