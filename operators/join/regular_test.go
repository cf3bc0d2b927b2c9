package join

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// The regular join tests join l(k BIGINT, a BIGINT, s VARCHAR) with
// r(s VARCHAR, k INT, b BIGINT) on l.k = r.k, optionally AND l.a <= r.b;
// the output is (k, a, s, s0, k0, b).
var (
	regLeft = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "a", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "s", Type: runtime.Varchar},
	)
	regRight = runtime.NewSchema(
		runtime.Field{Name: "s", Type: runtime.Varchar},
		runtime.Field{Name: "k", Type: runtime.Int, Nullable: true},
		runtime.Field{Name: "b", Type: runtime.BigInt, Nullable: true},
	)
	// The residual conditions over the joined row: l.a <= r.b, and
	// r.b BETWEEN l.a AND l.a + 2 (as Nexmark q4 and q9's bid time between
	// an auction's start and its expiry).
	regResiduals = []expr.Expr{
		nil,
		expr.Le(expr.ColIndex(1), expr.ColIndex(5)),
		expr.And(expr.Ge(expr.ColIndex(5), expr.ColIndex(1)), expr.Le(expr.ColIndex(5), expr.Add(expr.ColIndex(1), expr.Int(2)))),
	}
	regResidualSQL = []string{"", " AND l.a <= r.b", " AND r.b BETWEEN l.a AND l.a + 2"}
)

var regTypes = []RegularType{RegularInner, RegularLeft, RegularRight, RegularFull}

// regSpec is the test join of type typ with residual regResiduals[residual].
func regSpec(typ RegularType, residual int) RegularSpec {
	return RegularSpec{Left: regLeft, Right: regRight, LeftKeys: []int{0}, RightKeys: []int{1}, Type: typ, Residual: regResiduals[residual]}
}

// regTB is what the helpers need of a *testing.T or a *rapid.T.
type regTB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// regChange is one change of an input: a row and its kind.
type regChange struct {
	kind runtime.RowKind
	row  []runtime.Value
}

func regL(k, a any, s string) []runtime.Value {
	return []runtime.Value{regVal(k, runtime.BigInt), regVal(a, runtime.BigInt), runtime.StringValue(s)}
}

func regR(s string, k, b any) []runtime.Value {
	return []runtime.Value{runtime.StringValue(s), regVal(k, runtime.Int), regVal(b, runtime.BigInt)}
}

func regVal(x any, t runtime.Type) runtime.Value {
	if x == nil {
		return runtime.NullValue(t)
	}
	return runtime.Value{Type: t, I: int64(x.(int))}
}

// regFormat renders a row for comparisons: values as SQL prints them,
// NULL as NULL, separated by |.
func regFormat(row []runtime.Value) string {
	parts := make([]string, len(row))
	for i, v := range row {
		parts[i] = v.String()
	}
	return strings.Join(parts, "|")
}

// regBatch builds a batch of changes.
func regBatch(s *runtime.Schema, changes ...regChange) *runtime.Batch {
	b := rttest.NewBatch(s)
	for _, c := range changes {
		b.AppendValues(c.row...)
		b.SetKind(b.N-1, c.kind)
	}
	return b
}

// regHidden builds a batch of changes with a retraction of a junk row
// before each, left out by the selection vector: an operator that ignores
// the selection sees retractions of rows it does not hold, and matches.
func regHidden(s *runtime.Schema, changes ...regChange) *runtime.Batch {
	b := rttest.NewBatch(s)
	for _, c := range changes {
		b.AppendValues(c.row...) // the junk row: a copy, retracted
		b.SetKind(b.N-1, runtime.Delete)
		b.AppendValues(c.row...)
		b.SetKind(b.N-1, c.kind)
		b.Sel = append(b.Sel, int32(b.N-1))
	}
	if len(changes) == 0 {
		b.Sel = []int32{}
	}
	return b
}

