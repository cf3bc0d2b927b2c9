package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// efoOpts are the options of a table reading stream at url with enhanced
// fan-out as consumer name.
func efoOpts(url, stream, name string, extra ...string) map[string]string {
	m := map[string]string{"stream": stream, "endpoint": url, "scan.stream.recordpublisher": "EFO", "scan.stream.efo.consumername": name}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// checkKeyedOnce checks that rows are rows 0..total-1 of keyed, each once,
// and per partition key in the order written.
func checkKeyedOnce(t *testing.T, rows [][]runtime.Value, total int) {
	t.Helper()
	if len(rows) != total {
		t.Fatalf("read %d rows, want %d", len(rows), total)
	}
	var ids []int64
	last := map[string]int64{}
	for _, r := range rows {
		id, key := r[0].I, r[1].S
		if prev, ok := last[key]; ok && id <= prev {
			t.Fatalf("key %s: row %d read after row %d", key, id, prev)
		}
		last[key] = id
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("rows read, sorted: #%d is %d (a row missing or twice)", i, id)
		}
	}
}

// TestEFOReadsThroughSplitAndMergeExactlyOnce: a job reading with enhanced
// fan-out through a split made before it starts, and a split and a merge
// while it runs, reads every record once, per partition key in the order
// written (parents before children) — the rows the polling mode reads.
func TestEFOReadsThroughSplitAndMergeExactlyOnce(t *testing.T) {
	url, c, counted := startCountedEFOStore(t, "in", 2, 0)
	const total = 6000
	keyed(t, c, "in", 0, 3000)
	split(t, url, c, "in")
	keyed(t, c, "in", 3000, 3500)
	got, _ := readJob(t, efoOpts(url, "in", "job"), 2, total, func(col *rttest.Collector) {
		deadline := time.Now().Add(20 * time.Second)
		for col.Len() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		keyed(t, c, "in", 3500, 4200)
		split(t, url, c, "in")
		keyed(t, c, "in", 4200, 5000)
		time.Sleep(20 * time.Millisecond)
		merge(t, url, c, "in")
		keyed(t, c, "in", 5000, total)
		settle(col, total)
	})
	checkKeyedOnce(t, got.Rows(), total)
	// 2 shards, then 2 children of a split, then 1 of a merge.
	if n, gets := counted.count("SubscribeToShard"), counted.count("GetRecords"); n < 6 || gets != 0 {
		t.Fatalf("%d subscriptions and %d GetRecords: want one subscription a shard at least, no polls", n, gets)
	}
	polled, _ := readJob(t, map[string]string{"stream": "in", "endpoint": url}, 2, total, nil)
	if !slices.Equal(got.Sorted(), polled.Sorted()) {
		t.Fatalf("EFO read %d rows, polling %d: not the same rows", got.Len(), polled.Len())
	}
}

// TestEFOPositionsRestore: positions taken part-way through an EFO read
// and restored into a run with another parallelism, after a split, give
// every row exactly once.
func TestEFOPositionsRestore(t *testing.T) {
	url, c := startEFOStore(t, "in", 3, 0)
	opts := efoOpts(url, "in", "job")
	keyed(t, c, "in", 0, 1000)
	first := openSources(t, opts, 2, nil)
	before := first.poll(t, 400)
	pos := first.snapshot(t)
	first.poll(t, 100) // read again by the restored run
	first.close(t)

	split(t, url, c, "in")
	keyed(t, c, "in", 1000, 1500)
	second := openSources(t, opts, 3, pos)
	after := second.poll(t, 1500-len(before))
	after = append(after, second.pollFor(t, 200*time.Millisecond)...) // nothing more: no duplicates
	second.close(t)

	got := append(before, after...)
	slices.Sort(got)
	if want := formatted(keyedRows(0, 1500)); !slices.Equal(got, want) {
		t.Fatalf("%d rows before the snapshot and %d after the restore; want each of %d once (first differences: %v)",
			len(before), len(after), len(want), firstDiffs(got, want))
	}
}

