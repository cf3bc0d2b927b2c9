package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startMetricsRun starts `sluice run clickstream` serving metrics on a free
// loopback port and returns the URL of its /metrics page; the job is
// stopped with SIGTERM (and must exit 0) when the test ends.
func startMetricsRun(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(binary, "run", "clickstream", "--events", "-1", "--rows-per-second", "20000", "--metrics-addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { <-read; done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("after SIGTERM: %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("the job did not stop within 15 s of SIGTERM")
		}
	})
	select {
	case url := <-addr:
		return url
	case <-time.After(15 * time.Second):
		t.Fatal("no metrics address announced")
	}
	return ""
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestMetricsHaveHelpAndTypeLines: every metric family on /metrics has one
// # HELP line with a text and one # TYPE line, before its samples.
func TestMetricsHaveHelpAndTypeLines(t *testing.T) {
	url := startMetricsRun(t)
	var body string
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(body, `operator="window TUMBLE(10s)"`); {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed the window operator:\n%s", body)
		}
		if resp, b := get(t, url); resp.StatusCode == http.StatusOK {
			body = b
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
	help, typ := map[string]int{}, map[string]string{}
	helpRe := regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (\S.*)$`)
	typeRe := regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
	samples := 0
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if m := helpRe.FindStringSubmatch(line); m != nil {
			help[m[1]]++
			continue
		}
		if m := typeRe.FindStringSubmatch(line); m != nil {
			if typ[m[1]] != "" {
				t.Fatalf("a second # TYPE line for %s", m[1])
			}
			typ[m[1]] = m[2]
			continue
		}
		if strings.HasPrefix(line, "#") {
			t.Fatalf("malformed comment line %q", line)
		}
		name := line[:strings.IndexAny(line, "{ ")]
		fam := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if typ[fam] == "" {
				fam = strings.TrimSuffix(name, suffix)
			}
		}
		if typ[fam] == "" || help[fam] != 1 {
			t.Fatalf("sample %q: family %s has %d # HELP lines and # TYPE %q before it", line, fam, help[fam], typ[fam])
		}
		samples++
	}
	for fam, want := range map[string]string{
		"sluice_operator_rows_in_total":         "counter",
		"sluice_operator_watermark_lag_seconds": "gauge",
		"go_goroutines":                         "gauge",
	} {
		if typ[fam] != want {
			t.Errorf("# TYPE %s is %q, want %s", fam, typ[fam], want)
		}
	}
	if !strings.Contains(body, "# HELP sluice_operator_rows_in_total Rows an operator subtask received.\n# TYPE sluice_operator_rows_in_total counter\n") {
		t.Errorf("no help and type for sluice_operator_rows_in_total:\n%s", body)
	}
	if samples < 20 {
		t.Fatalf("only %d samples:\n%s", samples, body)
	}
}

// TestMetricsRootLinksToMetrics: / of the metrics listener is a page linking
// to /metrics (other paths are 404).
func TestMetricsRootLinksToMetrics(t *testing.T) {
	url := startMetricsRun(t)
	root := strings.TrimSuffix(url, "metrics")
	resp, body := get(t, root)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `<a href="/metrics">`) {
		t.Fatalf("GET %s: %s %q\n%s", root, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	if resp, _ := get(t, root+"nope"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET %snope: %s, want 404", root, resp.Status)
	}
}
