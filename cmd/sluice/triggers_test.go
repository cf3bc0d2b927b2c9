package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// triggerFunction is an HTTP function over loopback that acknowledges
// every batch, a little slowly, and records what it acknowledged.
type triggerFunction struct {
	mu       sync.Mutex
	calls    []triggerCall
	run      int // the sluice run the calls belong to
	inflight int // calls being handled
}

// settle waits until the calls a killed run had sent are handled, so that
// they count as its own, then says later calls belong to run.
func (f *triggerFunction) settle(t *testing.T, run int) {
	t.Helper()
	time.Sleep(200 * time.Millisecond) // a request already sent reaches its handler
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		if f.inflight == 0 {
			f.run = run
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the function still handles a call 10 s after the kill")
		}
	}
}

type triggerCall struct {
	run   int
	shard string
	data  []string
	seqs  []string
}

func (f *triggerFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	run := f.run // the run that sent the call: settle switches runs between calls
	f.inflight++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	var e struct {
		Records []struct {
			Kinesis struct {
				Data           []byte `json:"data"`
				SequenceNumber string `json:"sequenceNumber"`
			} `json:"kinesis"`
			EventID string `json:"eventID"`
		} `json:"Records"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &e); err != nil || len(e.Records) == 0 {
		http.Error(w, "bad event", 400)
		return
	}
	time.Sleep(3 * time.Millisecond)
	f.mu.Lock()
	c := triggerCall{run: run, shard: strings.SplitN(e.Records[0].EventID, ":", 2)[0]}
	for _, rec := range e.Records {
		c.data = append(c.data, string(rec.Kinesis.Data))
		c.seqs = append(c.seqs, rec.Kinesis.SequenceNumber)
	}
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	w.WriteHeader(200)
}

func (f *triggerFunction) snapshot() []triggerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// startTriggerRun starts `sluice run` of a job file and returns its process and a
// channel of its stderr lines.
func startTriggerRun(t *testing.T, job string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run", job}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	return cmd, lines
}

// TestTriggerKill9ResumesAfterTheLastBatchDone: `sluice run` of a job file
// with a function trigger is killed with SIGKILL mid-stream and restarted:
// every record reaches the function, each shard in order, and what is
// invoked again is only the batch that was in flight at the kill.
func TestTriggerKill9ResumesAfterTheLastBatchDone(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	c := client.New(url, nil)
	ctx := context.Background()
	if err := c.CreateStream(ctx, "events", 3); err != nil {
		t.Fatal(err)
	}
	const n = 600
	var es []client.PutRecordsEntry
	for i := range n {
		es = append(es, client.PutRecordsEntry{Data: fmt.Appendf(nil, "r%d", i), PartitionKey: fmt.Sprint(i % 17)})
	}
	for i := 0; i < n; i += 200 {
		if out, err := c.PutRecords(ctx, "events", es[i:i+200]); err != nil || out.FailedRecordCount > 0 {
			t.Fatalf("PutRecords: %v %+v", err, out)
		}
	}
	f := &triggerFunction{}
	fn := httptest.NewServer(f)
	defer fn.Close()
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	src := fmt.Sprintf(`CREATE FUNCTION TRIGGER fn ON STREAM events WITH ('endpoint' = '%s', 'batch.size' = '7',
  'store.endpoint' = '%s', 'positions.dir' = '%s');`, fn.URL, url, filepath.Join(dir, "positions"))
	if err := os.MkdirAll(filepath.Join(dir, "positions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		got := map[string]bool{}
		for _, c := range f.snapshot() {
			for _, d := range c.data {
				got[d] = true
			}
		}
		return len(got)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s (%d records invoked)", what, count())
			}
		}
	}
	cmd, _ := startTriggerRun(t, job)
	waitFor("a third of the records invoked", func() bool { return count() >= n/3 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if k := count(); k == n {
		t.Fatal("every record was invoked before the kill: it was not mid-stream")
	}
	f.settle(t, 1)
	cmd, lines := startTriggerRun(t, job, "--metrics-addr", "127.0.0.1:0")
	waitFor("every record invoked", func() bool { return count() == n })

	// The metrics of the trigger are on /metrics.
	var metricsURL string
	for l := range lines {
		if m := regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(l); m != nil {
			metricsURL = m[1]
			break
		}
	}
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`sluice_trigger_invocations_total{trigger="fn"}`, `sluice_trigger_records_total{trigger="fn"}`,
		`sluice_trigger_iterator_age_milliseconds{trigger="fn",shard="shardId-000000000000"}`, `sluice_trigger_batch_size_bucket{trigger="fn"`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	calls := f.snapshot()
	byShard := map[string][]triggerCall{}
	for _, c := range calls {
		byShard[c.shard] = append(byShard[c.shard], c)
	}
	again := 0
	for sh, cs := range byShard {
		// Within a run, a shard's records arrive in order, each once.
		var last [2]string
		var lastBatch triggerCall // the last batch of run 0
		firstOfRun1 := ""
		for _, c := range cs {
			for _, s := range c.seqs {
				if last[c.run] != "" && !seqBefore(last[c.run], s) {
					t.Fatalf("shard %s run %d: %s after %s", sh, c.run, s, last[c.run])
				}
				last[c.run] = s
			}
			if c.run == 0 {
				lastBatch = c
			} else if firstOfRun1 == "" {
				firstOfRun1 = c.seqs[0]
			}
		}
		// Run 1 starts after the batches run 0 finished: at most its last
		// batch (in flight at the kill) is invoked again.
		if firstOfRun1 != "" && lastBatch.seqs != nil && seqBefore(firstOfRun1, lastBatch.seqs[0]) {
			t.Errorf("shard %s: run 1 starts at %s, before run 0's last batch %v", sh, firstOfRun1, lastBatch.seqs)
		}
		if firstOfRun1 != "" && lastBatch.seqs != nil && !seqBefore(lastBatch.seqs[len(lastBatch.seqs)-1], firstOfRun1) {
			again++
		}
	}
	t.Logf("%d invocations, %d shards redelivered their last batch", len(calls), again)
	if len(byShard) != 3 {
		t.Errorf("invocations from %d shards, want 3", len(byShard))
	}
}

func seqBefore(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// TestTriggersRunBesideAJobOnTheEmbeddedStore: a job file writes rows into
// a stream of the embedded store, and two function triggers read it — a
// command that keeps every event, and one that always fails, whose batches
// go, after a retry, to a topic that appends them to a file.
func TestTriggersRunBesideAJobOnTheEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	src := fmt.Sprintf(`CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '60',
  'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '59');
CREATE TABLE events (k BIGINT) WITH ('connector' = 'store', 'stream' = 'events', 'stream.create-shards' = '3', 'partition-key' = 'k');
CREATE TOPIC ops;
CREATE SUBSCRIPTION failures ON TOPIC ops WITH ('protocol' = 'file', 'endpoint' = '%[1]s/failures.jsonl', 'raw-message-delivery' = 'true');
CREATE FUNCTION TRIGGER keep ON STREAM events WITH ('command' = 'cat > $(mktemp %[1]s/events/XXXXXX)', 'batch.size' = '8');
CREATE FUNCTION TRIGGER bad ON STREAM events WITH ('command' = 'cat > /dev/null; echo no >&2; exit 1',
  'max-retry-attempts' = '1', 'on-failure' = 'topic:ops', 'batch.size' = '1000', 'batch.window' = '100ms');
INSERT INTO events SELECT k FROM src;
`, dir)
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "events"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startTriggerRun(t, job, "--store-dir", filepath.Join(dir, "store"), "--parallelism", "1")
	keys := func() map[float64]bool {
		got := map[float64]bool{}
		files, _ := filepath.Glob(filepath.Join(dir, "events", "*"))
		for _, f := range files {
			l, _ := os.ReadFile(f)
			var e struct {
				Records []struct {
					Kinesis struct{ Data []byte } `json:"kinesis"`
				}
			}
			if json.Unmarshal(l, &e) != nil {
				continue // being written
			}
			for _, r := range e.Records {
				var row struct{ K float64 }
				if err := json.Unmarshal(r.Kinesis.Data, &row); err != nil {
					t.Fatalf("record %s: %v", r.Kinesis.Data, err)
				}
				got[row.K] = true
			}
		}
		return got
	}
	failed := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "failures.jsonl"))
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var f struct {
				RequestContext struct {
					Condition              string `json:"condition"`
					ApproximateInvokeCount int    `json:"approximateInvokeCount"`
				} `json:"requestContext"`
				ResponseContext struct{ ErrorMessage string } `json:"responseContext"`
				Info            struct {
					BatchSize int    `json:"batchSize"`
					ShardID   string `json:"shardId"`
				} `json:"KinesisBatchInfo"`
			}
			if l == "" {
				continue
			}
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatalf("failure line %s: %v", l, err)
			}
			if f.RequestContext.Condition != "RetryAttemptsExhausted" || f.RequestContext.ApproximateInvokeCount != 2 ||
				!strings.Contains(f.ResponseContext.ErrorMessage, "exit status 1: no") {
				t.Fatalf("failure line %s", l)
			}
			n += f.Info.BatchSize
		}
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); len(keys()) < 60 || failed() < 60; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("within 20 s: %d keys invoked, %d records in failure records", len(keys()), failed())
		}
	}
	if n := failed(); n != 60 {
		t.Errorf("%d records in failure records, want 60", n)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
}

// TestQueueTriggerKill9 kills `sluice run` of an ON QUEUE trigger with
// SIGKILL mid-queue and restarts it: every message sent is acknowledged by
// the function at least once, and no message leaves the queue before an
// invocation of it succeeded.
func TestQueueTriggerKill9(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	q := client.New(url, nil).SQS()
	ctx := context.Background()
	qurl, err := q.CreateQueue(ctx, "work", map[string]string{"VisibilityTimeout": "2"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	for i := 0; i < n; i += 10 {
		var es []client.SendEntry
		for j := i; j < i+10; j++ {
			es = append(es, client.SendEntry{Id: fmt.Sprint(j - i), MessageBody: fmt.Sprint("m", j)})
		}
		if out, err := q.SendBatch(ctx, qurl, es); err != nil || len(out.Failed) > 0 {
			t.Fatalf("SendBatch: %v %+v", err, out)
		}
	}
	var mu sync.Mutex
	acked := map[string]bool{} // bodies of invocations answered 200
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Records []struct {
				Body string `json:"body"`
			} `json:"Records"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &e); err != nil || len(e.Records) == 0 {
			http.Error(w, "bad event", 400)
			return
		}
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		for _, rec := range e.Records {
			acked[rec.Body] = true
		}
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer fn.Close()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	src := fmt.Sprintf(`CREATE FUNCTION TRIGGER fn ON QUEUE work WITH ('endpoint' = '%s', 'batch.size' = '5', 'store.endpoint' = '%s');`, fn.URL, url)
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	left := func() int {
		a, err := q.Attributes(ctx, qurl, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
		if err != nil {
			t.Fatal(err)
		}
		var v, nv int
		fmt.Sscan(a["ApproximateNumberOfMessages"], &v)
		fmt.Sscan(a["ApproximateNumberOfMessagesNotVisible"], &nv)
		return v + nv
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20 s (%d messages acknowledged)", what, count())
			}
		}
	}
	cmd, _ := startTriggerRun(t, job)
	waitFor("a third of the messages acknowledged", func() bool { return count() >= n/3 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deleted, k := n-left(), count()
	if k == n {
		t.Fatal("every message was acknowledged before the kill: it was not mid-queue")
	}
	if deleted > k {
		t.Fatalf("after the kill %d messages are deleted, but only %d acknowledged", deleted, k)
	}
	cmd, lines := startTriggerRun(t, job, "--metrics-addr", "127.0.0.1:0", "--ui", "127.0.0.1:0")
	waitFor("every message acknowledged and deleted", func() bool { return count() == n && left() == 0 })
	var metricsURL, consoleURL string
	for l := range lines {
		if m := regexp.MustCompile(`console at (http://\S+)`).FindStringSubmatch(l); m != nil {
			consoleURL = m[1]
		}
		if m := regexp.MustCompile(`metrics at (http://\S+)`).FindStringSubmatch(l); m != nil {
			metricsURL = m[1]
			break
		}
	}
	// The console's triggers page lists it, with the queue's counts.
	resp, err := http.Get(consoleURL + "api/v1/triggers")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Triggers []struct {
			Name, Source, State string
			Records             int64
			Visible             *int64
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || len(st.Triggers) != 1 || st.Triggers[0].Name != "fn" || st.Triggers[0].Source != "queue work" ||
		st.Triggers[0].State != "running" || st.Triggers[0].Records == 0 || st.Triggers[0].Visible == nil {
		t.Errorf("/api/v1/triggers: %+v, %v", st, err)
	}
	resp, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`sluice_trigger_invocations_total{trigger="fn"}`, `sluice_trigger_records_total{trigger="fn"}`,
		`sluice_trigger_iterator_age_milliseconds{trigger="fn",queue="work"}`, `sluice_trigger_queue_messages_visible{trigger="fn",queue="work"}`,
		`sluice_trigger_queue_messages_in_flight{trigger="fn",queue="work"}`} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v", err)
	}
	t.Logf("at the kill: %d acknowledged, %d deleted", k, deleted)
}

// TestQueueTriggerRefusesATimeoutOverTheVisibilityTimeout: `sluice run`
// fails at start (exit status 1) naming 'timeout' and the queue's
// VisibilityTimeout.
func TestQueueTriggerRefusesATimeoutOverTheVisibilityTimeout(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	if _, err := client.New(url, nil).SQS().CreateQueue(context.Background(), "slow", map[string]string{"VisibilityTimeout": "10"}); err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(t.TempDir(), "job.sql")
	src := fmt.Sprintf(`CREATE FUNCTION TRIGGER fn ON QUEUE slow WITH ('command' = 'cat', 'timeout' = '1 min', 'store.endpoint' = '%s');`, url)
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := sluiceExit(t, "run", job)
	if code != 1 || !strings.Contains(errOut, `option "timeout" (1m0s) is longer than queue slow's VisibilityTimeout (10s)`) {
		t.Fatalf("exit status %d, stderr:\n%s", code, errOut)
	}
}
