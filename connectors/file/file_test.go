package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ok", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()

// row i: names with delimiters, quotes, line breaks and multi-byte runes,
// and NULLs, so that every format has to quote and escape.
func row(i int) []runtime.Value {
	names := []string{"plain", "a,b", `say "hi"`, "two\nlines", "semi;colon", "", "é€😀", "tab\there"}
	name := runtime.StringValue(names[i%len(names)])
	if i%11 == 5 {
		name = runtime.NullValue(runtime.Varchar)
	}
	score := runtime.FloatValue(float64(i) / 4)
	if i%7 == 3 {
		score = runtime.NullValue(runtime.Double)
	}
	return []runtime.Value{runtime.IntValue(int64(i)), name, score, runtime.BoolValue(i%2 == 0), runtime.TimeValue(base + int64(i)*1000)}
}

func rows(from, to int) [][]runtime.Value {
	var out [][]runtime.Value
	for i := from; i < to; i++ {
		out = append(out, row(i))
	}
	return out
}

func formatted(rows [][]runtime.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rttest.Format(r)
	}
	slices.Sort(out)
	return out
}

func table(opts map[string]string) connectors.Table { return tableOf(schema, opts) }

func tableOf(s *runtime.Schema, opts map[string]string) connectors.Table {
	return connectors.Table{Name: "t", Schema: s, Options: opts, TimeColumn: -1}
}

func connector(t *testing.T) interface {
	connectors.Source
	connectors.Sink
} {
	t.Helper()
	f, ok := connectors.Lookup("file")
	if !ok {
		t.Fatal("file is not registered")
	}
	c, ok := f.(interface {
		connectors.Source
		connectors.Sink
	})
	if !ok {
		t.Fatalf("%T is not a source and a sink", f)
	}
	return c
}

// readJob builds a job reading the table with par subtasks into a
// collector.
func readJob(t *testing.T, opts map[string]string, par int) (*runtime.Graph, *rttest.Collector) {
	t.Helper()
	newSrc, n, err := connector(t).NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("source parallelism %d, want 0 (the job's)", n)
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 4})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	return g, c
}

// read runs a bounded read of the table and returns the rows, sorted.
func read(t *testing.T, opts map[string]string, par int) ([]string, *metrics.Set, error) {
	t.Helper()
	return readLogged(t, opts, par, os.Stderr)
}

// readLogged is read with the job's log lines written to log.
func readLogged(t *testing.T, opts map[string]string, par int, log io.Writer) ([]string, *metrics.Set, error) {
	t.Helper()
	g, c := readJob(t, opts, par)
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: set, Logger: lineLogger(log)})
	return c.Sorted(), set, err
}

// lineLogger is a job logger writing "sluice: " lines to w, as the command does.
func lineLogger(w io.Writer) *slog.Logger { return slog.New(runtime.NewLineHandler(w, nil)) }

func mustRead(t *testing.T, opts map[string]string, par int) []string {
	t.Helper()
	got, _, err := read(t, opts, par)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// write runs a job writing rows into the table through a sink of par
// subtasks (or the one the sink asks for).
func write(t *testing.T, opts map[string]string, par int, rows [][]runtime.Value) error {
	t.Helper()
	newSink, n, err := connector(t).NewSink(table(opts))
	if err != nil {
		return err
	}
	if n == 0 {
		n = par
	}
	g := runtime.NewGraph("write")
	src := g.AddSource("rows", schema, par, rttest.Source(schema, rttest.Deal(rows, 100, par)), runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("file", schema, n, 1, newSink), runtime.Rebalance)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: metrics.NewSet()})
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// jsonLines renders rows as the JSON lines a producer would write.
func jsonLines(rows [][]runtime.Value) string {
	var sb strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&sb, `{"id":%d,"ts":%d}`+"\n", r[0].I, r[4].I)
	}
	return sb.String()
}

func TestRegistered(t *testing.T) {
	c := connector(t)
	var keys []string
	for _, o := range c.Options() {
		if o.Doc == "" {
			t.Errorf("option %q has no doc", o.Key)
		}
		keys = append(keys, o.Key)
	}
	for _, k := range []string{"path", "format", "csv.field-delimiter", "csv.ignore-first-line", "csv.header",
		"source.monitor-interval", "errors.path", "format.fail-on-error",
		"sink.rolling-policy.file-size", "sink.rolling-policy.rollover-interval"} {
		if !slices.Contains(keys, k) {
			t.Errorf("option %q missing", k)
		}
	}
	if c.AcceptsUpdates(table(map[string]string{"path": "x", "format": "json"})) ||
		!c.AcceptsUpdates(table(map[string]string{"path": "x", "format": "changelog-json"})) {
		t.Error("only changelog-json accepts updates")
	}
}

