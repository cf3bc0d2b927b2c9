package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// lockedBuffer collects a process's output for a test to read while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAgentSendsAppendedLinesAndStopsOnSIGTERM(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ctx := context.Background()
	c := client.New(url, nil)
	if err := c.CreateStream(ctx, "logs", 1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "app.log")
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprintf(`{"user":"u%d","n":%d}`, i%3, i))
	}
	if err := os.WriteFile(path, []byte(strings.Join(want[:10], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd := exec.Command(binary, "agent", "--endpoint", url, "--stream", "logs", "--partition-key-field", "user",
		"--from-start", "--progress", "100ms", path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range want[10:] {
		fmt.Fprintln(f, l)
	}
	f.Close()

	it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: "logs", ShardId: "shardId-000000000000", ShardIteratorType: client.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for deadline := time.Now().Add(15 * time.Second); len(got) < len(want); {
		if time.Now().After(deadline) {
			t.Fatalf("read back %d records of %d; agent said:\n%s", len(got), len(want), stderr.String())
		}
		out, err := c.GetRecords(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			got = append(got, string(r.Data))
		}
		it = out.NextShardIterator
		if len(out.Records) == 0 {
			time.Sleep(10 * time.Millisecond) // polling interval, bounded by the deadline
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records differ from the lines: %s", firstDiff(got, want))
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "50 records sent"); {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line with 50 records sent:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling interval, bounded by the deadline
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("agent did not stop after SIGTERM:\n%s", stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "stopped: 50 lines read, 50 records sent, 0 retried, 0 failed") {
		t.Fatalf("final progress line missing:\n%s", s)
	}
}

func TestAgentNeedsStreamAndFiles(t *testing.T) {
	for _, args := range [][]string{{"agent", "x.log"}, {"agent", "--stream", "s"}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "agent:") {
			t.Errorf("%v: %v %s", args, err, out)
		}
	}
}

// An --endpoint that is not a URL and a folder given as a FILE are
// mistakes in the command line (exit status 2), not something to retry
// for ever in silence.
func TestAgentRefusesAnEndpointWithoutSchemeAndAFolder(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--stream", "s", "--endpoint", "127.0.0.1:4567", filepath.Join(dir, "x.log")},
			`--endpoint "127.0.0.1:4567": want an http(s) URL, e.g. http://127.0.0.1:4567`},
		{[]string{"agent", "--stream", "s", dir}, dir + " is a folder: name the files to tail"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, binary, tc.args...).CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("sluice %q: %v, want exit status 2 and %q:\n%s", tc.args, err, tc.want, out)
		}
	}
}

// TestAgentShipsHostMetrics: --host-metrics sends this machine's CPU and
// memory as JSON records, like the CloudWatch agent.
func TestAgentShipsHostMetrics(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	url, _ := startStore(t, t.TempDir())
	ctx := context.Background()
	c := client.New(url, nil)
	if err := c.CreateStream(ctx, "metrics", 1); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "agent", "--endpoint", url, "--stream", "metrics", "--host-metrics", "100ms", "--per-core")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	shards, err := c.ListShards(ctx, "metrics")
	if err != nil {
		t.Fatal(err)
	}
	// read returns the records in the stream and how many are of the
	// whole machine (the others are per core), checking each.
	read := func() (records, machine int) {
		t.Helper()
		it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: "metrics", ShardId: shards[0].ShardId, ShardIteratorType: client.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetRecords(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			var m struct {
				Host       string
				Core       string
				CPU        float64
				MemUsedPct float64 `json:"mem_used_pct"`
				TS         int64
			}
			if err := json.Unmarshal(r.Data, &m); err != nil || m.Host == "" || m.CPU < 0 || m.CPU > 100 || m.MemUsedPct <= 0 || m.MemUsedPct > 100 ||
				time.Since(time.UnixMilli(m.TS)) > time.Minute {
				t.Fatalf("record %s", r.Data)
			}
			if m.Core == "all" {
				machine++
			}
		}
		return len(out.Records), machine
	}
	// A sample every 100 ms once the agent runs: wait for a few, and for
	// the start line (written once the agent handles signals).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, machine := read(); machine >= 3 && strings.Contains(stderr.String(), "into stream metrics") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start line and 3 samples within 10 s:\n%s", stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	records, machine := read()
	if machine < 3 || records <= machine {
		t.Fatalf("%d records, %d of the whole machine: want several, and per-core ones", records, machine)
	}
}

// TestAgentAnnouncesHostMetricsNotZeroFiles: an agent that only ships host
// metrics says so when it starts, instead of "tailing 0 file(s)".
func TestAgentAnnouncesHostMetricsNotZeroFiles(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	if err := client.New(url, nil).CreateStream(context.Background(), "metrics", 1); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "agent", "--endpoint", url, "--stream", "metrics", "--host-metrics", "1s")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "into stream metrics") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	if out := stderr.String(); !strings.Contains(out, "sending this machine's CPU and memory every 1s into stream metrics") || strings.Contains(out, "0 file(s)") {
		t.Fatalf("the start line does not say what the agent sends:\n%s", out)
	}
}
