package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// startStore runs a store in-process over loopback and returns a client.
func startStore(t testing.TB) *client.Client {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return client.New(ts.URL, ts.Client())
}

func createStream(t *testing.T, c *client.Client, name string, shards int) {
	t.Helper()
	if err := c.CreateStream(context.Background(), name, shards); err != nil {
		t.Fatal(err)
	}
}

// put writes the records data (keyed by key(i)) and returns their sequence
// numbers by data.
func put(t *testing.T, c *client.Client, stream string, data []string, key func(i int) string) map[string]string {
	t.Helper()
	var es []client.PutRecordsEntry
	for i, d := range data {
		es = append(es, client.PutRecordsEntry{Data: []byte(d), PartitionKey: key(i)})
	}
	out, err := c.PutRecords(context.Background(), stream, es)
	if err != nil || out.FailedRecordCount > 0 {
		t.Fatalf("PutRecords: %v, %+v", err, out)
	}
	seqs := map[string]string{}
	for i, r := range out.Records {
		seqs[data[i]] = r.SequenceNumber
	}
	return seqs
}

// event is Lambda's Kinesis event as a function decodes it.
type event struct {
	Records []struct {
		Kinesis struct {
			PartitionKey   string  `json:"partitionKey"`
			Data           []byte  `json:"data"`
			SequenceNumber string  `json:"sequenceNumber"`
			Arrival        float64 `json:"approximateArrivalTimestamp"`
			SchemaVersion  string  `json:"kinesisSchemaVersion"`
		} `json:"kinesis"`
		EventSource    string `json:"eventSource"`
		EventSourceARN string `json:"eventSourceARN"`
		EventID        string `json:"eventID"`
	} `json:"Records"`
}

func (e event) shard() string {
	id := e.Records[0].EventID
	return id[:strings.IndexByte(id, ':')]
}

// invocation is one call the test function received.
type invocation struct {
	shard  string
	data   []string
	seqs   []string
	failed int // index of the first record it reported failed, or -1
	status int
}

// function is an HTTP function over loopback: answer decides, per event,
// the status and the records to report failed.
type function struct {
	mu       sync.Mutex
	calls    []invocation
	inflight map[string]int
	overlap  bool // two batches of one shard were in flight at once
	answer   func(e event) (status int, failed []int)
}

func (f *function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var e event
	if err := json.Unmarshal(body, &e); err != nil || len(e.Records) == 0 {
		http.Error(w, "bad event", 400)
		return
	}
	sh := e.shard()
	f.mu.Lock()
	if f.inflight == nil {
		f.inflight = map[string]int{}
	}
	f.inflight[sh]++
	if f.inflight[sh] > 1 {
		f.overlap = true
	}
	f.mu.Unlock()
	time.Sleep(time.Millisecond) // widen the window for overlaps
	status, failed := f.answer(e)
	inv := invocation{shard: sh, failed: -1, status: status}
	for _, rec := range e.Records {
		inv.data = append(inv.data, string(rec.Kinesis.Data))
		inv.seqs = append(inv.seqs, rec.Kinesis.SequenceNumber)
	}
	if len(failed) > 0 && status == 200 {
		inv.failed = slices.Min(failed)
	}
	f.mu.Lock()
	f.calls = append(f.calls, inv)
	f.inflight[sh]--
	f.mu.Unlock()
	w.WriteHeader(status)
	if len(failed) > 0 {
		var items []string
		for _, i := range failed {
			items = append(items, fmt.Sprintf(`{"itemIdentifier":%q}`, e.Records[i].Kinesis.SequenceNumber))
		}
		fmt.Fprintf(w, `{"batchItemFailures":[%s]}`, strings.Join(items, ","))
	}
}

func (f *function) snapshot() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// readAll reads every record of every shard of stream.
func readAll(t *testing.T, c *client.Client, stream string) [][]byte {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for _, sh := range shards {
		it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: stream, ShardId: sh.ShardId, ShardIteratorType: client.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetRecords(ctx, it, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			all = append(all, r.Data)
		}
	}
	return all
}

