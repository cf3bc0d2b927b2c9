package file

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/print"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
)

// q10Sink is Nexmark q10's sink table as written (bench/nexmark/queries),
// with the path given.
func q10Sink(path string) string {
	return `CREATE TABLE nexmark_q10 (
  auction  BIGINT,
  bidder  BIGINT,
  price  BIGINT,
  ` + "`dateTime`" + `  TIMESTAMP(3),
  extra  VARCHAR,
  dt STRING,
  hm STRING
) PARTITIONED BY (dt, hm) WITH (
  'connector' = 'filesystem',
  'path' = 'file://` + path + `/',
  'format' = 'csv',
  'sink.partition-commit.trigger' = 'partition-time',
  'sink.partition-commit.delay' = '1 min',
  'sink.partition-commit.policy.kind' = 'success-file',
  'partition.time-extractor.timestamp-pattern' = '$dt $hm:00',
  'sink.rolling-policy.rollover-interval' = '1min',
  'sink.rolling-policy.check-interval' = '1min'
);`
}

// tree is what a partitioned sink left in its folder: the rows of the
// published part files by partition folder (sorted), the folders with a
// success file, and the hidden files but commit records.
type tree struct {
	rows    map[string][]string
	success []string
	hidden  []string
}

// partName is the name of a published part file.
var partName = regexp.MustCompile(`^part-\d+-\d+\.(csv|json)$`)

func readTree(t *testing.T, dir string) tree {
	t.Helper()
	tr, err := scanTree(dir)
	must(t, err)
	return tr
}

func scanTree(dir string) (tree, error) {
	tr := tree{rows: map[string][]string{}}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		folder, name := filepath.Split(filepath.ToSlash(rel))
		folder = strings.TrimSuffix(folder, "/")
		switch {
		case name == "_SUCCESS":
			tr.success = append(tr.success, folder)
		case isRecord(name):
		case strings.HasPrefix(name, "."):
			tr.hidden = append(tr.hidden, filepath.ToSlash(rel))
		case !partName.MatchString(name):
			return fmt.Errorf("%s: not a part file name", rel)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tr.rows[folder] = append(tr.rows[folder], strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
		}
		return nil
	})
	for _, r := range tr.rows {
		sort.Strings(r)
	}
	sort.Strings(tr.success)
	return tr, err
}

// bids writes n bids as JSON lines over the minutes from 2015-07-15 23:57
// into the next day, and returns the CSV lines q10 writes for them by
// partition folder.
func bids(t *testing.T, path string, n int) map[string][]string {
	t.Helper()
	start := time.Date(2015, 7, 15, 23, 57, 0, 0, time.UTC)
	var b strings.Builder
	want := map[string][]string{}
	for i := range n {
		ts := start.Add(time.Duration(i) * 997 * time.Millisecond)
		dt, hm := ts.Format("2006-01-02"), ts.Format("15:04")
		fmt.Fprintf(&b, `{"auction":%d,"bidder":%d,"price":%d,"dateTime":"%s","extra":"x%d","dt":"%s","hm":"%s"}`+"\n",
			i%7, i%5, 100+i, ts.Format("2006-01-02T15:04:05.000Z"), i, dt, hm)
		folder := "dt=" + dt + "/hm=" + strings.ReplaceAll(hm, ":", "%3A")
		want[folder] = append(want[folder], fmt.Sprintf("%d,%d,%d,%s,x%d", i%7, i%5, 100+i, ts.Format("2006-01-02T15:04:05.000Z"), i))
	}
	for _, r := range want {
		sort.Strings(r)
	}
	writeFile(t, path, b.String())
	return want
}

