package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// startUntil starts the binary with args and waits (10 s at most) until its
// standard error holds ready; it returns the process and its stderr. ready
// must be a line the command writes once it handles signals: until its
// main function has installed its handlers (package initialisation takes
// 100 ms and more on a busy machine), SIGINT and SIGTERM kill the process.
func startUntil(t *testing.T, ready string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	if ready == "" {
		t.Fatalf("%v: startUntil needs a line that says the command is ready", args)
	}
	cmd := exec.Command(binary, args...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), ready); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%v: no %q on stderr within 10 s:\n%s", args, ready, stderr.String())
		}
	}
	return cmd, &stderr
}

// interruptWithin sends SIGINT to cmd and returns its exit status, failing
// the test when it is still running after limit.
func interruptWithin(t *testing.T, cmd *exec.Cmd, stderr *lockedBuffer, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGINT)
	start := time.Now()
	select {
	case err := <-done:
		t.Logf("%v stopped %v after SIGINT", cmd.Args[1:], time.Since(start).Round(time.Millisecond))
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(limit):
		t.Fatalf("%v still running %v after SIGINT:\n%s", cmd.Args[1:], limit, stderr.String())
	}
	return -1
}

// TestBenchStopsOnSIGINTMidRun interrupts `sluice bench` inside its
// go-streams run, past the point (64 windows, 3.2 s) where that run once
// wedged: it must stop within a few seconds with status 130 and say so.
func TestBenchStopsOnSIGINTMidRun(t *testing.T) {
	cmd, stderr := startUntil(t, "run 1 of 1: go-streams",
		"bench", "--events", "20000000", "--runs", "1", "--sql=false", "--state-keys", "0")
	// Past 64 go-streams windows: wait until the run has been going for 4 s.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if strings.Contains(stderr.String(), "sluice (Go API)") {
			t.Fatal("go-streams finished 20M events in under 4 s: make the workload bigger")
		}
	}
	if code := interruptWithin(t, cmd, stderr, 3*time.Second); code != 130 {
		t.Fatalf("exit status %d, want 130:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "sluice: bench interrupted") {
		t.Fatalf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
}

// TestLongCommandsStopOnSIGINT: every command that runs until stopped ends
// within a couple of seconds of SIGINT, with status 0.
func TestLongCommandsStopOnSIGINT(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE src (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
  WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.ts.kind' = 'sequence', 'fields.ts.step' = '10ms');
CREATE TABLE out WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k, COUNT(*) AS n FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);
`), 0o644)
	url, _ := startStore(t, t.TempDir())
	if err := client.New(url, nil).CreateStream(context.Background(), "logs", 1); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "app.log")
	os.WriteFile(logFile, []byte("{}\n"), 0o644)
	for _, c := range []struct {
		name, ready string
		args        []string
	}{
		{"store", "serving the Kinesis API", []string{"store", "--listen", "127.0.0.1:0", "--data", t.TempDir()}},
		{"agent", "tailing 1 file(s)", []string{"agent", "--endpoint", url, "--stream", "logs", logFile}},
		// Its metrics address is written once the job is compiled and about
		// to run: a signal before then would find no handler in place yet.
		{"run FILE.sql", "metrics at http://", []string{"run", job, "--parallelism", "1", "--metrics-addr", "127.0.0.1:0"}},
		{"run clickstream", "unbounded clicks", []string{"run", "clickstream", "--events", "-1", "--rows-per-second", "20000"}},
		{"run clickstream-store", "generating clicks", []string{"run", "clickstream-store", "--events", "-1", "--rows-per-second", "20000"}},
		{"demo", "Notifications below", []string{"demo", "--hosts", "5", "--spiking", "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, stderr := startUntil(t, c.ready, c.args...)
			time.Sleep(500 * time.Millisecond) // into the run, past the start
			if code := interruptWithin(t, cmd, stderr, 3*time.Second); code != 0 {
				t.Fatalf("exit status %d, want 0:\n%s", code, stderr.String())
			}
		})
	}
}

// TestSecondSIGINTStopsAtOnce: a command still stopping after the first
// signal — a store waiting for a request under way — stops at once at the
// second.
func TestSecondSIGINTStopsAtOnce(t *testing.T) {
	cmd, stderr := startUntil(t, "serving the Kinesis API", "store", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	m := regexp.MustCompile(`at http://(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no address in %q", stderr.String())
	}
	// A request whose headers have begun keeps the connection active, so
	// a graceful shutdown waits for it.
	conn, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(200 * time.Millisecond) // the server has read the first bytes
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		t.Fatalf("stopped at the first signal (%v), while a request was under way: the test proves nothing", err)
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("still running 1 s after a second SIGINT:\n%s", stderr.String())
	}
}