// TestRoundTrip writes rows with the sink and reads them back with the
// source, for every format and parallelism.
func TestRoundTrip(t *testing.T) {
	want := rows(0, 5000)
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"json", map[string]string{"format": "json"}},
		{"csv", map[string]string{"format": "csv"}},
		{"csv-header-semicolon", map[string]string{"format": "csv", "csv.field-delimiter": ";", "csv.header": "true", "csv.ignore-first-line": "true"}},
		{"csv-tab", map[string]string{"format": "csv", "csv.field-delimiter": `\t`}},
	} {
		for _, par := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/p=%d", tc.name, par), func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "out")
				opts := map[string]string{"path": dir}
				for k, v := range tc.opts {
					opts[k] = v
				}
				if err := write(t, opts, par, want); err != nil {
					t.Fatal(err)
				}
				files := names(t, dir)
				if len(files) != par {
					t.Fatalf("files %v, want one part per subtask", files)
				}
				for _, f := range files {
					if !strings.HasPrefix(f, "part-") {
						t.Fatalf("file %s left behind", f)
					}
				}
				for _, readPar := range []int{1, 3} {
					if got := mustRead(t, opts, readPar); !slices.Equal(got, formatted(want)) {
						t.Fatalf("read at parallelism %d: %d rows, want %d", readPar, len(got), len(want))
					}
				}
			})
		}
	}
}

func TestSinkOneFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.json", "out.jsonl", "out.csv"} {
		path := filepath.Join(dir, name)
		opts := map[string]string{"path": path, "format": strings.TrimSuffix(strings.TrimPrefix(filepath.Ext(name), "."), "l")}
		if _, n, err := connector(t).NewSink(table(opts)); err != nil || n != 1 {
			t.Fatalf("%s: parallelism %d, %v; want 1", name, n, err)
		}
		if err := write(t, opts, 3, rows(0, 100)); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, opts, 1); !slices.Equal(got, formatted(rows(0, 100))) {
			t.Fatalf("%s: read %d rows", name, len(got))
		}
	}
	if got, want := names(t, dir), []string{"out.csv", "out.json", "out.jsonl"}; !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	text, err := os.ReadFile(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte(`"ts":"2026-11-25T10:00:00.000Z"`)) {
		t.Fatalf("no RFC 3339 timestamp in\n%.300s", text)
	}
	// With no rows, the file is written all the same (empty).
	empty := filepath.Join(dir, "empty.json")
	if err := write(t, map[string]string{"path": empty}, 1, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(empty); err != nil || st.Size() != 0 {
		t.Fatalf("empty output: %v, %v", st, err)
	}
}

func TestChangelogJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "changes.json")
	if err := write(t, map[string]string{"path": path, "format": "changelog-json"}, 1, rows(0, 2)); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op":"+I","row":{"id":0,"name":"plain","score":0.0,"ok":true,"ts":"2026-11-25T10:00:00.000Z"}}` + "\n" +
		`{"op":"+I","row":{"id":1,"name":"a,b","score":0.25,"ok":false,"ts":"2026-11-25T10:00:01.000Z"}}` + "\n"
	if string(text) != want {
		t.Fatalf("got\n%s\nwant\n%s", text, want)
	}
}