// runUntil runs tr until done holds (checked every 10ms, at most 20 s),
// then stops it.
func runUntil(t *testing.T, tr *Trigger, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			cancel()
			<-errc
			t.Fatal("the trigger did not finish in 20 s")
		}
		select {
		case err := <-errc:
			t.Fatalf("Run ended early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func failures(t *testing.T, c *client.Client, stream string) []Failure {
	var fs []Failure
	for _, d := range readAll(t, c, stream) {
		var f Failure
		if err := json.Unmarshal(d, &f); err != nil {
			t.Fatalf("failure record %s: %v", d, err)
		}
		fs = append(fs, f)
	}
	return fs
}

// TestItemFailuresRetryFromTheFirstFailedItemThenGoToTheDestination: a
// function over HTTP reports some records failed; each retry starts at the
// first record reported, the records before it are never invoked again,
// and after the retries the rest of the batch goes to the on-failure
// stream; each shard's records arrive in order, one batch at a time.
func TestItemFailuresRetryFromTheFirstFailedItemThenGoToTheDestination(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 4)
	createStream(t, c, "dlq", 1)
	var data []string
	for i := range 300 {
		data = append(data, fmt.Sprintf("r%d", i))
	}
	seqs := put(t, c, "in", data, func(i int) string { return fmt.Sprintf("k%d", i%13) })
	poison := func(d string) bool {
		var i int
		fmt.Sscanf(d, "r%d", &i)
		return i%41 == 7
	}
	f := &function{answer: func(e event) (int, []int) {
		var failed []int
		for i, r := range e.Records {
			if poison(string(r.Kinesis.Data)) {
				failed = append(failed, i)
			}
		}
		return 200, failed
	}}
	fn := httptest.NewServer(f)
	defer fn.Close()
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL},
		BatchSize: 10, MaxRetryAttempts: 2, ReportBatchItemFailures: true, OnFailure: &StreamDestination{Client: c, Stream: "dlq"},
		RetryBackoff: time.Millisecond, PositionsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var fails []Failure
	runUntil(t, tr, func() bool {
		fails = failures(t, c, "dlq")
		n := 0
		for _, inv := range f.snapshot() {
			if inv.failed >= 0 {
				n += inv.failed
			} else {
				n += len(inv.data)
			}
		}
		for _, fl := range fails {
			n += fl.KinesisBatchInfo.BatchSize
		}
		return n >= len(data)
	})
	calls := f.snapshot()
	if f.overlap {
		t.Error("two batches of one shard were in flight at once")
	}
	// Per shard, in order of invocation.
	byShard := map[string][]invocation{}
	for _, inv := range calls {
		byShard[inv.shard] = append(byShard[inv.shard], inv)
	}
	if len(byShard) != 4 {
		t.Errorf("invocations came from %d shards, want 4", len(byShard))
	}
	failedBatches := map[string][]Failure{}
	for _, fl := range fails {
		failedBatches[fl.KinesisBatchInfo.ShardID] = append(failedBatches[fl.KinesisBatchInfo.ShardID], fl)
		if fl.RequestContext.Condition != "RetryAttemptsExhausted" || fl.RequestContext.ApproximateInvokeCount != 3 {
			t.Errorf("failure record %+v: want condition RetryAttemptsExhausted after 3 invocations", fl.RequestContext)
		}
	}
	done := map[string]bool{}
	retried := 0
	for sh, invs := range byShard {
		var order []string // the records done, in order
		for i, inv := range invs {
			for k := 1; k < len(inv.seqs); k++ {
				if !seqLess(inv.seqs[k-1], inv.seqs[k]) {
					t.Fatalf("shard %s: a batch out of order: %v", sh, inv.data)
				}
			}
			if i > 0 && invs[i-1].failed >= 0 {
				prev := invs[i-1]
				if inv.seqs[0] == prev.seqs[prev.failed] {
					retried++
					if !slices.Equal(inv.seqs, prev.seqs[prev.failed:]) && len(inv.seqs) > len(prev.seqs)-prev.failed {
						t.Errorf("shard %s: the retry %v is not the rest of %v from its first failed record", sh, inv.data, prev.data)
					}
				} else if !poison(prev.data[prev.failed]) {
					t.Errorf("shard %s: %v follows the failed batch %v", sh, inv.data, prev.data)
				}
			}
			end := len(inv.data)
			if inv.failed >= 0 {
				end = inv.failed
				if !poison(inv.data[inv.failed]) {
					t.Errorf("shard %s: reported %s failed, not a poison record", sh, inv.data[inv.failed])
				}
			}
			for k, d := range inv.data[:end] {
				if done[d] {
					t.Errorf("shard %s: %s invoked again after it was done", sh, d)
				}
				done[d] = true
				order = append(order, inv.seqs[k])
			}
		}
		for k := 1; k < len(order); k++ {
			if !seqLess(order[k-1], order[k]) {
				t.Errorf("shard %s: records done out of order: %s before %s", sh, order[k-1], order[k])
			}
		}
		// Every failure record starts at a poison record.
		for _, fl := range failedBatches[sh] {
			var first string
			for d, s := range seqs {
				if s == fl.KinesisBatchInfo.StartSequenceNumber {
					first = d
				}
			}
			if !poison(first) {
				t.Errorf("shard %s: a failure record starts at %q, not a poison record", sh, first)
			}
		}
	}
	if retried == 0 || len(fails) == 0 {
		t.Fatalf("retried %d batches, %d failure records: the test did not exercise failures", retried, len(fails))
	}
	// Every record is done or in a failure record's range, once.
	for _, d := range data {
		in := 0
		for _, fl := range fails {
			bi := fl.KinesisBatchInfo
			s := seqs[d]
			if !seqLess(s, bi.StartSequenceNumber) && !seqLess(bi.EndSequenceNumber, s) && shardOf(calls, d) == bi.ShardID {
				in++
			}
		}
		if done[d] && in > 0 || !done[d] && in != 1 {
			t.Errorf("record %s: done %v, in %d failure records", d, done[d], in)
		}
	}
}