// TestSecondSignalStopsAStuckJobAtOnce: a job that cannot stop — its print
// sink blocked on a standard output nobody reads — is still there after
// the first signal, and a second one ends the process at once, for a job
// run with checkpoints (the first signal asks for a savepoint) and for a
// job of the SQL shell (the first signal stops the session's jobs).
func TestSecondSignalStopsAStuckJobAtOnce(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE src (k BIGINT, s STRING) WITH ('connector' = 'datagen');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT k, s FROM src;
`), 0o644)
	for _, c := range []struct {
		name, ready string
		args        []string
		stdin       bool
	}{
		{"run --checkpoint-dir", "no complete checkpoint", []string{"run", job, "--parallelism", "1",
			"--checkpoint-dir", filepath.Join(dir, "ck"), "--checkpoint-interval", "200ms"}, false},
		{"sql", "[job 1] submitted", []string{"sql", "--parallelism", "1"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(binary, c.args...)
			r, w, err := os.Pipe() // nobody reads r: the sink blocks once the pipe is full
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd.Stdout = w
			if c.stdin {
				in, err := os.Open(job)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				cmd.Stdin = in
			}
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			t.Cleanup(func() { cmd.Process.Kill() })
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), c.ready); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no %q within 10 s:\n%s", c.ready, stderr.String())
				}
			}
			waitPipeFull(t, r) // the sink is blocked: the first signal cannot stop the job
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				t.Fatalf("stopped at the first signal (%v), with its sink blocked: the test proves nothing\n%s", err, stderr.String())
			case <-time.After(time.Second):
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("exit %v after the second signal, want a failure status", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("still running 3 s after a second SIGTERM:\n%s", stderr.String())
			}
		})
	}
}

// TestAgentStoppingWithUnsentLinesSaysSo: an agent told to stop while its
// store does not answer keeps retrying what it has read (for up to 30 s):
// it says so at the first signal, and stops at once at the second.
func TestAgentStoppingWithUnsentLinesSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	logFile := filepath.Join(t.TempDir(), "app.log")
	os.WriteFile(logFile, []byte("{\"a\":1}\n{\"a\":2}\n"), 0o644)
	cmd, stderr := startUntil(t, "retrying 2 records", "agent", "--endpoint", dead, "--stream", "s", "--from-start", logFile)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGINT)
	for deadline := time.Now().Add(3 * time.Second); !strings.Contains(stderr.String(), "stopping: sending the 2 line(s) read and not yet sent"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the lines still to send, 3 s after SIGINT:\n%s", stderr.String())
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("stopped (%v) at the first signal with lines unsent: the test proves nothing", err)
	case <-time.After(500 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		t.Fatalf("still running 3 s after a second SIGINT:\n%s", stderr.String())
	}
}

// TestAgentStoppedWithUnsentLinesExitsOne: lines the agent read but could
// not send before its stop timeout make its exit status 1, so a script
// can tell that data was left behind.
func TestAgentStoppedWithUnsentLinesExitsOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	logFile := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(logFile, []byte("{\"a\":1}\n{\"a\":2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startUntil(t, "retrying 2 records", "agent", "--endpoint", dead, "--stream", "s", "--from-start",
		"--stop-timeout", "300ms", logFile)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit %v, want status 1:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGINT with --stop-timeout 300ms:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "2 line(s) read were not sent") {
		t.Fatalf("no word of the unsent lines:\n%s", stderr.String())
	}
}
