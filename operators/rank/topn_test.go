package rank

import (
	"cmp"
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

// topIn is the input of the Top-N tests: a partition, two sort columns
// and a payload with few values, so that rows repeat.
var topIn = runtime.NewSchema(
	runtime.Field{Name: "p", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "o1", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "o2", Type: runtime.Varchar},
	runtime.Field{Name: "v", Type: runtime.BigInt},
)

type heldRow struct {
	row []runtime.Value
	seq int
}

// topScenario is a random changelog for a random Top-N spec, and the rows
// it leaves (with their arrival numbers), retractions removing the
// earliest copy.
type topScenario struct {
	spec    Spec
	batches []change
	held    []heldRow
}

func drawTopRow(t *rapid.T, nparts int) []runtime.Value {
	p := runtime.IntValue(int64(rapid.IntRange(0, nparts-1).Draw(t, "p")))
	if rapid.IntRange(0, 15).Draw(t, "nullp") == 0 {
		p = runtime.NullValue(runtime.BigInt)
	}
	o1 := runtime.IntValue(int64(rapid.IntRange(0, 5).Draw(t, "o1")))
	if rapid.IntRange(0, 8).Draw(t, "nullo1") == 0 {
		o1 = runtime.NullValue(runtime.BigInt)
	}
	o2 := runtime.StringValue(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "o2"))
	v := runtime.IntValue(int64(rapid.IntRange(0, 3).Draw(t, "v")))
	return []runtime.Value{p, o1, o2, v}
}

func drawTopScenario(t *rapid.T) topScenario {
	var sc topScenario
	order := []SortKey{{Col: 1, Desc: rapid.Bool().Draw(t, "desc1"), NullsFirst: rapid.Bool().Draw(t, "nullsFirst1")}}
	if rapid.Bool().Draw(t, "second key") {
		order = append(order, SortKey{Col: 2, Desc: rapid.Bool().Draw(t, "desc2")})
	}
	start := int64(rapid.IntRange(1, 3).Draw(t, "start"))
	sc.spec = Spec{
		In: topIn, PartitionCols: []int{0}, Order: order,
		Start: start, End: start + int64(rapid.IntRange(0, 4).Draw(t, "width")),
		RowNumber:     rapid.Bool().Draw(t, "rowNumber"),
		UpdatingInput: rapid.Bool().Draw(t, "updating"),
	}
	if rapid.IntRange(0, 5).Draw(t, "global") == 0 {
		sc.spec.PartitionCols = nil
	}
	nparts := rapid.IntRange(1, 4).Draw(t, "parts")
	n := rapid.IntRange(0, 150).Draw(t, "rows")
	var rows [][]runtime.Value
	var kinds []runtime.RowKind
	seq := 0
	add := func(r []runtime.Value, k runtime.RowKind) {
		rows, kinds = append(rows, r), append(kinds, k)
		sc.held = append(sc.held, heldRow{r, seq})
		seq++
	}
	for range n {
		if sc.spec.UpdatingInput && len(sc.held) > 0 && rapid.IntRange(0, 3).Draw(t, "retract?") == 0 {
			i := rapid.IntRange(0, len(sc.held)-1).Draw(t, "victim")
			r := sc.held[i].row
			// The earliest copy equal to r goes.
			j := slices.IndexFunc(sc.held, func(h heldRow) bool { return fmtRow(h.row) == fmtRow(r) })
			sc.held = slices.Delete(sc.held, j, j+1)
			if rapid.Bool().Draw(t, "update?") {
				rows, kinds = append(rows, r), append(kinds, runtime.UpdateBefore)
				nr := drawTopRow(t, nparts)
				nr[0] = r[0] // an update keeps its key
				add(nr, runtime.UpdateAfter)
			} else {
				rows, kinds = append(rows, r), append(kinds, runtime.Delete)
			}
			continue
		}
		add(drawTopRow(t, nparts), runtime.Insert)
	}
	prev := 0
	for _, cut := range drawSplit(t, len(rows)) {
		sc.batches = append(sc.batches, change{rows: rows[prev:cut], kinds: kinds[prev:cut]})
		prev = cut
	}
	return sc
}

