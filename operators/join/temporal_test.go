package join

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// The temporal join tests join probe (k BIGINT, ts TIMESTAMP, pv BIGINT)
// with the versioned table (op INT, vk INT, vts BIGINT, vv BIGINT) on
// k = vk; op is the change's kind (0..3: +I, -U, +U, -D).
var (
	tjProbeSchema = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
		runtime.Field{Name: "pv", Type: runtime.BigInt},
	)
	tjVerSchema = runtime.NewSchema(
		runtime.Field{Name: "op", Type: runtime.Int},
		runtime.Field{Name: "vk", Type: runtime.Int, Nullable: true},
		runtime.Field{Name: "vts", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "vv", Type: runtime.BigInt, Nullable: true},
	)
)

// tjResidual is (pv + vv) % 2 = 0 over the output row.
var tjResidual = expr.Eq(expr.Mod(expr.Add(expr.ColIndex(2), expr.ColIndex(6)), expr.Int(2)), expr.Int(0))

func tjSpec(left, residual bool) TemporalSpec {
	s := TemporalSpec{
		Probe: tjProbeSchema, Versioned: tjVerSchema,
		ProbeKeys: []int{0}, VersionKeys: []int{1},
		ProbeTime: 1, VersionTime: 2,
		LeftOuter: left,
	}
	if residual {
		s.Residual = tjResidual
	}
	return s
}

func tjProbe(k any, ts any, pv int64) []runtime.Value {
	kv := runtime.NullValue(runtime.BigInt)
	if k != nil {
		kv = runtime.IntValue(int64(k.(int)))
	}
	tv := runtime.NullValue(runtime.Timestamp)
	if ts != nil {
		tv = runtime.TimeValue(int64(ts.(int)))
	}
	return []runtime.Value{kv, tv, runtime.IntValue(pv)}
}

func tjChange(op runtime.RowKind, k any, ts int64, vv int64) []runtime.Value {
	kv := runtime.NullValue(runtime.Int)
	if k != nil {
		kv = runtime.Value{Type: runtime.Int, I: int64(k.(int))}
	}
	return []runtime.Value{{Type: runtime.Int, I: int64(op)}, kv, {Type: runtime.BigInt, I: ts}, runtime.IntValue(vv)}
}

// tjChangeBatch builds a batch of changes with their kinds from column op.
func tjChangeBatch(rows ...[]runtime.Value) *runtime.Batch {
	b := rttest.NewBatch(tjVerSchema, rows...)
	for r := range rows {
		b.SetKind(r, runtime.RowKind(rows[r][0].I))
	}
	return b
}

// tjDriver drives one operator subtask directly.
type tjDriver struct {
	t   tjT
	op  runtime.Operator
	ctx *runtime.Context
	out *rttest.Collector
}

func newTJDriver(t tjT, newOp func() runtime.Operator) *tjDriver {
	d := &tjDriver{t: t, op: newOp(), ctx: rttest.NewContext("join", 0, 1), out: &rttest.Collector{}}
	if err := d.op.Open(d.ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *tjDriver) batch(input int, b *runtime.Batch) {
	d.t.Helper()
	if err := d.op.ProcessBatch(input, b, d.out); err != nil {
		d.t.Fatal(err)
	}
}

func (d *tjDriver) watermark(wm int64) {
	d.t.Helper()
	if err := d.op.ProcessWatermark(wm, d.out); err != nil {
		d.t.Fatal(err)
	}
}

// restart snapshots the operator and continues with a fresh one restored
// from the snapshot.
func (d *tjDriver) restart(newOp func() runtime.Operator) {
	d.t.Helper()
	data, err := d.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		d.t.Fatal(err)
	}
	late := d.ctx.Metrics.LateRowsDropped.Get()
	d.op.Close()
	d.op, d.ctx = newOp(), rttest.NewContext("join", 0, 1)
	d.ctx.Metrics.LateRowsDropped.Set(late)
	if err := d.op.Open(d.ctx); err != nil {
		d.t.Fatal(err)
	}
	if err := d.op.(runtime.Snapshotter).RestoreState(data); err != nil {
		d.t.Fatal(err)
	}
}

