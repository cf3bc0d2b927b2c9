package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/internal/browsertest"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/parser"
)

var (
	binary    string
	binDir    string
	faultOnce sync.Once
	faultBin  string
	faultErr  error
)

// faultBinary returns the sluice binary built with the fault-injection
// hooks (-tags sluice_faultinject), building it on first use.
func faultBinary(t *testing.T) string {
	t.Helper()
	faultOnce.Do(func() {
		faultBin = filepath.Join(binDir, "sluice-faultinject")
		if out, err := exec.Command("go", "build", "-tags", "sluice_faultinject", "-o", faultBin, ".").CombinedOutput(); err != nil {
			faultErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if faultErr != nil {
		t.Fatal(faultErr)
	}
	return faultBin
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cmd")
	if err != nil {
		panic(err)
	}
	binDir = dir
	binary = filepath.Join(dir, "sluice")
	// No web console for the tests that do not ask for one (their output
	// is checked line by line, and many run at once); console_test.go asks.
	os.Setenv(envUI, "off")
	os.Unsetenv(envUIToken)
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	browsertest.Close()
	if code == 0 {
		// Most tests run the binary; those that run its code in-process
		// (stream tools, the shell, flags) must not leave goroutines behind.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var resultLine = regexp.MustCompile(`^(?:\d+> )?\+I\[(.*)\]$`)

// demoResults runs the clickstream-store job and returns its result rows.
func demoResults(t *testing.T, args ...string) []string {
	t.Helper()
	return resultRows(t, exec.Command(binary, append([]string{"run", "clickstream-store"}, args...)...))
}

// resultRows runs cmd and returns the rows it prints (without the subtask
// prefix), sorted; any other output line fails the test.
func resultRows(t *testing.T, cmd *exec.Cmd) []string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected output line %q", line)
		}
		rows = append(rows, m[1])
	}
	sort.Strings(rows)
	return rows
}

func TestDemoCountsEveryClickOnceAtAnyParallelism(t *testing.T) {
	const events = 300_000
	one := demoResults(t, "--events", strconv.Itoa(events), "--parallelism", "1")
	four := demoResults(t, "--events", strconv.Itoa(events), "--parallelism", "4")
	if strings.Join(one, "\n") != strings.Join(four, "\n") {
		t.Fatalf("parallelism 1 and 4 differ:\n%s\n---\n%s", strings.Join(one, "\n"), strings.Join(four, "\n"))
	}
	total := 0
	for _, r := range one {
		f := strings.Split(r, ", ")
		if len(f) != 7 {
			t.Fatalf("row %q: want 7 columns", r)
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("row %q: views %q", r, f[3])
		}
		total += n
	}
	if total != events {
		t.Fatalf("views add up to %d, want %d", total, events)
	}
}

func TestRunServesMetricsAndStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(binary, "run", "clickstream", "--events", "-1", "--rows-per-second", "20000", "--metrics-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("no metrics address announced")
	}
	want := regexp.MustCompile(`(?m)^sluice_operator_rows_in_total\{job="clickstream",operator="window TUMBLE\(10s\)",operator_id="\d+",subtask="\d+"\} ([1-9]\d*)$`)
	deadline := time.Now().Add(10 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if want.MatchString(body) && strings.Contains(body, "sluice_operator_state_keys") && strings.Contains(body, "sluice_operator_watermark_lag_seconds") {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !want.MatchString(body) {
		t.Fatalf("metrics never showed rows into the window operator:\n%s", body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop within 10 s of SIGTERM")
	}
}

func TestRunRejectsUnknownJobAndFlags(t *testing.T) {
	f := func(want string, args ...string) {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Fatalf("sluice %v: err %v, output %q; want it to fail saying %q", args, err, out, want)
		}
	}
	f(`unknown job "nope"; jobs: clickstream`, "run", "nope")
	f(`unknown job "clikstream" (did you mean "clickstream"?)`, "run", "clikstream")
	f("unknown flag --bogus", "demo", "--bogus")
	f(`unknown command "frobnicate"`, "frobnicate")
}

// TestRunAndExplainHelpListTheirFlags: "sluice run -h" and "sluice explain
// -h", as the top-level usage tells, exit 0 listing the flags of a SQL job
// file and the ready-made jobs.
func TestRunAndExplainHelpListTheirFlags(t *testing.T) {
	f := func(args []string, want ...string) {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("sluice %v: %v\n%s", args, err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Fatalf("sluice %v: want %q in\n%s", args, w, out)
			}
		}
	}
	f([]string{"run", "-h"}, "Usage: sluice run FILE.sql", "--checkpoint-dir", "--checkpoint-interval", "--from-savepoint",
		"--allow-duplicates", "--state-ttl", "--status-interval", "--parallelism", "clickstream-store")
	f([]string{"run", "--help"}, "--allow-duplicates")
	f([]string{"explain", "-h"}, "Usage: sluice explain FILE.sql", "--state-ttl", "--parallelism", "--format")
	f([]string{"help"}, "sluice help COMMAND", "explain", "bench")
}

func TestExplainShowsThePhysicalPlan(t *testing.T) {
	out, err := exec.Command(binary, "explain", "clickstream", "--parallelism", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		`source "clicks", parallelism 3`,
		"watermark: ts - 500ms per partition, minimum over partitions",
		`operator "filter", parallelism 3`,
		`from "clicks": FORWARD, chained into the same goroutine`,
		"filter: latency_ms >= 0 (a selection vector, rows are not copied)",
		"project: user_id AS user_id, page AS page, latency_ms AS latency_ms, CAST(latency_ms AS DOUBLE) AS latency, ts AS ts",
		`from "select": HASH(page) over 128 key groups`,
		"window: TUMBLE(10s) on ts, keys page",
		"aggregates: COUNT(*) AS views, COUNT(DISTINCT user_id) AS users, AVG(latency) AS avg_latency_ms, MAX(latency_ms) AS max_latency_ms",
		"late rows: dropped and counted",
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("plan lacks %q:\n%s", want, out)
		}
	}
}

func TestCatalogListAndDescribe(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := parser.ParseScript("CREATE TABLE clicks (page STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)\n  WITH ('connector' = 'datagen', 'number-of-rows' = '10');")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := catalog.FromDDL("job.sql", stmts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Create(tbl, false); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "catalog", "--catalog", dir, "list").CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^clicks\s+datagen\s+2\s+job.sql:1:1$`).Match(out) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "catalog", "--catalog", dir, "describe", "clicks").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "page") || !strings.Contains(string(out), "number-of-rows") {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "catalog", "--catalog", dir, "describe", "clikcs").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `did you mean "clicks"`) {
		t.Fatalf("describe of a misspelt table: %v\n%s", err, out)
	}
}

func TestRunSQLFile(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`-- views per key and 1-second window
CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '5000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '4',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1ms');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT k, TUMBLE_START(ts, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);
`), 0o644)
	rows := resultRows(t, exec.Command(binary, "run", job, "--parallelism", "2"))
	if len(rows) != 25 || rows[0] != "0, 2026-01-01 00:00:00.000, 200" || rows[24] != "4, 2026-01-01 00:00:04.000, 200" {
		t.Fatalf("rows:\n%s", strings.Join(rows, "\n"))
	}
	// A mistake names the file, line and column.
	os.WriteFile(job, []byte("CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen');\nINSERT INTO nowhere SELECT kk FROM src;\n"), 0o644)
	out, err := exec.Command(binary, "run", job).CombinedOutput()
	if err == nil || !strings.Contains(string(out), job+`:2:28: unknown column "kk" (did you mean "k"?)`) {
		t.Fatalf("bad job: %v\n%s", err, out)
	}
}

func TestCatalogFolderServesLaterJobs(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog")
	define := filepath.Join(dir, "define.sql")
	os.WriteFile(define, []byte(`CREATE TABLE nums (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3',
  'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '3');
CREATE TABLE shown WITH ('connector' = 'print');`), 0o644)
	if out, err := exec.Command(binary, "run", define, "--catalog", cat).CombinedOutput(); err != nil {
		t.Fatalf("define: %v\n%s", err, out)
	}
	use := filepath.Join(dir, "use.sql")
	os.WriteFile(use, []byte("INSERT INTO shown SELECT n * 10 AS tens FROM nums;"), 0o644)
	out, err := exec.Command(binary, "run", use, "--catalog", cat, "--parallelism", "1").Output()
	if err != nil || strings.TrimSpace(string(out)) != "+I[10]\n+I[20]\n+I[30]" {
		t.Fatalf("use: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "catalog", "--catalog", cat, "list").Output()
	if err != nil || !strings.Contains(string(out), "nums") || !strings.Contains(string(out), "shown") {
		t.Fatalf("list: %v\n%s", err, out)
	}
}

func TestUnboundedSQLJobStopsCleanlyOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.k.min' = '0', 'fields.k.max' = '3',
        'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms');
CREATE TABLE out WITH ('connector' = 'file', 'path' = '`+filepath.Join(dir, "out")+`');
INSERT INTO out SELECT k, TUMBLE_END(ts, INTERVAL '1' SECOND) AS we, COUNT(*) AS n FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);
`), 0o644)
	cmd := exec.Command(binary, "run", job, "--parallelism", "2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait until the sink has begun a part file: windows are firing.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dir, "out", ".part-*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no part file begun\n%s", stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job did not stop within 10 s of SIGTERM")
	}
	// Part files were published (not left hidden).
	files, _ := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, "out", ".*"))
	if len(files) == 0 || len(hidden) != 0 {
		t.Fatalf("published %v, hidden %v", files, hidden)
	}
}
