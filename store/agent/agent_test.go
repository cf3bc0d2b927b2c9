package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/server"
)

// startStore serves a fresh store over HTTP with a one-shard stream "s".
func startStore(t *testing.T) (string, *client.Client) {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{Fsync: slog.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	c := client.New(ts.URL, nil)
	if err := c.CreateStream(context.Background(), "s", 1); err != nil {
		t.Fatal(err)
	}
	return ts.URL, c
}

// startAgent runs an agent over files and waits until each has been opened.
// It returns a stop function that cancels the agent and waits for Run.
func startAgent(t *testing.T, cfg Config) (*Agent, func()) {
	a, stop, _ := startAgentOpens(t, cfg)
	return a, stop
}

// startAgentOpens is startAgent that also counts the files the agent opens
// (after the first opening of each).
func startAgentOpens(t *testing.T, cfg Config) (*Agent, func(), *atomic.Int64) {
	t.Helper()
	cfg.Stream = "s"
	cfg.PollInterval = 5 * time.Millisecond
	cfg.FlushInterval = 10 * time.Millisecond
	cfg.MinBackoff = time.Millisecond
	cfg.MaxBackoff = 20 * time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan string, 100)
	a.opened = func(p string) { opened <- p }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var counting sync.WaitGroup // the goroutine counting opens, below
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				close(opened) // Run has returned: nothing opens files any more
				counting.Wait()
			case <-time.After(20 * time.Second):
				t.Fatal("agent did not stop")
			}
		})
	}
	t.Cleanup(stop)
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second) // generous: CI machines can be busy
	for len(seen) < len(cfg.Files) {
		select {
		case p := <-opened:
			seen[p] = true
		case <-deadline:
			t.Fatalf("agent opened only %v", seen)
		}
	}
	var opens atomic.Int64
	counting.Add(1)
	go func() {
		defer counting.Done()
		for range opened {
			opens.Add(1)
		}
	}()
	return a, stop, &opens
}

