package file

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/groupagg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// chSchema is a versioned table: id is its primary key.
var chSchema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "amount", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

// change is one entry of a table's history: a row and its kind.
type change struct {
	kind runtime.RowKind
	row  []runtime.Value
}

// history returns n random changes of a table keyed by id (ids below
// keys): an absent id is inserted, a present one updated (-U old, +U new)
// or deleted. It also returns the final rows by id.
func history(rnd *rand.Rand, n, keys int) ([]change, map[int64][]runtime.Value) {
	names := []string{"ann", "bob", "cy", "dee", `q"uote`}
	rows := map[int64][]runtime.Value{}
	var out []change
	for i := 0; len(out) < n; i++ {
		id := int64(rnd.IntN(keys))
		name := runtime.StringValue(names[rnd.IntN(len(names))])
		if rnd.IntN(10) == 0 {
			name = runtime.NullValue(runtime.Varchar)
		}
		row := []runtime.Value{runtime.IntValue(id), name, runtime.IntValue(rnd.Int64N(1000) - 100), runtime.TimeValue(base + int64(i))}
		old, ok := rows[id]
		switch {
		case !ok:
			out = append(out, change{runtime.Insert, row})
			rows[id] = row
		case rnd.IntN(4) == 0:
			out = append(out, change{runtime.Delete, old})
			delete(rows, id)
		default:
			out = append(out, change{runtime.UpdateBefore, old}, change{runtime.UpdateAfter, row})
			rows[id] = row
		}
	}
	return out, rows
}

// rowJSON is a row of chSchema as a JSON object, written here rather than
// by package format so that the decoder is checked against another writer.
func rowJSON(r []runtime.Value) string {
	name := "null"
	if !r[1].Null {
		b, _ := json.Marshal(r[1].S)
		name = string(b)
	}
	return fmt.Sprintf(`{"id":%d,"name":%s,"amount":%d,"ts":%d}`, r[0].I, name, r[2].I, r[3].I)
}

// changelogLines encodes changes as changelog-json lines.
func changelogLines(changes []change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf(`{"op":%q,"row":%s}`, c.kind.String(), rowJSON(c.row)))
	}
	return out
}

// debeziumLines encodes changes as Debezium events (-U and +U in one "u").
func debeziumLines(changes []change) []string {
	var out []string
	for i := 0; i < len(changes); i++ {
		c := changes[i]
		src := `"source":{"connector":"postgresql","table":"t","lsn":` + strconv.Itoa(i) + `},"ts_ms":1764064800000`
		switch c.kind {
		case runtime.Insert:
			out = append(out, `{"before":null,"after":`+rowJSON(c.row)+`,`+src+`,"op":"c"}`)
		case runtime.UpdateBefore:
			out = append(out, `{"before":`+rowJSON(c.row)+`,"after":`+rowJSON(changes[i+1].row)+`,`+src+`,"op":"u"}`)
			i++
		case runtime.Delete:
			out = append(out, `{"before":`+rowJSON(c.row)+`,"after":null,`+src+`,"op":"d"}`)
		}
	}
	return out
}

func changelogStrings(changes []change) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.kind.String() + rttest.Format(c.row)
	}
	return out
}

// kindSource emits batches with kinds from subtask 0.
type kindSource struct {
	batches []*runtime.Batch
	sub     int
}

func (s *kindSource) Open(ctx *runtime.Context) error { s.sub = ctx.Subtask; return nil }
func (s *kindSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.sub != 0 || len(s.batches) == 0 {
		return nil, 0, io.EOF
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, 0, nil
}
func (s *kindSource) Close() error { return nil }

// changeBatches puts changes in batches of size rows.
func changeBatches(changes []change, size int) []*runtime.Batch {
	var out []*runtime.Batch
	for i := 0; i < len(changes); i += size {
		b := runtime.NewBatch(chSchema)
		for _, c := range changes[i:min(i+size, len(changes))] {
			b.AppendValues(c.row...)
			b.SetKind(b.N-1, c.kind)
		}
		out = append(out, b)
	}
	return out
}

func runJob(t *testing.T, g *runtime.Graph, par int) *metrics.Set {
	t.Helper()
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: set, Logger: lineLogger(io.Discard)}); err != nil {
		t.Fatal(err)
	}
	return set
}

