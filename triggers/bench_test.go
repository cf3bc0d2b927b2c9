package triggers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// BenchmarkTriggerHTTP: records per second a trigger delivers from a
// 4-shard stream to an HTTP function over loopback that acknowledges
// every batch, at batch sizes 1 and 100, with positions in memory or
// fsync'd to a file after each batch (one op is one record).
func BenchmarkTriggerHTTP(b *testing.B) {
	for _, bc := range []struct {
		batch   int
		durable bool
	}{{1, false}, {100, false}, {1, true}, {100, true}} {
		batch := bc.batch
		b.Run(fmt.Sprintf("batch=%d/positions.dir=%v", batch, bc.durable), func(b *testing.B) {
			dir := ""
			if bc.durable {
				dir = b.TempDir()
			}
			c := startStore(b)
			if err := c.CreateStream(context.Background(), "in", 4); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 200)
			for i := 0; i < b.N; i += 500 {
				var es []client.PutRecordsEntry
				for j := i; j < min(i+500, b.N); j++ {
					es = append(es, client.PutRecordsEntry{Data: payload, PartitionKey: fmt.Sprint(j)})
				}
				if _, err := c.PutRecords(context.Background(), "in", es); err != nil {
					b.Fatal(err)
				}
			}
			var invocations atomic.Int64
			fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				invocations.Add(1)
			}))
			defer fn.Close()
			tr, err := New(Config{Name: "b", Source: &StreamSource{Client: c, Stream: "in"}, Invoker: &HTTPInvoker{URL: fn.URL}, BatchSize: batch, PositionsDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() { errc <- tr.Run(ctx) }()
			for tr.m.records.Get() < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			cancel()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
			b.ReportMetric(float64(invocations.Load())/el.Seconds(), "invocations/s")
		})
	}
}

// BenchmarkQueueTriggerHTTP: messages per second a trigger ON QUEUE
// delivers (and deletes) from a standard queue to an HTTP function over
// loopback that acknowledges every batch, with 5 pollers and batches of
// 10 (one op is one message of 200 bytes).
func BenchmarkQueueTriggerHTTP(b *testing.B) {
	c := startStore(b)
	q := c.SQS()
	url, err := q.CreateQueue(context.Background(), "in", nil)
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 200)
	for i := 0; i < b.N; i += 10 {
		var es []client.SendEntry
		for j := i; j < min(i+10, b.N); j++ {
			es = append(es, client.SendEntry{Id: fmt.Sprint(j - i), MessageBody: body})
		}
		if _, err := q.SendBatch(context.Background(), url, es); err != nil {
			b.Fatal(err)
		}
	}
	var invocations atomic.Int64
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		invocations.Add(1)
	}))
	defer fn.Close()
	tr, err := New(Config{Name: "b", Queue: &QueueSource{Client: c, Queue: "in"}, Invoker: &HTTPInvoker{URL: fn.URL}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() { errc <- tr.Run(ctx) }()
	for tr.m.records.Get() < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "messages/s")
	b.ReportMetric(float64(invocations.Load())/el.Seconds(), "invocations/s")
}
