package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// lineCount is the number of lines of a file (0 when it is missing).
func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestHangingSubscriberDoesNotStallTheJob: an alarm job publishing many
// notifications to a topic with an HTTP subscriber that accepts connections
// and never answers, and a file subscriber. The file keeps growing, the
// hanging subscriber's overflow goes to its dead letters, a log line names
// it, and SIGTERM stops the job with a savepoint within the topic's drain
// timeout.
func TestHangingSubscriberDoesNotStallTheJob(t *testing.T) {
	hang, hits := hangingServer(t)
	dir := t.TempDir()
	audit, dl := filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "dead.jsonl")
	job := hangingSubscriberJob(t, dir, hang.URL, audit, dl, "WITH ('drain-timeout' = '2 s')")
	cmd, stderr, exited := startRun(t, job, "--parallelism", "2", "--checkpoint-dir", filepath.Join(dir, "ck"), "--checkpoint-interval", "1s")

	poll := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			select {
			case err := <-exited:
				t.Fatalf("the job ended (%v) while waiting for %s\n%s", err, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %d audit lines, %d dead letters, %d requests to the hanging endpoint\n%s",
					what, lineCount(audit), lineCount(dl), hits.Load(), stderr.String())
			}
		}
	}
	poll("the hanging subscriber's queue to overflow into its dead letters", func() bool {
		return hits.Load() > 0 && lineCount(dl) > 0
	})
	// Long after the queue is full, the file subscriber still gets every
	// notification.
	for range 3 {
		n := lineCount(audit)
		poll("the file subscriber to keep growing", func() bool { return lineCount(audit) > n+100 })
	}
	if d := lineCount(dl); d < 100 {
		t.Fatalf("%d dead letters for the hanging subscriber", d)
	}

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the job did not stop within 30 s of SIGTERM\n%s", stderr.String())
	}
	took := time.Since(start)
	t.Logf("stopped %v after SIGTERM; %d notifications in the file, %d dead letters", took, lineCount(audit), lineCount(dl))
	log := stderr.String()
	t.Logf("standard error:\n%s", log)
	if !strings.Contains(log, "savepoint written to") {
		t.Errorf("no savepoint:\n%s", log)
	}
	if !strings.Contains(log, "subscription pager: the queue is full") || !strings.Contains(log, "closed before every message was delivered") {
		t.Errorf("the log does not name the hanging subscription:\n%s", log)
	}
	b, _ := os.ReadFile(dl)
	if !strings.Contains(string(b), `"reason":"subscription queue full`) || !strings.Contains(string(b), `"subscription":"pager"`) {
		t.Errorf("dead letters without the reason:\n%.2000s", b)
	}
}

// startRun starts "sluice run job args…". It returns the process, its
// standard error as it grows, and a channel that gets Wait's result once it
// exits; the process is killed when the test ends.
func startRun(t *testing.T, job string, args ...string) (*exec.Cmd, *lockedBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run", job}, args...)...)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stderr, exited
}

// hangingSubscriberJob writes an alarm job publishing many notifications to
// the topic ops (created WITH topicOptions) whose subscription pager posts
// them to hangURL, dead letters in dl, and audit appends them to the file
// audit.
func hangingSubscriberJob(t *testing.T, dir, hangURL, audit, dl, topicOptions string) string {
	t.Helper()
	job := filepath.Join(dir, "job.sql")
	// 50 hosts, random CPU averaged over two rows a period: about half of
	// them change state every period, twenty periods a second.
	err := os.WriteFile(job, []byte(fmt.Sprintf(`CREATE TABLE cpu (k BIGINT, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.k.min' = '0', 'fields.k.max' = '49',
        'fields.cpu.min' = '0', 'fields.cpu.max' = '100', 'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms');
CREATE TOPIC ops %s;
CREATE SUBSCRIPTION pager ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = '%s/hook',
  'attempt-timeout' = '10 min', 'queue-bytes' = '20000', 'dead-letter' = 'file://%s');
CREATE SUBSCRIPTION audit ON TOPIC ops WITH ('protocol' = 'file', 'endpoint' = '%s');
CREATE TABLE high_cpu (host BIGINT, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = 'HighCPU',
  'metric' = 'avg_cpu', 'dimensions' = 'host', 'period' = 'period_end',
  'comparison' = 'GreaterThanThreshold', 'threshold' = '50', 'evaluation-periods' = '1');
INSERT INTO high_cpu SELECT k AS host, TUMBLE_END(ts, INTERVAL '1' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);
`, topicOptions, hangURL, dl, audit)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// hangingServer is an HTTP server on loopback that accepts requests and
// never answers them.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() {
		close(release)
		hang.Close()
	})
	return hang, &hits
}

// TestSecondSignalCutsTheTopicDrainShort: a job stopped by SIGTERM delivers
// what its topics hold for up to a minute; a second signal then makes it
// exit at once, the rest going to the dead letters.
func TestSecondSignalCutsTheTopicDrainShort(t *testing.T) {
	hang, hits := hangingServer(t)
	dir := t.TempDir()
	audit, dl := filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "dead.jsonl")
	job := hangingSubscriberJob(t, dir, hang.URL, audit, dl, "")
	cmd, stderr, exited := startRun(t, job, "--parallelism", "2")
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, stderr.String())
			}
		}
	}
	waitUntil("a request to the hanging endpoint and notifications in the file", func() bool {
		return hits.Load() > 0 && lineCount(audit) > 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	waitUntil("the topic's drain", func() bool { return strings.Contains(stderr.String(), "sns topic ops: delivering the") })
	select {
	case err := <-exited:
		t.Fatalf("the job exited (%v) before the second signal, while its endpoint hangs\n%s", err, stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the job did not stop within 10 s of a second SIGTERM\n%s", stderr.String())
	}
	t.Logf("exited %v after the second SIGTERM", time.Since(start))
	if b, _ := os.ReadFile(dl); !strings.Contains(string(b), "the topic was closed") {
		t.Errorf("dead letters do not hold what was left:\n%.2000s", b)
	}
}
