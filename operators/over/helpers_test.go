package over

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// in is the input of the tests: a nullable partition key, the event time,
// and nullable values of each type.
var in = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
)

// allAggs are every aggregate the operator computes, over every type; sql
// is each one as sqlite3 writes it.
var allAggs = []struct {
	spec agg.Spec
	sql  string
}{
	{agg.Spec{Func: agg.Count, Col: -1, Name: "n"}, "count(*)"},
	{agg.Spec{Func: agg.Count, Col: 2, Name: "nv"}, "count(v)"},
	{agg.Spec{Func: agg.Sum, Col: 2, Name: "sv"}, "sum(v)"},
	// AVG of a BIGINT is a BIGINT truncated toward zero; sqlite3's avg is
	// REAL, but its integer division truncates toward zero (the OVER w
	// after count(v) is appended with the others').
	{agg.Spec{Func: agg.Avg, Col: 2, Name: "av"}, "sum(v) OVER w / count(v)"},
	{agg.Spec{Func: agg.Min, Col: 2, Name: "minv"}, "min(v)"},
	{agg.Spec{Func: agg.Max, Col: 2, Name: "maxv"}, "max(v)"},
	{agg.Spec{Func: agg.Sum, Col: 3, Name: "sd"}, "sum(d)"},
	{agg.Spec{Func: agg.Avg, Col: 3, Name: "ad"}, "avg(d)"},
	{agg.Spec{Func: agg.Min, Col: 3, Name: "mind"}, "min(d)"},
	{agg.Spec{Func: agg.Max, Col: 3, Name: "maxd"}, "max(d)"},
	{agg.Spec{Func: agg.Min, Col: 4, Name: "mins"}, "min(s)"},
	{agg.Spec{Func: agg.Max, Col: 4, Name: "maxs"}, "max(s)"},
	{agg.Spec{Func: agg.Count, Col: 4, Name: "ns"}, "count(s)"},
	{agg.Spec{Func: agg.Min, Col: 1, Name: "mints"}, "min(ts)"},
}

func specs() []agg.Spec {
	var out []agg.Spec
	for _, a := range allAggs {
		out = append(out, a.spec)
	}
	return out
}

var null = runtime.Value{Null: true}

func row(k, ts, v int64) []runtime.Value {
	return []runtime.Value{runtime.IntValue(k), runtime.TimeValue(ts), runtime.IntValue(v), null, null}
}

// norm prints a value of type t for comparing with sqlite3's text: NULL,
// integers as they are, doubles to 12 significant digits.
func norm(t runtime.Type, v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	switch t.Physical() {
	case runtime.PhysFloat:
		return strconv.FormatFloat(v.F, 'g', 12, 64)
	case runtime.PhysString:
		return strconv.Quote(v.S)
	}
	return strconv.FormatInt(v.I, 10)
}

// fmtRows prints rows of schema s with norm, one line each, sorted.
func fmtRows(s *runtime.Schema, rows [][]runtime.Value) []string {
	var out []string
	for _, r := range rows {
		var f []string
		for c, v := range r {
			f = append(f, norm(s.Fields[c].Type, v))
		}
		out = append(out, strings.Join(f, "|"))
	}
	slices.Sort(out)
	return out
}