// expected ranks the rows held with sqlite3.
func (sc *topScenario) expected(t tb, sqlite string) []string {
	var rows [][]runtime.Value
	var seqs []int
	for _, h := range sc.held {
		rows, seqs = append(rows, h.row), append(seqs, h.seq)
	}
	part := ""
	if len(sc.spec.PartitionCols) > 0 {
		part = "PARTITION BY p "
	}
	cols := "p, o1, o2, v"
	if sc.spec.RowNumber {
		cols += ", rn"
	}
	q := fmt.Sprintf("SELECT %s FROM (SELECT *, ROW_NUMBER() OVER (%sORDER BY %s, seq) AS rn FROM t) WHERE rn BETWEEN %d AND %d",
		cols, part, orderSQL(topIn, sc.spec.Order), sc.spec.Start, sc.spec.End)
	return sqliteRows(t, sqlite, topIn, rows, seqs, q)
}

// TestTopNMatchesSQLite runs random Top-N queries over random changelogs
// (append-only, or with retractions) through runtime.Run at parallelism 1
// and 3, and checks the final state of the output changelog against
// sqlite3's ROW_NUMBER() over the rows left, ties broken by arrival.
func TestTopNMatchesSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawTopScenario(t)
		newOp, out, err := New(sc.spec)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "parallelism")
		if len(sc.spec.PartitionCols) == 0 {
			par = 1
		}
		c, _ := runJob(t, topIn, newChangelogSource(topIn, sc.batches), runtime.WatermarkStrategy{TimeColumn: -1},
			newOp, out, sc.spec.PartitionCols, par)
		got := applyChangelog(t, c.Rows(), c.Kinds())
		if want := sc.expected(t, sqlite); !slices.Equal(got, want) {
			t.Fatalf("spec %+v, parallelism %d:\n%s", sc.spec, par, diff(got, want))
		}
	})
}

// TestTopNRestoredEmitsWhatUninterruptedDoes snapshots a Top-N mid-stream,
// restores the snapshot into a new operator and checks that the changelog
// is exactly that of an operator never interrupted, and that every prefix
// of it (at batch boundaries) holds the top of the rows seen so far.
func TestTopNRestoredEmitsWhatUninterruptedDoes(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		sc := drawTopScenario(t)
		newOp, _, err := New(sc.spec)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		var steps []step
		for _, b := range sc.batches {
			steps = append(steps, step{change: b})
		}
		whole, _ := drive(t, newOp, topIn, steps, -1)
		checkEveryBatch(t, sc, newOp)
		at := rapid.IntRange(0, len(steps)).Draw(t, "restoreAt")
		restored, _ := drive(t, newOp, topIn, steps, at)
		if a, b := changelogOf(whole), changelogOf(restored); !slices.Equal(a, b) {
			t.Fatalf("restored at batch %d:\n%s", at, diff(b, a))
		}
		got := applyChangelog(t, whole.Rows(), whole.Kinds())
		if want := sc.expected(t, sqlite); !slices.Equal(got, want) {
			t.Fatalf("spec %+v:\n%s", sc.spec, diff(got, want))
		}
	})
}

