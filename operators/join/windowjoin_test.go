package join

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/window"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// The window join tests join L (k BIGINT, ts TIMESTAMP, ws TIMESTAMP,
// we TIMESTAMP, lv BIGINT) with R (rv BIGINT, k INT, ts BIGINT, ws BIGINT,
// we BIGINT) on the window and k: rows as a window TVF gives them, ts the
// row's time and [ws, we) its window.
var (
	wjLeftSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "ws", Type: runtime.Timestamp, Nullable: true},
		runtime.Field{Name: "we", Type: runtime.Timestamp, Nullable: true},
		runtime.Field{Name: "lv", Type: runtime.BigInt},
	)
	wjRightSchema = runtime.NewSchema(
		runtime.Field{Name: "rv", Type: runtime.BigInt},
		runtime.Field{Name: "k", Type: runtime.Int, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.BigInt},
		runtime.Field{Name: "ws", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "we", Type: runtime.BigInt, Nullable: true},
	)
)

// wjResidual is (lv + rv) % 3 <> 0 over the output row.
var wjResidual = expr.Ne(expr.Mod(expr.Add(expr.ColIndex(4), expr.ColIndex(5)), expr.Int(3)), expr.Int(0))

func wjSpec(left, right, residual bool) WindowSpec {
	s := WindowSpec{
		Left: wjLeftSchema, Right: wjRightSchema,
		LeftKeys: []int{0}, RightKeys: []int{1},
		LeftWindowStart: 2, LeftWindowEnd: 3, RightWindowStart: 3, RightWindowEnd: 4,
		LeftOuter: left, RightOuter: right,
	}
	if residual {
		s.Residual = wjResidual
	}
	return s
}

func wjKey(k any, t runtime.Type) runtime.Value {
	if k == nil {
		return runtime.NullValue(t)
	}
	return runtime.Value{Type: t, I: int64(k.(int))}
}

func wjWin(t runtime.Type, ws, we int64, null bool) (runtime.Value, runtime.Value) {
	if null {
		return runtime.NullValue(t), runtime.NullValue(t)
	}
	return runtime.Value{Type: t, I: ws}, runtime.Value{Type: t, I: we}
}

func wjL(k any, ts, ws, we, lv int64) []runtime.Value {
	s, e := wjWin(runtime.Timestamp, ws, we, false)
	return []runtime.Value{wjKey(k, runtime.BigInt), runtime.TimeValue(ts), s, e, runtime.IntValue(lv)}
}

func wjR(k any, ts, ws, we, rv int64) []runtime.Value {
	s, e := wjWin(runtime.BigInt, ws, we, false)
	return []runtime.Value{runtime.IntValue(rv), wjKey(k, runtime.Int), runtime.IntValue(ts), s, e}
}