// needSQLite returns the path of sqlite3, or skips the test when it is not
// installed (fails with SLUICE_REQUIRE_TOOLS=1).
func needSQLite(t tb) string {
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

// sqlFrame is f in sqlite3's words, ordered by ts (then seq, the arrival
// order, for ROWS).
func sqlFrame(f Frame, partitioned bool) string {
	var b strings.Builder
	if partitioned {
		b.WriteString("PARTITION BY k ")
	}
	if f.Rows {
		b.WriteString("ORDER BY ts, seq ROWS BETWEEN ")
	} else {
		b.WriteString("ORDER BY ts RANGE BETWEEN ")
	}
	if f.Unbounded {
		b.WriteString("UNBOUNDED")
	} else {
		fmt.Fprintf(&b, "%d", f.Preceding)
	}
	b.WriteString(" PRECEDING AND CURRENT ROW")
	return b.String()
}

func sqlValue(v runtime.Value) string {
	switch {
	case v.Null:
		return "NULL"
	case v.Type == runtime.Double:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case v.Type == runtime.Varchar:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	}
	return strconv.FormatInt(v.I, 10)
}

// sqliteOver computes the OVER aggregation of rows (seq: their arrival
// order) with sqlite3, printed like fmtRows for the output schema out.
func sqliteOver(t tb, sqlite string, rows [][]runtime.Value, seq []int, f Frame, partitioned bool, out *runtime.Schema) []string {
	t.Helper()
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE t(seq INTEGER, k INTEGER, ts INTEGER, v INTEGER, d REAL, s TEXT);\n")
	for i, r := range rows {
		if i%200 == 0 {
			if i > 0 {
				b.WriteString(";\n")
			}
			b.WriteString("INSERT INTO t VALUES ")
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "(%d", seq[i])
		for _, v := range r {
			b.WriteString("," + sqlValue(v))
		}
		b.WriteString(")")
	}
	b.WriteString(";\n.nullvalue NULL\n.separator \x1f\nSELECT k, ts, v, d, s")
	for _, a := range allAggs {
		b.WriteString(", " + a.sql + " OVER w")
	}
	fmt.Fprintf(&b, " FROM t WINDOW w AS (%s);\n", sqlFrame(f, partitioned))
	cmd := exec.Command(sqlite, "-batch", ":memory:")
	cmd.Stdin = strings.NewReader(b.String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("sqlite3: %v: %s", err, stderr.String())
	}
	var res []string
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		fields := strings.Split(line, "\x1f")
		if len(fields) != out.Len() {
			t.Fatalf("sqlite3 row %q: %d columns, want %d", line, len(fields), out.Len())
		}
		for c, x := range fields {
			if x == "NULL" {
				continue
			}
			switch out.Fields[c].Type.Physical() {
			case runtime.PhysFloat:
				fv, err := strconv.ParseFloat(x, 64)
				if err != nil {
					t.Fatalf("sqlite3 row %q column %d: %v", line, c, err)
				}
				fields[c] = strconv.FormatFloat(fv, 'g', 12, 64)
			case runtime.PhysString:
				fields[c] = strconv.Quote(x)
			}
		}
		res = append(res, strings.Join(fields, "|"))
	}
	slices.Sort(res)
	return res
}

// diff shows the first differences of two sorted lists.
func diff(got, want []string) string {
	var b strings.Builder
	i, j, n := 0, 0, 0
	for (i < len(got) || j < len(want)) && n < 12 {
		switch {
		case j >= len(want) || i < len(got) && got[i] < want[j]:
			fmt.Fprintf(&b, "+ %s\n", got[i])
			i++
			n++
		case i >= len(got) || got[i] > want[j]:
			fmt.Fprintf(&b, "- %s\n", want[j])
			j++
			n++
		default:
			i++
			j++
		}
	}
	return b.String()
}

// harness drives one operator directly, the way a subtask does.
type harness struct {
	t   tb
	op  runtime.Operator
	mk  func() runtime.Operator
	ctx *runtime.Context
	out *rttest.Collector
}

func newHarness(t tb, spec Spec) *harness {
	t.Helper()
	mk, out, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, mk: mk}
	h.out, _ = rttest.NewCollector(out)
	h.open()
	t.Cleanup(func() { h.op.Close() })
	return h
}

func (h *harness) open() {
	h.op = h.mk()
	h.ctx = rttest.NewContext("over", 0, 1)
	h.ctx.SetLogger(slog.New(slog.DiscardHandler))
	if err := h.op.Open(h.ctx); err != nil {
		h.t.Fatalf("Open: %v", err)
	}
}

func (h *harness) batch(rows ...[]runtime.Value) {
	h.t.Helper()
	if err := h.op.ProcessBatch(0, rttest.NewBatch(in, rows...), h.out); err != nil {
		h.t.Fatalf("ProcessBatch: %v", err)
	}
}

func (h *harness) watermark(wm int64) {
	h.t.Helper()
	if err := h.op.ProcessWatermark(wm, h.out); err != nil {
		h.t.Fatalf("ProcessWatermark(%d): %v", wm, err)
	}
}

// restart snapshots the operator, closes it and restores a new one.
func (h *harness) restart() {
	h.t.Helper()
	data, err := h.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		h.t.Fatalf("SnapshotState: %v", err)
	}
	h.op.Close()
	dropped := h.ctx.Metrics.LateRowsDropped.Get()
	h.open()
	h.ctx.Metrics.LateRowsDropped.Set(dropped)
	if err := h.op.(runtime.Snapshotter).RestoreState(data); err != nil {
		h.t.Fatalf("RestoreState: %v", err)
	}
}

func (h *harness) strings() []string { return h.out.Changelog() }

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}
