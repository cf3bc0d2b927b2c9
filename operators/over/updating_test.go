package over

import (
	"context"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// change is one row of a generated changelog.
type change struct {
	kind runtime.RowKind
	row  []runtime.Value
}

// drawChangelog draws a bounded frame and a changelog over in: inserts,
// deletions and updates (-U of a row, +U of a new row of the same key) of
// rows it holds, with times in any order (unique under ROWS). It returns
// the rows held at the end with their arrival numbers.
func drawChangelog(t *rapid.T) (spec Spec, log []change, final [][]runtime.Value, seq []int) {
	f := Frame{Rows: rapid.Bool().Draw(t, "rows")}
	if f.Rows {
		f.Preceding = rapid.Int64Range(0, 6).Draw(t, "preceding rows")
	} else {
		f.Preceding = rapid.Int64Range(0, 30).Draw(t, "preceding ms")
	}
	spec = Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: f, Aggs: specs(), Updating: true}
	type held struct {
		row []runtime.Value
		seq int
	}
	var live []held
	n := rapid.IntRange(0, 150).Draw(t, "n")
	newRow := func(k runtime.Value, i int) []runtime.Value {
		ts := rapid.Int64Range(0, 100).Draw(t, "ts")
		if f.Rows {
			ts = ts*1024 + int64(i)
		}
		return []runtime.Value{k, runtime.TimeValue(ts), genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s")}
	}
	for i := 0; i < n; i++ {
		op := rapid.IntRange(0, 5).Draw(t, "op")
		if len(live) == 0 || op < 3 {
			r := newRow(genK.Draw(t, "k"), i)
			log = append(log, change{runtime.Insert, r})
			live = append(live, held{r, i})
			continue
		}
		j := rapid.IntRange(0, len(live)-1).Draw(t, "victim")
		old := live[j]
		live = append(live[:j], live[j+1:]...)
		if op == 3 {
			log = append(log, change{runtime.Delete, old.row})
			continue
		}
		r := newRow(old.row[0], i)
		log = append(log, change{runtime.UpdateBefore, old.row}, change{runtime.UpdateAfter, r})
		live = append(live, held{r, i})
	}
	for _, h := range live {
		final = append(final, h.row)
		seq = append(seq, h.seq)
	}
	return spec, log, final, seq
}

// applyChangelog applies rows with kinds to a multiset of formatted rows,
// failing on a retraction of a row it does not hold; it returns the rows
// held, sorted.
func applyChangelog(t tb, out *runtime.Schema, rows [][]runtime.Value, kinds []runtime.RowKind) []string {
	t.Helper()
	held := map[string]int{}
	for i, r := range rows {
		key := fmtRows(out, [][]runtime.Value{r})[0]
		switch kinds[i] {
		case runtime.Insert, runtime.UpdateAfter:
			held[key]++
		default:
			if held[key] == 0 {
				t.Fatalf("row %d: %s retracts %s, which is not held", i, kinds[i], key)
			}
			held[key]--
		}
	}
	var res []string
	for k, n := range held {
		for range n {
			res = append(res, k)
		}
	}
	slices.Sort(res)
	return res
}

func batchOf(log []change) *runtime.Batch {
	b := rttest.NewBatch(in)
	for _, c := range log {
		b.SetKind(b.N, c.kind)
		b.AppendValues(c.row...)
	}
	return b
}

// TestUpdatingInputMatchesSQLiteOnFinalState feeds a random changelog,
// with restarts from snapshots, and applies the result as a changelog: it
// never retracts a row it does not hold, and ends as sqlite3's OVER
// aggregation of the rows the input holds at the end.
func TestUpdatingInputMatchesSQLiteOnFinalState(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec, log, final, seq := drawChangelog(t)
		h := newHarness(t, spec)
		for i := 0; i < len(log); {
			j := min(len(log), i+rapid.IntRange(1, 20).Draw(t, "chunk"))
			if err := h.op.ProcessBatch(0, batchOf(log[i:j]), h.out); err != nil {
				t.Fatal(err)
			}
			if rapid.IntRange(0, 4).Draw(t, "restart") == 0 {
				h.restart()
			}
			i = j
		}
		h.watermark(runtime.MaxWatermark)
		_, out, _ := New(spec)
		got := applyChangelog(t, out, h.out.Rows(), h.out.Kinds())
		want := sqliteOver(t, sqlite, final, seq, spec.Frame, true, out)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d rows, want %d:\n%s", spec.Frame, len(got), len(want), diff(got, want))
		}
	})
}