// refTop ranks held rows in plain Go: by the sort keys, then arrival.
func refTop(spec Spec, held []heldRow) []string {
	compare := func(a, b []runtime.Value) int {
		for _, k := range spec.Order {
			x, y := a[k.Col], b[k.Col]
			if x.Null || y.Null {
				if x.Null == y.Null {
					continue
				}
				if x.Null == k.NullsFirst {
					return -1
				}
				return 1
			}
			c := strings.Compare(x.S, y.S)
			if x.Type.Physical() == runtime.PhysInt {
				c = cmp.Compare(x.I, y.I)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	byPart := map[string][]heldRow{}
	for _, h := range held {
		k := ""
		if len(spec.PartitionCols) > 0 {
			k = fmtRow(h.row[:1])
		}
		byPart[k] = append(byPart[k], h)
	}
	var out []string
	for _, rows := range byPart {
		slices.SortStableFunc(rows, func(a, b heldRow) int { return compare(a.row, b.row) })
		for i, h := range rows {
			rn := int64(i + 1)
			if rn < spec.Start || rn > spec.End {
				continue
			}
			row := h.row
			if spec.RowNumber {
				row = append(slices.Clone(row), runtime.IntValue(rn))
			}
			out = append(out, fmtRow(row))
		}
	}
	slices.Sort(out)
	return out
}

// checkEveryBatch feeds sc's batches to one operator and checks, after
// each, that the changelog so far holds the top of the rows so far.
func checkEveryBatch(t *rapid.T, sc topScenario, newOp func() runtime.Operator) {
	o := newOp()
	if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c := &rttest.Collector{}
	var held []heldRow
	seq := 0
	for i, ch := range sc.batches {
		for k, r := range ch.rows {
			switch ch.kinds[k] {
			case runtime.Insert, runtime.UpdateAfter:
				held = append(held, heldRow{r, seq})
				seq++
			default:
				j := slices.IndexFunc(held, func(h heldRow) bool { return fmtRow(h.row) == fmtRow(r) })
				held = slices.Delete(held, j, j+1)
			}
		}
		b := ch.batch(topIn)
		err := o.ProcessBatch(0, b, c)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
		got := applyChangelog(t, c.Rows(), c.Kinds())
		if want := refTop(sc.spec, held); !slices.Equal(got, want) {
			t.Fatalf("after batch %d of spec %+v:\n%s", i, sc.spec, diff(got, want))
		}
	}
}

// TestTopNChangelogShape pins the rows emitted for a small stream: a row
// entering the top is +I and the one it pushes out -D; with the rank
// column, rows that shift rank are updated (-U, +U); ties rank by arrival.
func TestTopNChangelogShape(t *testing.T) {
	r := func(p, o int64, s string) []runtime.Value {
		return []runtime.Value{runtime.IntValue(p), runtime.IntValue(o), runtime.StringValue(s), runtime.IntValue(0)}
	}
	batches := []change{
		{rows: [][]runtime.Value{r(1, 10, "a"), r(1, 20, "b")}},
		{rows: [][]runtime.Value{r(1, 15, "c")}},
		{rows: [][]runtime.Value{r(1, 15, "d")}}, // ties with c: ranks after it
		{rows: [][]runtime.Value{r(1, 5, "e")}},  // never enters
	}
	for _, tc := range []struct {
		rowNumber bool
		want      []string
	}{
		{false, []string{
			"+I1|20|b|0", "+I1|10|a|0",
			"-D1|10|a|0", "+I1|15|c|0",
		}},
		{true, []string{
			"+I1|20|b|0|1", "+I1|10|a|0|2",
			"-U1|10|a|0|2", "+U1|15|c|0|2",
		}},
	} {
		newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1, Desc: true}},
			Start: 1, End: 2, RowNumber: tc.rowNumber})
		if err != nil {
			t.Fatal(err)
		}
		var steps []step
		for _, b := range batches {
			steps = append(steps, step{change: b})
		}
		c, _ := drive(t, newOp, topIn, steps, -1)
		if got := changelogOf(c); !slices.Equal(got, tc.want) {
			t.Fatalf("rank column %v:\n got %v\nwant %v", tc.rowNumber, got, tc.want)
		}
	}
	// Ranks 2..3 with the rank: a new best row shifts the others down.
	newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1, Desc: true}},
		Start: 2, End: 3, RowNumber: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := drive(t, newOp, topIn, []step{
		{change: change{rows: [][]runtime.Value{r(1, 10, "a"), r(1, 20, "b")}}},
		{change: change{rows: [][]runtime.Value{r(1, 30, "c")}}},
	}, -1)
	want := []string{"+I1|10|a|0|2", "-U1|10|a|0|2", "+U1|20|b|0|2", "+I1|10|a|0|3"}
	if got := changelogOf(c); !slices.Equal(got, want) {
		t.Fatalf("ranks 2..3:\n got %v\nwant %v", got, want)
	}
}