// TestSourceFolderAndGlob reads several files through a folder and a glob,
// skipping hidden files and folders, with one and three subtasks.
func TestSourceFolderAndGlob(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.json"), jsonLines(rows(0, 3000)))
	writeFile(t, filepath.Join(dir, "b.json"), jsonLines(rows(3000, 3001)))
	writeFile(t, filepath.Join(dir, "c.jsonl"), jsonLines(rows(3001, 3500))+`{"id":3500,"ts":0}`) // no final line break
	writeFile(t, filepath.Join(dir, "d.json"), "")
	writeFile(t, filepath.Join(dir, ".hidden.json"), "not json\n")
	writeFile(t, filepath.Join(dir, "_SUCCESS"), "not json\n")
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.json", "e.json"), "not json\n")
	want := func(rs [][]runtime.Value) []string {
		var out [][]runtime.Value
		for _, r := range rs {
			out = append(out, []runtime.Value{r[0], runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Double), runtime.NullValue(runtime.Boolean), r[4]})
		}
		return formatted(out)
	}
	last := []runtime.Value{runtime.IntValue(3500), {}, {}, {}, runtime.TimeValue(0)}
	for _, par := range []int{1, 3} {
		if got := mustRead(t, map[string]string{"path": dir}, par); !slices.Equal(got, want(append(rows(0, 3500), last))) {
			t.Fatalf("folder at parallelism %d: %d rows", par, len(got))
		}
		if got := mustRead(t, map[string]string{"path": filepath.Join(dir, "*.json")}, par); !slices.Equal(got, want(rows(0, 3001))) {
			t.Fatalf("glob at parallelism %d: %d rows", par, len(got))
		}
		if got := mustRead(t, map[string]string{"path": "file://" + filepath.Join(dir, "c.jsonl")}, par); !slices.Equal(got, want(append(rows(3001, 3500), last))) {
			t.Fatalf("one file at parallelism %d: %d rows", par, len(got))
		}
	}
	// A hidden file named on its own is read.
	var log syncBuffer
	if _, _, err := readLogged(t, map[string]string{"path": filepath.Join(dir, ".hidden.json")}, 1, &log); err != nil {
		t.Fatal(err) // its bad line goes to the log, and the job goes on
	}
	if !strings.Contains(log.String(), ".hidden.json:1: at offset 0: unexpected 'n', want a JSON object (skipped)") {
		t.Fatalf("log: %s", log.String())
	}

	// The files are the partitions, dealt in name order.
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"path": dir}))
	if err != nil {
		t.Fatal(err)
	}
	var srcs []runtime.Source
	for range 3 {
		srcs = append(srcs, newSrc())
	}
	var got []string
	for i, src := range srcs {
		if err := src.Open(rttest.NewContext("src", i, 3)); err != nil {
			t.Fatal(err)
		}
		s := src.(*Source)
		var files []string
		for _, fs := range s.files {
			files = append(files, filepath.Base(fs.path))
		}
		got = append(got, fmt.Sprint(s.Partitions(), files))
		src.Close()
	}
	if want := "[0 1] [a.json d.json]|[0] [b.json]|[0] [c.jsonl]"; strings.Join(got, "|") != want {
		t.Fatalf("partitions %s, want %s", strings.Join(got, "|"), want)
	}
}

func TestSourceEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	if got := mustRead(t, map[string]string{"path": dir}, 2); len(got) != 0 {
		t.Fatalf("empty folder: %d rows", len(got))
	}
	if got := mustRead(t, map[string]string{"path": filepath.Join(dir, "*.json")}, 2); len(got) != 0 {
		t.Fatalf("glob matching nothing: %d rows", len(got))
	}
	_, _, err := connector(t).NewSource(table(map[string]string{"path": filepath.Join(dir, "nope")}))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing path: %v", err)
	}
}

// badLines is a file of good and malformed records; want are its good rows.
func badLines(t *testing.T, dir string) (path string, want []string, bad map[int64]string) {
	path = filepath.Join(dir, "in.json")
	writeFile(t, path, `{"id":1,"ts":"2026-11-25T10:00:00Z"}
{"id":2,"ts":"2026-11-25T10:00:01Z"
{"id":3,"ts":"yesterday"}

{"id":4,"ts":1764064800000,"name":"ok"}
{"ts":1764064800000}
not json at all
{"id":5,"ts":1764064800000,"score":"x"}
{"id":6,"ts":1764064800000}`+"\r\n")
	want = []string{
		"1,NULL,NULL,NULL,2026-11-25 10:00:00.000",
		"4,ok,NULL,NULL,2025-11-25 10:00:00.000",
		"6,NULL,NULL,NULL,2025-11-25 10:00:00.000",
	}
	bad = map[int64]string{
		2: `at offset 35: unexpected end of record, want ',' or '}'`,
		3: `column "ts" at offset 13: "yesterday" is not a TIMESTAMP`,
		6: `column "id" at offset 20: is NOT NULL but missing`,
		7: `at offset 0: unexpected 'n', want a JSON object`,
		8: `column "score" at offset 35: want DOUBLE, got the string "x"`,
	}
	return path, want, bad
}