// TestUpdatingInputJobAtParallelism1And3 runs the changelog through a job
// keyed by the partition column (each key's changes in one source
// partition, in order).
func TestUpdatingInputJobAtParallelism1And3(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec, log, final, seq := drawChangelog(t)
		mk, out, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		want := sqliteOver(t, sqlite, final, seq, spec.Frame, true, out)
		// Source partition of a key: its value mod 3 (NULL: 0).
		parts := make([][]change, 3)
		for _, c := range log {
			p := 0
			if !c.row[0].Null {
				p = int((c.row[0].I%3 + 3) % 3)
			}
			parts[p] = append(parts[p], c)
		}
		for _, p := range []int{1, 3} {
			g := runtime.NewGraph("over")
			src := g.AddSource("src", in, p, changelogSource(parts), runtime.NoWatermarks)
			o := g.AddOperator("over", out, p, 1, mk)
			g.Connect(src, o, runtime.Keyed, 0)
			c, sink := rttest.NewCollector(out)
			k := g.AddOperator("sink", out, 1, 1, sink)
			g.Connect(o, k, runtime.Global)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := runtime.Run(ctx, g, runtime.Options{Parallelism: p, BufferRows: 64})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			got := applyChangelog(t, out, c.Rows(), c.Kinds())
			if !slices.Equal(got, want) {
				t.Fatalf("p=%d %s: %d rows, want %d:\n%s", p, spec.Frame, len(got), len(want), diff(got, want))
			}
		}
	})
}

// changelogSource emits parts[i] as partition i, in batches of 7 rows
// with their kinds; subtask s of n reads partitions i%n == s.
func changelogSource(parts [][]change) func() runtime.Source {
	return func() runtime.Source { return &clSource{parts: parts} }
}

type clSource struct {
	parts [][]change
	mine  []int
	at    []int
	out   *runtime.Batch
}

func (s *clSource) Open(ctx *runtime.Context) error {
	for i := range s.parts {
		if i%ctx.Parallelism == ctx.Subtask {
			s.mine = append(s.mine, i)
			s.at = append(s.at, 0)
		}
	}
	return nil
}

func (s *clSource) Poll(context.Context) (*runtime.Batch, int, error) {
	for k, p := range s.mine {
		if s.at[k] < len(s.parts[p]) {
			end := min(len(s.parts[p]), s.at[k]+7)
			s.out = batchOf(s.parts[p][s.at[k]:end])
			s.at[k] = end
			return s.out, p, nil
		}
	}
	return nil, 0, io.EOF
}

func (s *clSource) Close() error { return nil }

func TestUpdatingNeedsABoundedFrame(t *testing.T) {
	_, _, err := New(Spec{In: in, TimeCol: 1, Frame: Frame{Rows: true, Unbounded: true}, Aggs: countSum, Updating: true})
	if err == nil || !strings.Contains(err.Error(), "must be bounded") {
		t.Fatalf("got %v", err)
	}
}

func TestUpdatingRetractsANaNRow(t *testing.T) {
	h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 2}, Aggs: countSum, Updating: true})
	r := row(1, 10, 1)
	r[3] = runtime.FloatValue(math.NaN())
	b := rttest.NewBatch(in, r, r)
	b.SetKind(1, runtime.Delete)
	if err := h.op.ProcessBatch(0, b, h.out); err != nil {
		t.Fatal(err)
	}
	if got := h.out.Kinds(); len(got) != 2 || got[1] != runtime.Delete {
		t.Fatalf("kinds %v, want +I then -D", got)
	}
}