// TestTopNAppendOnlyKeepsOnlyTheTop checks that an append-only Top-N holds
// at most End rows per partition, and an updating one every row.
func TestTopNAppendOnlyKeepsOnlyTheTop(t *testing.T) {
	var rows [][]runtime.Value
	for i := range 1000 {
		rows = append(rows, []runtime.Value{runtime.IntValue(int64(i % 10)), runtime.IntValue(int64(i)), runtime.StringValue("x"), runtime.IntValue(0)})
	}
	for _, updating := range []bool{false, true} {
		newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 3, UpdatingInput: updating})
		if err != nil {
			t.Fatal(err)
		}
		o := newOp().(*topOp)
		if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
			t.Fatal(err)
		}
		b := rttest.NewBatch(topIn, rows...)
		if err := o.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
			t.Fatal(err)
		}
		want := 30
		if updating {
			want = 1000
		}
		if o.st.live != want {
			t.Fatalf("updating %v: %d rows held, want %d", updating, o.st.live, want)
		}
		o.Close()
	}
}

// TestTopNRejectsRetractionsOfAppendOnlyInput checks that a -D row in an
// input declared append-only is an error, not a silent wrong answer.
func TestTopNRejectsRetractionsOfAppendOnlyInput(t *testing.T) {
	newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 3})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b := change{rows: [][]runtime.Value{{runtime.IntValue(1), runtime.IntValue(1), runtime.StringValue("x"), runtime.IntValue(0)}},
		kinds: []runtime.RowKind{runtime.Delete}}.batch(topIn)
	defer b.Release()
	if err := o.ProcessBatch(0, b, &rttest.Discard{}); err == nil || !strings.Contains(err.Error(), "UpdatingInput") {
		t.Fatalf("a -D row in an append-only input: %v", err)
	}
}

// TestNewRejectsBadSpecs checks that a bad spec is an error naming what is
// wrong.
func TestNewRejectsBadSpecs(t *testing.T) {
	ok := Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 3}
	for _, tc := range []struct {
		mut  func(*Spec)
		want string
	}{
		{func(s *Spec) { s.In = nil }, "no input schema"},
		{func(s *Spec) { s.PartitionCols = []int{7} }, "PARTITION BY column 7 out of range"},
		{func(s *Spec) { s.Order = nil }, "no ORDER BY column"},
		{func(s *Spec) { s.Order = []SortKey{{Col: -1}} }, "ORDER BY column -1 out of range"},
		{func(s *Spec) { s.Start = 0 }, "rank range [0, 3]"},
		{func(s *Spec) { s.Start, s.End = 4, 3 }, "rank range [4, 3]"},
		{func(s *Spec) { s.TTL = -time.Second }, "negative state TTL"},
		{func(s *Spec) { s.RowNumber, s.RowNumberName = true, "V" }, `row number column "V" clashes`},
	} {
		s := ok
		tc.mut(&s)
		if _, _, err := New(s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error containing %q, got %v", tc.want, err)
		}
	}
	if _, out, err := New(Spec{In: topIn, Order: []SortKey{{Col: 1}}, Start: 1, End: 1, RowNumber: true}); err != nil ||
		out.Len() != 5 || out.Fields[4].Name != "rn" || out.Fields[4].Type != runtime.BigInt {
		t.Fatalf("output schema with the rank: %v, %v", out, err)
	}
	if _, _, err := NewDedup(DedupSpec{In: topIn, KeyCols: []int{0}, TimeCol: 2}); err == nil || !strings.Contains(err.Error(), `time column "o2" is VARCHAR`) {
		t.Errorf("dedup on a VARCHAR time column: %v", err)
	}
	if _, _, err := NewWindow(WindowSpec{In: topIn, WindowStartCol: 1, WindowEndCol: 2, Order: []SortKey{{Col: 1}}, Start: 1, End: 1}); err == nil || !strings.Contains(err.Error(), "window_end column \"o2\"") {
		t.Errorf("window Top-N with a VARCHAR window_end: %v", err)
	}
}