// updatingTable is a changelog table of chSchema as a planner that reads
// updating sources builds it.
func updatingTable(opts map[string]string) connectors.Table {
	tab := tableOf(chSchema, opts)
	tab.Updates = true
	tab.TimeColumn = 3
	return tab
}

// readChanges reads a changelog table with par subtasks into a collector.
func readChanges(t *testing.T, opts map[string]string, par int) (*rttest.Collector, *metrics.Set) {
	t.Helper()
	newSrc, _, err := connector(t).NewSource(updatingTable(opts))
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(chSchema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", chSchema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("collect", chSchema, 1, 1, sink), runtime.Global)
	return c, runJob(t, g, par)
}

// TestChangelogJSONSinkToSourceRoundTrip writes a random changelog with
// the file sink and reads it back: the same kinds and rows, in order.
func TestChangelogJSONSinkToSourceRoundTrip(t *testing.T) {
	changes, _ := history(rand.New(rand.NewPCG(3, 4)), 3000, 200)
	path := filepath.Join(t.TempDir(), "changes.json")
	newSink, _, err := connector(t).NewSink(tableOf(chSchema, map[string]string{"path": path, "format": "changelog-json"}))
	if err != nil {
		t.Fatal(err)
	}
	batches := changeBatches(changes, 97)
	g := runtime.NewGraph("write")
	src := g.AddSource("changes", chSchema, 1, func() runtime.Source { return &kindSource{batches: batches} }, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("file", chSchema, 1, 1, newSink), runtime.Forward)
	runJob(t, g, 1)

	c, _ := readChanges(t, map[string]string{"path": path, "format": "changelog-json"}, 1)
	if got, want := c.Changelog(), changelogStrings(changes); !slices.Equal(got, want) {
		t.Fatalf("read back %d changes, want %d; first difference at %s", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %s, want %s", i, a[i], b[i])
		}
	}
	return "the end of the shorter"
}

// TestChangelogFileIntoRetractGroupAgg reads a table's history (each id's
// changes in one file of several, as a changelog is partitioned by key)
// through runtime.Run, repartitions it by name and sums amounts per name
// with groupagg in retract mode. Applying the aggregate's changelog must
// give the sums of the table's final rows — which holds only if every
// -U and -D of the source was taken as a retraction.
func TestChangelogFileIntoRetractGroupAgg(t *testing.T) {
	for _, form := range []string{"changelog-json", "debezium-json"} {
		for _, par := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/par%d", form, par), func(t *testing.T) {
				changes, final := history(rand.New(rand.NewPCG(uint64(par), 5)), 4000, 300)
				dir := t.TempDir()
				const files = 4
				perFile := make([][]change, files)
				for i := 0; i < len(changes); i++ {
					f := changes[i].row[0].I % files
					perFile[f] = append(perFile[f], changes[i])
				}
				for f, cs := range perFile {
					lines := changelogLines(cs)
					if form == "debezium-json" {
						lines = debeziumLines(cs)
					}
					writeFile(t, filepath.Join(dir, fmt.Sprintf("part-%d.json", f)), strings.Join(lines, "\n")+"\n")
				}
				newSrc, _, err := connector(t).NewSource(updatingTable(map[string]string{"path": dir, "format": form}))
				if err != nil {
					t.Fatal(err)
				}
				newAgg, out, err := groupagg.New(groupagg.Spec{In: chSchema, KeyCols: []int{1}, Retract: true,
					Aggs: []agg.Spec{{Func: agg.Sum, Col: 2, Name: "total"}, {Func: agg.Count, Col: -1, Name: "n"}}})
				if err != nil {
					t.Fatal(err)
				}
				c, sink := rttest.NewCollector(out)
				g := runtime.NewGraph("agg")
				src := g.AddSource("src", chSchema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
				a := g.AddOperator("agg", out, par, 1, newAgg)
				g.Connect(src, a, runtime.Keyed, 1)
				g.Connect(a, g.AddOperator("collect", out, 1, 1, sink), runtime.Global)
				runJob(t, g, par)

				// Apply the result's changelog to a multiset.
				held := map[string]int{}
				for i, r := range c.Rows() {
					k := rttest.Format(r)
					switch c.Kinds()[i] {
					case runtime.Insert, runtime.UpdateAfter:
						held[k]++
					default:
						if held[k] == 0 {
							t.Fatalf("change %d retracts %s, which the result does not hold", i, k)
						}
						held[k]--
					}
				}
				var got []string
				for k, n := range held {
					for range n {
						got = append(got, k)
					}
				}
				slices.Sort(got)
				// The expected sums, from the final rows.
				type sum struct{ total, n int64 }
				sums := map[string]*sum{}
				for _, r := range final {
					k := rttest.Format(r[1:2])
					if sums[k] == nil {
						sums[k] = &sum{}
					}
					sums[k].total += r[2].I
					sums[k].n++
				}
				var want []string
				for k, s := range sums {
					want = append(want, fmt.Sprintf("%s,%d,%d", k, s.total, s.n))
				}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("final result\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// TestChangelogBadRecordsGoToErrorsPath: records with a bad op, without a
// row, with a bad value, or an update without its before image are bad
// records with their file and line; the job goes on, and an update is
// taken or dropped whole.
func TestChangelogBadRecordsGoToErrorsPath(t *testing.T) {
	for _, tc := range []struct {
		form  string
		lines []string
		bad   map[int64]string
		want  []string
	}{{
		form: "changelog-json",
		lines: []string{
			`{"op":"+I","row":{"id":1,"name":"a","amount":1,"ts":1764064800000}}`,
			`{"op":"+X","row":{"id":1,"name":"a","amount":1,"ts":1764064800000}}`,
			`{"op":"-U"}`,
			`{"op":"-U","row":{"id":1,"name":"a","amount":"one","ts":1764064800000}}`,
			`{"op":"-D","row":{"id":1,"name":"a","amount":1,"ts":1764064800000}}`,
			`{"op":"+I","row":{"id":2,"name":"b","amount":2,"ts":999999999999999}}`,
		},
		bad: map[int64]string{
			2: `at offset 6: bad "op" "+X"`,
			3: `at offset 11: want "row" to be a JSON object`,
			4: `column "amount" at offset 45: want BIGINT, got the string "one"`,
			6: `column "ts": event time 999999999999999 ms is outside the years 0001-9999`,
		},
		want: []string{"+I1,a,1,2025-11-25 10:00:00.000", "-D1,a,1,2025-11-25 10:00:00.000"},
	}, {
		form: "debezium-json",
		lines: []string{
			`{"before":null,"after":{"id":1,"name":"a","amount":1,"ts":1764064800000},"op":"c"}`,
			`{"before":null,"after":{"id":1,"name":"a","amount":2,"ts":1764064800000},"op":"u"}`,
			`{"before":{"id":1,"name":"a","amount":1,"ts":1764064800000},"after":{"id":1,"name":"a","amount":2,"ts":999999999999999},"op":"u"}`,
			`{"op":"t","source":{}}`,
			`{"before":{"id":1,"name":"a","amount":1,"ts":1764064800000},"after":{"id":1,"name":"a","amount":3,"ts":1764064800001},"op":"u"}`,
			``,
			`{"before":{"id":1,"name":"a","amount":3,"ts":1764064800001},"after":null,"op":"d"}`,
		},
		bad: map[int64]string{
			2: `at offset 10: an update event without "before"`,
			3: `column "ts": event time 999999999999999 ms is outside the years 0001-9999`,
			4: `at offset 6: unknown "op" "t"`,
		},
		want: []string{"+I1,a,1,2025-11-25 10:00:00.000", "-U1,a,1,2025-11-25 10:00:00.000",
			"+U1,a,3,2025-11-25 10:00:00.001", "-D1,a,3,2025-11-25 10:00:00.001"},
	}} {
		t.Run(tc.form, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.json")
			writeFile(t, path, strings.Join(tc.lines, "\n")+"\n")
			errPath := filepath.Join(dir, "errors.jsonl")
			c, set := readChanges(t, map[string]string{"path": path, "format": tc.form, "errors.path": errPath}, 1)
			if got := c.Changelog(); !slices.Equal(got, tc.want) {
				t.Fatalf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if n, ok := rttest.Metric(set, "sluice_operator_bad_records_total", "src"); !ok || n != float64(len(tc.bad)) {
				t.Fatalf("bad records metric %v (found %v), want %d", n, ok, len(tc.bad))
			}
			text, err := os.ReadFile(errPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
			if len(lines) != len(tc.bad) {
				t.Fatalf("%d error lines, want %d:\n%s", len(lines), len(tc.bad), text)
			}
			for _, l := range lines {
				var e struct {
					File   string
					Line   int64
					Error  string
					Record string
				}
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
				wantErr, ok := tc.bad[e.Line]
				if e.File != path || !ok || !strings.Contains(e.Error, wantErr) || e.Record != tc.lines[e.Line-1] {
					t.Fatalf("error line %s: want file %s, an error containing %q and the record", l, path, wantErr)
				}
			}
		})
	}
}

func TestChangelogFormatsProduceUpdates(t *testing.T) {
	for format, want := range map[string]bool{"json": false, "csv": false, "changelog-json": true, " Debezium-JSON ": true} {
		if got := connectors.ProducesUpdates(tableOf(chSchema, map[string]string{"connector": "file", "path": "x", "format": format})); got != want {
			t.Errorf("format %q: ProducesUpdates %v, want %v", format, got, want)
		}
	}
	if connectors.ProducesUpdates(tableOf(chSchema, map[string]string{"connector": "file", "path": "x"})) {
		t.Error("the default format produces updates")
	}
}

// TestDebeziumRestoreNeverSplitsAnUpdate reads a Debezium file (every
// event an update: -U and +U) a batch at a time, restores from the
// position at each barrier, and gets the changelog of an uninterrupted
// read: an update's two rows are never split by a checkpoint.
func TestDebeziumRestoreNeverSplitsAnUpdate(t *testing.T) {
	var changes []change
	for i := range int64(5000) {
		old := []runtime.Value{runtime.IntValue(i % 7), runtime.StringValue("a"), runtime.IntValue(i), runtime.TimeValue(base + i)}
		changes = append(changes, change{runtime.UpdateBefore, old},
			change{runtime.UpdateAfter, []runtime.Value{old[0], old[1], runtime.IntValue(i + 1), old[3]}})
	}
	path := filepath.Join(t.TempDir(), "changes.json")
	writeFile(t, path, strings.Join(debeziumLines(changes), "\n")+"\n")
	newSrc, _, err := connector(t).NewSource(updatingTable(map[string]string{"path": path, "format": "debezium-json"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var pos Position
	for round := 0; ; round++ {
		src := newSrc().(*Source)
		if round > 0 {
			src.Restore(pos)
		}
		if err := src.Open(rttest.NewContext("src", 0, 1)); err != nil {
			t.Fatal(err)
		}
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			src.Close()
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			if b.N%2 != 0 || b.Kind(0) != runtime.UpdateBefore {
				t.Fatalf("round %d: a batch of %d rows starting with %v splits an update", round, b.N, b.Kind(0))
			}
			for i, r := range rttest.Strings(b) {
				got = append(got, b.Kind(i).String()+r)
			}
		}
		if err := src.OnBarrier(runtime.Barrier{ID: int64(round + 1)}); err != nil {
			t.Fatal(err)
		}
		pos = src.Position()
		src.Close()
		if round > 100 {
			t.Fatal("the read does not end")
		}
	}
	if want := changelogStrings(changes); !slices.Equal(got, want) {
		t.Fatalf("read %d changes across restores, want %d; first difference at %s", len(got), len(want), firstDiff(got, want))
	}
}