// seqLess compares sequence numbers (decimal strings).
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func shardOf(calls []invocation, d string) string {
	for _, inv := range calls {
		if slices.Contains(inv.data, d) {
			return inv.shard
		}
	}
	return ""
}

// TestBisectHalvesAFailingBatchDownToThePoisonRecord: a function that fails
// any batch holding one record; with bisect-on-error, only that record goes
// to the destination, every other one is done, in order.
func TestBisectHalvesAFailingBatchDownToThePoisonRecord(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 1)
	createStream(t, c, "dlq", 1)
	var data []string
	for i := range 16 {
		data = append(data, fmt.Sprintf("r%02d", i))
	}
	seqs := put(t, c, "in", data, func(int) string { return "k" })
	f := &function{answer: func(e event) (int, []int) {
		for _, r := range e.Records {
			if string(r.Kinesis.Data) == "r11" {
				return 500, nil
			}
		}
		return 200, nil
	}}
	fn := httptest.NewServer(f)
	defer fn.Close()
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL},
		BatchSize: 16, BatchWindow: 200 * time.Millisecond, MaxRetryAttempts: 1, BisectOnError: true,
		OnFailure: &StreamDestination{Client: c, Stream: "dlq"}, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, "in")) == seqs["r15"] })
	var done []string
	for _, inv := range f.snapshot() {
		if inv.status == 200 {
			done = append(done, inv.data...)
		}
	}
	want := slices.DeleteFunc(slices.Clone(data), func(d string) bool { return d == "r11" })
	if !slices.Equal(done, want) {
		t.Errorf("records done %v, want %v", done, want)
	}
	fails := failures(t, c, "dlq")
	if len(fails) != 1 || fails[0].KinesisBatchInfo.StartSequenceNumber != seqs["r11"] || fails[0].KinesisBatchInfo.EndSequenceNumber != seqs["r11"] ||
		fails[0].KinesisBatchInfo.BatchSize != 1 || fails[0].ResponseContext.StatusCode != 500 {
		t.Errorf("failure records %+v, want one for r11 alone (%s) with status 500", fails, seqs["r11"])
	}
	// 16 → 8 → 4 → 2 → 1, then one retry.
	if calls := f.snapshot(); calls[0].status != 500 || len(calls[0].data) != 16 {
		t.Errorf("the first invocation had %d records (status %d), want the 16", len(calls[0].data), calls[0].status)
	}
}

func firstShard(t *testing.T, c *client.Client, stream string) string {
	t.Helper()
	sh, err := c.ListShards(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return sh[0].ShardId
}

// TestThrottlesAreRetriedWithoutCountingAsAttempts: 429s do not exhaust
// max-retry-attempts = 0.
func TestThrottlesAreRetriedWithoutCountingAsAttempts(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 1)
	createStream(t, c, "dlq", 1)
	seqs := put(t, c, "in", []string{"a", "b"}, func(int) string { return "k" })
	n := 0
	f := &function{answer: func(event) (int, []int) {
		n++
		if n <= 3 {
			return 429, nil
		}
		return 200, nil
	}}
	fn := httptest.NewServer(f)
	defer fn.Close()
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL},
		MaxRetryAttempts: 0, OnFailure: &StreamDestination{Client: c, Stream: "dlq"}, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, "in")) == seqs["b"] })
	if fs := failures(t, c, "dlq"); len(fs) != 0 {
		t.Errorf("failure records %+v after throttles", fs)
	}
	if got := tr.m.throttles.Get(); got != 3 {
		t.Errorf("throttles counted %d, want 3", got)
	}
}

