package store

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

const (
	latencyRate    = 10_000 // records/s the paced writer aims at
	latencyPerCall = 10     // records per PutRecords
	latencyWriters = 8      // concurrent callers taking the schedule's calls
	latencyPerIter = 5_000  // records per iteration: 0.5 s at latencyRate
	latencyShards  = 4
)

// BenchmarkPutToReadLatency measures how long a record takes from the start
// of the PutRecords call that writes it to the moment a job's sink has it,
// through the store connector's source (target: p99 ≤ 5 ms at
// 10,000 records/s).
//
// Writer: rows as JSON records, PutRecords of 10 every 1 ms on a fixed
// schedule (several goroutines take the next call, sleep until its time and
// send it; one that falls behind sends at once, so the schedule stays
// open-loop), into a 4-shard stream with group-commit fsync. Job: the
// store source ('scan.startup.mode' = 'latest', parallelism 2, long polls)
// → a sink noting when each row arrives. Sub-benchmarks: store=http reads
// and writes over loopback HTTP (`sluice store`); store=embedded uses the
// embedded store's in-process transport (the writer too).
func BenchmarkPutToReadLatency(b *testing.B) {
	b.Run("store=http", func(b *testing.B) { putToRead(b, false, nil) })
	b.Run("store=embedded", func(b *testing.B) { putToRead(b, true, nil) })
}

// putToRead measures with the table's options and extra ones (after the
// stream is created, prepare runs with a client of the store).
func putToRead(b *testing.B, embed bool, extra map[string]string, prepare ...func(*client.Client)) {
	srv, err := server.New(b.TempDir(), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	opts := map[string]string{"stream": "lat", "scan.startup.mode": "latest"}
	maps.Copy(opts, extra)
	var hc *http.Client
	endpoint := "http://embedded"
	if embed {
		UseEmbedded(srv)
		defer UseEmbedded(nil)
		hc = &http.Client{Transport: srv.Transport()}
	} else {
		ts := httptest.NewServer(srv)
		defer ts.Close()
		endpoint, hc = ts.URL, ts.Client()
		hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 2 * latencyWriters
		opts["endpoint"] = ts.URL
	}
	c := client.New(endpoint, hc)
	if err := c.CreateStream(context.Background(), "lat", latencyShards); err != nil {
		b.Fatal(err)
	}
	for _, p := range prepare {
		p(c)
	}

	total := b.N * latencyPerIter
	calls := make([][]client.PutRecordsEntry, total/latencyPerCall)
	for k := range calls {
		for j := range latencyPerCall {
			i := k*latencyPerCall + j
			data := encode([][]runtime.Value{{runtime.IntValue(int64(i)), runtime.StringValue("page"), runtime.FloatValue(1), runtime.TimeValue(base + int64(i))}})[0]
			calls[k] = append(calls[k], client.PutRecordsEntry{Data: data, PartitionKey: fmt.Sprint(i)})
		}
	}
	start, arrive := make([]int64, total), make([]int64, total)
	var got atomic.Int64
	t0 := time.Now()

	// The job.
	newSrc, _, err := connector(b).NewSource(table(opts))
	if err != nil {
		b.Fatal(err)
	}
	g := runtime.NewGraph("latency")
	src := g.AddSource("src", schema, 2, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("note", schema, 1, 1, func() runtime.Operator {
		return &arrivals{t0: t0, arrive: arrive, got: &got}
	}), runtime.Global)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 2}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			b.Error(err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the source holds its LATEST iterators

	interval := time.Second / latencyRate * latencyPerCall
	perIter := latencyPerIter / latencyPerCall
	var writing time.Duration
	b.ResetTimer()
	for iter := range b.N {
		begin := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range latencyWriters {
			wg.Go(func() {
				for {
					k := int(next.Add(1) - 1)
					if k >= perIter {
						return
					}
					time.Sleep(time.Until(begin.Add(time.Duration(k) * interval)))
					call := iter*perIter + k
					sent := int64(time.Since(t0))
					for i := call * latencyPerCall; i < (call+1)*latencyPerCall; i++ {
						start[i] = sent
					}
					out, err := c.PutRecords(ctx, "lat", calls[call])
					if err != nil || out.FailedRecordCount != 0 {
						b.Errorf("PutRecords: %v (%+v)", err, out)
						return
					}
				}
			})
		}
		wg.Wait()
		writing += time.Since(begin)
		if b.Failed() {
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < int64((iter+1)*latencyPerIter) {
			if time.Now().After(deadline) {
				b.Fatalf("the job has %d of %d records after 10 s", got.Load(), (iter+1)*latencyPerIter)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	lat := make([]time.Duration, total)
	for i := range total {
		lat[i] = time.Duration(atomic.LoadInt64(&arrive[i]) - start[i])
	}
	slices.Sort(lat)
	ms := func(p float64) float64 { return float64(lat[int(p/100*float64(total-1))]) / 1e6 }
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(99), "p99-ms")
	b.ReportMetric(ms(100), "max-ms")
	b.ReportMetric(float64(total)/writing.Seconds(), "written-records/s")
}

// arrivals notes when each row (by its id) reaches the sink.
type arrivals struct {
	runtime.Base
	t0     time.Time
	arrive []int64
	got    *atomic.Int64
}

func (a *arrivals) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	now := int64(time.Since(a.t0))
	ids := &b.Cols[0]
	for i := 0; i < b.Len(); i++ {
		id := ids.I64[b.Row(i)]
		if id < 0 || id >= int64(len(a.arrive)) {
			return fmt.Errorf("unknown row %d", id)
		}
		atomic.StoreInt64(&a.arrive[id], now)
	}
	a.got.Add(int64(b.Len()))
	return nil
}