func TestBadRecordsToErrorsPath(t *testing.T) {
	dir := t.TempDir()
	path, want, bad := badLines(t, dir)
	errPath := filepath.Join(dir, "errors.jsonl")
	got, set, err := read(t, map[string]string{"path": path, "errors.path": errPath}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, ok := rttest.Metric(set, "sluice_operator_bad_records_total", "src"); !ok || n != float64(len(bad)) {
		t.Fatalf("bad records metric %v (found %v), want %d", n, ok, len(bad))
	}
	text, err := os.ReadFile(errPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) != len(bad) {
		t.Fatalf("%d error lines, want %d:\n%s", len(lines), len(bad), text)
	}
	source, _ := os.ReadFile(path)
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
		wantErr, ok := bad[e.Line]
		if e.File != path || !ok || !strings.Contains(e.Error, wantErr) {
			t.Fatalf("error line %s: want file %s and an error containing %q", l, path, wantErr)
		}
		if srcLine := strings.Split(string(source), "\n")[e.Line-1]; e.Record != srcLine {
			t.Fatalf("record %q, want line %d: %q", e.Record, e.Line, srcLine)
		}
		delete(bad, e.Line)
	}
	// A second run appends.
	if _, _, err := read(t, map[string]string{"path": path, "errors.path": errPath}, 1); err != nil {
		t.Fatal(err)
	}
	if text2, _ := os.ReadFile(errPath); len(text2) != 2*len(text) {
		t.Fatalf("errors.path has %d bytes after a second run, want %d", len(text2), 2*len(text))
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestFailOnError(t *testing.T) {
	dir := t.TempDir()
	path, _, _ := badLines(t, dir)
	_, _, err := read(t, map[string]string{"path": path, "format.fail-on-error": "true"}, 1)
	var oe *runtime.OperatorError
	if err == nil || !strings.Contains(err.Error(), path+`:2: at offset 35`) {
		t.Fatalf("got %v, want an error naming %s:2", err, path)
	}
	if !errors.As(err, &oe) || oe.Operator != "src" {
		t.Fatalf("got %v, want an *runtime.OperatorError of the source", err)
	}
}

func TestCSVSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.csv")
	writeFile(t, path, "\xEF\xBB\xBFid,name,score,ok,ts\r\n"+
		"1,\"multi\r\nline, \"\"quoted\"\"\",1.5,TRUE,2026-11-25 10:00:00.000\r\n"+
		"2,,,false,2026-11-25T10:00:00Z\r\n"+
		"3,x,1,true\r\n"+
		"\r\n"+
		"4,\"open quote,,,\n"+
		"5,y,,,\n")
	errPath := filepath.Join(dir, "errors.jsonl")
	got, _, err := read(t, map[string]string{"path": path, "format": "csv", "csv.ignore-first-line": "true", "errors.path": errPath}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1,multi\r\nline, \"quoted\",1.5,TRUE,2026-11-25 10:00:00.000", "2,NULL,NULL,FALSE,2026-11-25 10:00:00.000"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	text, _ := os.ReadFile(errPath)
	for _, w := range []string{`"line":5,"error":"at offset 10: found 4 fields, want 5`, `"line":7,"error":"at offset 2: record ends inside a quoted field","record":"4,\"open quote,,,\n5,y,,,"}`} {
		if !strings.Contains(string(text), w) {
			t.Fatalf("errors:\n%s\nwant %s", text, w)
		}
	}
}

func TestLongRecord(t *testing.T) {
	maxRecordBytes = 1000
	defer func() { maxRecordBytes = MaxRecordBytes }()
	dir := t.TempDir()
	path := filepath.Join(dir, "in.json")
	long := `{"id":2,"name":"` + strings.Repeat("x", readBuffer+5000) + `","ts":0}`
	writeFile(t, path, jsonLines(rows(0, 1))+long+"\n"+jsonLines(rows(3, 4)))
	errPath := filepath.Join(dir, "errors.jsonl")
	got, _, err := read(t, map[string]string{"path": path, "errors.path": errPath}, 1)
	if err != nil || len(got) != 2 {
		t.Fatalf("%d rows, %v; want the 2 short ones", len(got), err)
	}
	if text, _ := os.ReadFile(errPath); !strings.Contains(string(text), `"line":2,"error":"record longer than 1000 bytes"`) {
		t.Fatalf("errors:\n%.300s", text)
	}
}

// TestMonitor follows a folder: appended lines (a partial line only once
// it is complete) and a new file, then stops on cancel.
func TestMonitor(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "1.json")
	writeFile(t, first, jsonLines(rows(0, 2)))
	g, c := readJob(t, map[string]string{"path": dir, "source.monitor-interval": "10ms"}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 2, Metrics: metrics.NewSet()}) }()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for c.Len() < n {
			select {
			case err := <-done:
				t.Fatalf("job ended with %v, %d rows collected, want %d", err, c.Len(), n)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d rows after 20 s, want %d", c.Len(), n)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor(2)
	appendFile(t, first, jsonLines(rows(2, 4))+`{"id":4,`)
	waitFor(4)
	appendFile(t, first, `"ts":0}`+"\n")
	waitFor(5)
	writeFile(t, filepath.Join(dir, ".2.json.tmp"), jsonLines(rows(10, 20))) // hidden: not read
	second := filepath.Join(dir, "2.json")
	writeFile(t, second, jsonLines(rows(5, 8)))
	waitFor(8)
	appendFile(t, second, jsonLines(rows(8, 9)))
	waitFor(9)
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("job ended with %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("job did not stop on cancel")
	}
	if c.Len() != 9 {
		t.Fatalf("%d rows, want 9", c.Len())
	}
}

// TestPosition checks the position recorded at a barrier, and that a
// source restored from it reads exactly the rest.
func TestPosition(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.json"), jsonLines(rows(0, 3000)))
	writeFile(t, filepath.Join(dir, "b.json"), jsonLines(rows(3000, 3010)))
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"path": dir}))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	poll := func(src runtime.Source) bool {
		b, _, err := src.Poll(context.Background())
		if err != nil {
			return false
		}
		seen = append(seen, rttest.Strings(b)...)
		return true
	}
	src := newSrc().(*Source)
	if err := src.Open(rttest.NewContext("src", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if p := src.Position(); p.Checkpoint != 0 || len(p.Files) != 0 {
		t.Fatalf("position before any barrier: %+v", p)
	}
	poll(src) // a.json: the first 2048 rows
	poll(src) // b.json: 10 rows
	if err := src.OnBarrier(runtime.Barrier{ID: 7}); err != nil {
		t.Fatal(err)
	}
	poll(src) // a.json: more rows, after the barrier
	src.Close()
	pos := src.Position()
	lenA := int64(len(jsonLines(rows(0, runtime.DefaultBatchRows))))
	lenB := int64(len(jsonLines(rows(3000, 3010))))
	wantPos := Position{Checkpoint: 7, Files: []FilePosition{
		{Path: filepath.Join(dir, "a.json"), Offset: lenA, Line: runtime.DefaultBatchRows},
		{Path: filepath.Join(dir, "b.json"), Offset: lenB, Line: 10, Done: true}, // read to its end
	}}
	if fmt.Sprint(pos) != fmt.Sprint(wantPos) {
		t.Fatalf("position %+v, want %+v", pos, wantPos)
	}
	// Restore with two subtasks from the position of one. (Subtasks made
	// together share a listing, as the runtime makes them.)
	seen = seen[:runtime.DefaultBatchRows+10]
	restored := []*Source{newSrc().(*Source), newSrc().(*Source)}
	for i, src := range restored {
		src.Restore(pos)
		if err := src.Open(rttest.NewContext("src", i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range restored {
		for poll(src) {
		}
		src.Close()
	}
	var want []string
	for _, r := range rows(0, 3010) {
		want = append(want, rttest.Format([]runtime.Value{r[0], {Type: runtime.Varchar, Null: true}, {Type: runtime.Double, Null: true}, {Type: runtime.Boolean, Null: true}, r[4]}))
	}
	slices.Sort(want)
	slices.Sort(seen)
	if !slices.Equal(seen, want) {
		t.Fatalf("%d rows read before and after the restore, want %d exactly once", len(seen), len(want))
	}
}

// TestSinkInProgressHidden drives a sink subtask by hand: its file is
// hidden until finished, and it rolls by size and by time.
func TestSinkInProgressHidden(t *testing.T) {
	dir := t.TempDir()
	newSink, _, err := connector(t).NewSink(table(map[string]string{"path": dir, "sink.rolling-policy.file-size": "1kb"}))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "part-1-4.json"), "") // from an earlier run: not overwritten
	op := newSink()
	if err := op.Open(rttest.NewContext("file", 1, 2)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := op.ProcessBatch(0, rttest.NewBatch(schema, rows(0, 5)...), nil); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{".part-1-5.json.inprogress", "part-1-4.json"}) {
		t.Fatalf("files %v", got)
	}
	if got := mustRead(t, map[string]string{"path": dir}, 1); len(got) != 0 {
		t.Fatalf("a reader sees %d rows of an in-progress file", len(got))
	}
	if err := op.ProcessBatch(0, rttest.NewBatch(schema, rows(5, 40)...), nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	files := names(t, dir)
	for _, f := range files {
		st, _ := os.Stat(filepath.Join(dir, f))
		if strings.HasPrefix(f, ".") || st.Size() > 1024+200 {
			t.Fatalf("file %s of %d bytes after finishing (files %v)", f, st.Size(), files)
		}
	}
	if len(files) < 4 {
		t.Fatalf("files %v: want several parts of about 1 KiB", files)
	}
	if got := mustRead(t, map[string]string{"path": dir}, 2); !slices.Equal(got, formatted(rows(0, 40))) {
		t.Fatalf("read back %d rows", len(got))
	}

	// Rollover by time, without rows arriving.
	dir2 := t.TempDir()
	newSink, _, err = connector(t).NewSink(table(map[string]string{"path": dir2, "sink.rolling-policy.rollover-interval": "1ms"}))
	if err != nil {
		t.Fatal(err)
	}
	op2 := newSink().(*sink)
	if err := op2.Open(rttest.NewContext("file", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer op2.Close()
	if err := op2.ProcessBatch(0, rttest.NewBatch(schema, rows(0, 1)...), nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(op2.open) > 0; {
		if err := op2.OnProcessingTime(time.Now().UnixMilli(), nil); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("not rolled after 10 s")
		}
	}
	if got := names(t, dir2); !slices.Equal(got, []string{"part-0-0.json"}) {
		t.Fatalf("files %v", got)
	}
}

// TestSinkPublishesOnCancel: an unbounded job stopped by cancel keeps the
// rows its sink received.
func TestSinkPublishesOnCancel(t *testing.T) {
	dir := t.TempDir()
	newSink, _, err := connector(t).NewSink(table(map[string]string{"path": dir}))
	if err != nil {
		t.Fatal(err)
	}
	g := runtime.NewGraph("write")
	src := g.AddSource("rows", schema, 1, rttest.Source(schema, rttest.Deal(rows(0, 10), 0, 1),
		rttest.Hold(func() bool { return false }, time.Minute)), runtime.NoWatermarks)
	c, collect := rttest.NewCollector(schema)
	g.Connect(src, g.AddOperator("file", schema, 1, 1, newSink), runtime.Forward)
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, collect), runtime.Forward)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet()}) }()
	for deadline := time.Now().Add(20 * time.Second); c.Len() < 10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("rows did not arrive")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("job ended with %v", err)
	}
	if got := mustRead(t, map[string]string{"path": dir}, 1); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("read back %d rows, want 10", len(got))
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x"), "")
	f := func(sink bool, opts map[string]string, want string) {
		t.Helper()
		var err error
		if sink {
			_, _, err = connector(t).NewSink(table(opts))
		} else {
			_, _, err = connector(t).NewSource(table(opts))
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got %v, want an error containing %q", opts, err, want)
		}
	}
	f(false, map[string]string{}, `needs option "path"`)
	f(false, map[string]string{"path": dir, "fromat": "csv"}, `no option "fromat" (did you mean "format"?)`)
	f(false, map[string]string{"path": dir, "format": "xml"}, `table t: option "format": "xml" is not one of json, csv, changelog-json, debezium-json`)
	f(false, map[string]string{"path": dir, "format": "changelog-json"}, `option "format": changelog-json is an updating stream`)
	f(true, map[string]string{"path": dir, "format": "debezium-json"}, `debezium-json can only be read`)
	f(false, map[string]string{"path": dir, "format": "csv", "csv.field-delimiter": "ab"}, `option "csv.field-delimiter": field delimiter "ab" is not one character`)
	f(false, map[string]string{"path": dir, "source.monitor-interval": "soon"}, `option "source.monitor-interval": "soon" is not a duration`)
	f(false, map[string]string{"path": dir, "source.monitor-interval": "0"}, `option "source.monitor-interval": "0" must be at least 1ms`)
	f(false, map[string]string{"path": dir, "format.fail-on-error": "yes"}, `option "format.fail-on-error": "yes" is not true or false`)
	f(false, map[string]string{"path": dir, "errors.path": filepath.Join(dir, "nope", "e.json")}, `option "errors.path": folder`)
	f(false, map[string]string{"path": dir, "errors.path": dir}, `is not a regular file`)
	f(false, map[string]string{"path": filepath.Join(dir, "nope.json")}, `option "path"`)
	f(false, map[string]string{"path": filepath.Join(dir, "nope", "*.json")}, `option "path"`)
	f(false, map[string]string{"path": filepath.Join(dir, "[.json")}, `bad glob`)
	f(false, map[string]string{"path": "s3://bucket/x"}, `only local paths`)
	f(false, map[string]string{"path": "a\x00b"}, `NUL`)
	f(true, map[string]string{"path": filepath.Join(dir, "*.json")}, `a sink path cannot be a glob`)
	f(true, map[string]string{"path": filepath.Join(dir, "x")}, `is a file; give a folder`)
	f(true, map[string]string{"path": filepath.Join(dir, "o.json"), "sink.rolling-policy.file-size": "1MB"}, `cannot roll`)
	f(true, map[string]string{"path": dir, "sink.rolling-policy.file-size": "lots"}, `"lots" is not a size`)
	f(true, map[string]string{"path": dir, "sink.rolling-policy.file-size": "0"}, `option "sink.rolling-policy.file-size": "0" must be between 1b and 4194304tb`)
	f(true, map[string]string{"path": dir, "sink.rolling-policy.rollover-interval": "-1s"}, `option "sink.rolling-policy.rollover-interval": "-1s" must be at least 1ms`)

	// Following a folder that does not exist yet is fine.
	if _, _, err := connector(t).NewSource(table(map[string]string{"path": filepath.Join(dir, "later"), "source.monitor-interval": "1s"})); err != nil {
		t.Fatal(err)
	}
}