// TestCommandInvokerGetsTheEventOnStdinAndRetriesOnExitStatus: a shell
// script function that fails its first invocation; the batch is invoked
// again, whole, and the script's stdout reports an item failure.
func TestCommandInvokerGetsTheEventOnStdinAndRetriesOnExitStatus(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 1)
	seqs := put(t, c, "in", []string{"a", "b", "c"}, func(int) string { return "k" })
	dir := t.TempDir()
	script := `n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; cat > event.$n
if [ "$n" = 0 ]; then echo boom >&2; exit 3; fi
if [ "$n" = 1 ]; then printf '{"batchItemFailures":[{"itemIdentifier":"%s"}]}' "$FAILED"; fi`
	t.Setenv("FAILED", seqs["b"])
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &CommandInvoker{Command: script, Dir: dir},
		BatchSize: 10, BatchWindow: 100 * time.Millisecond, ReportBatchItemFailures: true, MaxRetryAttempts: 5, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, "in")) == seqs["c"] })
	read := func(n int) []string {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("event.%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		var e event
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("event %d: %v: %s", n, err, b)
		}
		var ds []string
		for _, r := range e.Records {
			ds = append(ds, string(r.Kinesis.Data))
			if r.EventSource != "aws:kinesis" || r.Kinesis.SchemaVersion != "1.0" || r.Kinesis.PartitionKey != "k" || !strings.HasSuffix(r.EventSourceARN, ":stream/in") {
				t.Errorf("event record %+v", r)
			}
		}
		return ds
	}
	for n, want := range [][]string{{"a", "b", "c"}, {"a", "b", "c"}, {"b", "c"}} {
		if got := read(n); !slices.Equal(got, want) {
			t.Errorf("invocation %d got %v, want %v", n, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "event.3")); err == nil {
		t.Error("a fourth invocation after the batch was done")
	}
	if got := tr.m.errors.Get(); got != 2 {
		t.Errorf("errors counted %d, want 2", got)
	}
}

// TestPositionsResumeAfterTheLastBatchDone: a trigger restarted over the
// same positions folder (made by the first, as it did not exist) goes on
// after the last batch it finished.
func TestPositionsResumeAfterTheLastBatchDone(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 2)
	dir := filepath.Join(t.TempDir(), "state", "triggers")
	first := put(t, c, "in", []string{"a", "b", "c", "d"}, func(i int) string { return fmt.Sprint(i) })
	f := &function{answer: func(event) (int, []int) { return 200, nil }}
	fn := httptest.NewServer(f)
	defer fn.Close()
	newTrigger := func() *Trigger {
		tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL}, PositionsDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	count := func() int {
		n := 0
		for _, inv := range f.snapshot() {
			n += len(inv.data)
		}
		return n
	}
	// Done once the positions file holds every batch invoked: the
	// function's answer comes before the position is written, and a stop
	// between the two invokes the batch again (at least once).
	durable := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "t.positions"))
		var pf positionsFile
		if err != nil || json.Unmarshal(b, &pf) != nil {
			return false
		}
		for _, inv := range f.snapshot() {
			if p := pf.Positions[inv.shard]; p == "" || seqLess(p, inv.seqs[len(inv.seqs)-1]) {
				return false
			}
		}
		return true
	}
	runUntil(t, newTrigger(), func() bool { return count() == 4 && durable() })
	_ = first
	put(t, c, "in", []string{"e", "f"}, func(i int) string { return fmt.Sprint(i) })
	runUntil(t, newTrigger(), func() bool { return count() >= 6 })
	var all []string
	for _, inv := range f.snapshot() {
		all = append(all, inv.data...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{"a", "b", "c", "d", "e", "f"}) {
		t.Errorf("records invoked %v, want each once", all)
	}
	if _, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "other"}, Invoker: &HTTPInvoker{URL: fn.URL}, PositionsDir: dir}); err == nil ||
		!strings.Contains(err.Error(), "remove it to start over") {
		t.Errorf("a positions file of another stream: %v", err)
	}
}

// TestItemFailuresAnswersLambdaTreatsAsWholeBatchFailures: identifiers
// that are empty or not in the batch fail it whole; empty answers succeed.
func TestItemFailuresAnswersLambdaTreatsAsWholeBatchFailures(t *testing.T) {
	recs := []Record{{SequenceNumber: "1"}, {SequenceNumber: "2"}, {SequenceNumber: "3"}}
	for _, tc := range []struct {
		answer string
		want   int
		err    bool
	}{
		{"", -1, false}, {"{}", -1, false}, {`{"batchItemFailures":null}`, -1, false}, {`{"batchItemFailures":[]}`, -1, false},
		{`{"batchItemFailures":[{"itemIdentifier":"3"},{"itemIdentifier":"2"}]}`, 1, false},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, 0, true}, {`{"batchItemFailures":[{"id":"2"}]}`, 0, true},
		{`{"batchItemFailures":[{"itemIdentifier":"9"}]}`, 0, true}, {`not json`, 0, true},
	} {
		got, err := itemFailures([]byte(tc.answer), recs)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("answer %s: %d, %v; want %d (error %v)", tc.answer, got, err, tc.want, tc.err)
		}
	}
}

