package rank

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// dedupIn is the input of the deduplication tests.
var dedupIn = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar},
	runtime.Field{Name: "v", Type: runtime.BigInt},
)

type dedupScenario struct {
	spec    DedupSpec
	rows    [][]runtime.Value
	batches []change
}

func drawDedupScenario(t *rapid.T) dedupScenario {
	sc := dedupScenario{spec: DedupSpec{
		In: dedupIn, KeyCols: []int{0}, TimeCol: 1,
		ProcTime:  rapid.Bool().Draw(t, "procTime"),
		KeepLast:  rapid.Bool().Draw(t, "keepLast"),
		RowNumber: rapid.Bool().Draw(t, "rowNumber"),
	}}
	if rapid.IntRange(0, 5).Draw(t, "global") == 0 {
		sc.spec.KeyCols = nil
	}
	nkeys := rapid.IntRange(1, 5).Draw(t, "keys")
	n := rapid.IntRange(0, 150).Draw(t, "rows")
	for i := range n {
		k := runtime.IntValue(int64(rapid.IntRange(0, nkeys-1).Draw(t, "k")))
		if rapid.IntRange(0, 15).Draw(t, "nullk") == 0 {
			k = runtime.NullValue(runtime.BigInt)
		}
		ts := runtime.TimeValue(int64(rapid.IntRange(0, 20).Draw(t, "ts")))
		if rapid.IntRange(0, 10).Draw(t, "nullts") == 0 {
			ts = runtime.NullValue(runtime.Timestamp)
		}
		s := runtime.StringValue(rapid.SampledFrom([]string{"x", "y"}).Draw(t, "s"))
		sc.rows = append(sc.rows, []runtime.Value{k, ts, s, runtime.IntValue(int64(i))})
	}
	prev := 0
	for _, cut := range drawSplit(t, n) {
		sc.batches = append(sc.batches, change{rows: sc.rows[prev:cut]})
		prev = cut
	}
	return sc
}

func (sc *dedupScenario) expected(t tb, sqlite string) []string {
	seqs := make([]int, len(sc.rows))
	for i := range seqs {
		seqs[i] = i
	}
	var order string
	switch {
	case sc.spec.ProcTime && sc.spec.KeepLast:
		order = "seq DESC"
	case sc.spec.ProcTime:
		order = "seq"
	case sc.spec.KeepLast:
		order = "ts DESC NULLS LAST, seq DESC"
	default:
		order = "ts ASC NULLS FIRST, seq"
	}
	part := ""
	if len(sc.spec.KeyCols) > 0 {
		part = "PARTITION BY k "
	}
	cols := "k, ts, s, v"
	if sc.spec.RowNumber {
		cols += ", rn"
	}
	q := fmt.Sprintf("SELECT %s FROM (SELECT *, ROW_NUMBER() OVER (%sORDER BY %s) AS rn FROM t) WHERE rn = 1", cols, part, order)
	return sqliteRows(t, sqlite, dedupIn, sc.rows, seqs, q)
}

// TestDedupMatchesSQLite runs random deduplications (keep first or last,
// by event or processing time) through runtime.Run at parallelism 1 and
// 3, and checks the final state of the changelog against sqlite3's
// ROW_NUMBER() ... = 1, with processing time as arrival order; keep-first
// by processing time must be append-only.
func TestDedupMatchesSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawDedupScenario(t)
		newOp, out, err := NewDedup(sc.spec)
		if err != nil {
			t.Fatalf("NewDedup: %v", err)
		}
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "parallelism")
		if len(sc.spec.KeyCols) == 0 {
			par = 1
		}
		c, _ := runJob(t, dedupIn, newChangelogSource(dedupIn, sc.batches), runtime.WatermarkStrategy{TimeColumn: -1},
			newOp, out, sc.spec.KeyCols, par)
		got := applyChangelog(t, c.Rows(), c.Kinds())
		if want := sc.expected(t, sqlite); !slices.Equal(got, want) {
			t.Fatalf("spec %+v, parallelism %d:\n%s", sc.spec, par, diff(got, want))
		}
		if sc.spec.ProcTime && !sc.spec.KeepLast {
			for i, k := range c.Kinds() {
				if k != runtime.Insert {
					t.Fatalf("keep-first by processing time emitted a %s row (#%d): it must be append-only", k, i)
				}
			}
		}
	})
}

