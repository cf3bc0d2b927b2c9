package rank

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// needSQLite returns the path of sqlite3, or skips the test when it is not
// installed (fails with SLUICE_REQUIRE_TOOLS=1).
func needSQLite(t *testing.T) string {
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

// sqlValue writes v as a SQL literal (times as epoch milliseconds).
func sqlValue(v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case runtime.PhysString:
		return "'" + strings.ReplaceAll(v.S, "'", "''") + "'"
	}
	return strconv.FormatInt(v.I, 10)
}

// fmtRow formats a row as sqlite3 prints it with separator '|' and
// nullvalue NULL: integers (times too) in decimal, strings as they are.
func fmtRow(row []runtime.Value) string {
	var b strings.Builder
	for i, v := range row {
		if i > 0 {
			b.WriteByte('|')
		}
		switch {
		case v.Null:
			b.WriteString("NULL")
		case v.Type.Physical() == runtime.PhysString:
			b.WriteString(v.S)
		default:
			b.WriteString(strconv.FormatInt(v.I, 10))
		}
	}
	return b.String()
}

// sqliteRows loads rows (each followed by its arrival number, column seq)
// into table t(cols…, seq) and returns the sorted result of query.
func sqliteRows(t tb, sqlite string, s *runtime.Schema, rows [][]runtime.Value, seqs []int, query string) []string {
	t.Helper()
	var sb strings.Builder
	var cols []string
	for _, f := range s.Fields {
		cols = append(cols, f.Name)
	}
	fmt.Fprintf(&sb, "CREATE TABLE t(%s, seq INTEGER);\n", strings.Join(cols, ", "))
	for i, r := range rows {
		var vals []string
		for _, v := range r {
			vals = append(vals, sqlValue(v))
		}
		fmt.Fprintf(&sb, "INSERT INTO t VALUES (%s, %d);\n", strings.Join(vals, ", "), seqs[i])
	}
	sb.WriteString(".nullvalue NULL\n.separator |\n")
	sb.WriteString(query + ";\n")
	cmd := exec.Command(sqlite, ":memory:")
	cmd.Stdin = strings.NewReader(sb.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3: %v\n%s\nquery: %s", err, out, query)
	}
	var res []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			res = append(res, l)
		}
	}
	slices.Sort(res)
	return res
}

