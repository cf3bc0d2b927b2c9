package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/VictoriaMetrics/metrics"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// sqsEvent is Lambda's SQS event as a function decodes it.
type sqsEvent struct {
	Records []struct {
		MessageID         string            `json:"messageId"`
		ReceiptHandle     string            `json:"receiptHandle"`
		Body              string            `json:"body"`
		Attributes        map[string]string `json:"attributes"`
		MessageAttributes map[string]struct {
			StringValue      *string  `json:"stringValue"`
			StringListValues []string `json:"stringListValues"`
			BinaryListValues []string `json:"binaryListValues"`
			DataType         string   `json:"dataType"`
		} `json:"messageAttributes"`
		MD5OfBody      string `json:"md5OfBody"`
		EventSource    string `json:"eventSource"`
		EventSourceARN string `json:"eventSourceARN"`
		AWSRegion      string `json:"awsRegion"`
	} `json:"Records"`
}

// queueFunction is an HTTP function over loopback: answer names, per
// event, the records to report failed (or a status other than 200).
type queueFunction struct {
	mu     sync.Mutex
	events []sqsEvent
	answer func(e sqsEvent) (status int, failed []int)
	// inflight counts batches in flight by message group; overlap and
	// mixed tell a group with two batches at once, a batch of two groups.
	inflight       map[string]int
	overlap, mixed bool
}

func (f *queueFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var e sqsEvent
	if err := json.Unmarshal(body, &e); err != nil || len(e.Records) == 0 {
		http.Error(w, "bad event", 400)
		return
	}
	g := e.Records[0].Attributes["MessageGroupId"]
	f.mu.Lock()
	if f.inflight == nil {
		f.inflight = map[string]int{}
	}
	for _, r := range e.Records {
		f.mixed = f.mixed || r.Attributes["MessageGroupId"] != g
	}
	f.inflight[g]++
	f.overlap = f.overlap || g != "" && f.inflight[g] > 1
	f.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // widen the window for overlaps
	status, failed := f.answer(e)
	f.mu.Lock()
	f.events = append(f.events, e)
	f.inflight[g]--
	f.mu.Unlock()
	w.WriteHeader(status)
	if len(failed) > 0 {
		var items []string
		for _, i := range failed {
			items = append(items, fmt.Sprintf(`{"itemIdentifier":%q}`, e.Records[i].MessageID))
		}
		fmt.Fprintf(w, `{"batchItemFailures":[%s]}`, strings.Join(items, ","))
	}
}

// seen returns the receive counts with which each body was invoked.
func (f *queueFunction) seen() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string][]string{}
	for _, e := range f.events {
		for _, r := range e.Records {
			m[r.Body] = append(m[r.Body], r.Attributes["ApproximateReceiveCount"])
		}
	}
	return m
}

func createQueue(t *testing.T, q *client.SQS, name string, attrs map[string]string) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	url, err := q.CreateQueue(ctx, name, attrs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := q.Attributes(ctx, url, "QueueArn")
	if err != nil {
		t.Fatal(err)
	}
	return url, a["QueueArn"]
}

func send(t *testing.T, q *client.SQS, url string, entries []client.SendEntry) {
	t.Helper()
	for chunk := range slices.Chunk(entries, 10) {
		for i := range chunk {
			chunk[i].Id = fmt.Sprint(i)
		}
		out, err := q.SendBatch(context.Background(), url, chunk)
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("SendBatch: %v, %+v", err, out)
		}
	}
}

func queueCount(t *testing.T, q *client.SQS, url, attr string) string {
	t.Helper()
	a, err := q.Attributes(context.Background(), url, attr)
	if err != nil {
		t.Fatal(err)
	}
	return a[attr]
}

