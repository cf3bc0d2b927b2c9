package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/file"
	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/queue"
	"github.com/sluicehq/sluice/store/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
)

// startStore runs a store server in-process and returns its URL and an
// SQS client of it.
func startStore(t testing.TB) (string, *client.SQS) {
	t.Helper()
	return startStoreWith(t, server.Options{})
}

func startStoreWith(t testing.TB, opts server.Options) (string, *client.SQS) {
	t.Helper()
	s, err := server.New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ts.URL, client.New(ts.URL, ts.Client()).SQS()
}

func createQueue(t testing.TB, q *client.SQS, name string, attrs map[string]string) string {
	t.Helper()
	u, err := q.CreateQueue(context.Background(), name, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sendRows sends messages {"id":i,"name":"n<i>"} for i in [from, to).
func sendRows(t testing.TB, q *client.SQS, url string, from, to int) {
	t.Helper()
	var batch []client.SendEntry
	flush := func() {
		if len(batch) == 0 {
			return
		}
		out, err := q.SendBatch(context.Background(), url, batch)
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("SendBatch: %v %+v", err, out)
		}
		batch = batch[:0]
	}
	for i := from; i < to; i++ {
		batch = append(batch, client.SendEntry{Id: strconv.Itoa(len(batch)), MessageBody: fmt.Sprintf(`{"id":%d,"name":"n%d"}`, i, i)})
		if len(batch) == maxBatch {
			flush()
		}
	}
	flush()
}

// counts returns the queue's visible and in-flight message counts.
func counts(t testing.TB, q *client.SQS, url string) (visible, inFlight int) {
	t.Helper()
	a, err := q.Attributes(context.Background(), url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
	if err != nil {
		t.Fatal(err)
	}
	visible, _ = strconv.Atoi(a["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(a["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

// drain receives and deletes every message of the queue until it has been
// empty for a second, and returns their bodies in the order received.
func drain(t testing.TB, q *client.SQS, url string) []string {
	t.Helper()
	var out []string
	ctx := context.Background()
	for {
		msgs, err := q.Receive(ctx, url, client.ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		var receipts []string
		for _, m := range msgs {
			out = append(out, m.Body)
			receipts = append(receipts, m.ReceiptHandle)
		}
		if _, err := q.Delete(ctx, url, receipts); err != nil {
			t.Fatal(err)
		}
	}
}

func factoryOf(t testing.TB) interface {
	connectors.Source
	connectors.Sink
} {
	t.Helper()
	f, ok := connectors.Lookup("queue")
	if !ok {
		t.Fatal("queue is not registered")
	}
	return f.(interface {
		connectors.Source
		connectors.Sink
	})
}

// openSource opens a subtask of a queue source over opts, restored from
// positions when they are given.
func openSource(t testing.TB, opts map[string]string, checkpointing bool, positions [][]byte) *source {
	t.Helper()
	newSrc, _, err := factoryOf(t).NewSource(connectors.Table{Name: "src", Schema: schema, Options: opts, TimeColumn: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := newSrc().(*source)
	if positions != nil {
		if err := s.RestorePositions(positions); err != nil {
			t.Fatal(err)
		}
	}
	ctx := rttest.NewContext("src", 0, 1)
	ctx.Checkpointing = checkpointing
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// pollRows polls s until it has emitted n rows (or, n < 0, until it has
// emitted nothing for quiet), and returns them formatted, sorted.
func pollRows(t testing.TB, s *source, n int, quiet time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	last := time.Now()
	for (n < 0 || len(got) < n) && time.Now().Before(deadline) {
		b, _, err := s.Poll(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			got = append(got, rttest.Strings(b)...)
			last = time.Now()
		} else if n < 0 && time.Since(last) > quiet {
			break
		}
	}
	slices.Sort(got)
	return got
}

func wantRows(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, rttest.Format([]runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue(fmt.Sprintf("n%d", i))}))
	}
	slices.Sort(out)
	return out
}

// waitCounts polls the queue's counts until they are (visible, inFlight).
func waitCounts(t testing.TB, q *client.SQS, url string, visible, inFlight int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, f := counts(t, q, url)
		if v == visible && f == inFlight {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d visible and %d in flight, want %d and %d", v, f, visible, inFlight)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeleteAfterCheckpoint: rows emitted but not covered by a complete
// checkpoint keep their messages in flight; the checkpoint's completion
// deletes them; a source restored from a checkpoint whose deletes did not
// happen deletes the messages it receives again instead of emitting them,
// and emits the new ones.
func TestDeleteAfterCheckpoint(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "in", nil)
	sendRows(t, q, url, 0, 50)
	opts := map[string]string{"queue": "in", "endpoint": endpoint, "scan.visibility-timeout": "2 s"}
	s := openSource(t, opts, true, nil)
	if got := pollRows(t, s, 50, 0); !slices.Equal(got, wantRows(0, 50)) {
		t.Fatalf("emitted %v", got)
	}
	// In flight, and kept so past the visibility timeout.
	time.Sleep(2500 * time.Millisecond)
	waitCounts(t, q, url, 0, 50)
	if err := s.OnBarrier(runtime.Barrier{ID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SnapshotPosition(); err != nil {
		t.Fatal(err)
	}
	sendRows(t, q, url, 50, 80)
	if got := pollRows(t, s, 30, 0); !slices.Equal(got, wantRows(50, 80)) {
		t.Fatalf("emitted %v", got)
	}
	if err := s.NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, q, url, 0, 30) // the 30 after the barrier stay in flight

	// Checkpoint 2 covers the 30; it completes, but the job dies before
	// its deletes (the notification never comes).
	if err := s.OnBarrier(runtime.Barrier{ID: 2}); err != nil {
		t.Fatal(err)
	}
	pos, err := s.SnapshotPosition()
	if err != nil {
		t.Fatal(err)
	}
	var p position
	if err := json.Unmarshal(pos, &p); err != nil || len(p.Delivered) != 30 {
		t.Fatalf("position %s: %v", pos, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := openSource(t, opts, true, [][]byte{pos})
	defer r.Close()
	sendRows(t, q, url, 80, 90)
	// The 30 come back once their visibility timeout ends: dropped.
	if got := pollRows(t, r, -1, 4*time.Second); !slices.Equal(got, wantRows(80, 90)) {
		t.Fatalf("restored source emitted %v, want the 10 new rows only", got)
	}
	if err := r.OnBarrier(runtime.Barrier{ID: 3}); err != nil {
		t.Fatal(err)
	}
	if err := r.NotifyCheckpointComplete(3); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, q, url, 0, 0)
	if ids := r.run.ids(); len(ids) != 0 {
		t.Fatalf("the delivered set still holds %d ids after their messages were deleted", len(ids))
	}
}

// TestBadBody: a body that does not decode goes to errors.path with its
// message id and is deleted with the others; the source goes on.
func TestBadBody(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "in", nil)
	sendRows(t, q, url, 0, 3)
	badID, err := q.Send(context.Background(), url, client.SendEntry{MessageBody: `{"id": "not a number"}`})
	if err != nil {
		t.Fatal(err)
	}
	sendRows(t, q, url, 3, 5)
	errs := filepath.Join(t.TempDir(), "bad.jsonl")
	s := openSource(t, map[string]string{"queue": "in", "endpoint": endpoint, "errors.path": errs,
		"scan.bounded.mode": "empty", "scan.bounded.idle": "300 ms"}, false, nil)
	defer s.Close()
	if got := pollRows(t, s, -1, 10*time.Second); !slices.Equal(got, wantRows(0, 5)) {
		t.Fatalf("emitted %v", got)
	}
	data, err := os.ReadFile(errs)
	if err != nil {
		t.Fatal(err)
	}
	var line struct{ Queue, MessageID, Error, Record string }
	if err := json.Unmarshal(data, &line); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if line.Queue != "in" || line.MessageID != badID || !strings.Contains(line.Error, "id") || line.Record != `{"id": "not a number"}` {
		t.Fatalf("errors.path holds %s", data)
	}
	if n := s.cfg.bad.Count(); n != 1 {
		t.Fatalf("%d bad records counted", n)
	}
	waitCounts(t, q, url, 0, 0)
}

// TestSQLCopy: a job reads a queue (bounded) and writes a queue and a
// file, with checkpoints: every row arrives once, and the source queue
// ends empty.
func TestSQLCopy(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "in", nil)
	sendRows(t, q, url, 0, 300)
	out := t.TempDir()
	job := fmt.Sprintf(`
CREATE TABLE src (id BIGINT, name VARCHAR, mid VARCHAR, n BIGINT)
  WITH ('connector' = 'queue', 'queue' = 'in', 'endpoint' = '%[1]s', 'scan.bounded.mode' = 'empty',
        'scan.bounded.idle' = '500 ms', 'metadata.message-id' = 'mid', 'metadata.receive-count' = 'n');
CREATE TABLE dst (id BIGINT, name VARCHAR, n BIGINT)
  WITH ('connector' = 'queue', 'queue' = 'out', 'endpoint' = '%[1]s', 'queue.create' = 'true');
CREATE TABLE ids (id BIGINT, ok BOOLEAN) WITH ('connector' = 'file', 'path' = '%[2]s', 'format' = 'csv');
INSERT INTO dst SELECT id, UPPER(name), n FROM src;
INSERT INTO ids SELECT id, mid IS NOT NULL FROM src;
`, endpoint, out)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp := &runtime.CheckpointOptions{Dir: t.TempDir(), Interval: 20 * time.Millisecond}
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Checkpoints: cp}); err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	outURL, err := q.QueueURL(context.Background(), "out")
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, q, outURL)
	slices.Sort(got)
	var want []string
	for i := range 300 {
		want = append(want, fmt.Sprintf(`{"id":%d,"name":"N%d","n":1}`, i, i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("out holds %d messages, want %d; first %v", len(got), len(want), got[:min(3, len(got))])
	}
	var lines []string
	files, _ := filepath.Glob(filepath.Join(out, "part-*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Fields(string(data))...)
	}
	if len(lines) != 300 || slices.ContainsFunc(lines, func(l string) bool { return !strings.HasSuffix(l, ",true") }) {
		t.Fatalf("the file sink holds %d lines: %.200v", len(lines), lines)
	}
	waitCounts(t, q, url, 0, 0)
}

// TestFIFOSink: the group id comes from a column, and each group's
// messages arrive in the order the rows were sent.
func TestFIFOSink(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "out.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	s := schemaG
	newSink, _, err := factoryOf(t).NewSink(connectors.Table{Name: "dst", Schema: s, TimeColumn: -1, Options: map[string]string{
		"queue": "out.fifo", "endpoint": endpoint, "sink.message-group-id": "g", "sink.requests.max-inflight": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	if err := op.Open(rttest.NewContext("dst", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	groups := []string{"a", "b", "c", "d", "e"}
	const n = 400
	for start := 0; start < n; start += 100 {
		var rows [][]runtime.Value
		for i := start; i < start+100; i++ {
			rows = append(rows, []runtime.Value{runtime.StringValue(groups[i%len(groups)]), runtime.IntValue(int64(i))})
		}
		if err := op.ProcessBatch(0, rttest.NewBatch(s, rows...), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	seen := 0
	ctx := context.Background()
	for seen < n {
		msgs, err := q.Receive(ctx, url, client.ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatalf("received %d messages, want %d", seen, n)
		}
		var receipts []string
		for _, m := range msgs {
			var row struct {
				G string
				I int
			}
			if err := json.Unmarshal([]byte(m.Body), &row); err != nil {
				t.Fatal(err)
			}
			if m.Attributes["MessageGroupId"] != row.G {
				t.Fatalf("message %s has group %q", m.Body, m.Attributes["MessageGroupId"])
			}
			if prev, ok := last[row.G]; ok && row.I <= prev {
				t.Fatalf("group %s: %d after %d", row.G, row.I, prev)
			}
			last[row.G] = row.I
			seen++
			receipts = append(receipts, m.ReceiptHandle)
		}
		if _, err := q.Delete(ctx, url, receipts); err != nil {
			t.Fatal(err)
		}
	}
}

var schemaG = runtime.NewSchema(
	runtime.Field{Name: "g", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "i", Type: runtime.BigInt},
)

// TestOptionErrors: options that do not fit the queue are refused naming
// the option.
func TestOptionErrors(t *testing.T) {
	endpoint, q := startStore(t)
	createQueue(t, q, "std", nil)
	f := func(opts map[string]string, want string) {
		t.Helper()
		opts["endpoint"] = endpoint
		newSink, _, err := factoryOf(t).NewSink(connectors.Table{Name: "t", Schema: schemaG, TimeColumn: -1, Options: opts})
		if err == nil {
			op := newSink()
			err = op.Open(rttest.NewContext("t", 0, 1))
			op.Close()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: error %v, want %q", opts, err, want)
		}
	}
	f(map[string]string{"queue": "x.fifo"}, `option "sink.message-group-id": queue x.fifo is a FIFO queue`)
	f(map[string]string{"queue": "std", "sink.message-group-id": "g"}, `option "sink.message-group-id": queue std is a standard queue`)
	f(map[string]string{"queue": "x.fifo", "sink.message-group-id": "g", "sink.delay": "5 s"}, `option "sink.delay"`)
	f(map[string]string{"queue": "nope"}, `queue "nope" does not exist`)
	f(map[string]string{"queue": "std", "metadata.message-id": "i"}, `option "metadata.message-id": column i is BIGINT, not VARCHAR`)
	createQueue(t, q, "nodedup.fifo", map[string]string{"FifoQueue": "true"})
	f(map[string]string{"queue": "nodedup.fifo", "sink.message-group-id": "g"}, `option "sink.message-deduplication-id": FIFO queue nodedup.fifo has no content-based deduplication`)
}

func tableOf(opts map[string]string) connectors.Table {
	return connectors.Table{Name: "t", Schema: schema, Options: opts, TimeColumn: -1}
}

// TestRestoreExactlyOnce: a job copies a queue to a file (exactly-once)
// with checkpoints; it is stopped mid-run and restored from its latest
// checkpoint: every message's row is in the published output exactly once,
// and the queue ends empty.
func TestRestoreExactlyOnce(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "in", nil)
	out := t.TempDir()
	job := fmt.Sprintf(`
CREATE TABLE src (id BIGINT, name VARCHAR)
  WITH ('connector' = 'queue', 'queue' = 'in', 'endpoint' = '%s', 'scan.visibility-timeout' = '1 s', 'scan.receive.max-messages' = '5');
CREATE TABLE dst (id BIGINT, name VARCHAR) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'csv');
INSERT INTO dst SELECT id, name FROM src;
`, endpoint, out)
	dir := t.TempDir()
	start := func(restore *runtime.Checkpoint) (stop func()) {
		plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2,
				Checkpoints: &runtime.CheckpointOptions{Dir: dir, Interval: 30 * time.Millisecond, Restore: restore}})
		}()
		return func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			plan.Close(context.Background())
		}
	}
	published := func() []string {
		var lines []string
		files, _ := filepath.Glob(filepath.Join(out, "part-*"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.Fields(string(data))...)
		}
		return lines
	}
	waitLines := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			lines := published()
			if len(lines) >= n || time.Now().After(deadline) {
				return lines
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := start(nil)
	sendRows(t, q, url, 0, 300)
	waitLines(100)
	sendRows(t, q, url, 300, 400)
	stop()
	cp, _, err := runtime.LatestCheckpoint(dir)
	if err != nil || cp == nil {
		t.Fatalf("no checkpoint to restore: %v", err)
	}
	stop = start(cp)
	sendRows(t, q, url, 400, 500)
	waitLines(500)
	waitCounts(t, q, url, 0, 0)
	stop()
	lines := published()
	if len(lines) != 500 {
		t.Fatalf("published %d rows, want 500", len(lines))
	}
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	for i := range 500 {
		if l := fmt.Sprintf("%d,n%d", i, i); seen[l] != 1 {
			t.Fatalf("row %s published %d times", l, seen[l])
		}
	}
}

// TestFIFOMetadataAndSinkBadRecords: a FIFO sink sends a row without a
// group id to errors.path and the others on; a source over the queue fills
// the group id and sent time from the messages' attributes, and reads the
// body raw.
func TestFIFOMetadataAndSinkBadRecords(t *testing.T) {
	endpoint, q := startStore(t)
	errs := filepath.Join(t.TempDir(), "bad.jsonl")
	newSink, _, err := factoryOf(t).NewSink(connectors.Table{Name: "dst", Schema: schemaG, TimeColumn: -1, Options: map[string]string{
		"queue": "m.fifo", "endpoint": endpoint, "queue.create": "true", "sink.message-group-id": "g", "errors.path": errs}})
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	if err := op.Open(rttest.NewContext("dst", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	before := time.Now().UnixMilli()
	b := rttest.NewBatch(schemaG, []runtime.Value{runtime.StringValue("a"), runtime.IntValue(1)},
		[]runtime.Value{runtime.NullValue(runtime.Varchar), runtime.IntValue(2)},
		[]runtime.Value{runtime.StringValue("b"), runtime.IntValue(3)})
	if err := op.ProcessBatch(0, b, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(errs)
	if err != nil || !strings.Contains(string(data), `"queue":"m.fifo"`) || !strings.Contains(string(data), "column g (the group id) is NULL") ||
		!strings.Contains(string(data), `{\"g\":null,\"i\":2}`) {
		t.Fatalf("errors.path holds %s (%v)", data, err)
	}

	meta := runtime.NewSchema(
		runtime.Field{Name: "body", Type: runtime.Varchar},
	)
	newSrc, _, err := factoryOf(t).NewSource(connectors.Table{Name: "src", Schema: meta, TimeColumn: -1, Options: map[string]string{
		"queue": "m.fifo", "endpoint": endpoint, "format": "raw", "scan.bounded.mode": "empty", "scan.bounded.idle": "300 ms"}})
	if err != nil {
		t.Fatal(err)
	}
	s := newSrc().(*source)
	if err := s.Open(rttest.NewContext("src", 0, 1)); err != nil {
		t.Fatal(err)
	}
	if got := pollRows(t, s, -1, 5*time.Second); !slices.Equal(got, []string{`{"g":"a","i":1}`, `{"g":"b","i":3}`}) {
		t.Fatalf("raw rows %q", got)
	}
	s.Close()

	// The same messages again, with metadata columns.
	sendTo := createQueue(t, q, "m2.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	if _, err := q.Send(context.Background(), sendTo, client.SendEntry{MessageBody: `{"i":7}`, MessageGroupId: "grp"}); err != nil {
		t.Fatal(err)
	}
	withMeta := runtime.NewSchema(
		runtime.Field{Name: "i", Type: runtime.BigInt},
		runtime.Field{Name: "grp", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "sent", Type: runtime.Timestamp}, // NOT NULL: the body need not hold it
	)
	newSrc, _, err = factoryOf(t).NewSource(connectors.Table{Name: "src", Schema: withMeta, TimeColumn: -1, Options: map[string]string{
		"queue": "m2.fifo", "endpoint": endpoint, "metadata.group-id": "grp", "metadata.sent-time": "sent",
		"scan.bounded.mode": "empty", "scan.bounded.idle": "300 ms"}})
	if err != nil {
		t.Fatal(err)
	}
	s = newSrc().(*source)
	if err := s.Open(rttest.NewContext("src", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows [][]runtime.Value
	for deadline := time.Now().Add(5 * time.Second); len(rows) == 0 && time.Now().Before(deadline); {
		b, _, err := s.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; b != nil && i < b.Len(); i++ {
			rows = append(rows, b.Values(i))
		}
	}
	if len(rows) != 1 || rows[0][0].I != 7 || rows[0][1].S != "grp" || rows[0][2].Null || rows[0][2].I < before || rows[0][2].I > time.Now().UnixMilli() {
		t.Fatalf("rows %v", rows)
	}
}

// TestEmbeddedStore: without 'endpoint' a table uses the process's
// embedded store, in-process; without one, the error says what to do.
func TestEmbeddedStore(t *testing.T) {
	_, _, err := factoryOf(t).NewSource(tableOf(map[string]string{"queue": "in"}))
	if err == nil || !strings.Contains(err.Error(), `option "endpoint" is absent and the job has no embedded store`) {
		t.Fatalf("error %v", err)
	}
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storeconn.UseEmbedded(srv)
	defer func() {
		storeconn.UseEmbedded(nil)
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}()
	newSink, _, err := factoryOf(t).NewSink(tableOf(map[string]string{"queue": "in", "queue.create": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	if err := op.Open(rttest.NewContext("dst", 0, 1)); err != nil {
		t.Fatal(err)
	}
	b := rttest.NewBatch(schema, []runtime.Value{runtime.IntValue(1), runtime.StringValue("n1")}, []runtime.Value{runtime.IntValue(2), runtime.StringValue("n2")})
	if err := op.ProcessBatch(0, b, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	op.Close()
	s := openSource(t, map[string]string{"queue": "in", "scan.bounded.mode": "empty", "scan.bounded.idle": "300 ms"}, false, nil)
	defer s.Close()
	if got := pollRows(t, s, -1, 5*time.Second); !slices.Equal(got, wantRows(1, 3)) {
		t.Fatalf("read %v", got)
	}
}

// TestInFlightLimit: a source whose messages wait for a checkpoint fills
// the queue's limit of messages in flight; it waits (retrying) instead of
// failing, and goes on once the checkpoint's deletes make room.
func TestInFlightLimit(t *testing.T) {
	for _, wait := range []string{"0", "1 s"} {
		t.Run("wait="+wait, func(t *testing.T) {
			endpoint, q := startStoreWith(t, server.Options{QueueLimits: queue.Limits{MaxInFlight: 20}})
			url := createQueue(t, q, "in", nil)
			sendRows(t, q, url, 0, 50)
			s := openSource(t, map[string]string{"queue": "in", "endpoint": endpoint, "scan.receive.wait": wait}, true, nil)
			defer s.Close()
			if got := pollRows(t, s, -1, time.Second); len(got) != 20 {
				t.Fatalf("emitted %d rows before a checkpoint, want the limit of 20", len(got))
			}
			var got []string
			for id := int64(1); len(got) < 30 && id < 20; id++ {
				if err := s.OnBarrier(runtime.Barrier{ID: id}); err != nil {
					t.Fatal(err)
				}
				if err := s.NotifyCheckpointComplete(id); err != nil {
					t.Fatal(err)
				}
				got = append(got, pollRows(t, s, -1, 700*time.Millisecond)...)
			}
			if len(got) != 30 {
				t.Fatalf("emitted %d more rows after checkpoints, want 30", len(got))
			}
		})
	}
}

// TestBackpressureKeepsMessagesHidden: messages received while the subtask
// does not poll stay hidden (their visibility is extended), so they are
// not received, and emitted, twice.
func TestBackpressureKeepsMessagesHidden(t *testing.T) {
	endpoint, q := startStore(t)
	url := createQueue(t, q, "in", nil)
	sendRows(t, q, url, 0, 60)
	s := openSource(t, map[string]string{"queue": "in", "endpoint": endpoint, "scan.visibility-timeout": "1 s", "scan.pollers": "2"}, true, nil)
	defer s.Close()
	time.Sleep(2500 * time.Millisecond) // the pollers hold 40 messages the subtask does not take
	got := pollRows(t, s, -1, 1500*time.Millisecond)
	if !slices.Equal(got, wantRows(0, 60)) {
		t.Fatalf("emitted %d rows (%d distinct), want the 60 once each", len(got), len(slices.Compact(slices.Clone(got))))
	}
	waitCounts(t, q, url, 0, 60)
}

// TestCSVRoundTrip: rows sent as CSV bodies (with a ';' delimiter) read
// back the same.
func TestCSVRoundTrip(t *testing.T) {
	endpoint, _ := startStore(t)
	opts := func(extra ...string) map[string]string {
		m := map[string]string{"queue": "csv", "endpoint": endpoint, "format": "csv", "csv.field-delimiter": ";", "queue.create": "true"}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	newSink, _, err := factoryOf(t).NewSink(tableOf(opts()))
	if err != nil {
		t.Fatal(err)
	}
	op := newSink()
	if err := op.Open(rttest.NewContext("dst", 0, 1)); err != nil {
		t.Fatal(err)
	}
	var rows [][]runtime.Value
	for i := range 25 {
		rows = append(rows, []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue(fmt.Sprintf("n%d", i))})
	}
	if err := op.ProcessBatch(0, rttest.NewBatch(schema, rows...), nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	op.Close()
	s := openSource(t, opts("scan.bounded.mode", "empty", "scan.bounded.idle", "300 ms"), false, nil)
	defer s.Close()
	if got := pollRows(t, s, -1, 5*time.Second); !slices.Equal(got, wantRows(0, 25)) {
		t.Fatalf("read %v", got)
	}
}