func TestWindowJoinKinds(t *testing.T) {
	left := [][]runtime.Value{
		wjL(1, 1, 0, 10, 1), wjL(1, 2, 0, 10, 2), wjL(2, 3, 0, 10, 3), wjL(nil, 4, 0, 10, 4), wjL(1, 12, 10, 20, 5),
	}
	right := [][]runtime.Value{
		wjR(1, 5, 0, 10, 10), wjR(3, 6, 0, 10, 11), wjR(1, 15, 10, 20, 12), wjR(1, 16, 10, 20, 13), wjR(nil, 7, 0, 10, 14),
	}
	const (
		l1 = "1,1,0,10,1"
		l2 = "1,2,0,10,2"
		l3 = "2,3,0,10,3"
		l4 = "NULL,4,0,10,4"
		l5 = "1,12,10,20,5"
		r1 = "10,1,5,0,10"
		r2 = "11,3,6,0,10"
		r3 = "12,1,15,10,20"
		r4 = "13,1,16,10,20"
		r5 = "14,NULL,7,0,10"
		nl = "NULL,NULL,NULL,NULL,NULL"
	)
	inner := []string{l1 + "," + r1, l2 + "," + r1, l5 + "," + r3, l5 + "," + r4}
	leftOnly := []string{l3 + "," + nl, l4 + "," + nl}
	rightOnly := []string{nl + "," + r2, nl + "," + r5}
	for _, c := range []struct {
		name        string
		left, right bool
		want        []string
	}{
		{"inner", false, false, inner},
		{"left", true, false, slices.Concat(inner, leftOnly)},
		{"right", false, true, slices.Concat(inner, rightOnly)},
		{"full", true, true, slices.Concat(inner, leftOnly, rightOnly)},
	} {
		t.Run(c.name, func(t *testing.T) {
			newOp, out, err := NewWindow(wjSpec(c.left, c.right, false))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Names(); !slices.Equal(got, []string{"k", "ts", "ws", "we", "lv", "rv", "k0", "ts0", "ws0", "we0"}) {
				t.Fatalf("output columns %v", got)
			}
			if out.Fields[1].Nullable != c.right || out.Fields[5].Nullable != c.left {
				t.Fatalf("nullable: left ts %v, right rv %v", out.Fields[1].Nullable, out.Fields[5].Nullable)
			}
			d := newTJDriver(t, newOp)
			d.batch(0, rttest.NewBatch(wjLeftSchema, left...))
			d.batch(1, rttest.NewBatch(wjRightSchema, right...))
			d.watermark(8)
			if d.out.Len() != 0 {
				t.Fatalf("window [0, 10) fired at watermark 8: %v", d.out.Strings())
			}
			d.watermark(9)
			first := d.out.Len()
			// Rows for the fired window are late now.
			d.batch(1, rttest.NewBatch(wjRightSchema, wjR(1, 9, 0, 10, 99)))
			d.watermark(runtime.MaxWatermark)
			want := slices.Clone(c.want)
			slices.Sort(want)
			tjSameRows(t, "joined", d.rows(), want)
			for i, r := range d.out.Rows() {
				if we := max(r[3].I, r[9].I); (we == 10) != (i < first) {
					t.Fatalf("row %d (%s) of window end %d emitted at the wrong watermark", i, tjQuote(r), we)
				}
			}
			if got := d.ctx.Metrics.LateRowsDropped.Get(); got != 1 {
				t.Fatalf("late rows counted: %d, want 1", got)
			}
			if op := d.op.(*wjOp); len(op.windows) != 0 || op.groups != 0 {
				t.Fatalf("after the final watermark: %d windows, %d groups", len(op.windows), op.groups)
			}
		})
	}
}

// TestWindowJoinResidualThatPassesNoPairEmitsNone fires, on a new
// operator, a window whose every pair fails the residual condition (a
// comparison, whose selection of no row is nil): an
// inner join emits nothing (not every pair), a LEFT join the left rows
// padded.
func TestWindowJoinResidualThatPassesNoPairEmitsNone(t *testing.T) {
	for _, left := range []bool{false, true} {
		spec := wjSpec(left, false, false)
		spec.Residual = expr.Lt(expr.ColIndex(4), expr.Add(expr.ColIndex(5), expr.Int(10))) // lv < rv + 10
		newOp, _, err := NewWindow(spec)
		if err != nil {
			t.Fatal(err)
		}
		d := newTJDriver(t, newOp)
		d.batch(0, rttest.NewBatch(wjLeftSchema, wjL(1, 1, 0, 10, 100), wjL(1, 2, 0, 10, 400)))
		d.batch(1, rttest.NewBatch(wjRightSchema, wjR(1, 5, 0, 10, 2)))
		d.watermark(runtime.MaxWatermark)
		var want []string
		if left {
			want = []string{"1,1,0,10,100,NULL,NULL,NULL,NULL,NULL", "1,2,0,10,400,NULL,NULL,NULL,NULL,NULL"}
		}
		tjSameRows(t, fmt.Sprintf("left outer %v", left), d.rows(), want)
	}
}