// TestEFOResubscribesWhenSubscriptionsEnd: subscriptions that the store
// ends every 200 ms (Kinesis: every 5 minutes) are renewed from their
// continuation while records keep coming: none is lost or read twice.
func TestEFOResubscribesWhenSubscriptionsEnd(t *testing.T) {
	url, c, counted := startCountedEFOStore(t, "in", 2, 200*time.Millisecond)
	const total = 2000
	keyed(t, c, "in", 0, 100)
	got, _ := readJob(t, efoOpts(url, "in", "job"), 1, total, func(col *rttest.Collector) {
		for i := 100; i < total; i += 100 { // over ~1 s: several renewals
			keyed(t, c, "in", i, i+100)
			time.Sleep(50 * time.Millisecond)
		}
		settle(col, total)
	})
	checkKeyedOnce(t, got.Rows(), total)
	if n := counted.count("SubscribeToShard"); n < 2*4 {
		t.Fatalf("%d subscriptions of 2 shards over more than 1 s that end every 200 ms", n)
	}
}

// TestEFORegistration: LAZY registers the consumer when the job starts,
// EAGER when it is planned, and NONE refuses to start without it, naming
// the option.
func TestEFORegistration(t *testing.T) {
	url, c := startEFOStore(t, "in", 1, 0)
	ctx := context.Background()
	sum, err := c.DescribeStreamSummary(ctx, "in")
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() []string {
		t.Helper()
		all, err := c.ListStreamConsumers(ctx, sum.StreamARN)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range all {
			names = append(names, x.ConsumerName+" "+x.ConsumerStatus)
		}
		slices.Sort(names)
		return names
	}

	// NONE without the consumer: the job fails at its start.
	newSrc, _, err := connector(t).NewSource(table(efoOpts(url, "in", "absent", "scan.stream.efo.registration", "NONE")))
	if err != nil {
		t.Fatal(err)
	}
	err = newSrc().Open(rttest.NewContext("src", 0, 1))
	if err == nil || !strings.Contains(err.Error(), `option "scan.stream.efo.registration" = 'NONE'`) || !strings.Contains(err.Error(), `no consumer "absent"`) {
		t.Fatalf("NONE without the consumer: %v", err)
	}
	if got := consumers(); len(got) != 0 {
		t.Fatalf("NONE registered %v", got)
	}

	// EAGER: registered (and ACTIVE) once planned.
	if _, _, err := connector(t).NewSource(table(efoOpts(url, "in", "eager", "scan.stream.efo.registration", "EAGER"))); err != nil {
		t.Fatal(err)
	}
	if got := consumers(); !slices.Equal(got, []string{"eager ACTIVE"}) {
		t.Fatalf("after planning an EAGER source: consumers %v", got)
	}

	// LAZY: not when planned; when the job starts, and it reads.
	keyed(t, c, "in", 0, 10)
	if _, _, err := connector(t).NewSource(table(efoOpts(url, "in", "lazy"))); err != nil {
		t.Fatal(err)
	}
	if got := consumers(); !slices.Equal(got, []string{"eager ACTIVE"}) {
		t.Fatalf("after planning a LAZY source: consumers %v", got)
	}
	readJob(t, efoOpts(url, "in", "lazy"), 1, 10, nil)
	if got := consumers(); !slices.Equal(got, []string{"eager ACTIVE", "lazy ACTIVE"}) {
		t.Fatalf("after a LAZY job: consumers %v", got)
	}

	// NONE with the consumer registered (by the LAZY job): it reads.
	readJob(t, efoOpts(url, "in", "lazy", "scan.stream.efo.registration", "NONE"), 1, 10, nil)
}

// TestEFOEmbedded: enhanced fan-out through the embedded store's
// in-process transport (subscriptions stream there too).
func TestEFOEmbedded(t *testing.T) {
	srv := newEFOServer(t, 0)
	UseEmbedded(srv)
	defer UseEmbedded(nil)
	c := client.New("http://embedded", &http.Client{Transport: srv.Transport()})
	if err := c.CreateStream(context.Background(), "e", 2); err != nil {
		t.Fatal(err)
	}
	keyed(t, c, "e", 0, 500)
	got, _ := readJob(t, map[string]string{"stream": "e", "scan.stream.recordpublisher": "EFO", "scan.stream.efo.consumername": "job"}, 2, 1000,
		func(col *rttest.Collector) {
			time.Sleep(50 * time.Millisecond)
			keyed(t, c, "e", 500, 1000)
			settle(col, 1000)
		})
	checkKeyedOnce(t, got.Rows(), 1000)
}

// settle waits until col has n rows, then a little longer: rows read twice
// would arrive meanwhile.
func settle(col *rttest.Collector, n int) {
	deadline := time.Now().Add(20 * time.Second)
	for col.Len() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
}