func (d *tjDriver) rows() []string { return tjQuoteAll(d.out.Rows()) }

func TestTemporalJoinPicksVersionValidAtProbeTime(t *testing.T) {
	for _, left := range []bool{false, true} {
		t.Run(fmt.Sprintf("left=%v", left), func(t *testing.T) {
			newOp, out, err := NewTemporal(tjSpec(left, false))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Names(); !slices.Equal(got, []string{"k", "ts", "pv", "op", "vk", "vts", "vv"}) {
				t.Fatalf("output columns %v", got)
			}
			if out.Fields[3].Nullable != left || out.Fields[2].Nullable {
				t.Fatalf("column op nullable = %v, want %v (pv: %v)", out.Fields[3].Nullable, left, out.Fields[2].Nullable)
			}
			d := newTJDriver(t, newOp)
			d.batch(1, tjChangeBatch(
				tjChange(runtime.Insert, 1, 10, 100),
				tjChange(runtime.UpdateBefore, 1, 20, 100),
				tjChange(runtime.UpdateAfter, 1, 20, 200),
				tjChange(runtime.Delete, 1, 30, 200),
				tjChange(runtime.Insert, 2, 5, 500),
			))
			// Probe rows out of order; key 3 has no version; NULL key.
			d.batch(0, rttest.NewBatch(tjProbeSchema,
				tjProbe(1, 25, 1), tjProbe(1, 9, 2), tjProbe(1, 10, 3), tjProbe(1, 35, 4),
				tjProbe(2, 7, 5), tjProbe(3, 12, 6), tjProbe(nil, 12, 7), tjProbe(1, 20, 8),
			))
			d.watermark(22)
			first := d.out.Len()
			// A version arriving now for time 21..22 is late; for 24 it is not.
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 22, 999), tjChange(runtime.Insert, 1, 24, 240)))
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 22, 9), tjProbe(1, nil, 10)))
			d.watermark(runtime.MaxWatermark)
			want := []string{
				"1,25,1,0,1,24,240", // the version of 24 is valid at 25
				"1,10,3,0,1,10,100",
				"1,20,8,2,1,20,200",
				"2,7,5,0,2,5,500",
			}
			if left {
				want = append(want, "1,9,2,NULL,NULL,NULL,NULL", "1,35,4,NULL,NULL,NULL,NULL",
					"3,12,6,NULL,NULL,NULL,NULL", "NULL,12,7,NULL,NULL,NULL,NULL")
			}
			slices.Sort(want)
			tjSameRows(t, "joined", d.rows(), want)
			// Emitted in probe-time order.
			var times []int64
			for _, r := range d.out.Rows() {
				times = append(times, r[1].I)
			}
			if !slices.IsSorted(times[:first]) || !slices.IsSorted(times[first:]) {
				t.Fatalf("probe times emitted out of order: %v", times)
			}
			if got := d.ctx.Metrics.LateRowsDropped.Get(); got != 3 {
				t.Fatalf("late rows counted: %d, want 3 (a version at 22, a probe at 22, a probe without time)", got)
			}
			// Key 1 ended deleted and is forgotten; key 2 keeps its version.
			if p, v := d.op.(*tjEvent).buffered(); p != 0 || v != 1 {
				t.Fatalf("after the final watermark: %d probe rows and %d versions held, want 0 and 1", p, v)
			}
		})
	}
}