func TestWindowJoinWithoutKeys(t *testing.T) {
	spec := wjSpec(false, false, false)
	spec.LeftKeys, spec.RightKeys = nil, nil
	newOp, _, err := NewWindow(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	d.batch(0, rttest.NewBatch(wjLeftSchema, wjL(1, 1, 0, 10, 1), wjL(2, 2, 0, 10, 2)))
	d.batch(1, rttest.NewBatch(wjRightSchema, wjR(3, 5, 0, 10, 10), wjR(nil, 15, 10, 20, 12)))
	d.watermark(runtime.MaxWatermark)
	tjSameRows(t, "joined", d.rows(), []string{"1,1,0,10,1,10,3,5,0,10", "2,2,0,10,2,10,3,5,0,10"})
}

func TestWindowJoinMaxGroups(t *testing.T) {
	spec := wjSpec(false, false, false)
	spec.MaxGroups = 3
	newOp, _, err := NewWindow(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	d.batch(0, rttest.NewBatch(wjLeftSchema, wjL(1, 1, 0, 10, 1), wjL(1, 12, 10, 20, 1), wjL(2, 1, 0, 10, 1)))
	d.watermark(9) // frees window [0, 10)
	d.batch(1, rttest.NewBatch(wjRightSchema, wjR(1, 12, 10, 20, 1), wjR(2, 12, 10, 20, 1)))
	err = d.op.ProcessBatch(1, rttest.NewBatch(wjRightSchema, wjR(3, 12, 10, 20, 1), wjR(4, 22, 20, 30, 1)), d.out)
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "4 keys") {
		t.Fatalf("error %v, want a state limit of 4 keys over 3", err)
	}
}

func TestWindowJoinRejectsBadInput(t *testing.T) {
	newOp, _, err := NewWindow(wjSpec(true, true, false))
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	b := rttest.NewBatch(wjLeftSchema, wjL(1, 1, 0, 10, 1))
	b.SetKind(0, runtime.UpdateAfter)
	if err := d.op.ProcessBatch(0, b, d.out); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("a +U row: error %v", err)
	}
	if err := d.op.ProcessBatch(1, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1)), d.out); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Fatalf("a batch of 3 columns: error %v", err)
	}
	if err := d.op.ProcessBatch(-1, b, d.out); err == nil {
		t.Fatal("rows on input -1 accepted")
	}
}

func TestNewWindowValidatesSpec(t *testing.T) {
	bad := map[string]func(*WindowSpec){
		"no schema":    func(s *WindowSpec) { s.Right = nil },
		"key count":    func(s *WindowSpec) { s.RightKeys = nil },
		"key range":    func(s *WindowSpec) { s.RightKeys = []int{5} },
		"key types":    func(s *WindowSpec) { s.LeftKeys = []int{2} },
		"start column": func(s *WindowSpec) { s.LeftWindowStart = 5 },
		"end column":   func(s *WindowSpec) { s.RightWindowEnd = -1 },
		"residual":     func(s *WindowSpec) { s.Residual = expr.ColIndex(0) },
		"max groups":   func(s *WindowSpec) { s.MaxGroups = -2 },
	}
	for name, f := range bad {
		s := wjSpec(true, false, true)
		f(&s)
		if _, _, err := NewWindow(s); !errors.Is(err, ErrInvalidWindowJoin) {
			t.Errorf("%s: error %v, want ErrInvalidWindowJoin", name, err)
		}
	}
	s := wjSpec(false, false, false)
	s.LeftWindowEnd = 4 // lv is BIGINT: a valid, if odd, window column
	if _, _, err := NewWindow(s); err != nil {
		t.Errorf("BIGINT window column: %v", err)
	}
}

// wjModel is the reference window join: it keeps the on-time rows of each
// side and, when the watermark passes a window, joins them by nested loops.
type wjModel struct {
	spec  WindowSpec
	wm    int64
	rows  [2][][]runtime.Value
	out   []string
	late  int
	cols  [2][2]int // window start, end column per side
	keyOf [2]int
}

func newWJModel(spec WindowSpec) *wjModel {
	return &wjModel{spec: spec, wm: runtime.MinWatermark,
		cols:  [2][2]int{{spec.LeftWindowStart, spec.LeftWindowEnd}, {spec.RightWindowStart, spec.RightWindowEnd}},
		keyOf: [2]int{spec.LeftKeys[0], spec.RightKeys[0]}}
}

func (m *wjModel) add(side int, rows [][]runtime.Value) {
	for _, r := range rows {
		s, e := r[m.cols[side][0]], r[m.cols[side][1]]
		if s.Null || e.Null || m.wm != runtime.MinWatermark && e.I-1 <= m.wm {
			m.late++
			continue
		}
		m.rows[side] = append(m.rows[side], r)
	}
}

