package queue

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkQueueSource receives, decodes and deletes b.N messages over
// loopback (without checkpoints: deleted after emission), with 1, 4 and
// 8 pollers.
func BenchmarkQueueSource(b *testing.B) {
	for _, pollers := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("pollers=%d", pollers), func(b *testing.B) {
			endpoint, q := startStore(b)
			url := createQueue(b, q, "in", nil)
			sendRows(b, q, url, 0, b.N)
			b.ResetTimer()
			s := openSource(b, map[string]string{"queue": "in", "endpoint": endpoint, "scan.pollers": strconv.Itoa(pollers),
				"scan.bounded.mode": "empty", "scan.bounded.idle": "200 ms"}, false, nil)
			n := 0
			start := time.Now()
			for n < b.N {
				batch, _, err := s.Poll(context.Background())
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if batch != nil {
					n += batch.N
				}
			}
			elapsed := time.Since(start)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n != b.N {
				b.Fatalf("%d rows, want %d", n, b.N)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
		})
	}
}

// BenchmarkQueueSink sends b.N rows as JSON messages over loopback, with
// 1, 4 and 8 requests in flight.
func BenchmarkQueueSink(b *testing.B) {
	for _, inflight := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			endpoint, q := startStore(b)
			url := createQueue(b, q, "out", nil)
			newSink, _, err := factoryOf(b).NewSink(tableOf(map[string]string{"queue": "out", "endpoint": endpoint,
				"sink.requests.max-inflight": strconv.Itoa(inflight)}))
			if err != nil {
				b.Fatal(err)
			}
			op := newSink()
			if err := op.Open(rttest.NewContext("dst", 0, 1)); err != nil {
				b.Fatal(err)
			}
			batch := runtime.NewBatch(schema)
			for i := range 1000 {
				batch.AppendValues(runtime.IntValue(int64(i)), runtime.StringValue("name "+strconv.Itoa(i)))
			}
			b.ResetTimer()
			start := time.Now()
			for sent := 0; sent < b.N; sent += batch.N {
				if err := op.ProcessBatch(0, batch, nil); err != nil {
					b.Fatal(err)
				}
			}
			if err := op.Finish(nil); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			rows := (b.N + batch.N - 1) / batch.N * batch.N
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
			op.Close()
			if v, _ := counts(b, q, url); v != rows {
				b.Fatalf("queue holds %d messages, want %d", v, rows)
			}
		})
	}
}