// TestMonitorWatermark: when following, a subtask with no file holds the
// watermark back only until the idle timeout. (The file keeps growing, so
// that the subtask reading it stays active.)
func TestMonitorWatermark(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "1.json")
	writeFile(t, path, jsonLines(rows(0, 100)))
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"path": dir, "source.monitor-interval": "5ms"}))
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("follow")
	src := g.AddSource("src", schema, 2, newSrc, runtime.WatermarkStrategy{TimeColumn: 4, IdleTimeout: 200 * time.Millisecond})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 2, Metrics: metrics.NewSet()}) }()
	defer func() {
		cancel()
		<-done
	}()
	want := base + 99*1000 - 1
	for i, deadline := 100, time.Now().Add(20*time.Second); ; i++ {
		if wms := c.Watermarks(); len(wms) > 0 && wms[len(wms)-1] >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watermarks %v, want them to reach %d", c.Watermarks(), want)
		}
		appendFile(t, path, jsonLines(rows(i, i+1)))
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSinkOneFileOneSubtask(t *testing.T) {
	newSink, _, err := connector(t).NewSink(table(map[string]string{"path": filepath.Join(t.TempDir(), "o.json")}))
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	defer op.Close()
	if err := op.Open(rttest.NewContext("file", 0, 2)); err == nil || !strings.Contains(err.Error(), "runs as one subtask, not 2") {
		t.Fatalf("got %v", err)
	}
}

func TestChangelogJSONWritesRowKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "changes.json")
	newSink, _, err := connector(t).NewSink(table(map[string]string{"path": path, "format": "changelog-json"}))
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	if err := op.Open(rttest.NewContext("file", 0, 1)); err != nil {
		t.Fatal(err)
	}
	b := rttest.NewBatch(schema, rows(0, 3)...)
	b.SetKind(1, runtime.UpdateBefore)
	b.SetKind(2, runtime.UpdateAfter)
	if err := op.ProcessBatch(0, b, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	op.Close()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		ops = append(ops, line[:11])
	}
	if got := strings.Join(ops, " "); got != `{"op":"+I", {"op":"-U", {"op":"+U",` {
		t.Fatalf("kinds written: %s\n%s", got, text)
	}
}