// pollFor polls every subtask for d and returns the rows that came.
func (d *driven) pollFor(t *testing.T, dur time.Duration) []string {
	t.Helper()
	var out []string
	for end := time.Now().Add(dur); time.Now().Before(end); {
		for _, s := range d.srcs {
			b, _, err := s.Poll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if b != nil {
				out = append(out, rttest.Strings(b)...)
			}
		}
	}
	return out
}

// newEFOServer is a store server whose consumers become ACTIVE at once and
// whose subscriptions last lifetime (0: as Kinesis, 5 minutes), with an
// event at least every 100 ms.
func newEFOServer(t *testing.T, lifetime time.Duration) *server.Server {
	return newFanOutServer(t, server.FanOutOptions{SubscriptionLifetime: lifetime})
}

// newFanOutServer is a store server with fan-out options o, with
// newEFOServer's consumer delay and heartbeat unless o sets them.
func newFanOutServer(t *testing.T, o server.FanOutOptions) *server.Server {
	t.Helper()
	if o.ConsumerDelay == 0 {
		o.ConsumerDelay = 20 * time.Millisecond
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 100 * time.Millisecond
	}
	s, err := server.New(t.TempDir(), server.Options{FanOut: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// calls counts the operations a store server is asked for.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// startEFOStore is startStore with newEFOServer's options; counted counts
// the operations it serves.
func startEFOStore(t *testing.T, stream string, shards int, lifetime time.Duration) (string, *client.Client) {
	url, c, _ := startCountedEFOStore(t, stream, shards, lifetime)
	return url, c
}

func startCountedEFOStore(t *testing.T, stream string, shards int, lifetime time.Duration) (string, *client.Client, *calls) {
	t.Helper()
	s := newEFOServer(t, lifetime)
	counted := &calls{n: map[string]int{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		counted.mu.Lock()
		counted.n[op]++
		counted.mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	c := client.New(ts.URL, ts.Client())
	if err := c.CreateStream(context.Background(), stream, shards); err != nil {
		t.Fatal(err)
	}
	return ts.URL, c, counted
}

// TestEFOBoundedLatest: 'scan.bounded.mode' = 'latest' with enhanced
// fan-out reads what the stream held when the job started, across a
// split, and ends by itself with the final watermark.
func TestEFOBoundedLatest(t *testing.T) {
	url, c := startEFOStore(t, "in", 2, 0)
	keyed(t, c, "in", 0, 500)
	split(t, url, c, "in")
	keyed(t, c, "in", 500, 1200)
	got := boundedJob(t, efoOpts(url, "in", "job", "scan.bounded.mode", "latest"), 2)
	if want := keyedRows(0, 1200); !slices.Equal(got.Sorted(), formatted(want)) {
		t.Fatalf("read %d rows, want %d", got.Len(), len(want))
	}
	if wms := got.Watermarks(); len(wms) == 0 || wms[len(wms)-1] != runtime.MaxWatermark {
		t.Fatalf("watermarks %v do not end with the final one", wms)
	}
}

// TestEFOReportsMillisBehindLatest: with enhanced fan-out the source
// reports each shard's MillisBehindLatest, from the events, as the
// polling source does from GetRecords: 0 per shard once caught up.
func TestEFOReportsMillisBehindLatest(t *testing.T) {
	url, c := startEFOStore(t, "in", 2, 0)
	keyed(t, c, "in", 0, 100)
	_, set := readJob(t, efoOpts(url, "in", "job"), 1, 100, func(col *rttest.Collector) {
		settle(col, 100)
	})
	var text strings.Builder
	set.WritePrometheus(&text)
	for _, shard := range []string{"shardId-000000000000", "shardId-000000000001"} {
		series := `sluice_source_millis_behind_latest{job="read",operator="src",operator_id="0",subtask="0",partition="` + shard + `"} 0`
		if !strings.Contains(text.String(), series+"\n") {
			t.Errorf("no series %s in:\n%s", series, text.String())
		}
	}
}

// TestEFORetriesWhileShardSubscribed: a shard whose previous subscription
// is still open (a run that stopped a moment ago) refuses a new one with
// ResourceInUseException for a few seconds; the reader retries until it
// gets one, and the job reads on.
func TestEFORetriesWhileShardSubscribed(t *testing.T) {
	url, c := startEFOStore(t, "in", 1, 0)
	registerActive(t, c, "in", "job")
	ctx := context.Background()
	cons, err := c.ListStreamConsumers(ctx, mustARN(t, c, "in"))
	if err != nil || len(cons) != 1 {
		t.Fatalf("consumers %+v, %v", cons, err)
	}
	old, err := c.SubscribeToShard(ctx, client.SubscribeToShardInput{ConsumerARN: cons[0].ConsumerARN, ShardId: "shardId-000000000000",
		StartingPosition: client.StartingPosition{Type: client.Latest}})
	if err != nil {
		t.Fatal(err)
	}
	keyed(t, c, "in", 0, 100)
	got, _ := readJob(t, efoOpts(url, "in", "job"), 1, 100, func(col *rttest.Collector) {
		time.Sleep(300 * time.Millisecond) // the job's reader is refused meanwhile
		if col.Len() != 0 {
			t.Errorf("read %d rows while the shard's other subscription was open", col.Len())
		}
		old.Close()
		settle(col, 100)
	})
	checkKeyedOnce(t, got.Rows(), 100)
}

func mustARN(t *testing.T, c *client.Client, stream string) string {
	t.Helper()
	sum, err := c.DescribeStreamSummary(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return sum.StreamARN
}

// TestEFOBatchesBigEvents: an event carries up to 10,000 records; the
// source hands them on in batches of at most
// 'scan.shard.getrecords.maxrecordcount' (the runtime's batch limit by
// default), in order.
func TestEFOBatchesBigEvents(t *testing.T) {
	url, c := startEFOStore(t, "in", 1, 0)
	keyed(t, c, "in", 0, 6000) // one event at the trim horizon
	got, _ := readJob(t, efoOpts(url, "in", "job"), 1, 6000, func(col *rttest.Collector) { settle(col, 6000) })
	checkKeyedOnce(t, got.Rows(), 6000)
}

// TestEFOTakenOverFailsNamingTheConsumer: a subscription taken over by a
// newer one (another job reading with the same consumer name) fails the
// job with an error that says so.
func TestEFOTakenOverFailsNamingTheConsumer(t *testing.T) {
	srv := newFanOutServer(t, server.FanOutOptions{TakeoverAfter: 200 * time.Millisecond})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := client.New(ts.URL, ts.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.CreateStream(ctx, "in", 1); err != nil {
		t.Fatal(err)
	}
	newSrc, _, err := connector(t).NewSource(table(efoOpts(ts.URL, "in", "job")))
	if err != nil {
		t.Fatal(err)
	}
	g := runtime.NewGraph("read")
	col, sink := rttest.NewCollector(schema)
	g.Connect(g.AddSource("src", schema, 1, newSrc, runtime.WatermarkStrategy{TimeColumn: 3}), g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 1}) }()
	keyed(t, c, "in", 0, 1)
	settle(col, 1) // the job's subscription is open
	cons, err := c.ListStreamConsumers(ctx, mustARN(t, c, "in"))
	if err != nil || len(cons) != 1 {
		t.Fatalf("consumers %+v, %v", cons, err)
	}
	time.Sleep(200 * time.Millisecond) // old enough to be taken over
	other, err := c.SubscribeToShard(ctx, client.SubscribeToShardInput{ConsumerARN: cons[0].ConsumerARN, ShardId: "shardId-000000000000",
		StartingPosition: client.StartingPosition{Type: client.Latest}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), `does another job read with consumer "job"?`) || !strings.Contains(err.Error(), "ResourceInUseException") {
		t.Fatalf("the job ended with %v", err)
	}
}

// TestEFOSigned: with a store that requires SigV4, the consumer's
// registration and the subscriptions are signed with the table's
// credentials.
func TestEFOSigned(t *testing.T) {
	s, err := server.New(t.TempDir(), server.Options{Credentials: map[string]string{"AKID": "s3cret"},
		FanOut: server.FanOutOptions{ConsumerDelay: 20 * time.Millisecond, Heartbeat: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer func() { ts.Close(); s.Close() }()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	c := client.New(ts.URL, ts.Client()).WithCredentials(client.Credentials{AccessKey: "AKID", SecretKey: "s3cret"})
	if err := c.CreateStream(context.Background(), "in", 2); err != nil {
		t.Fatal(err)
	}
	keyed(t, c, "in", 0, 300)
	got, _ := readJob(t, efoOpts(ts.URL, "in", "job", "aws.credentials.basic.accesskeyid", "AKID", "aws.credentials.basic.secretkey", "s3cret"), 2, 300,
		func(col *rttest.Collector) { settle(col, 300) })
	checkKeyedOnce(t, got.Rows(), 300)
}