// regApply applies a changelog to a multiset of formatted rows, failing on
// the retraction of a row it does not hold, and returns the rows held,
// sorted, one entry per copy.
func regApply(t regTB, kinds []runtime.RowKind, rows [][]runtime.Value) []string {
	t.Helper()
	held := map[string]int{}
	for i, r := range rows {
		f := regFormat(r)
		switch kinds[i] {
		case runtime.Insert, runtime.UpdateAfter:
			held[f]++
		default:
			if held[f] == 0 {
				t.Fatalf("change %d retracts %s%s, which the result does not hold", i, kinds[i], f)
			}
			held[f]--
		}
	}
	var out []string
	for f, n := range held {
		for range n {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// regDrive runs a join subtask directly over events (side, changes) and
// returns its changelog.
func regDrive(t regTB, spec RegularSpec, events []regEvent, tune ...func(*regJoin)) *rttest.Collector {
	t.Helper()
	newOp, out, err := NewRegular(spec)
	if err != nil {
		t.Fatalf("NewRegular: %v", err)
	}
	op := newOp()
	for _, f := range tune {
		f(op.(*regJoin))
	}
	if err := op.Open(rttest.NewContext("join", 0, 1)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer op.Close()
	got, _ := rttest.NewCollector(out)
	for i, ev := range events {
		if err := op.ProcessBatch(ev.side, regEventBatch(spec, ev), got); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	return got
}

// regEventBatch builds the batch of ev.
func regEventBatch(spec RegularSpec, ev regEvent) *runtime.Batch {
	if ev.hidden {
		return regHidden(spec.schema(ev.side), ev.changes...)
	}
	return regBatch(spec.schema(ev.side), ev.changes...)
}

type regEvent struct {
	side    int
	changes []regChange
	hidden  bool // batched with hidden rows (regHidden)
}

func (s *RegularSpec) schema(side int) *runtime.Schema {
	if side == 0 {
		return s.Left
	}
	return s.Right
}

func ins(row []runtime.Value) regChange { return regChange{runtime.Insert, row} }
func del(row []runtime.Value) regChange { return regChange{runtime.Delete, row} }
func ub(row []runtime.Value) regChange  { return regChange{runtime.UpdateBefore, row} }
func ua(row []runtime.Value) regChange  { return regChange{runtime.UpdateAfter, row} }

// TestRegularLeftJoinChangelog follows a LEFT join's match counting: the
// null-padded row goes with the first match and comes back with the last.
func TestRegularLeftJoinChangelog(t *testing.T) {
	newOp, out, err := NewRegular(regSpec(RegularLeft, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Names(); !slices.Equal(got, []string{"k", "a", "s", "s0", "k0", "b"}) {
		t.Fatalf("output columns %v", got)
	}
	for i, f := range out.Fields {
		if want := i >= 3; f.Nullable != want && i != 0 && i != 1 {
			t.Fatalf("column %d nullable %v, want %v", i, f.Nullable, want)
		}
	}
	op := newOp().(*regJoin)
	if err := op.Open(rttest.NewContext("join", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	got, _ := rttest.NewCollector(out)
	step := func(side int, c regChange, want ...string) {
		t.Helper()
		got.Reset()
		if err := op.ProcessBatch(side, regBatch([]*runtime.Schema{regLeft, regRight}[side], c), got); err != nil {
			t.Fatal(err)
		}
		if g := got.Changelog(); !slices.Equal(g, want) {
			t.Fatalf("after %s%v: got %q, want %q", c.kind, c.row, g, want)
		}
	}
	step(0, ins(regL(1, 5, "l")), "+I1,5,l,NULL,NULL,NULL")
	step(1, ins(regR("r", 1, 7)), "-D1,5,l,NULL,NULL,NULL", "+I1,5,l,r,1,7")
	step(1, ins(regR("r", 1, 7)), "+I1,5,l,r,1,7")
	step(0, ins(regL(1, 5, "l")), "+I1,5,l,r,1,7", "+I1,5,l,r,1,7")
	step(1, del(regR("r", 1, 7)), "-D1,5,l,r,1,7", "-D1,5,l,r,1,7")
	step(1, ub(regR("r", 1, 7)), "-D1,5,l,r,1,7", "-D1,5,l,r,1,7", "+I1,5,l,NULL,NULL,NULL", "+I1,5,l,NULL,NULL,NULL")
	step(1, ub(regR("r", 1, 7))) // not held: ignored
	step(0, del(regL(2, 5, "l")))
	if op.ignored != 2 {
		t.Fatalf("%d retractions counted as ignored, want 2", op.ignored)
	}
	step(0, del(regL(1, 5, "l")), "-D1,5,l,NULL,NULL,NULL")
	step(0, ins(regL(nil, 5, "n")), "+INULL,5,n,NULL,NULL,NULL")
	step(1, ins(regR("n", nil, 5))) // a NULL key on the inner side: dropped
	step(0, del(regL(nil, 5, "n")), "-DNULL,5,n,NULL,NULL,NULL")
	step(0, del(regL(1, 5, "l")), "-D1,5,l,NULL,NULL,NULL")
	if n := op.keys.live; n != 0 {
		t.Fatalf("%d keys held once every row is retracted", n)
	}
}

// TestRegularFullJoinResidual checks both sides' match counts under a
// residual: a pair matches only while l.a <= r.b.
func TestRegularFullJoinResidual(t *testing.T) {
	got := regDrive(t, regSpec(RegularFull, 1), []regEvent{
		{side: 0, changes: []regChange{ins(regL(1, 5, "l")), ins(regL(1, 9, "m"))}},
		{side: 1, changes: []regChange{ins(regR("r", 1, 7)), ins(regR("q", 1, nil))}},
		{side: 0, changes: []regChange{ub(regL(1, 9, "m")), ua(regL(1, 6, "m"))}},
	})
	want := []string{
		"+I1,5,l,NULL,NULL,NULL", "+I1,9,m,NULL,NULL,NULL",
		"-D1,5,l,NULL,NULL,NULL", "+I1,5,l,r,1,7", "+INULL,NULL,NULL,q,1,NULL",
		"-D1,9,m,NULL,NULL,NULL", "+I1,6,m,r,1,7",
	}
	if g := got.Changelog(); !slices.Equal(g, want) {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestRegularSpecErrors checks that a bad spec is refused with an error
// naming what is wrong.
func TestRegularSpecErrors(t *testing.T) {
	f := func(want string, mod func(*RegularSpec)) {
		t.Helper()
		s := regSpec(RegularInner, 0)
		mod(&s)
		_, _, err := NewRegular(s)
		if err == nil || !errors.Is(err, ErrInvalidRegularSpec) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one containing %q", err, want)
		}
	}
	f("both input schemas", func(s *RegularSpec) { s.Right = nil })
	f("at least one key", func(s *RegularSpec) { s.LeftKeys, s.RightKeys = nil, nil })
	f("1 left key columns but 2 right", func(s *RegularSpec) { s.RightKeys = []int{1, 2} })
	f("left key column 7 out of range", func(s *RegularSpec) { s.LeftKeys = []int{7} })
	f(`left column "s" is VARCHAR but right column "k" is INT`, func(s *RegularSpec) { s.LeftKeys = []int{2} })
	f("must be BOOLEAN", func(s *RegularSpec) { s.Residual = expr.ColIndex(1) })
	f("join condition", func(s *RegularSpec) { s.Residual = expr.Col("nope") })
	f("negative state TTL", func(s *RegularSpec) { s.TTL = -time.Second })
	f("unknown join type", func(s *RegularSpec) { s.Type = 9 })
}

// TestRegularBadInput checks that rows on a third input or of the wrong
// width are errors, not panics.
func TestRegularBadInput(t *testing.T) {
	newOp, _, err := NewRegular(regSpec(RegularInner, 0))
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	if err := op.Open(nil); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var d rttest.Discard
	if err := op.ProcessBatch(2, regBatch(regLeft, ins(regL(1, 1, "x"))), &d); err == nil || !strings.Contains(err.Error(), "input 2") {
		t.Fatalf("input 2: %v", err)
	}
	narrow := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt})
	if err := op.ProcessBatch(1, rttest.NewBatch(narrow, []runtime.Value{runtime.IntValue(1)}), &d); err == nil || !strings.Contains(err.Error(), "1 columns, schema 3") {
		t.Fatalf("narrow batch: %v", err)
	}
}

// TestRegularMaxGroups checks the key limit.
func TestRegularMaxGroups(t *testing.T) {
	s := regSpec(RegularLeft, 0)
	s.MaxGroups = 2
	newOp, _, err := NewRegular(s)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	if err := op.Open(nil); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var d rttest.Discard
	if err := op.ProcessBatch(0, regBatch(regLeft, ins(regL(1, 1, "x")), ins(regL(2, 1, "x"))), &d); err != nil {
		t.Fatal(err)
	}
	err = op.ProcessBatch(1, regBatch(regRight, ins(regR("x", 3, 1))), &d)
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "3 keys") {
		t.Fatalf("third key: %v, want the state limit", err)
	}
}

// TestRegularTTL checks that a key side not written for the TTL is
// dropped, in processing time, and that a LEFT join then emits new left
// rows null-padded.
func TestRegularTTL(t *testing.T) {
	var now int64 = 1_000
	s := regSpec(RegularLeft, 0)
	s.TTL = 100 * time.Millisecond
	s.Clock = func() int64 { return now }
	newOp, out, err := NewRegular(s)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp().(*regJoin)
	if d := op.Describe(); !strings.Contains(d, "regular LEFT OUTER join on (k) = (k)") || !strings.Contains(d, "TTL 100ms") {
		t.Fatalf("Describe: %q", d)
	}
	op.compactRows, op.compactKeys = 1, 1
	ctx := rttest.NewContext("join", 0, 1)
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	got, _ := rttest.NewCollector(out)
	step := func(side int, c regChange, want ...string) {
		t.Helper()
		got.Reset()
		if err := op.ProcessBatch(side, regBatch([]*runtime.Schema{regLeft, regRight}[side], c), got); err != nil {
			t.Fatal(err)
		}
		if g := got.Changelog(); !slices.Equal(g, want) {
			t.Fatalf("at %d ms, after %s%v: got %q, want %q", now, c.kind, c.row, g, want)
		}
	}
	step(1, ins(regR("r", 1, 1)))
	now += 60
	step(0, ins(regL(1, 1, "l")), "+I1,1,l,r,1,1")
	now += 60 // the right side of key 1 was written 120 ms ago: expired
	step(0, ins(regL(1, 2, "m")), "+I1,2,m,NULL,NULL,NULL")
	step(1, del(regR("r", 1, 1))) // expired: ignored
	if op.ignored != 1 {
		t.Fatalf("%d retractions ignored, want 1", op.ignored)
	}
	step(1, ins(regR("q", 2, 1)))
	if n := ctx.Metrics.StateKeys(); n != 2 {
		t.Fatalf("%d keys, want 2", n)
	}
	now += 200 // everything expired; the purge timer frees it
	if err := op.OnProcessingTime(now, got); err != nil {
		t.Fatal(err)
	}
	if op.keys.live != 0 || op.sides[0].rows.live != 0 || op.sides[1].rows.live != 0 {
		t.Fatalf("after the TTL: %d keys, %d left and %d right rows", op.keys.live, op.sides[0].rows.live, op.sides[1].rows.live)
	}
	if n := ctx.Metrics.StateKeys(); n != 0 {
		t.Fatalf("state keys metric %d after the purge", n)
	}
	if n := len(op.sides[0].rows.hash) + len(op.sides[1].rows.hash) + len(op.keys.entries); n != 0 {
		t.Fatalf("%d row and key ids still taken after the purge", n)
	}
	step(0, ins(regL(2, 1, "l")), "+I2,1,l,NULL,NULL,NULL")
}

// regScenario is a random pair of changelogs.
type regScenario struct {
	typ      RegularType
	residual int // index into regResiduals
	changes  [2][]regChange
	parts    [2][][]regChange // changes by source partition (key % regParts)
	ignored  int              // retractions of rows not held
}

const regParts = 3

// drawRegScenario draws changelogs for both sides: inserts of rows from a
// small domain (so duplicates are common), -D and -U/+U retractions of
// rows held, and retractions of rows not held (to be ignored).
func drawRegScenario(t *rapid.T) regScenario {
	sc := regScenario{
		typ:      rapid.SampledFrom(regTypes).Draw(t, "type"),
		residual: rapid.IntRange(0, len(regResiduals)-1).Draw(t, "residual"),
	}
	nkeys := rapid.IntRange(1, 5).Draw(t, "keys")
	for side := range 2 {
		n := rapid.IntRange(0, 60).Draw(t, "changes")
		var held [][]runtime.Value
		drawRow := func(k any) []runtime.Value {
			if k == -1 {
				k = nil
				if rapid.IntRange(0, 9).Draw(t, "nullkey") > 0 {
					k = rapid.IntRange(0, nkeys-1).Draw(t, "k")
				}
			}
			var v any
			if rapid.IntRange(0, 9).Draw(t, "nullv") > 0 {
				v = rapid.IntRange(0, 4).Draw(t, "v")
			}
			s := rapid.SampledFrom([]string{"x", "y"}).Draw(t, "s")
			if side == 0 {
				return regL(k, v, s)
			}
			return regR(s, k, v)
		}
		keyOf := func(row []runtime.Value) runtime.Value { return row[side] } // k is column 0 left, 1 right
		for range n {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 3 && len(held) > 0:
				i := rapid.IntRange(0, len(held)-1).Draw(t, "victim")
				row := held[i]
				held = slices.Delete(held, i, i+1)
				if rapid.Bool().Draw(t, "update") {
					sc.changes[side] = append(sc.changes[side], ub(row))
					var k any
					if kv := keyOf(row); !kv.Null {
						k = int(kv.I)
					}
					nr := drawRow(k)
					held = append(held, nr)
					sc.changes[side] = append(sc.changes[side], ua(nr))
				} else {
					sc.changes[side] = append(sc.changes[side], del(row))
				}
			case op == 3:
				// A retraction of a row not held (with a key: NULL-key
				// rows are passed through unchecked).
				row := drawRow(rapid.IntRange(0, nkeys-1).Draw(t, "k"))
				if !slices.ContainsFunc(held, func(h []runtime.Value) bool { return regFormat(h) == regFormat(row) }) {
					sc.changes[side] = append(sc.changes[side], del(row))
					sc.ignored++
				}
			default:
				row := drawRow(-1)
				held = append(held, row)
				sc.changes[side] = append(sc.changes[side], ins(row))
			}
		}
		sc.parts[side] = make([][]regChange, regParts)
		for _, c := range sc.changes[side] {
			p := 0
			if k := keyOf(c.row); !k.Null {
				p = int(k.I) % regParts
			}
			sc.parts[side][p] = append(sc.parts[side][p], c)
		}
	}
	return sc
}

// finalRows returns the rows a changelog leaves (held rows only).
func finalRows(changes []regChange) [][]runtime.Value {
	var held [][]runtime.Value
	for _, c := range changes {
		if c.kind == runtime.Insert || c.kind == runtime.UpdateAfter {
			held = append(held, c.row)
			continue
		}
		if i := slices.IndexFunc(held, func(h []runtime.Value) bool { return regFormat(h) == regFormat(c.row) }); i >= 0 {
			held = slices.Delete(held, i, i+1)
		}
	}
	return held
}

// regOracle asks sqlite3 for the join of the final states.
func regOracle(t regTB, sqlite string, sc regScenario) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("CREATE TABLE l(k INTEGER, a INTEGER, s TEXT);\nCREATE TABLE r(s TEXT, k INTEGER, b INTEGER);\n")
	sqlVal := func(v runtime.Value) string {
		if v.Null {
			return "NULL"
		}
		if v.Type == runtime.Varchar {
			return "'" + v.S + "'"
		}
		return v.String()
	}
	for side, table := range []string{"l", "r"} {
		for _, row := range finalRows(sc.changes[side]) {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = sqlVal(v)
			}
			fmt.Fprintf(&b, "INSERT INTO %s VALUES (%s);\n", table, strings.Join(vals, ", "))
		}
	}
	on := "l.k = r.k" + regResidualSQL[sc.residual]
	kw := [...]string{"INNER", "LEFT", "RIGHT", "FULL"}[sc.typ]
	fmt.Fprintf(&b, "SELECT l.k, l.a, l.s, r.s, r.k, r.b FROM l %s JOIN r ON %s;\n", kw, on)
	cmd := exec.Command(sqlite, "-bail", "-csv", "-nullvalue", "NULL", ":memory:")
	cmd.Stdin = strings.NewReader(b.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outText, err := cmd.Output()
	if err != nil {
		t.Fatalf("sqlite3: %v: %s", err, stderr.String())
	}
	recs, err := csv.NewReader(bytes.NewReader(outText)).ReadAll()
	if err != nil {
		t.Fatalf("sqlite3's CSV: %v", err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = strings.Join(r, "|")
	}
	slices.Sort(out)
	return out
}

// regNeedSQLite returns the path of sqlite3, or skips the test (loudly)
// when it is not installed; with SLUICE_REQUIRE_TOOLS=1 it fails instead.
func regNeedSQLite(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		const msg = "sqlite3 not installed: apt-get install -y sqlite3"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		t.Skip("SKIPPING THE DIFFERENTIAL TEST AGAINST SQLITE: " + msg)
	}
	return path
}

// regKinds turns the trailing op column of its input (the RowKind) into
// the batch's kinds and drops it: a source of updating rows for tests.
type regKinds struct {
	runtime.Base
	out *runtime.Schema
	ob  *runtime.Batch
}

func (k *regKinds) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	if k.ob == nil {
		k.ob = runtime.NewBatch(k.out)
	}
	ob := k.ob
	ob.Reset()
	op := len(b.Cols) - 1
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		for c := 0; c < op; c++ {
			ob.Cols[c].AppendFrom(&b.Cols[c], r)
		}
		ob.SetKind(ob.N, runtime.RowKind(b.Cols[op].I64[r]))
		ob.N++
	}
	return out.Emit(ob)
}

func (k *regKinds) Close() error {
	if k.ob != nil {
		k.ob.Release()
		k.ob = nil
	}
	return nil
}

// withOp returns s with a trailing BIGINT column op.
func withOp(s *runtime.Schema) *runtime.Schema {
	return runtime.NewSchema(append(slices.Clone(s.Fields), runtime.Field{Name: "op", Type: runtime.BigInt})...)
}

// regRun runs the join of sc in a job: each side's changes from a source of
// regParts partitions read by srcPar subtasks, keyed into joinPar join
// subtasks; it returns the final state of the output changelog.
func regRun(t regTB, sc regScenario, srcPar, joinPar, chunk int) []string {
	t.Helper()
	spec := regSpec(sc.typ, sc.residual)
	newOp, out, err := NewRegular(spec)
	if err != nil {
		t.Fatalf("NewRegular: %v", err)
	}
	g := runtime.NewGraph("regular-join-test")
	var ins [2]runtime.NodeID
	for side, name := range []string{"left", "right"} {
		s := spec.schema(side)
		src := withOp(s)
		parts := make([][][]runtime.Value, regParts)
		for p, cs := range sc.parts[side] {
			for _, c := range cs {
				parts[p] = append(parts[p], append(slices.Clone(c.row), runtime.IntValue(int64(c.kind))))
			}
		}
		n := g.AddSource(name, src, srcPar, rttest.Source(src, rttest.Split(parts, chunk)), runtime.NoWatermarks)
		k := g.AddOperator(name+"-kinds", s, srcPar, 1, func() runtime.Operator { return &regKinds{out: s} })
		g.Connect(n, k, runtime.Forward)
		ins[side] = k
	}
	jn := g.AddOperator("join", out, joinPar, 2, newOp)
	got, newSink := rttest.NewCollector(out)
	sink := g.AddOperator("sink", out, 1, 1, newSink)
	g.ConnectPort(ins[0], 0, jn, 0, runtime.Keyed, spec.LeftKeys...)
	g.ConnectPort(ins[1], 0, jn, 1, runtime.Keyed, spec.RightKeys...)
	g.Connect(jn, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	set := metrics.NewSet()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: joinPar, BufferRows: 64, Metrics: set}); err != nil {
		t.Fatalf("run: %v", err)
	}
	if n, _ := rttest.Metric(set, "sluice_join_retractions_ignored_total", "join"); int(n) != sc.ignored {
		t.Fatalf("%v retractions counted as ignored, want %d", n, sc.ignored)
	}
	return regApply(t, got.Kinds(), got.Rows())
}

// TestRegularJoinMatchesSQLite compares the final state of the join's
// changelog, run as a job at parallelism 1 and 3, with sqlite3's join of
// the inputs' final states: all four join types, with and without a
// residual, NULL keys and values, duplicates, updates, deletions and
// retractions of rows never added.
func TestRegularJoinMatchesSQLite(t *testing.T) {
	sqlite := regNeedSQLite(t)
	rapid.Check(t, func(rt *rapid.T) {
		sc := drawRegScenario(rt)
		joinPar := rapid.SampledFrom([]int{1, 3}).Draw(rt, "joinPar")
		srcPar := rapid.IntRange(1, 2).Draw(rt, "srcPar")
		chunk := rapid.IntRange(1, 8).Draw(rt, "chunk")
		want := regOracle(rt, sqlite, sc)
		got := regRun(rt, sc, srcPar, joinPar, chunk)
		if !slices.Equal(got, want) {
			rt.Fatalf("%s join (residual %d) at parallelism %d: got %d rows, want %d\ngot:\n  %s\nwant:\n  %s",
				sc.typ, sc.residual, joinPar, len(got), len(want), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	})
}

// regReference is the join of the final states computed by a nested loop:
// the independent reference of the direct-drive tests.
func regReference(sc regScenario) []string {
	left, right := finalRows(sc.changes[0]), finalRows(sc.changes[1])
	nullL, nullR := regL(nil, nil, ""), regR("", nil, nil)
	nullL[2], nullR[0] = runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Varchar)
	matches := func(l, r []runtime.Value) bool {
		if l[0].Null || r[1].Null || l[0].I != r[1].I {
			return false
		}
		a, b := l[1], r[2]
		switch sc.residual {
		case 1:
			return !a.Null && !b.Null && a.I <= b.I
		case 2:
			return !a.Null && !b.Null && a.I <= b.I && b.I <= a.I+2
		}
		return true
	}
	var out []string
	rightMatched := make([]bool, len(right))
	for _, l := range left {
		found := false
		for j, r := range right {
			if matches(l, r) {
				found, rightMatched[j] = true, true
				out = append(out, regFormat(append(slices.Clone(l), r...)))
			}
		}
		if !found && sc.typ.outer(0) {
			out = append(out, regFormat(append(slices.Clone(l), nullR...)))
		}
	}
	if sc.typ.outer(1) {
		for j, r := range right {
			if !rightMatched[j] {
				out = append(out, regFormat(append(slices.Clone(nullL), r...)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// drawRegInterleaving merges the two changelogs in a random order (each
// side's order kept) into batches of random sizes.
func drawRegInterleaving(t *rapid.T, sc regScenario) []regEvent {
	var events []regEvent
	i := [2]int{}
	for i[0] < len(sc.changes[0]) || i[1] < len(sc.changes[1]) {
		side := rapid.IntRange(0, 1).Draw(t, "side")
		if i[side] == len(sc.changes[side]) {
			side = 1 - side
		}
		n := min(rapid.IntRange(1, 6).Draw(t, "batch"), len(sc.changes[side])-i[side])
		events = append(events, regEvent{side, sc.changes[side][i[side] : i[side]+n], rapid.IntRange(0, 3).Draw(t, "hidden") == 0})
		i[side] += n
	}
	return events
}

// TestRegularJoinInterleavings drives one subtask directly with random
// interleavings and batchings of both changelogs and compares the final
// state of its output with a nested-loop join of the inputs' final states.
func TestRegularJoinInterleavings(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sc := drawRegScenario(rt)
		events := drawRegInterleaving(rt, sc)
		// Small segments and output batches, to cross their boundaries.
		segLimit := rapid.SampledFrom([]int{1, 2, 3, runtime.DefaultBatchRows}).Draw(rt, "segLimit")
		flushAt := rapid.SampledFrom([]int{1, 2, 3, runtime.DefaultBatchRows}).Draw(rt, "flushAt")
		// Compacting the row and key ids after (nearly) every batch.
		compactAt := rapid.SampledFrom([]int{1, 2, minCompactRows}).Draw(rt, "compactAt")
		got := regDrive(rt, regSpec(sc.typ, sc.residual), events, func(o *regJoin) {
			o.segLimit, o.flushAt = segLimit, flushAt
			o.compactRows, o.compactKeys = compactAt, compactAt
		})
		final := regApply(rt, got.Kinds(), got.Rows())
		if want := regReference(sc); !slices.Equal(final, want) {
			var evs []string
			for _, ev := range events {
				for _, c := range ev.changes {
					evs = append(evs, fmt.Sprintf("%d %s%s", ev.side, c.kind, regFormat(c.row)))
				}
				evs = append(evs, "--")
			}
			rt.Fatalf("%s join (residual %d): got %d rows, want %d\ngot:\n  %s\nwant:\n  %s\ninput:\n  %s\noutput:\n  %s",
				sc.typ, sc.residual, len(final), len(want), strings.Join(final, "\n  "), strings.Join(want, "\n  "),
				strings.Join(evs, "\n  "), strings.Join(got.Changelog(), "\n  "))
		}
	})
}

// TestRegularDoubleKeys checks DOUBLE keys: NaN matches nothing (and is
// passed through null-padded by a FULL join), -0.0 matches 0.0, and a row
// holding a NaN value is still found by its retraction.
func TestRegularDoubleKeys(t *testing.T) {
	ls := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.Double}, runtime.Field{Name: "v", Type: runtime.Double})
	rs := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.Double})
	spec := RegularSpec{Left: ls, Right: rs, LeftKeys: []int{0}, RightKeys: []int{0}, Type: RegularFull}
	nan := runtime.FloatValue(math.NaN())
	zero, negZero := runtime.FloatValue(0), runtime.FloatValue(math.Copysign(0, -1))
	got := regDrive(t, spec, []regEvent{
		{side: 0, changes: []regChange{ins([]runtime.Value{nan, zero}), ins([]runtime.Value{zero, nan})}},
		{side: 1, changes: []regChange{ins([]runtime.Value{nan}), ins([]runtime.Value{negZero})}},
		{side: 0, changes: []regChange{del([]runtime.Value{zero, nan}), del([]runtime.Value{nan, zero})}},
	})
	want := []string{
		"+INaN,0.0,NULL", "+I0.0,NaN,NULL",
		"+INULL,NULL,NaN", "-D0.0,NaN,NULL", "+I0.0,NaN,-0.0",
		"-D0.0,NaN,-0.0", "+INULL,NULL,-0.0", "-DNaN,0.0,NULL",
	}
	if g := got.Changelog(); !slices.Equal(g, want) {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestRegularResidualError checks that a join condition failing on a row
// (an integer overflow) fails the batch with an error naming the
// condition, without a panic.
func TestRegularResidualError(t *testing.T) {
	s := regSpec(RegularInner, 0)
	s.Residual = expr.Gt(expr.Mul(expr.ColIndex(1), expr.Int(math.MaxInt64)), expr.ColIndex(5))
	newOp, _, err := NewRegular(s)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	if err := op.Open(nil); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var d rttest.Discard
	if err := op.ProcessBatch(0, regBatch(regLeft, ins(regL(1, 2, "x"))), &d); err != nil {
		t.Fatal(err)
	}
	err = op.ProcessBatch(1, regBatch(regRight, ins(regR("r", 1, 1))), &d)
	var ov *expr.OverflowError
	if !errors.As(err, &ov) || !strings.Contains(err.Error(), "regular join condition") {
		t.Fatalf("got %v, want an overflow error naming the join condition", err)
	}
}

// regWatch wraps a join subtask to read its state from the test.
type regWatch struct {
	*regJoin
	keys *atomic.Int64
}

func (w regWatch) ProcessBatch(input int, b *runtime.Batch, out runtime.Output) error {
	err := w.regJoin.ProcessBatch(input, b, out)
	w.keys.Store(int64(w.regJoin.keys.live))
	return err
}

func (w regWatch) OnProcessingTime(now int64, out runtime.Output) error {
	err := w.regJoin.OnProcessingTime(now, out)
	w.keys.Store(int64(w.regJoin.keys.live))
	return err
}

// TestRegularTTLPurgesInAJob checks that in a running job the TTL frees
// the state of idle keys by itself, through processing-time timers, while
// no rows arrive.
func TestRegularTTLPurgesInAJob(t *testing.T) {
	s := regSpec(RegularInner, 0)
	s.TTL = 20 * time.Millisecond
	newOp, out, err := NewRegular(s)
	if err != nil {
		t.Fatal(err)
	}
	var keys atomic.Int64
	keys.Store(-1)
	purged := func() bool { return keys.Load() == 0 }
	var rows [][]runtime.Value
	for k := range 50 {
		rows = append(rows, regL(k, k, "x"))
	}
	g := runtime.NewGraph("regular-join-ttl")
	l := g.AddSource("left", regLeft, 1, rttest.Source(regLeft, rttest.Deal(rows, 10, 1), rttest.Hold(purged, 10*time.Second)), runtime.NoWatermarks)
	r := g.AddSource("right", regRight, 1, rttest.Source(regRight, nil, rttest.Hold(purged, 10*time.Second)), runtime.NoWatermarks)
	jn := g.AddOperator("join", out, 1, 2, func() runtime.Operator { return regWatch{newOp().(*regJoin), &keys} })
	_, newSink := rttest.NewCollector(out)
	sink := g.AddOperator("sink", out, 1, 1, newSink)
	g.ConnectPort(l, 0, jn, 0, runtime.Keyed, s.LeftKeys...)
	g.ConnectPort(r, 0, jn, 1, runtime.Keyed, s.RightKeys...)
	g.Connect(jn, sink, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet()}); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !purged() {
		t.Fatalf("after %v the join still holds %d keys (TTL %v)", time.Since(start), keys.Load(), s.TTL)
	}
}

// TestRegularTTLAfterCompaction checks that a key renumbered by a
// compaction keeps its own TTL time.
func TestRegularTTLAfterCompaction(t *testing.T) {
	var now int64
	s := regSpec(RegularInner, 0)
	s.TTL = 100 * time.Millisecond
	s.Clock = func() int64 { return now }
	newOp, out, err := NewRegular(s)
	if err != nil {
		t.Fatal(err)
	}
	op := newOp().(*regJoin)
	op.compactRows, op.compactKeys = 1, 1
	if err := op.Open(nil); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	got, _ := rttest.NewCollector(out)
	step := func(side int, cs ...regChange) {
		t.Helper()
		if err := op.ProcessBatch(side, regBatch([]*runtime.Schema{regLeft, regRight}[side], cs...), got); err != nil {
			t.Fatal(err)
		}
	}
	step(0, ins(regL(1, 1, "a")), ins(regL(2, 1, "b"))) // keys 1 and 2 at 0 ms
	now = 10
	step(0, ins(regL(3, 1, "c"))) // key 3 at 10 ms
	now = 80
	step(0, del(regL(1, 1, "a")), del(regL(2, 1, "b"))) // keys 1 and 2 go; key 3 is renumbered
	if len(op.keys.entries) != 1 {
		t.Fatalf("%d key ids after the compaction, want 1", len(op.keys.entries))
	}
	now = 111 // key 3's left side, written at 10 ms, has expired
	step(1, ins(regR("r", 3, 1)))
	if g := got.Changelog(); len(g) != 0 {
		t.Fatalf("an expired row joined: %q", g)
	}
}

// TestRegularRowsGrowByDoubling: a side's stored rows are copied about
// once as it grows (its columns double), not about four times as append
// grows large slices by a quarter; the values survive the moves.
func TestRegularRowsGrowByDoubling(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt}, runtime.Field{Name: "s", Type: runtime.Varchar})
	b := runtime.NewBatch(s)
	defer b.Release()
	b.Reset()
	b.AppendValues(runtime.IntValue(7), runtime.StringValue("x"))
	kt := newKeyTable([]runtime.Type{runtime.BigInt})
	k := kt.insert(1, b, []int{0}, 0)
	rs := newRegRows(s, false)
	const n = 100_000
	moves, last := 0, -1
	for i := range n {
		b.Cols[0].I64[0] = int64(i)
		rs.add(&kt, 0, k, uint64(i), b, 0, 1, 0)
		if c := cap(rs.cols[1].Str); c != last {
			moves, last = moves+1, c
		}
	}
	if moves > 12 {
		t.Fatalf("the columns moved %d times over %d rows, want at most 12 (doubling)", moves, n)
	}
	for i := range n {
		if rs.cols[0].I64[i] != int64(i) || rs.cols[1].Str[i] != "x" || rs.hash[i] != uint64(i) {
			t.Fatalf("row %d: %d %q hash %d", i, rs.cols[0].I64[i], rs.cols[1].Str[i], rs.hash[i])
		}
	}
}

// TestRegularInnerSideIndexedOnFirstRetraction: an inner side that has seen
// only additions keeps no hash table over its rows (equal rows are separate
// entries, nothing hashed per row); the first retraction builds it, merging
// equal rows into one entry of several copies, and retracts one copy. The
// changelog is the join's all along.
func TestRegularInnerSideIndexedOnFirstRetraction(t *testing.T) {
	newOp, out, err := NewRegular(regSpec(RegularInner, 0))
	if err != nil {
		t.Fatal(err)
	}
	op := newOp().(*regJoin)
	if err := op.Open(rttest.NewContext("join", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	got, _ := rttest.NewCollector(out)
	step := func(side int, c regChange, want ...string) {
		t.Helper()
		got.Reset()
		if err := op.ProcessBatch(side, regBatch([]*runtime.Schema{regLeft, regRight}[side], c), got); err != nil {
			t.Fatal(err)
		}
		if g := got.Changelog(); !slices.Equal(g, want) {
			t.Fatalf("after %s%v: got %q, want %q", c.kind, c.row, g, want)
		}
	}
	left := &op.sides[0].rows
	step(0, ins(regL(1, 5, "l")))
	step(0, ins(regL(1, 5, "l")))
	for i := range 200 {
		step(0, ins(regL(2, i, "m")))
	}
	if !left.unindexed || left.live != 202 || left.copies != 202 || len(left.slots) != minSlots {
		t.Fatalf("append-only side: unindexed %v, %d entries, %d copies, %d slots; want unindexed, 202, 202, %d", left.unindexed, left.live, left.copies, len(left.slots), minSlots)
	}
	step(1, ins(regR("r", 1, 7)), "+I1,5,l,r,1,7", "+I1,5,l,r,1,7")
	step(0, del(regL(1, 5, "l")), "-D1,5,l,r,1,7")
	if left.unindexed || left.live != 201 || left.copies != 201 {
		t.Fatalf("after a retraction: unindexed %v, %d entries, %d copies; want indexed, 201, 201", left.unindexed, left.live, left.copies)
	}
	step(0, ins(regL(1, 5, "l")), "+I1,5,l,r,1,7")
	if left.live != 201 || left.copies != 202 {
		t.Fatalf("an equal row added once indexed: %d entries, %d copies; want 201, 202", left.live, left.copies)
	}
	step(0, del(regL(1, 5, "l")), "-D1,5,l,r,1,7")
	step(0, del(regL(1, 5, "l")), "-D1,5,l,r,1,7")
	step(0, del(regL(1, 5, "l"))) // none left: ignored
	step(1, ins(regR("r", 2, 9)), collectM(200)...)
}

func collectM(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("+I2,%d,m,r,2,9", i))
	}
	return out
}