// TestDedupRestoredEmitsWhatUninterruptedDoes snapshots a deduplication
// mid-stream and checks that the restored operator's changelog is exactly
// the uninterrupted one's.
func TestDedupRestoredEmitsWhatUninterruptedDoes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawDedupScenario(t)
		newOp, _, err := NewDedup(sc.spec)
		if err != nil {
			t.Fatalf("NewDedup: %v", err)
		}
		var steps []step
		for _, b := range sc.batches {
			steps = append(steps, step{change: b})
		}
		whole, _ := drive(t, newOp, dedupIn, steps, -1)
		at := rapid.IntRange(0, len(steps)).Draw(t, "restoreAt")
		restored, _ := drive(t, newOp, dedupIn, steps, at)
		if a, b := changelogOf(whole), changelogOf(restored); !slices.Equal(a, b) {
			t.Fatalf("restored at batch %d:\n%s", at, diff(b, a))
		}
	})
}

// TestDedupChangelogShape pins what each mode emits for one stream.
func TestDedupChangelogShape(t *testing.T) {
	r := func(k, ts int64, v int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(k), runtime.TimeValue(ts), runtime.StringValue("x"), runtime.IntValue(v)}
	}
	steps := []step{
		{change: change{rows: [][]runtime.Value{r(1, 10, 0)}}},
		{change: change{rows: [][]runtime.Value{r(1, 5, 1)}}},  // earlier time, later arrival
		{change: change{rows: [][]runtime.Value{r(1, 20, 2)}}}, // later time
		{change: change{rows: [][]runtime.Value{r(1, 20, 3), r(1, 5, 4)}}},
	}
	for _, tc := range []struct {
		proc, last bool
		want       []string
	}{
		{false, false, []string{"+I1|10|x|0", "-U1|10|x|0", "+U1|5|x|1"}},
		{false, true, []string{"+I1|10|x|0", "-U1|10|x|0", "+U1|20|x|2", "-U1|20|x|2", "+U1|20|x|3"}},
		{true, false, []string{"+I1|10|x|0"}},
		{true, true, []string{"+I1|10|x|0", "-U1|10|x|0", "+U1|5|x|1", "-U1|5|x|1", "+U1|20|x|2", "-U1|20|x|2", "+U1|5|x|4"}},
	} {
		newOp, _, err := NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, TimeCol: 1, ProcTime: tc.proc, KeepLast: tc.last})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := drive(t, newOp, dedupIn, steps, -1)
		if got := changelogOf(c); !slices.Equal(got, tc.want) {
			t.Errorf("processing time %v, keep last %v:\n got %v\nwant %v", tc.proc, tc.last, got, tc.want)
		}
	}
}

// TestDedupStateTTLAndLimit checks that a key not seen for the TTL is
// forgotten (its next row is new again: +I), that the processing-time
// timer purges idle keys, that the limit on keys fails the job with
// state.ErrStateLimit, and that an updating input is refused.
func TestDedupStateTTLAndLimit(t *testing.T) {
	clock := int64(1_000_000)
	newOp, out, err := NewDedup(DedupSpec{In: dedupIn, KeyCols: []int{0}, ProcTime: true,
		TTL: time.Second, MaxGroups: 2, Clock: func() int64 { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp().(*dedupOp)
	if err := o.Open(rttest.NewContext("dedup", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	feed := func(ch change) error {
		b := ch.batch(dedupIn)
		defer b.Release()
		return o.ProcessBatch(0, b, c)
	}
	r := func(k, v int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(k), runtime.TimeValue(0), runtime.StringValue("x"), runtime.IntValue(v)}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(feed(change{rows: [][]runtime.Value{r(1, 0), r(2, 0)}}))
	clock += 600
	must(feed(change{rows: [][]runtime.Value{r(1, 1)}})) // dropped, keeps key 1 alive
	clock += 500                                         // key 2 expires
	must(feed(change{rows: [][]runtime.Value{r(2, 2), r(1, 3)}}))
	want := []string{"+I1|0|x|0", "+I2|0|x|0", "+I2|0|x|2"}
	if got := changelogOf(c); !slices.Equal(got, want) {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
	clock += 5000
	must(o.OnProcessingTime(clock, c))
	if n := o.table.Len(); n != 0 {
		t.Fatalf("%d keys after an idle purge", n)
	}
	must(feed(change{rows: [][]runtime.Value{r(1, 0), r(2, 0)}}))
	if err := feed(change{rows: [][]runtime.Value{r(3, 0)}}); !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "3 keys") {
		t.Fatalf("over the limit: %v", err)
	}
	err = feed(change{rows: [][]runtime.Value{r(1, 0)}, kinds: []runtime.RowKind{runtime.Delete}})
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("a -D row: %v", err)
	}
}