func TestTemporalJoinFreesOldVersions(t *testing.T) {
	newOp, _, err := NewTemporal(tjSpec(false, false))
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	op := d.op.(*tjEvent)
	op.compactRows = 1
	for i := range 100 {
		d.batch(1, tjChangeBatch(tjChange(runtime.Insert, i%3, int64(10*i), int64(i))))
		d.watermark(int64(10*i + 5))
	}
	if _, v := op.buffered(); v != 3 {
		t.Fatalf("%d versions held for 3 keys, want one each", v)
	}
	if n := len(op.vers.ts); n > 8 {
		t.Fatalf("version store holds %d rows after compaction", n)
	}
	// The kept versions still join.
	d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(0, 2000, 1), tjProbe(1, 2000, 2), tjProbe(2, 2000, 3)))
	d.watermark(2000)
	tjSameRows(t, "joined", d.rows(), []string{"0,2000,1,0,0,990,99", "1,2000,2,0,1,970,97", "2,2000,3,0,2,980,98"})
	// A deletion behind the watermark forgets the key.
	d.batch(1, tjChangeBatch(tjChange(runtime.Delete, 1, 2001, 0)))
	d.watermark(2002)
	if op.keys.live != 2 || d.ctx.Metrics.StateKeys() != 2 {
		t.Fatalf("%d keys held after a deletion, want 2", op.keys.live)
	}
}

func TestTemporalJoinMaxGroups(t *testing.T) {
	spec := tjSpec(false, false)
	spec.MaxGroups = 2
	newOp, _, err := NewTemporal(spec)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	op.Open(rttest.NewContext("join", 0, 1))
	err = op.ProcessBatch(1, tjChangeBatch(tjChange(0, 1, 1, 1), tjChange(0, 2, 1, 1), tjChange(0, 3, 1, 1)), &rttest.Collector{})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "3 keys") {
		t.Fatalf("error %v, want a state limit of 3 keys over 2", err)
	}
}

func TestTemporalJoinRejectsBadInput(t *testing.T) {
	newOp, _, err := NewTemporal(tjSpec(false, false))
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	op.Open(rttest.NewContext("join", 0, 1))
	b := rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1))
	b.SetKind(0, runtime.Delete)
	if err := op.ProcessBatch(0, b, &rttest.Collector{}); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("a -D probe row: error %v", err)
	}
	if err := op.ProcessBatch(2, b, &rttest.Collector{}); err == nil {
		t.Fatal("rows on input 2 accepted")
	}
	if err := op.ProcessBatch(1, b, &rttest.Collector{}); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Fatalf("a probe batch on the versioned input: error %v", err)
	}
}

func TestNewTemporalValidatesSpec(t *testing.T) {
	bad := map[string]func(*TemporalSpec){
		"no schema": func(s *TemporalSpec) { s.Probe = nil },
		"no keys":   func(s *TemporalSpec) { s.ProbeKeys, s.VersionKeys = nil, nil },
		"key count": func(s *TemporalSpec) { s.VersionKeys = []int{1, 2} },
		"key range": func(s *TemporalSpec) { s.ProbeKeys = []int{7} },
		"key types": func(s *TemporalSpec) {
			s.Versioned = runtime.NewSchema(runtime.Field{Name: "op", Type: runtime.Int}, runtime.Field{Name: "vk", Type: runtime.Varchar},
				runtime.Field{Name: "vts", Type: runtime.BigInt})
		},
		"probe time":       func(s *TemporalSpec) { s.ProbeTime = -1 },
		"versioned time":   func(s *TemporalSpec) { s.VersionTime = 9 },
		"residual type":    func(s *TemporalSpec) { s.Residual = expr.ColIndex(2) },
		"residual column":  func(s *TemporalSpec) { s.Residual = expr.Eq(expr.ColIndex(70), expr.Int(1)) },
		"negative maximum": func(s *TemporalSpec) { s.MaxGroups = -1 },
		"negative TTL":     func(s *TemporalSpec) { s.TTL = -time.Second },
	}
	for name, f := range bad {
		s := tjSpec(true, true)
		f(&s)
		if _, _, err := NewTemporal(s); !errors.Is(err, ErrInvalidTemporal) {
			t.Errorf("%s: error %v, want ErrInvalidTemporal", name, err)
		}
	}
}