// readStream reads stream "s" from its start until it holds at least n
// records (or a deadline passes) and returns their data.
func readStream(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	iters := map[string]string{}
	for _, sh := range shards {
		it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: "s", ShardId: sh.ShardId, ShardIteratorType: client.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iters[sh.ShardId] = it
	}
	for deadline := time.Now().Add(15 * time.Second); len(got) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records of %d before the deadline", len(got), n)
		}
		progress := false
		for id, it := range iters {
			out, err := c.GetRecords(ctx, it, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				got = append(got, string(r.Data))
			}
			progress = progress || len(out.Records) > 0
			iters[id] = out.NextShardIterator
		}
		if !progress {
			time.Sleep(5 * time.Millisecond) // poll interval, bounded by the deadline
		}
	}
	return got
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(2 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

func TestAppendedLinesArriveInOrderPerFile(t *testing.T) {
	_, c := startStore(t)
	dir := t.TempDir()
	a1, a2 := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendLines(t, a1, "old line, not sent")
	appendLines(t, a2, "old line, not sent")
	f0, _ := os.OpenFile(a2, os.O_APPEND|os.O_WRONLY, 0)
	f0.WriteString("the start of a line written before the agent started")
	a, stop := startAgent(t, Config{Client: c, Files: []string{a1, a2}})
	f0.WriteString(", not sent either\n")
	f0.Close()
	var want1, want2 []string
	for i := range 300 {
		l1, l2 := fmt.Sprintf(`{"f":"a","i":%d}`, i), fmt.Sprintf(`{"f":"b","i":%d}`, i)
		want1, want2 = append(want1, l1), append(want2, l2)
		appendLines(t, a1, l1)
		appendLines(t, a2, l2)
	}
	// A partial line is not sent until its newline arrives.
	f, _ := os.OpenFile(a1, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"f":"a","i":"par`)
	got := readStream(t, c, 600)
	f.WriteString("tial\"}\n")
	f.Close()
	want1 = append(want1, `{"f":"a","i":"partial"}`)
	got = append(got, readStream(t, c, 601)[600:]...)
	stop()
	var got1, got2 []string
	for _, g := range got {
		if strings.Contains(g, `"f":"a"`) {
			got1 = append(got1, g)
		} else {
			got2 = append(got2, g)
		}
	}
	if !slices.Equal(got1, want1) || !slices.Equal(got2, want2) {
		t.Fatalf("records differ from the lines (no failures, so no duplicates either):\n%d %v\n%d %v", len(got1), firstDiff(got1, want1), len(got2), firstDiff(got2, want2))
	}
	if all := readStream(t, c, 601); len(all) != 601 {
		t.Fatalf("%d records in the stream, want 601", len(all))
	}
	if a.Stats.LinesRead.Load() != 601 || a.Stats.RecordsSent.Load() != 601 || a.Stats.Retried.Load() != 0 || a.Stats.Failed.Load() != 0 {
		t.Fatalf("stats: %s", &a.Stats)
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %q vs %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

func TestRotationLosesNothing(t *testing.T) {
	_, c := startStore(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, "line-0000")
	_, stop, opens := startAgentOpens(t, Config{Client: c, Files: []string{path}, FromStart: true})
	want := []string{"line-0000"}
	for i := 1; i < 1000; i++ {
		if i%150 == 0 {
			if err := os.Rename(path, filepath.Join(dir, fmt.Sprintf("app.log.%d", i))); err != nil {
				t.Fatal(err)
			}
			if i%300 == 0 {
				continue // the path stays missing for a while; the next append recreates it
			}
		}
		l := fmt.Sprintf("line-%04d", i)
		want = append(want, l)
		appendLines(t, path, l)
		if i%150 == 1 && i > 1 {
			// Rotate again only once the agent has moved to the new file:
			// a tailer that follows a path cannot see a file renamed away
			// before it noticed it (neither can the Kinesis agent).
			waitFor(t, func() bool { return opens.Load() >= int64(i/150) })
		}
	}
	got := readStream(t, c, len(want))
	stop()
	if !slices.Equal(got, want) {
		t.Fatalf("after rotations: %d records for %d lines, %s", len(got), len(want), firstDiff(got, want))
	}
}

func TestTruncationStartsOver(t *testing.T) {
	_, c := startStore(t)
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, "a-long-first-line-before-truncation")
	_, stop := startAgent(t, Config{Client: c, Files: []string{path}, FromStart: true})
	readStream(t, c, 1)
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readStream(t, c, 2)
	stop()
	if !slices.Equal(got, []string{"a-long-first-line-before-truncation", "x"}) {
		t.Fatalf("got %q", got)
	}
}

func TestStopSendsWhatWasRead(t *testing.T) {
	_, c := startStore(t)
	path := filepath.Join(t.TempDir(), "app.log")
	a, stop := startAgent(t, Config{Client: c, Files: []string{path}})
	var want []string
	for i := range 2000 {
		want = append(want, fmt.Sprintf("l%d", i))
	}
	appendLines(t, path, want...)
	stop() // every line written before the stop is sent before Run returns
	if a.Stats.RecordsSent.Load() != 2000 {
		t.Fatalf("stats after stop: %s", &a.Stats)
	}
	if got := readStream(t, c, 2000); !slices.Equal(got, want) {
		t.Fatalf("%s", firstDiff(got, want))
	}
}

func TestPartitionKeyField(t *testing.T) {
	a, _ := New(Config{Client: client.New("http://x", nil), Stream: "s", Files: []string{"f"}, PartitionKeyField: "user"})
	for line, want := range map[string]string{
		`{"user":"u1","x":1}`:                  "u1",
		`{"user":42}`:                          "42",
		`{"user":"` + strings.Repeat("k", 300): "", // not JSON: round-robin
	} {
		e := a.entry([]byte(line))
		if want != "" && e.PartitionKey != want {
			t.Errorf("%s: key %q, want %q", line, e.PartitionKey, want)
		}
		if e.PartitionKey == "" || len(e.PartitionKey) > 256 {
			t.Errorf("%s: bad key %q", line, e.PartitionKey)
		}
	}
	k1, k2 := a.entry([]byte("plain")).PartitionKey, a.entry([]byte("plain")).PartitionKey
	if k1 == k2 {
		t.Errorf("round-robin keys repeat: %q", k1)
	}
}

// faultyProxy forwards to the store but fails some PutRecords records, some
// whole requests before forwarding them, and some after (a lost answer,
// which makes duplicates).
func faultyProxy(t *testing.T, target string) (string, *atomic.Int64) {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	up := client.New(target, nil)
	var n, failures atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutRecords") {
			rp.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var in struct {
			StreamName string
			Records    []client.PutRecordsEntry
		}
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		i := n.Add(1)
		if i%5 == 0 {
			failures.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"__type":"ServiceUnavailable","message":"injected"}`))
			return
		}
		var fwd []client.PutRecordsEntry
		var idx []int
		res := make([]client.PutRecordsResultEntry, len(in.Records))
		for j, rec := range in.Records {
			if (int(i)+j)%3 == 0 {
				res[j] = client.PutRecordsResultEntry{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "injected"}
				continue
			}
			fwd = append(fwd, rec)
			idx = append(idx, j)
		}
		failed := len(in.Records) - len(fwd)
		if len(fwd) > 0 {
			out, err := up.PutRecords(r.Context(), in.StreamName, fwd)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			for k, rr := range out.Records {
				res[idx[k]] = rr
				if rr.ErrorCode != "" {
					failed++
				}
			}
		}
		if i%7 == 0 {
			failures.Add(1)
			http.Error(w, "injected after forwarding", http.StatusInternalServerError)
			return
		}
		if failed > 0 {
			failures.Add(1)
		}
		json.NewEncoder(w).Encode(client.PutRecordsOutput{FailedRecordCount: failed, Records: res})
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &failures
}

func TestFailedRecordsAreRetriedUntilDelivered(t *testing.T) {
	storeURL, c := startStore(t)
	proxyURL, failures := faultyProxy(t, storeURL)
	path := filepath.Join(t.TempDir(), "app.log")
	a, stop := startAgent(t, Config{Client: client.New(proxyURL, nil), Files: []string{path}})
	want := map[string]bool{}
	for b := range 20 {
		var batch []string
		for i := range 50 {
			l := fmt.Sprintf(`{"b":%d,"i":%d}`, b, i)
			batch = append(batch, l)
			want[l] = true
		}
		appendLines(t, path, batch...)
	}
	waitFor(t, func() bool { return a.Stats.RecordsSent.Load() >= int64(len(want)) })
	stop()
	got := readStream(t, c, len(want))
	seen := map[string]bool{}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("record %q is no line", g)
		}
		seen[g] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct lines delivered of %d", len(seen), len(want))
	}
	if failures.Load() == 0 || a.Stats.Retried.Load() == 0 || a.Stats.Failed.Load() != 0 {
		t.Fatalf("failures %d, stats %s", failures.Load(), &a.Stats)
	}
	t.Logf("%d records for %d lines after %d injected failures (%s)", len(got), len(want), failures.Load(), &a.Stats)
}