// TestTopNStateTTLAndLimit checks Flink's state TTL for a Top-N: a
// partition not updated for the TTL (processing time) is forgotten, so a
// later row for it starts a new top (+I, nothing retracted); and going
// over MaxGroups is an error wrapping state.ErrStateLimit.
func TestTopNStateTTLAndLimit(t *testing.T) {
	clock := int64(1_000_000)
	newOp, out, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Start: 1, End: 1,
		TTL: time.Second, MaxGroups: 3, Clock: func() int64 { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp().(*topOp)
	if err := o.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	feed := func(rows ...[]runtime.Value) error {
		b := rttest.NewBatch(topIn, rows...)
		defer b.Release()
		return o.ProcessBatch(0, b, c)
	}
	r := func(p, x int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(p), runtime.IntValue(x), runtime.StringValue("s"), runtime.IntValue(0)}
	}
	if err := feed(r(1, 10), r(2, 20)); err != nil {
		t.Fatal(err)
	}
	clock += 600
	if err := feed(r(1, 5)); err != nil { // partition 1 stays alive
		t.Fatal(err)
	}
	clock += 500 // partition 2 expires
	if err := feed(r(3, 1)); err != nil {
		t.Fatalf("a third partition after the second expired: %v", err)
	}
	if err := feed(r(2, 3), r(1, 7)); err != nil {
		t.Fatal(err)
	}
	want := []string{"+I1|10|s|0", "+I2|20|s|0", "+I3|1|s|0", "+I2|3|s|0"}
	if got := changelogOf(c); !slices.Equal(got, want) {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
	// Idle partitions are purged by the processing-time timer.
	clock += 5000
	if err := o.OnProcessingTime(clock, c); err != nil {
		t.Fatal(err)
	}
	if n := o.table.Len(); n != 0 || o.st.live != 0 {
		t.Fatalf("after an idle purge: %d partitions, %d rows", n, o.st.live)
	}
	clock += 10
	if err := feed(r(4, 1), r(5, 1), r(6, 1)); err != nil {
		t.Fatal(err)
	}
	if err := feed(r(7, 1)); !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "4 partitions") {
		t.Fatalf("over the limit: %v", err)
	}
}

// TestTopNRestoredPartitionsStartTheirTTLAtRestore checks that partitions
// restored from a snapshot live for the TTL from the restore, however old
// they were, and are forgotten after it.
func TestTopNRestoredPartitionsStartTheirTTLAtRestore(t *testing.T) {
	clock := int64(1_000_000)
	newOp, _, err := New(Spec{In: topIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 1}}, Start: 1, End: 1,
		TTL: time.Second, Clock: func() int64 { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	r := func(p, x int64) []runtime.Value {
		return []runtime.Value{runtime.IntValue(p), runtime.IntValue(x), runtime.StringValue("s"), runtime.IntValue(0)}
	}
	data, err := opWith(t, newOp, topIn, r(1, 5)).(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	clock += 10_000 // the snapshot is older than the TTL
	o := opWith(t, newOp, topIn).(*topOp)
	defer o.Close()
	if err := o.RestoreState(data); err != nil {
		t.Fatal(err)
	}
	c := &rttest.Collector{}
	feed := func(rows ...[]runtime.Value) {
		t.Helper()
		b := rttest.NewBatch(topIn, rows...)
		defer b.Release()
		if err := o.ProcessBatch(0, b, c); err != nil {
			t.Fatal(err)
		}
	}
	clock += 900
	feed(r(1, 3)) // within the TTL of the restore: replaces 5
	clock += 1500
	feed(r(1, 4)) // expired since: a new top
	want := []string{"-D1|5|s|0", "+I1|3|s|0", "+I1|4|s|0"}
	if got := changelogOf(c); !slices.Equal(got, want) {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}