// tjModel is the reference event-time temporal join: it keeps every change
// and every probe row, and answers a probe row when the watermark passes it
// from the changes that arrived so far, by a plain scan.
type tjModel struct {
	spec    TemporalSpec
	wm      int64
	changes [][]runtime.Value // in arrival order
	pending [][]runtime.Value
	out     []string
	late    int
}

func (m *tjModel) probes(rows [][]runtime.Value) {
	for _, r := range rows {
		switch {
		case r[1].Null, m.wm != runtime.MinWatermark && r[1].I <= m.wm:
			m.late++
		case r[0].Null && !m.spec.LeftOuter:
		default:
			m.pending = append(m.pending, r)
		}
	}
}

func (m *tjModel) versions(rows [][]runtime.Value) {
	for _, r := range rows {
		switch {
		case r[1].Null || r[2].Null:
		case m.wm != runtime.MinWatermark && r[2].I <= m.wm:
			m.late++
		default:
			m.changes = append(m.changes, r)
		}
	}
}

func (m *tjModel) watermark(wm int64) {
	if wm <= m.wm {
		return
	}
	m.wm = wm
	var keep [][]runtime.Value
	for _, p := range m.pending {
		if p[1].I > wm {
			keep = append(keep, p)
			continue
		}
		var best []runtime.Value
		for _, c := range m.changes { // the last of the latest times wins
			if !p[0].Null && c[1].I == p[0].I && c[2].I <= p[1].I && (best == nil || c[2].I >= best[2].I) {
				best = c
			}
		}
		if best != nil && (best[0].I == int64(runtime.UpdateBefore) || best[0].I == int64(runtime.Delete)) {
			best = nil
		}
		if best != nil && m.spec.Residual != nil && (best[3].Null || (p[2].I+best[3].I)%2 != 0) {
			best = nil
		}
		switch {
		case best != nil:
			m.out = append(m.out, tjQuote(append(slices.Clone(p), best...)))
		case m.spec.LeftOuter:
			m.out = append(m.out, tjQuote(p)+",NULL,NULL,NULL,NULL")
		}
	}
	m.pending = keep
}

// TestTemporalJoinRapidMatchesModel drives the operator with random
// probe rows and changes, out of order, late, with NULLs, watermarks and
// restarts from snapshots, compares it with tjModel, and checks that the
// restarts change nothing, not even the order of the rows.
func TestTemporalJoinRapidMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := tjSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "residual"))
		newOp, _, err := NewTemporal(spec)
		if err != nil {
			t.Fatal(err)
		}
		d, plain := newTJDriver(t, newOp), newTJDriver(t, newOp)
		d.op.(*tjEvent).compactRows = rapid.IntRange(1, 8).Draw(t, "compact")
		m := &tjModel{spec: spec, wm: runtime.MinWatermark}
		nkeys := rapid.IntRange(1, 4).Draw(t, "keys")
		key := func() any {
			if rapid.IntRange(0, 12).Draw(t, "nullkey") == 0 {
				return nil
			}
			return rapid.IntRange(0, nkeys-1).Draw(t, "k")
		}
		base := func() int64 { return max(m.wm, 0) }
		steps := rapid.IntRange(0, 40).Draw(t, "steps")
		seq := int64(0)
		for range steps {
			switch rapid.IntRange(0, 5).Draw(t, "step") {
			case 0:
				wm := base() + rapid.Int64Range(0, 15).Draw(t, "advance")
				d.watermark(wm)
				plain.watermark(wm)
				m.watermark(d.op.(*tjEvent).wm)
			case 1:
				d.restart(newOp)
				d.op.(*tjEvent).compactRows = rapid.IntRange(1, 8).Draw(t, "compact")
			case 2, 3:
				var rows [][]runtime.Value
				for range rapid.IntRange(1, 5).Draw(t, "probes") {
					var ts any = int(base() + rapid.Int64Range(-5, 30).Draw(t, "ts"))
					if rapid.IntRange(0, 20).Draw(t, "nulltime") == 0 {
						ts = nil
					}
					seq++
					rows = append(rows, tjProbe(key(), ts, seq))
				}
				d.batch(0, rttest.NewBatch(tjProbeSchema, rows...))
				plain.batch(0, rttest.NewBatch(tjProbeSchema, rows...))
				m.probes(rows)
			default:
				var rows [][]runtime.Value
				for range rapid.IntRange(1, 4).Draw(t, "changes") {
					k := key()
					ts := base() + rapid.Int64Range(-3, 30).Draw(t, "vts")
					seq++
					switch rapid.IntRange(0, 3).Draw(t, "kind") {
					case 0, 1:
						rows = append(rows, tjChange(runtime.Insert, k, ts, seq))
					case 2:
						rows = append(rows, tjChange(runtime.UpdateBefore, k, ts, seq), tjChange(runtime.UpdateAfter, k, ts, seq+1))
						seq++
					default:
						rows = append(rows, tjChange(runtime.Delete, k, ts, seq))
					}
				}
				if rapid.Bool().Draw(t, "nullvalue") {
					rows[0][3] = runtime.NullValue(runtime.BigInt)
				}
				d.batch(1, tjChangeBatch(rows...))
				plain.batch(1, tjChangeBatch(rows...))
				m.versions(rows)
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
		if p, _ := d.op.(*tjEvent).buffered(); p != 0 {
			t.Fatalf("%d probe rows still buffered after the final watermark", p)
		}
	})
}

