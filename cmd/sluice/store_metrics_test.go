package main

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStoreMetricsAddrServesShardMetrics runs `sluice store --metrics-addr`
// and scrapes a monitored shard's counters from its /metrics listener.
func TestStoreMetricsAddrServesShardMetrics(t *testing.T) {
	cmd := exec.Command(binary, "store", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	u := startAnnouncing(t, cmd, 10*time.Second, "store did not announce its addresses")
	if err := call(u[0], "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := call(u[0], "EnableEnhancedMonitoring", map[string]any{"StreamName": "s", "ShardLevelMetrics": []string{"IncomingRecords"}}, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := call(u[0], "PutRecord", map[string]any{"StreamName": "s", "PartitionKey": "k", "Data": base64.StdEncoding.EncodeToString([]byte("x"))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get(u[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `sluice_store_shard_incoming_records_total{stream="s",shard="shardId-000000000000"} 2`; !strings.Contains(string(b), want+"\n") {
		t.Fatalf("/metrics lacks %s:\n%s", want, b)
	}
}

// TestEmbeddedStoreShardMetricsJoinJobMetrics runs a job over the embedded
// store with --metrics-addr and finds the store's shard-level metrics of a
// monitored stream on the job's /metrics.
func TestEmbeddedStoreShardMetricsJoinJobMetrics(t *testing.T) {
	cmd := exec.Command(binary, "run", "clickstream-store", "--events", "-1", "--rows-per-second", "500", "--shards", "1",
		"--store-dir", t.TempDir(), "--store-listen", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--ui", "off")
	cmd.Stdout = io.Discard
	u := startAnnouncing(t, cmd, 15*time.Second, "the job did not announce its store and metrics addresses")
	deadline := time.Now().Add(10 * time.Second)
	for call(u[0], "EnableEnhancedMonitoring", map[string]any{"StreamName": "clicks", "ShardLevelMetrics": []string{"IncomingRecords", "OutgoingRecords"}}, nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("stream clicks never appeared")
		}
		time.Sleep(50 * time.Millisecond)
	}
	in := regexp.MustCompile(`(?m)^sluice_store_shard_incoming_records_total\{stream="clicks",shard="shardId-000000000000"\} [1-9]`)
	out := regexp.MustCompile(`(?m)^sluice_store_shard_outgoing_records_total\{stream="clicks",shard="shardId-000000000000"\} [1-9]`)
	for {
		resp, err := http.Get(u[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if in.Match(b) && out.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's /metrics lacks the store's counts of clicks:\n%s", grepLines(string(b), "sluice_store_shard"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// startAnnouncing starts cmd, killed at the test's end, and waits until its
// standard error has announced a Kinesis API and a metrics address, which
// it returns in that order; missing says what failed when they do not come
// within the time.
func startAnnouncing(t *testing.T, cmd *exec.Cmd, within time.Duration, missing string) [2]string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	apiAt, metricsAt := regexp.MustCompile(`API at (http://\S+)`), regexp.MustCompile(`metrics at (http://\S+)/metrics`)
	urls := make(chan [2]string, 1)
	go func() {
		var api, metrics string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := apiAt.FindStringSubmatch(sc.Text()); m != nil {
				api = m[1]
			}
			if m := metricsAt.FindStringSubmatch(sc.Text()); m != nil {
				metrics = m[1]
			}
			if api != "" && metrics != "" {
				urls <- [2]string{api, metrics}
				api = ""
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(within):
		t.Fatal(missing)
	}
	return [2]string{}
}
