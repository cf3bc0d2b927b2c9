package file

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// readTimed runs a bounded read of the table with ts as its event time and
// returns the collector (rows and watermarks), the metrics and the log.
func readTimed(t *testing.T, opts map[string]string) (*rttest.Collector, *metrics.Set, string, error) {
	t.Helper()
	var log syncBuffer
	tab := table(opts)
	tab.TimeColumn = 4
	newSrc, _, err := connector(t).NewSource(tab)
	if err != nil {
		return nil, nil, "", err
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, 1, newSrc, runtime.WatermarkStrategy{TimeColumn: 4})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: set, Logger: lineLogger(&log)})
	return c, set, log.String(), err
}

// goodAndBad writes n lines, of which those numbered in bad (1-based) are
// not JSON, and returns the path.
func goodAndBad(t *testing.T, n int, bad ...int) string {
	t.Helper()
	isBad := map[int]bool{}
	for _, b := range bad {
		isBad[b] = true
	}
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if isBad[i] {
			fmt.Fprintf(&sb, "{\"id\":%d, oops\n", i)
			continue
		}
		fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":%d}\n", i, base+int64(i))
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	writeFile(t, path, sb.String())
	return path
}

func summary(t *testing.T) string {
	t.Helper()
	for _, s := range connectors.Summaries() {
		if strings.HasPrefix(s, "table t:") {
			return s
		}
	}
	return ""
}

func TestFewBadRecordsAreEachLoggedAndListedInTheSummary(t *testing.T) {
	path := goodAndBad(t, 200, 19, 102, 154)
	c, _, log, err := readTimed(t, map[string]string{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 197 {
		t.Fatalf("%d rows, want 197", c.Len())
	}
	for _, line := range []int{19, 102, 154} {
		if !strings.Contains(log, fmt.Sprintf("%s:%d: at offset", path, line)) {
			t.Errorf("the log does not name %s:%d:\n%s", path, line, log)
		}
	}
	if n := strings.Count(log, "\n"); n != 3 {
		t.Errorf("%d log lines, want 3:\n%s", n, log)
	}
	want := fmt.Sprintf("table t: 3 bad records skipped (%s lines 19, 102, 154)", path)
	if got := summary(t); got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
}

func TestManyBadRecordsLogTheFirstTenThenTellWhereTheRestWent(t *testing.T) {
	var bad []int
	for i := range 25 {
		bad = append(bad, 3+i*7)
	}
	path := goodAndBad(t, 200, bad...)

	// Without errors.path: ten in full, the rest rate-limited.
	_, set, log, err := readTimed(t, map[string]string{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := rttest.Metric(set, "sluice_operator_bad_records_total", "src"); n != 25 {
		t.Fatalf("bad records metric %v, want 25", n)
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) < 10 || len(lines) > 13 {
		t.Fatalf("%d log lines, want the first 10 and at most a few more:\n%s", len(lines), log)
	}
	for i := range 10 {
		if !strings.Contains(lines[i], fmt.Sprintf("%s:%d: ", path, bad[i])) {
			t.Fatalf("log line %d %q: want %s:%d", i, lines[i], path, bad[i])
		}
	}
	s := summary(t)
	if !strings.HasPrefix(s, fmt.Sprintf("table t: 25 bad records skipped (%s lines 3, 10, 17,", path)) ||
		!strings.Contains(s, "the first 10 were logged above, the other 15 at most once a second (set 'errors.path' to keep every one)") {
		t.Fatalf("summary %q", s)
	}

	// With errors.path: all 25 there, and the summary says so.
	errPath := filepath.Join(t.TempDir(), "bad.jsonl")
	if _, _, _, err := readTimed(t, map[string]string{"path": path, "errors.path": errPath}); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(errPath)
	if n := strings.Count(string(text), "\n"); n != 25 {
		t.Fatalf("%d lines in errors.path, want 25", n)
	}
	if s := summary(t); !strings.Contains(s, "the first 10 were logged above, all 25 are in "+errPath) {
		t.Fatalf("summary %q", s)
	}
}

func TestFarFutureRowIsABadRecordNotAWatermarkDriver(t *testing.T) {
	var sb strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":%d}\n", i, base+int64(i)*100)
		if i == 1000 {
			sb.WriteString(`{"id":0,"ts":"9999-12-31T00:00:00Z"}` + "\n")
			fmt.Fprintf(&sb, "{\"id\":-1,\"ts\":%d}\n", int64(math.MinInt64))
			fmt.Fprintf(&sb, "{\"id\":-2,\"ts\":%d}\n", int64(math.MaxInt64))
		}
	}
	path := filepath.Join(t.TempDir(), "in.jsonl")
	writeFile(t, path, sb.String())
	errPath := filepath.Join(t.TempDir(), "bad.jsonl")
	c, _, _, err := readTimed(t, map[string]string{"path": path, "errors.path": errPath})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 5000 {
		t.Fatalf("%d rows, want the 5000 sane ones", c.Len())
	}
	for _, wm := range c.Watermarks() {
		if wm != runtime.MaxWatermark && wm > base+5000*100 {
			t.Fatalf("watermark %d (%s) is past every sane row", wm, runtime.FormatTimestamp(wm))
		}
	}
	text, _ := os.ReadFile(errPath)
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	want := []struct {
		line int64
		err  string
	}{
		{1001, `column "ts": event time 9999-12-31 00:00:00.000 is more than 24h0m0s ahead of the wall clock`},
		{1002, `column "ts": event time -9223372036854775808 ms is outside the years 0001-9999`},
		{1003, `column "ts": event time 9223372036854775807 ms is outside the years 0001-9999`},
	}
	if len(lines) != len(want) {
		t.Fatalf("errors.path:\n%s", text)
	}
	for i, l := range lines {
		var e struct {
			File  string
			Line  int64
			Error string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.File != path || e.Line != want[i].line || !strings.Contains(e.Error, want[i].err) {
			t.Fatalf("errors.path line %s, want line %d and %q", l, want[i].line, want[i].err)
		}
	}
	// 'off' keeps only the years as the bound.
	c, _, _, err = readTimed(t, map[string]string{"path": path, "scan.watermark.max-future": "off"})
	if err != nil || c.Len() != 5001 {
		t.Fatalf("max-future off: %d rows (%v), want 5001", c.Len(), err)
	}
	// The bound is an option.
	_, _, _, err = readTimed(t, map[string]string{"path": path, "scan.watermark.max-future": "soon"})
	if err == nil || !strings.Contains(err.Error(), `option "scan.watermark.max-future"`) {
		t.Fatalf("got %v, want an error naming the option", err)
	}
}

// TestBadRecordLinesCarryJobOperatorAndSubtask: a bad record is reported
// through the logger of the subtask that read it.
func TestBadRecordLinesCarryJobOperatorAndSubtask(t *testing.T) {
	path := goodAndBad(t, 20, 7)
	var log syncBuffer
	g, _ := readJob(t, map[string]string{"path": path}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Logger: slog.New(slog.NewJSONHandler(&log, nil))}); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Level, Msg, Job, Operator string
		Subtask                   *int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &rec); err != nil {
		t.Fatalf("log %q: want one JSON line: %v", log.String(), err)
	}
	if rec.Level != "WARN" || !strings.HasSuffix(rec.Msg, "in.jsonl:7: at offset 9: unexpected 'o', want a key (skipped)") ||
		rec.Job != "read" || rec.Operator != "src" || rec.Subtask == nil || *rec.Subtask != 0 {
		t.Fatalf("log line %s: want a warning about line 7 with job read, operator src, subtask 0", log.String())
	}
}