// TestQ10WritesPartitionFolders: Nexmark q10's sink DDL, unchanged, through
// sql.Compile and runtime.Run at parallelism 1 and 2, with and without
// checkpoints: every row once, in its Hive-style partition folder
// (dt=…/hm=10%3A02, ':' escaped as Hive does), without the partition
// columns, and a success file in every partition; nothing hidden left.
func TestQ10WritesPartitionFolders(t *testing.T) {
	for _, par := range []int{1, 2} {
		for _, ckpt := range []bool{false, true} {
			t.Run(fmt.Sprintf("par%d/checkpoints=%v", par, ckpt), func(t *testing.T) {
				dir := t.TempDir()
				in, out := filepath.Join(dir, "bids.json"), filepath.Join(dir, "q10", "bid")
				want := bids(t, in, 600)
				job := `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3), extra VARCHAR,
  dt VARCHAR, hm VARCHAR, WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + ` - INTERVAL '4' SECOND)
  WITH ('connector' = 'file', 'path' = '` + in + `');
` + q10Sink(out) + `
INSERT INTO nexmark_q10 SELECT auction, bidder, price, ` + "`dateTime`" + `, extra, dt, hm FROM bid;`
				plan, err := sql.Compile(job, sql.Options{Parallelism: par})
				must(t, err)
				opts := runtime.Options{Parallelism: par}
				if ckpt {
					opts.Checkpoints = &runtime.CheckpointOptions{Dir: filepath.Join(dir, "ck"), Interval: 5 * time.Millisecond}
				}
				must(t, runtime.Run(context.Background(), plan.Graph, opts))
				must(t, plan.Close(context.Background()))
				got := readTree(t, out)
				if len(got.rows) != len(want) {
					t.Fatalf("partitions %v, want %d", keys(got.rows), len(want))
				}
				for folder, rows := range want {
					if !slices.Equal(got.rows[folder], rows) {
						t.Fatalf("%s: %d rows %q…, want %d %q…", folder, len(got.rows[folder]), first(got.rows[folder]), len(rows), first(rows))
					}
				}
				if !slices.Equal(got.success, keys(want)) {
					t.Fatalf("success files in %v, want every partition %v", got.success, keys(want))
				}
				if len(got.hidden) != 0 {
					t.Fatalf("hidden files left: %v", got.hidden)
				}
			})
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// partSchema is a table partitioned by dt and hm.
var partSchema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "dt", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "hm", Type: runtime.Varchar, Nullable: true},
)

func partRows(from, to int, hms ...string) [][]runtime.Value {
	var out [][]runtime.Value
	for i := from; i < to; i++ {
		out = append(out, []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue("2015-07-15"), runtime.StringValue(hms[i%len(hms)])})
	}
	return out
}

// partSinks returns the par subtasks of one run of a sink partitioned by
// (dt, hm), opened.
func partSinks(t *testing.T, opts map[string]string, par int, checkpoints bool) []*sink {
	t.Helper()
	o := map[string]string{"format": "csv", "partition.time-extractor.timestamp-pattern": "$dt $hm:00"}
	for k, v := range opts {
		o[k] = v
	}
	tb := tableOf(partSchema, o)
	tb.PartitionKeys = []string{"dt", "hm"}
	newSink, _, err := connector(t).NewSink(tb)
	must(t, err)
	var out []*sink
	for range par {
		out = append(out, newSink().(*sink))
	}
	for i, op := range out {
		ctx := rttest.NewContext("file", i, par)
		ctx.Checkpointing = checkpoints
		must(t, op.Open(ctx))
	}
	return out
}

func feedPart(t *testing.T, op *sink, rows [][]runtime.Value) {
	t.Helper()
	must(t, op.ProcessBatch(0, rttest.NewBatch(partSchema, rows...), nil))
}

func at(hm string) int64 {
	ts, err := time.Parse("2006-01-02 15:04:05", "2015-07-15 "+hm)
	if err != nil {
		panic(err)
	}
	return ts.UnixMilli()
}

// TestPartitionTimeCommit: with trigger partition-time, a partition is
// committed (its files published, then its success file) once the
// watermark of every subtask passes its time plus the delay, not before;
// at the end of input every partition is.
func TestPartitionTimeCommit(t *testing.T) {
	dir := t.TempDir()
	ops := partSinks(t, map[string]string{"path": dir, "sink.partition-commit.trigger": "partition-time",
		"sink.partition-commit.delay": "1 min"}, 2, false)
	feedPart(t, ops[0], partRows(0, 10, "10:00", "10:01"))
	feedPart(t, ops[1], partRows(10, 20, "10:00", "10:02"))
	must(t, ops[0].ProcessWatermark(at("10:01:00"), nil)) // not past 10:00 + 1 min
	must(t, ops[1].ProcessWatermark(at("10:01:30"), nil))
	if got := readTree(t, dir); len(got.success) != 0 {
		t.Fatalf("committed %v before the watermark passed 10:01", got.success)
	}
	must(t, ops[0].ProcessWatermark(at("10:01:30"), nil))
	got := readTree(t, dir)
	if !slices.Equal(got.success, []string{"dt=2015-07-15/hm=10%3A00"}) {
		t.Fatalf("committed %v, want 10:00 only", got.success)
	}
	// Both subtasks' rows of 10:00 are published by then.
	if r := got.rows["dt=2015-07-15/hm=10%3A00"]; len(r) != 10 {
		t.Fatalf("partition 10:00 holds %d rows at its commit, want 10: %v", len(r), r)
	}
	// Subtask 1 alone passing 10:02 commits nothing more: subtask 0 lags.
	must(t, ops[1].ProcessWatermark(at("10:05:00"), nil))
	if got := readTree(t, dir); len(got.success) != 1 {
		t.Fatalf("committed %v while subtask 0's watermark is at 10:01:30", got.success)
	}
	for _, op := range ops {
		must(t, op.Finish(nil))
		must(t, op.Close())
	}
	got = readTree(t, dir)
	if want := []string{"dt=2015-07-15/hm=10%3A00", "dt=2015-07-15/hm=10%3A01", "dt=2015-07-15/hm=10%3A02"}; !slices.Equal(got.success, want) {
		t.Fatalf("at the end: committed %v, want %v", got.success, want)
	}
	n := 0
	for folder, rows := range got.rows {
		for _, r := range rows {
			if strings.Count(r, ",") != 0 {
				t.Fatalf("%s: row %q holds more than the id: the partition columns are repeated", folder, r)
			}
		}
		n += len(rows)
	}
	if n != 20 || len(got.hidden) != 0 {
		t.Fatalf("%d rows published (want 20), hidden %v", n, got.hidden)
	}
}

// TestProcessTimeCommit: with trigger process-time (the default) and no
// delay, a partition is committed once the subtask that wrote it has
// published its file — files are not cut short for it: they roll as
// usual —; one that another subtask still writes waits for it.
func TestProcessTimeCommit(t *testing.T) {
	dir := t.TempDir()
	ops := partSinks(t, map[string]string{"path": dir}, 1, false)
	feedPart(t, ops[0], partRows(0, 4, "10:00"))
	must(t, ops[0].OnProcessingTime(time.Now().UnixMilli(), nil))
	if got := readTree(t, dir); len(got.success) != 0 || len(got.hidden) != 1 {
		t.Fatalf("committed %v, in progress %v: a file due for commit is cut short", got.success, got.hidden)
	}
	must(t, ops[0].Close())

	dir = t.TempDir()
	ops = partSinks(t, map[string]string{"path": dir, "sink.rolling-policy.rollover-interval": "1ms"}, 2, false)
	feedPart(t, ops[0], partRows(0, 4, "10:00", "10:01"))
	feedPart(t, ops[1], partRows(4, 6, "10:01"))
	time.Sleep(5 * time.Millisecond)
	now := time.Now().UnixMilli()
	must(t, ops[0].OnProcessingTime(now, nil))
	got := readTree(t, dir)
	if !slices.Equal(got.success, []string{"dt=2015-07-15/hm=10%3A00"}) {
		t.Fatalf("committed %v, want 10:00 (10:01 has subtask 1's file in progress)", got.success)
	}
	must(t, ops[1].OnProcessingTime(now, nil))
	got = readTree(t, dir)
	if len(got.success) != 2 || len(got.rows["dt=2015-07-15/hm=10%3A01"]) != 4 {
		t.Fatalf("committed %v with rows %v", got.success, got.rows)
	}
	for _, op := range ops {
		must(t, op.Close())
	}
}

// TestPartitionedSinkExactlyOnceAfterCrash: two subtasks with checkpoints
// crash after checkpoint 2's pre-commit (its commit never happened) with
// rows in progress in several partitions; restored from checkpoint 1 and
// fed the rows after it again, the sink holds every row exactly once per
// partition, success files in every partition, nothing hidden.
func TestPartitionedSinkExactlyOnceAfterCrash(t *testing.T) {
	dir := t.TempDir()
	opts := map[string]string{"path": dir, "sink.partition-commit.trigger": "partition-time", "sink.rolling-policy.file-size": "64b"}
	hms := []string{"10:00", "10:01", "10:02"}
	ops := partSinks(t, opts, 2, true)
	var states [][]byte
	for i, op := range ops {
		feedPart(t, op, partRows(i*100, i*100+20, hms...))
		states = append(states, snapshot(t, op, 1))
		must(t, op.NotifyCheckpointComplete(1))
		feedPart(t, op, partRows(i*100+20, i*100+40, hms...))
		snapshot(t, op, 2) // pre-committed; the commit never comes
		feedPart(t, op, partRows(i*100+40, i*100+50, hms...))
	}
	for _, op := range ops {
		crash(op)
	}
	if got := readTree(t, dir); len(got.hidden) == 0 {
		t.Fatal("no hidden files at the crash")
	}
	var st sinkState
	must(t, json.Unmarshal(states[0], &st))
	if len(st.Partitions) != 3 || !strings.Contains(st.Pending[0].Hidden, "/") {
		t.Fatalf("state of checkpoint 1: %s", states[0])
	}

	again := partSinks(t, opts, 2, true)
	for i, op := range again {
		must(t, op.RestoreState(states[i]))
	}
	if got := readTree(t, dir); len(got.hidden) != 0 {
		t.Fatalf("hidden files of the failed attempt left after the restore: %v", got.hidden)
	}
	for i, op := range again {
		feedPart(t, op, partRows(i*100+20, i*100+60, hms...))
		must(t, op.Finish(nil))
		snapshot(t, op, runtime.EndCheckpoint)
		must(t, op.Close())
	}
	for _, op := range again {
		must(t, op.NotifyCheckpointComplete(runtime.EndCheckpoint))
	}
	got := readTree(t, dir)
	want := map[string][]string{}
	for i := range 2 {
		for _, r := range partRows(i*100, i*100+60, hms...) {
			folder := "dt=2015-07-15/hm=" + strings.ReplaceAll(r[2].S, ":", "%3A")
			want[folder] = append(want[folder], fmt.Sprint(r[0].I))
		}
	}
	for folder, rows := range want {
		sort.Strings(rows)
		if !slices.Equal(got.rows[folder], rows) {
			t.Fatalf("%s: rows %v, want each of %v once", folder, got.rows[folder], rows)
		}
	}
	if len(got.rows) != 3 || !slices.Equal(got.success, keys(want)) || len(got.hidden) != 0 {
		t.Fatalf("partitions %v, success files %v, hidden %v", keys(got.rows), got.success, got.hidden)
	}
}

// TestPartitionValueEscaping: partition values are escaped as Hive does
// in folder names; NULL and ” are the default partition; the time
// extractor reads the values back unescaped.
func TestPartitionValueEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"10:02": "10%3A02", "a/b=c": "a%2Fb%3Dc", "50%": "50%25", `q"#'*?\{[]^`: "q%22%23%27%2A%3F%5C%7B%5B%5D%5E",
		"tab\there": "tab%09here", "é ok-_.": "é ok-_.",
	} {
		if got := string(escapePartitionValue(nil, in)); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		if back := unescapePartitionValue(want); back != in {
			t.Errorf("unescape(%q) = %q, want %q", want, back, in)
		}
	}
	b := rttest.NewBatch(partSchema, []runtime.Value{runtime.IntValue(1), runtime.NullValue(runtime.Varchar), runtime.StringValue("")})
	s := &sink{cfg: &config{schema: partSchema, partCols: []int{1, 2}}}
	if got := string(s.partitionPath(nil, b, 0)); got != "dt=__DEFAULT_PARTITION__/hm=__DEFAULT_PARTITION__" {
		t.Fatalf("NULL and empty partition values: %s", got)
	}
	e, err := newTimeExtractor("$dt $hm:00", []string{"dt", "hm"})
	must(t, err)
	if ms, err := e.extract("dt=2015-07-15/hm=10%3A02"); err != nil || ms != at("10:02:00") {
		t.Fatalf("extract: %v, %v", time.UnixMilli(ms).UTC(), err)
	}
	if _, err := e.extract("dt=2015-07-15/hm=later"); err == nil || !strings.Contains(err.Error(), `"2015-07-15 later:00"`) {
		t.Fatalf("a value that is no time: %v", err)
	}
	for in, want := range map[string]string{"2015-7-5": "2015-07-05 00:00:00", "2015-07-15 9:05:07.25": "2015-07-15 09:05:07.25",
		"2015-07-15T10:02": "2015-07-15 10:02:00"} {
		ms, err := parseLocalTimestamp(in)
		if err != nil || time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.99") != want {
			t.Errorf("parse %q: %v, %v", in, time.UnixMilli(ms).UTC(), err)
		}
	}
	for _, bad := range []string{"2015-02-30", "2015-07-15 24:00", "x", "2015-07"} {
		if _, err := parseLocalTimestamp(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
}

// TestPartitionOptionErrors: options that cannot work are refused with
// errors naming the table, the option and why.
func TestPartitionOptionErrors(t *testing.T) {
	dir := t.TempDir()
	f := connector(t)
	part := func(opts map[string]string, keys ...string) connectors.Table {
		o := map[string]string{"path": dir, "format": "csv"}
		for k, v := range opts {
			o[k] = v
		}
		tb := tableOf(partSchema, o)
		tb.PartitionKeys = keys
		return tb
	}
	for _, c := range []struct {
		t    connectors.Table
		want string
	}{
		{part(map[string]string{"sink.partition-commit.policy.kind": "metastore,success-file"}, "dt"), `option "sink.partition-commit.policy.kind": metastore: Sluice has no metastore`},
		{part(map[string]string{"sink.partition-commit.policy.kind": "custom"}, "dt"), "custom commit policies are not supported"},
		{part(map[string]string{"partition.time-extractor.kind": "custom"}, "dt"), "custom time extractors are not supported"},
		{part(map[string]string{"partition.time-extractor.timestamp-pattern": "$day"}, "dt"), `$ must be followed by a partition column (dt)`},
		{part(map[string]string{"sink.partition-commit.trigger": "watermark"}, "dt"), `sink.partition-commit.trigger`},
		{part(map[string]string{"sink.partition-commit.success-file.name": "a/b"}, "dt"), `"a/b" is not a file name`},
		{part(map[string]string{"sink.partition-commit.delay": "1 min"}), `option "sink.partition-commit.delay": applies only to a table with PARTITIONED BY`},
		{part(map[string]string{"path": filepath.Join(dir, "out.csv")}, "dt"), "not to one file"},
		{part(nil, "id", "dt", "hm"), "takes every column"},
		{part(nil, "nope"), `unknown column "nope"`},
	} {
		_, _, err := f.NewSink(c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "table t") {
			t.Errorf("%v %v: got %v, want %q", c.t.Options, c.t.PartitionKeys, err, c.want)
		}
	}
	writeFile(t, filepath.Join(dir, "in.csv"), "1,a,b\n")
	if _, _, err := f.NewSource(part(map[string]string{"path": filepath.Join(dir, "in.csv")}, "dt")); err == nil ||
		!strings.Contains(err.Error(), "cannot read a table with PARTITIONED BY (dt)") {
		t.Errorf("source: %v", err)
	}
}

// TestPartitionedByNeedsAConnectorThatPartitions: PARTITIONED BY on a
// table whose connector cannot partition is refused when the table is
// created, naming the connector; 'filesystem' is the file connector.
func TestPartitionedByNeedsAConnectorThatPartitions(t *testing.T) {
	_, err := sql.Compile(`CREATE TABLE p (a BIGINT, dt VARCHAR) PARTITIONED BY (dt) WITH ('connector' = 'print');`, sql.Options{Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "connector print does not support PARTITIONED BY (dt)") {
		t.Fatalf("print: %v", err)
	}
	fs, ok := connectors.Lookup("filesystem")
	if !ok {
		t.Fatal("no connector filesystem")
	}
	if _, ok := fs.(factory); !ok {
		t.Fatalf("filesystem is %T, not the file connector", fs)
	}
	if slices.Contains(connectors.Names(), "filesystem") {
		t.Fatalf("the alias is listed as a connector of its own: %v", connectors.Names())
	}
}

// BenchmarkPartitionedSinkCSV writes batches of 2,048 rows spread over 8
// partitions (dt, hm), interleaved row by row, through one subtask of a
// partitioned CSV sink; /unpartitioned writes the same rows to one folder.
func BenchmarkPartitionedSinkCSV(b *testing.B) {
	b.Run("partitioned", func(b *testing.B) { benchSink(b, []string{"dt", "hm"}) })
	b.Run("unpartitioned", func(b *testing.B) { benchSink(b, nil) })
}

func benchSink(b *testing.B, keys []string) {
	dir := b.TempDir()
	tb := tableOf(partSchema, map[string]string{"path": dir, "format": "csv"})
	tb.PartitionKeys = keys
	newSink, _, err := factory{}.NewSink(tb)
	if err != nil {
		b.Fatal(err)
	}
	op := newSink().(*sink)
	if err := op.Open(rttest.NewContext("file", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	batch := rttest.NewBatch(partSchema, partRows(0, runtime.DefaultBatchRows, "10:00", "10:01", "10:02", "10:03", "10:04", "10:05", "10:06", "10:07")...)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := op.ProcessBatch(0, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*runtime.DefaultBatchRows)/time.Since(start).Seconds(), "rows/s")
}
