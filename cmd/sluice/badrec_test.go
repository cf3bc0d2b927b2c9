package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventFile writes rows {"id":i,"ts":…} for i in 1..n, ts 100 ms apart from
// 2026-11-25 10:00, with the given lines (1-based) replaced, and returns
// its path.
func eventFile(t *testing.T, dir string, n int, replace map[int]string) string {
	t.Helper()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if r, ok := replace[i]; ok {
			sb.WriteString(r + "\n")
			continue
		}
		fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":%d}\n", i, base+int64(i)*100)
	}
	path := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// windowJob writes a job counting the rows of path per minute and returns
// its path; with is added to the source's WITH options.
func windowJob(t *testing.T, dir, path, with string) string {
	t.Helper()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'file', 'path' = '`+path+`'`+with+`);
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE) AS ws, COUNT(*) AS n FROM src GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE);
`), 0o644)
	return job
}

// runJob runs a job to its end and returns the windows' counts summed and
// its standard error.
func runJob(t *testing.T, job string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, "run", job, "--parallelism", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	total := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected output line %q", line)
		}
		f := strings.Split(m[1], ", ")
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		total += n
	}
	return total, stderr.String()
}

func TestFarFutureRowDoesNotMakeLaterRowsLate(t *testing.T) {
	dir := t.TempDir()
	path := eventFile(t, dir, 5001, map[int]string{1001: `{"id":0,"ts":"9999-12-31T00:00:00Z"}`})
	errPath := filepath.Join(dir, "bad.jsonl")
	total, stderr := runJob(t, windowJob(t, dir, path, `, 'errors.path' = '`+errPath+`'`))
	if total != 5000 {
		t.Fatalf("the windows count %d rows, want all 5000 sane ones\n%s", total, stderr)
	}
	if strings.Contains(stderr, "late rows dropped") {
		t.Fatalf("rows were dropped as late:\n%s", stderr)
	}
	if !strings.Contains(stderr, path+`:1001: column "ts": event time 9999-12-31 00:00:00.000 is more than 24h0m0s ahead of the wall clock`) {
		t.Fatalf("stderr does not name line 1001 and the reason:\n%s", stderr)
	}
	if want := "sluice: table src: 1 bad record skipped (" + path + " line 1001); in " + errPath + "\n"; !strings.HasSuffix(stderr, want) {
		t.Fatalf("stderr does not end with the summary %q:\n%s", want, stderr)
	}
	if text, _ := os.ReadFile(errPath); !bytes.Contains(text, []byte(`"line":1001,"error":"column \"ts\": event time 9999-12-31`)) {
		t.Fatalf("errors.path holds %s", text)
	}
}

func TestLateDropsAreLoggedWithTheirCount(t *testing.T) {
	dir := t.TempDir()
	// Rows 3001-3005 are an hour behind the others.
	late := map[int]string{}
	for i := 3001; i <= 3005; i++ {
		late[i] = fmt.Sprintf(`{"id":%d,"ts":"2026-11-25T09:00:00.00%dZ"}`, i, i-3000)
	}
	path := eventFile(t, dir, 4000, late)
	total, stderr := runJob(t, windowJob(t, dir, path, ""))
	if total != 3995 {
		t.Fatalf("the windows count %d rows, want 3995", total)
	}
	re := regexp.MustCompile(`(?m)^sluice: window .+: 5 late rows dropped so far \(latest 2026-11-25 09:00:00\.005 behind watermark 2026-11-25 10:0\d:\d\d\.\d\d\d\)$`)
	if !re.MatchString(stderr) {
		t.Fatalf("stderr has no late-drop line with the count:\n%s", stderr)
	}
}

func TestBadLinesAreListedWhenTheJobEnds(t *testing.T) {
	dir := t.TempDir()
	path := eventFile(t, dir, 200, map[int]string{19: "{oops", 102: `{"id":"x"}`, 154: "not json"})
	total, stderr := runJob(t, windowJob(t, dir, path, ""))
	if total != 197 {
		t.Fatalf("the windows count %d rows, want 197", total)
	}
	for _, line := range []int{19, 102, 154} {
		if !strings.Contains(stderr, fmt.Sprintf("sluice: table src: %s:%d: ", path, line)) {
			t.Errorf("stderr does not name line %d:\n%s", line, stderr)
		}
	}
	if want := "sluice: table src: 3 bad records skipped (" + path + " lines 19, 102, 154)\n"; !strings.HasSuffix(stderr, want) {
		t.Fatalf("stderr does not end with %q:\n%s", want, stderr)
	}

	// 25 bad lines: the first 10 in full, then the count and where the rest went.
	bad := map[int]string{}
	for i := range 25 {
		bad[10+i*5] = "{oops"
	}
	path = eventFile(t, dir, 200, bad)
	_, stderr = runJob(t, windowJob(t, dir, path, ""))
	full := regexp.MustCompile(`(?m)^sluice: table src: `+regexp.QuoteMeta(path)+`:\d+: .*\(skipped\)$`).FindAllString(stderr, -1)
	if len(full) < 10 || len(full) > 13 {
		t.Fatalf("%d bad lines logged, want the first 10 and at most a few more:\n%s", len(full), stderr)
	}
	want := "sluice: table src: 25 bad records skipped (" + path + " lines 10, 15, 20, 25, 30, 35, 40, 45, 50, 55); " +
		"the first 10 were logged above, the other 15 at most once a second (set 'errors.path' to keep every one)\n"
	if !strings.HasSuffix(stderr, want) {
		t.Fatalf("stderr does not end with %q:\n%s", want, stderr)
	}
}

func TestUnboundedJobStatusLineCountsBadRecords(t *testing.T) {
	dir := t.TempDir()
	path := eventFile(t, dir, 100, map[int]string{7: "{oops", 70: "{oops"})
	job := windowJob(t, dir, path, `, 'source.monitor-interval' = '100 ms'`)
	cmd := exec.Command(binary, "run", job, "--parallelism", "1", "--status-interval", "200ms")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	want := "sluice: status: table src: 2 bad records skipped (" + path + " lines 7, 70) so far\n"
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no status line %q:\n%s", want, stderr.String())
		}
	}
	// Told once while nothing changes.
	time.Sleep(600 * time.Millisecond)
	if n := strings.Count(stderr.String(), "sluice: status: "); n != 1 {
		t.Fatalf("%d status lines, want 1 while the count stays:\n%s", n, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.HasSuffix(stderr.String(), "sluice: table src: 2 bad records skipped ("+path+" lines 7, 70)\n") {
		t.Fatalf("no summary at the end:\n%s", stderr.String())
	}
}
