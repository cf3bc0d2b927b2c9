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

// The processing-time temporal join tests use the event-time tests'
// schemas: probe (k, ts, pv) and build (op, vk, vts, vv) on k = vk.

func tjProcSpec(left, residual, buildFirst bool) ProcTemporalSpec {
	s := ProcTemporalSpec{
		Probe: tjProbeSchema, Build: tjVerSchema,
		ProbeKeys: []int{0}, BuildKeys: []int{1},
		LeftOuter: left, BuildFirst: buildFirst,
	}
	if residual {
		s.Residual = tjResidual
	}
	return s
}

func TestProcTemporalJoinUsesCurrentRow(t *testing.T) {
	for _, left := range []bool{false, true} {
		t.Run(fmt.Sprintf("left=%v", left), func(t *testing.T) {
			newOp, _, err := NewProcTemporal(tjProcSpec(left, false, false))
			if err != nil {
				t.Fatal(err)
			}
			d := newTJDriver(t, newOp)
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1))) // nothing built yet
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 50, 10), tjChange(runtime.Insert, 2, 50, 20)))
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 2, 2), tjProbe(2, 3, 3), tjProbe(nil, 4, 4)))
			d.batch(1, tjChangeBatch(tjChange(runtime.UpdateBefore, 1, 0, 10), tjChange(runtime.UpdateAfter, 1, 0, 11),
				tjChange(runtime.Delete, 2, 0, 20)))
			d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 5, 5), tjProbe(2, 6, 6)))
			d.watermark(runtime.MaxWatermark)
			want := []string{"1,2,2,0,1,50,10", "2,3,3,0,2,50,20", "1,5,5,2,1,0,11"}
			if left {
				want = append(want, "1,1,1,NULL,NULL,NULL,NULL", "NULL,4,4,NULL,NULL,NULL,NULL", "2,6,6,NULL,NULL,NULL,NULL")
			}
			slices.Sort(want)
			tjSameRows(t, "joined", d.rows(), want)
			if n := d.op.(*tjProc).keys.live; n != 1 {
				t.Fatalf("%d build keys held, want 1", n)
			}
		})
	}
}

func TestProcTemporalJoinBuildFirstHoldsProbeRows(t *testing.T) {
	spec := tjProcSpec(true, true, true)
	spec.MaxBufferedProbe = 4
	newOp, _, err := NewProcTemporal(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1), tjProbe(2, 1, 2)))
	d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 0, 11)))
	d.restart(newOp)
	d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 3)))
	d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 2, 0, 22), tjChange(runtime.Insert, 1, 0, 12)))
	if d.out.Len() != 0 {
		t.Fatalf("probe rows joined before the build side ended: %v", d.out.Strings())
	}
	if err := d.op.(runtime.InputEnder).EndInput(1, d.out); err != nil {
		t.Fatal(err)
	}
	// Against the complete build side; the residual (pv + vv) % 2 = 0
	// pads probe row 2 of key 2 (2 + 22 is even: kept) and row 1 of key 1
	// (1 + 12 is odd: padded).
	want := []string{"1,1,1,NULL,NULL,NULL,NULL", "2,1,2,0,2,0,22", "1,1,3,NULL,NULL,NULL,NULL"}
	if got := tjQuoteAll(d.out.Rows()); !slices.Equal(got, sorted(want)) {
		t.Fatalf("released rows %v, want %v", got, want)
	}
	if got := d.out.Strings(); !strings.HasPrefix(got[0], "1,") || !strings.HasSuffix(got[2], "NULL") {
		t.Fatalf("held rows not released in arrival order: %v", got)
	}
	// From now on probe rows are joined at once.
	d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(2, 9, 4)))
	if d.out.Len() != 4 {
		t.Fatalf("probe row after the build side ended not joined at once: %v", d.out.Strings())
	}
	// The bound.
	d2 := newTJDriver(t, newOp)
	d2.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1), tjProbe(1, 1, 2), tjProbe(1, 1, 3)))
	err = d2.op.ProcessBatch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 4), tjProbe(1, 1, 5)), d2.out)
	if err == nil || !strings.Contains(err.Error(), "more than 4 probe rows") {
		t.Fatalf("error %v, want one about more than 4 probe rows held back", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestProcTemporalJoinLimitsAndValidation(t *testing.T) {
	spec := tjProcSpec(false, false, false)
	spec.MaxGroups = 1
	newOp, _, err := NewProcTemporal(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := newTJDriver(t, newOp)
	err = d.op.ProcessBatch(1, tjChangeBatch(tjChange(0, 1, 0, 1), tjChange(0, 2, 0, 2)), d.out)
	if !errors.Is(err, state.ErrStateLimit) {
		t.Fatalf("error %v, want a state limit", err)
	}
	b := rttest.NewBatch(tjProbeSchema, tjProbe(1, 1, 1))
	b.SetKind(0, runtime.UpdateAfter)
	if err := d.op.ProcessBatch(0, b, d.out); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("a +U probe row: error %v", err)
	}
	for name, f := range map[string]func(*ProcTemporalSpec){
		"buffer":   func(s *ProcTemporalSpec) { s.MaxBufferedProbe = -1 },
		"keys":     func(s *ProcTemporalSpec) { s.BuildKeys = []int{4} },
		"residual": func(s *ProcTemporalSpec) { s.Residual = expr.ColIndex(0) },
		"schema":   func(s *ProcTemporalSpec) { s.Build = nil },
		"ttl":      func(s *ProcTemporalSpec) { s.TTL = -1 },
	} {
		s := tjProcSpec(true, false, true)
		f(&s)
		if _, _, err := NewProcTemporal(s); !errors.Is(err, ErrInvalidTemporal) {
			t.Errorf("%s: error %v, want ErrInvalidTemporal", name, err)
		}
	}
}

// TestProcTemporalJoinBuildFirstMatchesSQLite runs the join with a bounded
// build side and BuildFirst as a job, at parallelism 1 and 3, and checks
// that every probe row met the complete build side: sqlite3 joins the
// probe rows with the final state of the build changelog.
func TestProcTemporalJoinBuildFirstMatchesSQLite(t *testing.T) {
	sqlite := tjNeedSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec := tjProcSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "residual"), true)
		par := rapid.SampledFrom([]int{1, 3}).Draw(t, "par")
		probes, changes, _ := tjGenOnTime(t, 10)
		newOp, out, err := NewProcTemporal(spec)
		if err != nil {
			t.Fatal(err)
		}
		size := rapid.IntRange(1, 7).Draw(t, "chunk")
		j := tjJob{
			schemas:  [2]*runtime.Schema{tjProbeSchema, tjVerSchema},
			chunks:   [2][]rttest.Chunk{rttest.Split(probes, size), rttest.Split(changes, size)},
			timeCols: [2]int{-1, -1}, keyCols: [2][]int{{0}, {1}}, kindCol: [2]int{-1, 0},
			par: par, newOp: newOp, out: out, outOfOrder: time.Millisecond,
		}
		rows, _ := j.run(t)
		var sb strings.Builder
		sb.WriteString("CREATE TABLE p (k INTEGER, ts INTEGER, pv INTEGER);\nCREATE TABLE b (op INTEGER, vk INTEGER, vts INTEGER, vv INTEGER);\nBEGIN;\n")
		for _, ps := range probes {
			tjInsert(&sb, "p", ps)
		}
		for _, cs := range changes {
			tjInsert(&sb, "b", cs) // rowid: a key's changes in arrival order
		}
		joinKind, residual := "JOIN", ""
		if spec.LeftOuter {
			joinKind = "LEFT JOIN"
		}
		if spec.Residual != nil {
			residual = " AND (p.pv + b.vv) % 2 = 0"
		}
		fmt.Fprintf(&sb, `COMMIT;
SELECT p.k, p.ts, p.pv, b.op, b.vk, b.vts, b.vv FROM p %s
  (SELECT * FROM b WHERE op IN (0, 2) AND rowid = (SELECT MAX(rowid) FROM b b2 WHERE b2.vk = b.vk)) b
  ON b.vk = p.k%s;
`, joinKind, residual)
		want := tjSQLite(t, sqlite, sb.String())
		tjSameRows(t, "joined", tjQuoteAll(rows), want)
	})
}