func (m *wjModel) watermark(wm int64) {
	if wm <= m.wm {
		return
	}
	m.wm = wm
	due := func(side int, r []runtime.Value) bool { return r[m.cols[side][1]].I-1 <= wm }
	nulls := func(n int) string { return strings.TrimSuffix(strings.Repeat("NULL,", n), ",") }
	matchedR := make([]bool, len(m.rows[1]))
	for _, l := range m.rows[0] {
		if !due(0, l) {
			continue
		}
		found := false
		for j, r := range m.rows[1] {
			lk, rk := l[m.keyOf[0]], r[m.keyOf[1]]
			if lk.Null || rk.Null || lk.I != rk.I || l[m.cols[0][0]].I != r[m.cols[1][0]].I || l[m.cols[0][1]].I != r[m.cols[1][1]].I {
				continue
			}
			if m.spec.Residual != nil && (l[4].I+r[0].I)%3 == 0 {
				continue
			}
			found, matchedR[j] = true, true
			m.out = append(m.out, tjQuote(l)+","+tjQuote(r))
		}
		if !found && m.spec.LeftOuter {
			m.out = append(m.out, tjQuote(l)+","+nulls(len(r0(m))))
		}
	}
	for j, r := range m.rows[1] {
		if due(1, r) && !matchedR[j] && m.spec.RightOuter {
			m.out = append(m.out, nulls(m.spec.Left.Len())+","+tjQuote(r))
		}
	}
	for side := range m.rows {
		m.rows[side] = slices.DeleteFunc(m.rows[side], func(r []runtime.Value) bool { return due(side, r) })
	}
}

func r0(m *wjModel) []runtime.Field { return m.spec.Right.Fields }

// wjDraw draws a row of side at time ts in the window [ws, we).
func wjDraw(t *rapid.T, side int, nkeys int, ts, ws, we int64, v int64) []runtime.Value {
	var k any = rapid.IntRange(0, nkeys-1).Draw(t, "k")
	if rapid.IntRange(0, 12).Draw(t, "nullkey") == 0 {
		k = nil
	}
	var row []runtime.Value
	if side == 0 {
		row = wjL(k, ts, ws, we, v)
	} else {
		row = wjR(k, ts, ws, we, v)
	}
	if rapid.IntRange(0, 25).Draw(t, "nullwindow") == 0 {
		c := 2 + side
		row[c+rapid.IntRange(0, 1).Draw(t, "which")] = runtime.NullValue(row[c].Type)
	}
	return row
}

// wjWindows returns the windows of a row at ts: tumbling of 10 ms, or
// hopping of 20 ms every 10 ms.
func wjWindows(hop bool, ts int64) [][2]int64 {
	s := ts - ts%10
	if ts < 0 && ts%10 != 0 {
		s -= 10
	}
	if !hop {
		return [][2]int64{{s, s + 10}}
	}
	return [][2]int64{{s - 10, s + 10}, {s, s + 20}}
}

// TestWindowJoinRapidMatchesModel drives the operator with random rows of
// random windows, late ones, NULLs, watermarks and restarts from snapshots,
// compares it with wjModel, and checks that the restarts change nothing,
// not even the order of the rows.
func TestWindowJoinRapidMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := wjSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "right"), rapid.Bool().Draw(t, "residual"))
		newOp, _, err := NewWindow(spec)
		if err != nil {
			t.Fatal(err)
		}
		d, plain := newTJDriver(t, newOp), newTJDriver(t, newOp)
		m := newWJModel(spec)
		hop := rapid.Bool().Draw(t, "hop")
		nkeys := rapid.IntRange(1, 4).Draw(t, "keys")
		v := int64(0)
		for range rapid.IntRange(0, 40).Draw(t, "steps") {
			base := max(m.wm, 0)
			switch rapid.IntRange(0, 4).Draw(t, "step") {
			case 0:
				wm := base + rapid.Int64Range(0, 12).Draw(t, "advance")
				d.watermark(wm)
				plain.watermark(wm)
				m.watermark(wm)
			case 1:
				d.restart(newOp)
			default:
				side := rapid.IntRange(0, 1).Draw(t, "side")
				var rows [][]runtime.Value
				for range rapid.IntRange(1, 5).Draw(t, "rows") {
					ts := base + rapid.Int64Range(-8, 30).Draw(t, "ts")
					for _, w := range wjWindows(hop, ts) {
						v++
						rows = append(rows, wjDraw(t, side, nkeys, ts, w[0], w[1], v))
					}
				}
				s := spec.Left
				if side == 1 {
					s = spec.Right
				}
				d.batch(side, rttest.NewBatch(s, rows...))
				plain.batch(side, rttest.NewBatch(s, rows...))
				m.add(side, rows)
			}
		}
		d.watermark(runtime.MaxWatermark)
		plain.watermark(runtime.MaxWatermark)
		m.watermark(runtime.MaxWatermark)
		slices.Sort(m.out)
		tjSameRows(t, "joined", d.rows(), m.out)
		if !slices.Equal(d.out.Strings(), plain.out.Strings()) {
			t.Fatalf("restarts changed the output order:\n%v\n%v", d.out.Strings(), plain.out.Strings())
		}
		if got := int(d.ctx.Metrics.LateRowsDropped.Get()); got != m.late {
			t.Fatalf("late rows counted: %d, want %d", got, m.late)
		}
	})
}