// queueEmpty reports whether the queue at url holds no message, visible
// or in flight (asked at once: a message may pass from one to the other
// between two requests).
func queueEmpty(t *testing.T, q *client.SQS, url string) bool {
	t.Helper()
	a, err := q.Attributes(context.Background(), url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
	if err != nil {
		t.Fatal(err)
	}
	return a["ApproximateNumberOfMessages"] == "0" && a["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// TestQueueItemFailuresStayAndGoToTheDeadLetterQueue: the messages the
// function names as failed are received again (ApproximateReceiveCount
// 2), the others are deleted at once; past the queue's maxReceiveCount
// the failed ones are in its dead-letter queue.
func TestQueueItemFailuresStayAndGoToTheDeadLetterQueue(t *testing.T) {
	c := startStore(t)
	q := c.SQS()
	dlqURL, dlqARN := createQueue(t, q, "jobs-dlq", nil)
	url, arn := createQueue(t, q, "jobs", map[string]string{"VisibilityTimeout": "2",
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN)})
	var entries []client.SendEntry
	for i := range 30 {
		entries = append(entries, client.SendEntry{MessageBody: fmt.Sprint("m", i)})
	}
	color := "blue"
	entries[1].MessageAttributes = map[string]client.MessageAttribute{"color": {DataType: "String", StringValue: &color}}
	send(t, q, url, entries)
	poison := func(body string) bool { return slices.Contains([]string{"m0", "m5", "m10", "m15", "m20", "m25"}, body) }
	fn := &queueFunction{answer: func(e sqsEvent) (int, []int) {
		var failed []int
		for i, r := range e.Records {
			if poison(r.Body) {
				failed = append(failed, i)
			}
		}
		return 200, failed
	}}
	ts := httptest.NewServer(fn)
	defer ts.Close()
	set := metrics.NewSet()
	tr, err := New(Config{Name: "work", Queue: &QueueSource{Client: c, Queue: "jobs"}, Invoker: &HTTPInvoker{URL: ts.URL},
		ReportBatchItemFailures: true, Region: "eu-west-1", Metrics: set, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A message moved is in the dead-letter queue before it leaves its queue.
	runUntil(t, tr, func() bool {
		return queueCount(t, q, dlqURL, "ApproximateNumberOfMessages") == "6" && queueEmpty(t, q, url)
	})

	for body, counts := range fn.seen() {
		want := "[1]"
		if poison(body) {
			want = "[1 2]"
		}
		if fmt.Sprint(counts) != want {
			t.Errorf("%s invoked with receive counts %v, want %s", body, counts, want)
		}
	}
	if n := len(fn.seen()); n != 30 {
		t.Errorf("%d messages invoked, want 30", n)
	}
	var dead []string
	for len(dead) < 6 {
		msgs, err := q.Receive(context.Background(), dlqURL, client.ReceiveInput{Max: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			dead = append(dead, m.Body)
		}
	}
	slices.Sort(dead)
	if fmt.Sprint(dead) != "[m0 m10 m15 m20 m25 m5]" {
		t.Errorf("dead-letter queue holds %v", dead)
	}

	// The event is Lambda's SQS event.
	fn.mu.Lock()
	r := fn.events[0].Records[0]
	var withAttr bool
	for _, e := range fn.events {
		for _, r := range e.Records {
			if a, ok := r.MessageAttributes["color"]; ok {
				withAttr = r.Body == "m1" && a.DataType == "String" && *a.StringValue == "blue" && a.StringListValues != nil && a.BinaryListValues != nil
			}
		}
	}
	fn.mu.Unlock()
	if r.EventSource != "aws:sqs" || r.EventSourceARN != arn || r.AWSRegion != "eu-west-1" || r.MessageID == "" || r.ReceiptHandle == "" ||
		len(r.MD5OfBody) != 32 || r.Attributes["SentTimestamp"] == "" || r.Attributes["ApproximateFirstReceiveTimestamp"] == "" || r.Attributes["SenderId"] == "" {
		t.Errorf("record %+v", r)
	}
	if !withAttr {
		t.Error("m1's message attribute color is not in its record as Lambda gives it")
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, want := range []string{`sluice_trigger_records_total{trigger="work"} 24`, `sluice_trigger_queue_messages_visible{trigger="work",queue="jobs"}`,
		`sluice_trigger_queue_messages_in_flight{trigger="work",queue="jobs"}`, `sluice_trigger_iterator_age_milliseconds{trigger="work",queue="jobs"}`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, buf.String())
		}
	}
}

// TestQueueFIFOKeepsEachGroupInOrder: 20 message groups; each batch holds
// one group, a group never has two batches in flight, and the messages
// done of each group come in send order — also when the function fails
// one of them (it and the rest of its batch stay, and come back in
// order).
func TestQueueFIFOKeepsEachGroupInOrder(t *testing.T) {
	c := startStore(t)
	q := c.SQS()
	url, _ := createQueue(t, q, "orders.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "1"})
	var entries []client.SendEntry
	for i := range 10 {
		for g := range 20 {
			entries = append(entries, client.SendEntry{MessageBody: fmt.Sprintf("g%02d-%d", g, i), MessageGroupId: fmt.Sprintf("g%02d", g)})
		}
	}
	send(t, q, url, entries)
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	done := map[string][]string{} // by group, the messages done in order
	fn := &queueFunction{answer: func(e sqsEvent) (int, []int) {
		mu.Lock()
		defer mu.Unlock()
		for i, r := range e.Records {
			// The 5th message of the groups ending in 0, 4 or 8 fails once.
			if strings.HasSuffix(r.Body, "-4") && r.Body[2]%4 == 0 && !failedOnce[r.Body] {
				failedOnce[r.Body] = true
				return 200, []int{i}
			}
			g := r.Attributes["MessageGroupId"]
			done[g] = append(done[g], r.Body)
		}
		return 200, nil
	}}
	ts := httptest.NewServer(fn)
	defer ts.Close()
	tr, err := New(Config{Name: "fifo", Queue: &QueueSource{Client: c, Queue: "orders.fifo"}, Invoker: &HTTPInvoker{URL: ts.URL},
		ReportBatchItemFailures: true, Concurrency: 4, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, d := range done {
			n += len(d)
		}
		return n >= 200
	})
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if fn.overlap || fn.mixed {
		t.Errorf("two batches of a group in flight at once: %v; a batch of two groups: %v", fn.overlap, fn.mixed)
	}
	for g := range 20 {
		var want []string
		for i := range 10 {
			want = append(want, fmt.Sprintf("g%02d-%d", g, i))
		}
		if got := done[fmt.Sprintf("g%02d", g)]; !slices.Equal(got, want) {
			t.Errorf("group %d done in the order %v", g, got)
		}
	}
	if len(failedOnce) != 6 {
		t.Errorf("%d messages failed once, want 6", len(failedOnce))
	}
}

// TestQueueCommandWholeBatchFailureLeavesEveryMessage: a command that
// exits 1 fails its batch whole: no message of it is deleted, and each
// comes back (receive count 2), when the command takes it.
func TestQueueCommandWholeBatchFailureLeavesEveryMessage(t *testing.T) {
	c := startStore(t)
	q := c.SQS()
	url, _ := createQueue(t, q, "tasks", map[string]string{"VisibilityTimeout": "1"})
	var entries []client.SendEntry
	for i := range 25 {
		entries = append(entries, client.SendEntry{MessageBody: fmt.Sprint("t", i)})
	}
	send(t, q, url, entries)
	dir := t.TempDir()
	cmd := `e=$(cat); echo "$e" >> events.log; case "$e" in *'"ApproximateReceiveCount":"1"'*) echo first receive >&2; exit 1;; esac`
	tr, err := New(Config{Name: "cmd", Queue: &QueueSource{Client: c, Queue: "tasks"}, Invoker: &CommandInvoker{Command: cmd, Dir: dir}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.m.records.Get() == 25 && queueEmpty(t, q, url) })
	b, err := os.ReadFile(filepath.Join(dir, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{}
	for line := range strings.Lines(string(b)) {
		var e sqsEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event %q: %v", line, err)
		}
		for _, r := range e.Records {
			seen[r.Body] = append(seen[r.Body], r.Attributes["ApproximateReceiveCount"])
		}
	}
	for i := range 25 {
		if got := seen[fmt.Sprint("t", i)]; fmt.Sprint(got) != "[1 2]" {
			t.Errorf("t%d invoked with receive counts %v, want [1 2]", i, got)
		}
	}
}

// TestQueueThrottlesLeaveTheBatchAndBackOff: a 429 is a failure (the batch
// stays) counted as a throttle.
func TestQueueThrottlesLeaveTheBatchAndBackOff(t *testing.T) {
	c := startStore(t)
	q := c.SQS()
	url, _ := createQueue(t, q, "busy", map[string]string{"VisibilityTimeout": "1"})
	send(t, q, url, []client.SendEntry{{MessageBody: "a"}, {MessageBody: "b"}})
	var mu sync.Mutex
	calls := 0
	fn := &queueFunction{answer: func(e sqsEvent) (int, []int) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			return http.StatusTooManyRequests, nil
		}
		return 200, nil
	}}
	ts := httptest.NewServer(fn)
	defer ts.Close()
	set := metrics.NewSet()
	tr, err := New(Config{Name: "busy", Queue: &QueueSource{Client: c, Queue: "busy"}, Invoker: &HTTPInvoker{URL: ts.URL}, Concurrency: 1, Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.m.records.Get() == 2 && queueEmpty(t, q, url) })
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	if !strings.Contains(buf.String(), `sluice_trigger_throttles_total{trigger="busy"} 2`) {
		t.Errorf("metrics:\n%s", buf.String())
	}
	if st := tr.Stats(); st.Throttles != 2 || st.Records != 2 || st.Visible == nil || !strings.Contains(st.LastError, "429") {
		t.Errorf("Stats = %+v", st)
	}
	for body, counts := range fn.seen() {
		if counts[len(counts)-1] == "1" {
			t.Errorf("%s done at its first receive (%v), though throttled", body, counts)
		}
	}
}

// TestQueueRefusesAVisibilityTimeoutShorterThanTheTimeout: as Lambda, a
// trigger whose function may run longer than the queue hides a message is
// refused at start, naming both.
func TestQueueRefusesAVisibilityTimeoutShorterThanTheTimeout(t *testing.T) {
	c := startStore(t)
	createQueue(t, c.SQS(), "slow", map[string]string{"VisibilityTimeout": "5"})
	tr, err := New(Config{Name: "t", Queue: &QueueSource{Client: c, Queue: "slow"}, Invoker: &CommandInvoker{Command: "true"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background())
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Option != "timeout" || !strings.Contains(err.Error(), `"timeout" (10s) is longer than queue slow's VisibilityTimeout (5s)`) {
		t.Fatalf("Run: %v", err)
	}
	// Without 'timeout', the queue's visibility timeout is the timeout.
	tr, err = New(Config{Name: "t", Queue: &QueueSource{Client: c, Queue: "slow"}, Invoker: &CommandInvoker{Command: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := tr.Run(ctx); err != nil || tr.c.Timeout != 5*time.Second {
		t.Fatalf("Run: %v; timeout %v", err, tr.c.Timeout)
	}
}

func TestCheckQueueRefusesStreamSettings(t *testing.T) {
	src := &QueueSource{Queue: "q"}
	for _, tc := range []struct {
		c      Config
		option string
	}{
		{Config{BisectOnError: true}, "bisect-on-error"},
		{Config{PositionsDir: "p"}, "positions.dir"},
		{Config{StartingPosition: Latest}, "starting-position"},
		{Config{MaxRetryAttempts: 3}, "max-retry-attempts"},
		{Config{MaxRecordAge: time.Minute}, "max-record-age"},
		{Config{OnFailure: FuncDestination(nil)}, "on-failure"},
		{Config{BatchSize: 20}, "batch.size"},
		{Config{BatchSize: 20001, BatchWindow: time.Second}, "batch.size"},
	} {
		tc.c.Name, tc.c.Queue, tc.c.Invoker = "t", src, &CommandInvoker{Command: "true"}
		_, err := New(tc.c)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), "function trigger t ON QUEUE q: option \""+tc.option+"\"") {
			t.Errorf("%+v: %v, want an error naming %s", tc.c, err, tc.option)
		}
	}
	fifo := Config{Name: "t", Queue: &QueueSource{Queue: "q.fifo"}, BatchSize: 20, BatchWindow: time.Second}
	if err := CheckQueue(fifo); err == nil || !strings.Contains(err.Error(), "at most 10 on a FIFO queue") {
		t.Errorf("FIFO batch of 20: %v", err)
	}
}

// TestQueueBatchWindowFillsABatchOverSeveralReceives: a batch larger than
// one receive (10) fills over several within batch.window — here longer
// than a long poll may wait.
func TestQueueBatchWindowFillsABatchOverSeveralReceives(t *testing.T) {
	c := startStore(t)
	q := c.SQS()
	url, _ := createQueue(t, q, "bulk", nil)
	var entries []client.SendEntry
	for i := range 25 {
		entries = append(entries, client.SendEntry{MessageBody: fmt.Sprint("b", i)})
	}
	send(t, q, url, entries)
	fn := &queueFunction{answer: func(sqsEvent) (int, []int) { return 200, nil }}
	ts := httptest.NewServer(fn)
	defer ts.Close()
	tr, err := New(Config{Name: "bulk", Queue: &QueueSource{Client: c, Queue: "bulk"}, Invoker: &HTTPInvoker{URL: ts.URL},
		BatchSize: 25, BatchWindow: 25 * time.Second, Concurrency: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, tr, func() bool { return tr.m.records.Get() == 25 })
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if len(fn.events) != 1 || len(fn.events[0].Records) != 25 {
		t.Errorf("%d invocations, the first of %d messages; want one of 25", len(fn.events), len(fn.events[0].Records))
	}
}

// A queue trigger on a store in the same process (the embedded store's
// transport, where a canceled call gets the store's empty answer rather
// than an error) stops when its context ends.
func TestQueueTriggerStopsOnAnInProcessStore(t *testing.T) {
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client.New("http://in-process", &http.Client{Transport: s.Transport(), Timeout: 30 * time.Second})
	createQueue(t, c.SQS(), "idle", nil)
	tr, err := New(Config{Name: "t", Queue: &QueueSource{Client: c, Queue: "idle"}, Invoker: &CommandInvoker{Command: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still polls 10 s after its context ended")
	}
}