// TestProcTemporalJoinRapidMatchesModel interleaves build changes and
// probe rows at random, with restarts from snapshots, and compares the
// operator with a map of the current build row per key (probe rows held
// back by BuildFirst meet the map as it is when the build side ends).
func TestProcTemporalJoinRapidMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := tjProcSpec(rapid.Bool().Draw(t, "left"), rapid.Bool().Draw(t, "residual"), rapid.Bool().Draw(t, "buildFirst"))
		newOp, _, err := NewProcTemporal(spec)
		if err != nil {
			t.Fatal(err)
		}
		d := newTJDriver(t, newOp)
		current := map[int64][]runtime.Value{}
		var held [][]runtime.Value
		var want []string
		ended := false
		join := func(p []runtime.Value) {
			var b []runtime.Value
			if !p[0].Null {
				b = current[p[0].I]
			}
			if b != nil && spec.Residual != nil && (b[3].Null || (p[2].I+b[3].I)%2 != 0) {
				b = nil
			}
			switch {
			case b != nil:
				want = append(want, tjQuote(append(slices.Clone(p), b...)))
			case spec.LeftOuter:
				want = append(want, tjQuote(p)+",NULL,NULL,NULL,NULL")
			}
		}
		endBuild := func() {
			if err := d.op.(runtime.InputEnder).EndInput(1, d.out); err != nil {
				t.Fatal(err)
			}
			if !ended {
				ended = true
				for _, p := range held {
					join(p)
				}
				held = nil
			}
		}
		seq := int64(0)
		key := func() any {
			if rapid.IntRange(0, 10).Draw(t, "nullkey") == 0 {
				return nil
			}
			return rapid.IntRange(0, 3).Draw(t, "k")
		}
		for range rapid.IntRange(0, 30).Draw(t, "steps") {
			switch rapid.IntRange(0, 6).Draw(t, "step") {
			case 0:
				d.restart(newOp)
			case 1:
				endBuild()
			case 2, 3:
				var rows [][]runtime.Value
				for range rapid.IntRange(1, 4).Draw(t, "probes") {
					seq++
					rows = append(rows, tjProbe(key(), 0, seq))
				}
				d.batch(0, rttest.NewBatch(tjProbeSchema, rows...))
				for _, p := range rows {
					if spec.BuildFirst && !ended {
						held = append(held, p)
					} else {
						join(p)
					}
				}
			default:
				var rows [][]runtime.Value
				for range rapid.IntRange(1, 4).Draw(t, "changes") {
					seq++
					kind := rapid.SampledFrom([]runtime.RowKind{runtime.Insert, runtime.UpdateBefore, runtime.UpdateAfter, runtime.Delete}).Draw(t, "kind")
					rows = append(rows, tjChange(kind, key(), 0, seq))
				}
				d.batch(1, tjChangeBatch(rows...))
				for _, c := range rows {
					if c[1].Null {
						continue
					}
					if k := runtime.RowKind(c[0].I); k == runtime.UpdateBefore || k == runtime.Delete {
						delete(current, c[1].I)
					} else {
						current[c[1].I] = c
					}
				}
			}
		}
		endBuild()
		tjSameRows(t, "joined", d.rows(), sorted(want))
	})
}