// TestWindowJoinMatchesSQLite runs the join as a job at parallelism 1 and
// 3 behind keyed exchanges, on random rows of tumbling or hopping windows
// out of order within the watermark bound, and late rows held back until
// the join's watermark has passed their windows, and checks it against the
// same join of the on-time rows in sqlite3.
func TestWindowJoinMatchesSQLite(t *testing.T) {
	sqlite := tjNeedSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec := wjSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "right"), rapid.Bool().Draw(t, "residual"))
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "par")
		hop := rapid.Bool().Draw(t, "hop")
		nkeys := rapid.IntRange(1, 6).Draw(t, "keys")
		const outOfOrder = 10
		var parts [2][][][]runtime.Value
		var tables [2][][]runtime.Value
		nullWindows := 0
		v := int64(0)
		for side := range 2 {
			parts[side] = make([][][]runtime.Value, 2)
			for p := range 2 {
				b := int64(outOfOrder)
				for range rapid.IntRange(0, 40).Draw(t, "rows") {
					b += rapid.Int64Range(0, 5).Draw(t, "step")
					ts := b - rapid.Int64Range(0, outOfOrder).Draw(t, "jitter")
					for _, w := range wjWindows(hop, ts) {
						v++
						row := wjDraw(t, side, nkeys, ts, w[0], w[1], v)
						parts[side][p] = append(parts[side][p], row)
						if row[2+side].Null || row[3+side].Null {
							nullWindows++
						} else {
							tables[side] = append(tables[side], row)
						}
					}
				}
			}
		}
		newOp, out, err := NewWindow(spec)
		if err != nil {
			t.Fatal(err)
		}
		size := rapid.IntRange(1, 7).Draw(t, "chunk")
		j := tjJob{
			schemas:  [2]*runtime.Schema{wjLeftSchema, wjRightSchema},
			chunks:   [2][]rttest.Chunk{rttest.Split(parts[0], size), rttest.Split(parts[1], size)},
			timeCols: [2]int{1, 2}, keyCols: [2][]int{{0}, {1}}, kindCol: [2]int{-1, -1},
			outOfOrder: outOfOrder * time.Millisecond, par: par, newOp: newOp, out: out,
		}
		// Late rows, on both sides, held back until the join's watermark
		// has passed their windows.
		wantLate := nullWindows
		if bound, ok := tjLateBound(parts, [2]int{1, 2}, outOfOrder); ok && bound >= 20 && rapid.Bool().Draw(t, "late") {
			j.lateAfter = bound
			for side := range 2 {
				for range rapid.IntRange(0, 3).Draw(t, "late rows") {
					ts := rapid.Int64Range(0, bound-20).Draw(t, "late ts")
					for _, w := range wjWindows(hop, ts) {
						row := wjL(rapid.IntRange(0, 3).Draw(t, "late k"), ts, w[0], w[1], -1)
						if side == 1 {
							row = wjR(rapid.IntRange(0, 3).Draw(t, "late k"), ts, w[0], w[1], -1)
						}
						j.late[side] = append(j.late[side], row)
					}
				}
				wantLate += len(j.late[side])
			}
		}
		rows, late := j.run(t)
		var sb strings.Builder
		sb.WriteString("CREATE TABLE l (k INTEGER, ts INTEGER, ws INTEGER, we INTEGER, lv INTEGER);\nCREATE TABLE r (rv INTEGER, k INTEGER, ts INTEGER, ws INTEGER, we INTEGER);\nBEGIN;\n")
		tjInsert(&sb, "l", tables[0])
		tjInsert(&sb, "r", tables[1])
		kind := map[[2]bool]string{{false, false}: "JOIN", {true, false}: "LEFT JOIN", {false, true}: "RIGHT JOIN", {true, true}: "FULL JOIN"}[[2]bool{spec.LeftOuter, spec.RightOuter}]
		residual := ""
		if spec.Residual != nil {
			residual = " AND (l.lv + r.rv) % 3 <> 0"
		}
		fmt.Fprintf(&sb, "COMMIT;\nSELECT l.*, r.* FROM l %s r ON l.ws = r.ws AND l.we = r.we AND l.k = r.k%s;\n", kind, residual)
		want := tjSQLite(t, sqlite, sb.String())
		tjSameRows(t, "joined", tjQuoteAll(rows), want)
		if late != wantLate {
			t.Fatalf("late rows counted: %d, want %d (%d rows without a window)", late, wantLate, nullWindows)
		}
	})
}