// orderSQL writes sort keys as an ORDER BY list.
func orderSQL(s *runtime.Schema, order []SortKey) string {
	var parts []string
	for _, k := range order {
		p := s.Fields[k.Col].Name
		if k.Desc {
			p += " DESC"
		}
		if k.NullsFirst {
			p += " NULLS FIRST"
		} else {
			p += " NULLS LAST"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// applyChangelog applies rows with their kinds to a multiset and returns
// its sorted contents; it fails on a retraction of a row not held.
func applyChangelog(t tb, rows [][]runtime.Value, kinds []runtime.RowKind) []string {
	t.Helper()
	held := map[string]int{}
	for i, r := range rows {
		k := fmtRow(r)
		switch kinds[i] {
		case runtime.Insert, runtime.UpdateAfter:
			held[k]++
		default:
			if held[k] == 0 {
				t.Fatalf("changelog row %d retracts %s (%s), which it does not hold", i, k, kinds[i])
			}
			held[k]--
		}
	}
	var out []string
	for k, n := range held {
		for range n {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// diff shows two sorted lists side by side, marking where they differ.
func diff(got, want []string) string {
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "-", "-"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "!="
		}
		fmt.Fprintf(&b, "%s got %-30s want %s\n", mark, g, w)
	}
	return b.String()
}

// change is one batch of a changelog: rows with their kinds.
type change struct {
	rows  [][]runtime.Value
	kinds []runtime.RowKind
}

func (c change) batch(s *runtime.Schema) *runtime.Batch {
	b := rttest.NewBatch(s, c.rows...)
	for i, k := range c.kinds {
		b.SetKind(i, k)
	}
	return b
}

// changelogSource emits batches with row kinds from subtask 0 of a
// parallel source (the others end at once), then ends.
type changelogSource struct {
	schema  *runtime.Schema
	batches []change
	next    int
	subtask int
	cur     *runtime.Batch
}

func newChangelogSource(s *runtime.Schema, batches []change) func() runtime.Source {
	return func() runtime.Source { return &changelogSource{schema: s, batches: batches} }
}

func (s *changelogSource) Open(ctx *runtime.Context) error {
	s.subtask = ctx.Subtask
	return nil
}

func (s *changelogSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	if s.subtask != 0 || s.next == len(s.batches) {
		return nil, 0, io.EOF
	}
	s.cur = s.batches[s.next].batch(s.schema)
	s.next++
	return s.cur, 0, nil
}

func (s *changelogSource) Close() error {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	return nil
}

// runJob runs source → op (keyed on keys, parallelism par) → collector,
// and returns the collector and the job's metrics.
func runJob(t tb, in *runtime.Schema, src func() runtime.Source, wm runtime.WatermarkStrategy,
	newOp func() runtime.Operator, out *runtime.Schema, keys []int, par int) (*rttest.Collector, *metrics.Set) {
	t.Helper()
	g := runtime.NewGraph("rank")
	s := g.AddSource("src", in, 1, src, wm)
	op := g.AddOperator("rank", out, par, 1, newOp)
	if len(keys) > 0 {
		g.Connect(s, op, runtime.Keyed, keys...)
	} else {
		g.Connect(s, op, runtime.Global)
	}
	c, mk := rttest.NewCollector(out)
	snk := g.AddOperator("sink", out, 1, 1, mk)
	g.Connect(op, snk, runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par, BufferRows: 64, Metrics: set}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return c, set
}

// drive feeds batches to a fresh operator directly, with a snapshot and a
// restore into a new operator before batch restoreAt (none when < 0), and
// returns the collected changelog.
func drive(t tb, newOp func() runtime.Operator, in *runtime.Schema, steps []step, restoreAt int) (*rttest.Collector, *runtime.Context) {
	t.Helper()
	ctx := rttest.NewContext("rank", 0, 1)
	op := newOp()
	if err := op.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	c := &rttest.Collector{}
	for i, s := range steps {
		if i == restoreAt {
			data, err := op.(runtime.Snapshotter).SnapshotState(int64(i))
			if err != nil {
				t.Fatalf("SnapshotState: %v", err)
			}
			op.Close()
			op = newOp()
			if err := op.Open(ctx); err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := op.(runtime.Snapshotter).RestoreState(data); err != nil {
				t.Fatalf("RestoreState: %v", err)
			}
		}
		if s.watermark {
			if err := op.ProcessWatermark(s.wm, c); err != nil {
				t.Fatalf("ProcessWatermark: %v", err)
			}
			continue
		}
		b := s.change.batch(in)
		err := op.ProcessBatch(0, b, c)
		b.Release()
		if err != nil {
			t.Fatalf("ProcessBatch: %v", err)
		}
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, c); err != nil {
		t.Fatalf("final watermark: %v", err)
	}
	if err := op.Finish(c); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	op.Close()
	return c, ctx
}

// step is one input of a directly driven operator: a batch or a watermark.
type step struct {
	watermark bool
	wm        int64
	change    change
}

func changelogOf(c *rttest.Collector) []string {
	var out []string
	kinds := c.Kinds()
	for i, r := range c.Rows() {
		out = append(out, kinds[i].String()+fmtRow(r))
	}
	return out
}

// drawSplit draws batch boundaries for n rows.
func drawSplit(t *rapid.T, n int) []int {
	var cuts []int
	for i := 0; i < n; {
		i += rapid.IntRange(1, 8).Draw(t, "batch")
		cuts = append(cuts, min(i, n))
	}
	return cuts
}