// TestRunFailsWhenTheStreamNeverAppears: a trigger on a stream that does
// not exist retries the listing for a while, then fails naming it.
func TestRunFailsWhenTheStreamNeverAppears(t *testing.T) {
	c := startStore(t)
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "nope"}, Invoker: &CommandInvoker{Command: "true"},
		RetryBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Run: %v, want an error naming the stream", err)
	}
}

// TestLatestKeepsWhatArrivedWhileTheTriggerWasDown: at LATEST, records
// older than the trigger's first start are skipped, and a record that
// arrives before the first batch — then a restart — is still delivered.
func TestLatestKeepsWhatArrivedWhileTheTriggerWasDown(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 1)
	put(t, c, "in", []string{"old"}, func(int) string { return "k" })
	time.Sleep(5 * time.Millisecond)
	dir := t.TempDir()
	f := &function{answer: func(event) (int, []int) { return 200, nil }}
	fn := httptest.NewServer(f)
	defer fn.Close()
	newTrigger := func() *Trigger {
		tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL},
			StartingPosition: Latest, PositionsDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	// The first run sees nothing new, and stops.
	tr := newTrigger()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	seqs := put(t, c, "in", []string{"new"}, func(int) string { return "k" })
	tr = newTrigger()
	runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, "in")) == seqs["new"] })
	var got []string
	for _, inv := range f.snapshot() {
		got = append(got, inv.data...)
	}
	if !slices.Equal(got, []string{"new"}) {
		t.Errorf("invoked with %v, want [new]", got)
	}
}

// TestMaxRecordAgeSendsOldRecordsToTheDestination: records older than
// max-record-age are not invoked; a batch retried until its records are
// that old goes to the destination too, and the trigger moves on.
func TestMaxRecordAgeSendsOldRecordsToTheDestination(t *testing.T) {
	c := startStore(t)
	createStream(t, c, "in", 1)
	createStream(t, c, "dlq", 1)
	seqs := put(t, c, "in", []string{"r0", "r1", "r2", "r3", "r4"}, func(int) string { return "k" })
	time.Sleep(1200 * time.Millisecond)
	for k, v := range put(t, c, "in", []string{"r5", "r6", "r7", "r8", "r9"}, func(int) string { return "k" }) {
		seqs[k] = v
	}
	f := &function{answer: func(e event) (int, []int) {
		for _, r := range e.Records {
			if string(r.Kinesis.Data) == "r8" {
				return 500, nil
			}
		}
		return 200, nil
	}}
	fn := httptest.NewServer(f)
	defer fn.Close()
	tr, err := New(Config{Name: "t", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL},
		MaxRecordAge: time.Second, MaxRetryAttempts: -1, OnFailure: &StreamDestination{Client: c, Stream: "dlq"},
		RetryBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.Position(firstShard(t, c, "in")) == seqs["r9"] })
	for _, inv := range f.snapshot() {
		if slices.Contains(inv.data, "r0") || inv.status != 500 {
			t.Errorf("invocation %v (status %d): want only the failing fresh records", inv.data, inv.status)
		}
	}
	fails := failures(t, c, "dlq")
	if len(fails) != 2 {
		t.Fatalf("failure records %+v, want 2", fails)
	}
	for i, want := range [][2]string{{"r0", "r4"}, {"r5", "r9"}} {
		b := fails[i].KinesisBatchInfo
		if fails[i].RequestContext.Condition != "RecordAgeExceeded" || b.StartSequenceNumber != seqs[want[0]] || b.EndSequenceNumber != seqs[want[1]] || b.BatchSize != 5 {
			t.Errorf("failure record %d: %s %s–%s (%d), want RecordAgeExceeded %s–%s", i, fails[i].RequestContext.Condition,
				b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize, want[0], want[1])
		}
	}
	if fails[0].RequestContext.ApproximateInvokeCount != 0 || fails[1].RequestContext.ApproximateInvokeCount == 0 {
		t.Errorf("invoke counts %d and %d: want 0 for the records too old at once", fails[0].RequestContext.ApproximateInvokeCount, fails[1].RequestContext.ApproximateInvokeCount)
	}
}