// TestJoinsOnCompositeStringAndDoubleKeys joins on (VARCHAR, DOUBLE) keys
// placed differently on each side: -0.0 meets 0.0, NaN meets nothing.
func TestJoinsOnCompositeStringAndDoubleKeys(t *testing.T) {
	ls := runtime.NewSchema(
		runtime.Field{Name: "s", Type: runtime.Varchar},
		runtime.Field{Name: "d", Type: runtime.Double},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "ws", Type: runtime.Timestamp},
		runtime.Field{Name: "we", Type: runtime.Timestamp},
	)
	rs := runtime.NewSchema(
		runtime.Field{Name: "we", Type: runtime.Timestamp},
		runtime.Field{Name: "d", Type: runtime.Double},
		runtime.Field{Name: "ws", Type: runtime.Timestamp},
		runtime.Field{Name: "s", Type: runtime.Varchar},
	)
	l := func(s string, d float64, ts int64) []runtime.Value {
		return []runtime.Value{runtime.StringValue(s), runtime.FloatValue(d), runtime.TimeValue(ts), runtime.TimeValue(0), runtime.TimeValue(10)}
	}
	r := func(s string, d float64) []runtime.Value {
		return []runtime.Value{runtime.TimeValue(10), runtime.FloatValue(d), runtime.TimeValue(0), runtime.StringValue(s)}
	}
	nan := math.NaN()
	left := [][]runtime.Value{l("a", 0, 1), l("a", 1.5, 2), l("b", 1.5, 3), l("a", nan, 4)}
	right := [][]runtime.Value{r("a", math.Copysign(0, -1)), r("b", 1.5), r("a", nan), r("c", 1.5)}

	t.Run("window", func(t *testing.T) {
		newOp, _, err := NewWindow(WindowSpec{Left: ls, Right: rs, LeftKeys: []int{0, 1}, RightKeys: []int{3, 1},
			LeftWindowStart: 3, LeftWindowEnd: 4, RightWindowStart: 2, RightWindowEnd: 0})
		if err != nil {
			t.Fatal(err)
		}
		d := newTJDriver(t, newOp)
		d.batch(0, rttest.NewBatch(ls, left...))
		d.batch(1, rttest.NewBatch(rs, right...))
		d.watermark(runtime.MaxWatermark)
		tjSameRows(t, "joined", d.rows(), sorted([]string{
			`"a",0,1,0,10,10,-0,0,"a"`, `"b",1.5,3,0,10,10,1.5,0,"b"`,
		}))
	})
	t.Run("temporal", func(t *testing.T) {
		vs := runtime.NewSchema(append(slices.Clone(rs.Fields), runtime.Field{Name: "vts", Type: runtime.BigInt})...)
		newOp, _, err := NewTemporal(TemporalSpec{Probe: ls, Versioned: vs, ProbeKeys: []int{0, 1}, VersionKeys: []int{3, 1},
			ProbeTime: 2, VersionTime: 4})
		if err != nil {
			t.Fatal(err)
		}
		d := newTJDriver(t, newOp)
		var vrows [][]runtime.Value
		for _, x := range right {
			vrows = append(vrows, append(slices.Clone(x), runtime.IntValue(0)))
		}
		d.batch(1, rttest.NewBatch(vs, vrows...))
		d.batch(0, rttest.NewBatch(ls, left...))
		d.watermark(runtime.MaxWatermark)
		tjSameRows(t, "joined", d.rows(), sorted([]string{
			`"a",0,1,0,10,10,-0,0,"a",0`, `"b",1.5,3,0,10,10,1.5,0,"b",0`,
		}))
	})
}

