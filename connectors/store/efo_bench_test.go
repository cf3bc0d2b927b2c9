package store

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// BenchmarkRecordPublisher compares the source's two record publishers,
// 'scan.stream.recordpublisher' = 'POLLING' (long-polled GetRecords) and
// 'EFO' (SubscribeToShard), over loopback HTTP in the same run:
//
//   - latency: put→emit p50/p99 at 10,000 records/s, as
//     BenchmarkPutToReadLatency measures it;
//   - backlog: how many records a second a job (parallelism 2) reads of a
//     4-shard stream holding 40,000 records, from its start
//     (read-records/s) and from its first record (stream-records/s: without
//     the start, which for EFO includes finding the consumer and
//     subscribing); first-record-ms is the time from the start to the
//     first record.
func BenchmarkRecordPublisher(b *testing.B) {
	for _, pub := range []string{"POLLING", "EFO"} {
		extra := map[string]string{"scan.stream.recordpublisher": pub}
		var prepare []func(*client.Client)
		if pub == "EFO" {
			extra["scan.stream.efo.consumername"] = "bench"
			// Registered and ACTIVE before the job starts, so that its
			// LATEST subscriptions are open before the writer starts.
			prepare = append(prepare, func(c *client.Client) { registerActive(b, c, "lat", "bench") })
		}
		b.Run("publisher="+pub+"/latency", func(b *testing.B) { putToRead(b, false, extra, prepare...) })
		b.Run("publisher="+pub+"/backlog", func(b *testing.B) { readBacklog(b, extra) })
	}
}

// registerActive registers consumer name on stream and waits until it is
// ACTIVE.
func registerActive(b testing.TB, c *client.Client, stream, name string) {
	ctx := context.Background()
	sum, err := c.DescribeStreamSummary(ctx, stream)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.RegisterStreamConsumer(ctx, sum.StreamARN, name); err != nil {
		b.Fatal(err)
	}
	if _, err := c.WaitConsumerActive(ctx, client.ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: name}); err != nil {
		b.Fatal(err)
	}
}

const backlogRecords = 40_000

func readBacklog(b *testing.B, extra map[string]string) {
	srv, err := server.New(b.TempDir(), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := client.New(ts.URL, ts.Client())
	ctx := context.Background()
	var reading, streaming, starting time.Duration
	for iter := range b.N {
		stream := fmt.Sprint("backlog", iter)
		if err := c.CreateStream(ctx, stream, latencyShards); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < backlogRecords; from += 500 {
			var recs []client.PutRecordsEntry
			for i, d := range encode(rows(from, from+500)) {
				recs = append(recs, client.PutRecordsEntry{Data: d, PartitionKey: fmt.Sprint(from + i)})
			}
			if out, err := c.PutRecords(ctx, stream, recs); err != nil || out.FailedRecordCount != 0 {
				b.Fatalf("PutRecords: %v (%+v)", err, out)
			}
		}
		if name := extra["scan.stream.efo.consumername"]; name != "" {
			registerActive(b, c, stream, name) // not part of the read
		}
		opts := map[string]string{"stream": stream, "endpoint": ts.URL}
		maps.Copy(opts, extra)
		newSrc, _, err := connector(b).NewSource(table(opts))
		if err != nil {
			b.Fatal(err)
		}
		var got, first atomic.Int64
		g := runtime.NewGraph("backlog")
		src := g.AddSource("src", schema, 2, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
		g.Connect(src, g.AddOperator("count", schema, 1, 1, func() runtime.Operator { return &counter{got: &got, first: &first} }), runtime.Global)
		jctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		begin := time.Now()
		go func() { done <- runtime.Run(jctx, g, runtime.Options{Parallelism: 2}) }()
		deadline := begin.Add(30 * time.Second)
		for got.Load() < backlogRecords && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		reading += time.Since(begin)
		streaming += time.Since(time.Unix(0, first.Load()))
		starting += time.Unix(0, first.Load()).Sub(begin)
		cancel()
		if err := <-done; err != nil && jctx.Err() == nil {
			b.Fatal(err)
		}
		if n := got.Load(); n != backlogRecords {
			b.Fatalf("the job read %d of %d records", n, backlogRecords)
		}
	}
	b.ReportMetric(float64(b.N*backlogRecords)/reading.Seconds(), "read-records/s")
	b.ReportMetric(float64(b.N*backlogRecords)/streaming.Seconds(), "stream-records/s")
	b.ReportMetric(float64(starting.Milliseconds())/float64(b.N), "first-record-ms")
}

// counter counts the rows that reach it and notes when the first came.
type counter struct {
	runtime.Base
	got, first *atomic.Int64
}

func (c *counter) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	c.first.CompareAndSwap(0, time.Now().UnixNano())
	c.got.Add(int64(b.Len()))
	return nil
}