// tjGenOnTime draws, for a job, probe rows in 2 partitions and changes in
// partitions by key (so a key's changes keep their order), each partition's
// times out of order by at most outOfOrder ms, so that no row is late.
func tjGenOnTime(t *rapid.T, outOfOrder int64) (probes, changes [][][]runtime.Value, nullTimes int) {
	nkeys := rapid.IntRange(1, 6).Draw(t, "keys")
	probes = make([][][]runtime.Value, 2)
	seq := int64(0)
	for p := range probes {
		b := outOfOrder
		for range rapid.IntRange(0, 60).Draw(t, "probes") {
			b += rapid.Int64Range(0, 6).Draw(t, "step")
			var k any = rapid.IntRange(0, nkeys-1).Draw(t, "k")
			if rapid.IntRange(0, 15).Draw(t, "nullkey") == 0 {
				k = nil
			}
			var ts any = int(b - rapid.Int64Range(0, outOfOrder).Draw(t, "jitter"))
			if rapid.IntRange(0, 30).Draw(t, "nulltime") == 0 {
				ts = nil
				nullTimes++
			}
			seq++
			probes[p] = append(probes[p], tjProbe(k, ts, seq))
		}
	}
	changes = make([][][]runtime.Value, 2)
	used := map[[2]int64]bool{}
	for p := range changes {
		b := outOfOrder
		for range rapid.IntRange(0, 40).Draw(t, "changes") {
			b += rapid.Int64Range(0, 8).Draw(t, "vstep")
			k := 2*rapid.IntRange(0, nkeys/2).Draw(t, "vk") + p
			ts := b - rapid.Int64Range(0, outOfOrder).Draw(t, "vjitter")
			if used[[2]int64{int64(k), ts}] {
				continue
			}
			used[[2]int64{int64(k), ts}] = true
			seq++
			switch rapid.IntRange(0, 3).Draw(t, "kind") {
			case 0, 1:
				changes[p] = append(changes[p], tjChange(runtime.Insert, k, ts, seq))
			case 2:
				changes[p] = append(changes[p], tjChange(runtime.UpdateBefore, k, ts, seq), tjChange(runtime.UpdateAfter, k, ts, seq+1))
				seq++
			default:
				changes[p] = append(changes[p], tjChange(runtime.Delete, k, ts, seq))
			}
		}
	}
	return probes, changes, nullTimes
}