// TestWindowJoinOfWindowAggregatesMatchesSQLite is Nexmark q8's shape: two
// streams aggregated in tumbling windows (operators/window, COUNT(*) per
// key) and the results joined on key and window, as a job at parallelism 1
// and 3, against the same query in sqlite3 with windows by integer
// division.
func TestWindowJoinOfWindowAggregatesMatchesSQLite(t *testing.T) {
	sqlite := tjNeedSQLite(t)
	in := runtime.NewSchema(
		runtime.Field{Name: "id", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	rapid.Check(t, func(rt *rapid.T) {
		par := rapid.SampledFrom([]int{1, 3}).Draw(rt, "par")
		const outOfOrder, size = 10, 10
		var parts [2][][][]runtime.Value
		for side := range 2 {
			parts[side] = make([][][]runtime.Value, 2)
			for p := range 2 {
				b := int64(outOfOrder)
				for range rapid.IntRange(0, 50).Draw(rt, "rows") {
					b += rapid.Int64Range(0, 4).Draw(rt, "step")
					ts := b - rapid.Int64Range(0, outOfOrder).Draw(rt, "jitter")
					parts[side][p] = append(parts[side][p], []runtime.Value{runtime.IntValue(int64(rapid.IntRange(0, 5).Draw(rt, "id"))), runtime.TimeValue(ts)})
				}
			}
		}
		g := runtime.NewGraph("q8")
		var aggOut *runtime.Schema
		var aggs [2]runtime.NodeID
		for side := range 2 {
			newAgg, out, err := window.New(window.Spec{In: in, KeyCols: []int{0}, TimeCol: 1, Window: window.Tumble(size * time.Millisecond),
				Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "cnt"}}})
			if err != nil {
				rt.Fatal(err)
			}
			aggOut = out
			src := g.AddSource(fmt.Sprintf("src%d", side), in, 1, rttest.Source(in, rttest.Split(parts[side], 3)),
				runtime.WatermarkStrategy{TimeColumn: 1, MaxOutOfOrderness: outOfOrder * time.Millisecond})
			aggs[side] = g.AddOperator(fmt.Sprintf("agg%d", side), out, par, 1, newAgg)
			g.Connect(src, aggs[side], runtime.Keyed, 0)
		}
		if got := aggOut.Names(); !slices.Equal(got, []string{"id", "window_start", "window_end", "cnt"}) {
			rt.Fatalf("window aggregate columns %v", got)
		}
		newJoin, out, err := NewWindow(WindowSpec{Left: aggOut, Right: aggOut, LeftKeys: []int{0}, RightKeys: []int{0},
			LeftWindowStart: 1, LeftWindowEnd: 2, RightWindowStart: 1, RightWindowEnd: 2})
		if err != nil {
			rt.Fatal(err)
		}
		jn := g.AddOperator("join", out, par, 2, newJoin)
		g.ConnectPort(aggs[0], 0, jn, 0, runtime.Keyed, 0)
		g.ConnectPort(aggs[1], 0, jn, 1, runtime.Keyed, 0)
		got, newSink := rttest.NewCollector(out)
		g.Connect(jn, g.AddOperator("sink", out, 1, 1, newSink), runtime.Global)
		set := metrics.NewSet()
		if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par, BufferRows: 64, Metrics: set}); err != nil {
			rt.Fatal(err)
		}
		if late, _ := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "join"); late != 0 {
			rt.Fatalf("the join dropped %v window results as late", late)
		}
		var sb strings.Builder
		sb.WriteString("CREATE TABLE p (id INTEGER, ts INTEGER);\nCREATE TABLE a (id INTEGER, ts INTEGER);\nBEGIN;\n")
		for _, rows := range parts[0] {
			tjInsert(&sb, "p", rows)
		}
		for _, rows := range parts[1] {
			tjInsert(&sb, "a", rows)
		}
		fmt.Fprintf(&sb, `COMMIT;
SELECT p.id, p.ws, p.we, p.cnt, a.id, a.ws, a.we, a.cnt FROM
  (SELECT id, ts / %[1]d * %[1]d AS ws, ts / %[1]d * %[1]d + %[1]d AS we, COUNT(*) AS cnt FROM p GROUP BY 1, 2, 3) p JOIN
  (SELECT id, ts / %[1]d * %[1]d AS ws, ts / %[1]d * %[1]d + %[1]d AS we, COUNT(*) AS cnt FROM a GROUP BY 1, 2, 3) a
  ON p.id = a.id AND p.ws = a.ws AND p.we = a.we;
`, size)
		tjSameRows(rt, "joined", tjQuoteAll(got.Rows()), tjSQLite(rt, sqlite, sb.String()))
	})
}