// TestTemporalJoinMatchesSQLite runs the join as a job, at parallelism 1
// and 3 behind keyed exchanges, on random rows out of order within the
// watermark bound, and late rows held back until the join's watermark has
// passed them, and checks it against sqlite3 picking each on-time probe
// row's version among the on-time changes with a correlated subquery.
func TestTemporalJoinMatchesSQLite(t *testing.T) {
	sqlite := tjNeedSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec := tjSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "residual"))
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "par")
		const outOfOrder = 10
		probes, changes, nullTimes := tjGenOnTime(t, outOfOrder)
		newOp, out, err := NewTemporal(spec)
		if err != nil {
			t.Fatal(err)
		}
		size := rapid.IntRange(1, 7).Draw(t, "chunk")
		j := tjJob{
			schemas:  [2]*runtime.Schema{tjProbeSchema, tjVerSchema},
			chunks:   [2][]rttest.Chunk{rttest.Split(probes, size), rttest.Split(changes, size)},
			timeCols: [2]int{1, 2}, keyCols: [2][]int{{0}, {1}}, kindCol: [2]int{-1, 0},
			outOfOrder: outOfOrder * time.Millisecond, par: par, newOp: newOp, out: out,
		}
		// Late rows, on both sides, held back until the join's watermark
		// has passed them.
		wantLate := nullTimes
		if bound, ok := tjLateBound([2][][][]runtime.Value{probes, changes}, [2]int{1, 2}, outOfOrder); ok && bound >= 0 && rapid.Bool().Draw(t, "late") {
			j.lateAfter = bound
			for range rapid.IntRange(1, 4).Draw(t, "lateProbes") {
				j.late[0] = append(j.late[0], tjProbe(rapid.IntRange(0, 3).Draw(t, "lk"), int(rapid.Int64Range(0, bound).Draw(t, "lts")), -1))
			}
			for range rapid.IntRange(0, 3).Draw(t, "lateChanges") {
				j.late[1] = append(j.late[1], tjChange(runtime.Insert, rapid.IntRange(0, 3).Draw(t, "lvk"), rapid.Int64Range(0, bound).Draw(t, "lvts"), -1))
			}
			wantLate += len(j.late[0]) + len(j.late[1])
		}
		rows, late := j.run(t)
		var sb strings.Builder
		sb.WriteString("CREATE TABLE p (k INTEGER, ts INTEGER, pv INTEGER);\nCREATE TABLE v (op INTEGER, vk INTEGER, vts INTEGER, vv INTEGER);\nBEGIN;\n")
		for _, ps := range probes {
			tjInsert(&sb, "p", ps)
		}
		for _, cs := range changes {
			tjInsert(&sb, "v", cs) // rowid: a key's changes in arrival order
		}
		joinKind, residual := "JOIN", ""
		if spec.LeftOuter {
			joinKind = "LEFT JOIN"
		}
		if spec.Residual != nil {
			residual = " AND (p.pv + v.vv) % 2 = 0"
		}
		fmt.Fprintf(&sb, `COMMIT;
SELECT p.k, p.ts, p.pv, v.op, v.vk, v.vts, v.vv FROM p %s v
  ON v.rowid = (SELECT v2.rowid FROM v v2 WHERE v2.vk = p.k AND v2.vts <= p.ts ORDER BY v2.vts DESC, v2.rowid DESC LIMIT 1)
  AND v.op IN (0, 2)%s
WHERE p.ts IS NOT NULL;
`, joinKind, residual)
		want := tjSQLite(t, sqlite, sb.String())
		tjSameRows(t, "joined", tjQuoteAll(rows), want)
		if late != wantLate {
			t.Fatalf("late rows counted: %d, want %d (%d probe rows without a time)", late, wantLate, nullTimes)
		}
	})
}
