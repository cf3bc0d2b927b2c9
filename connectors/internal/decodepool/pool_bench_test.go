package decodepool

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/format"
	sluicert "github.com/sluicehq/sluice/runtime"
)

// BenchmarkPoolDecodesJSON isolates the pool from any reader: 500,000 JSON
// records (~60 bytes) already in memory, in chunks of a batch, decoded in
// the consumer's goroutine (as a source with one worker does) and by a
// pool of GOMAXPROCS workers whose results the consumer takes in order,
// the two interleaved; it reports the median records/s of each and their
// ratio — what the workers give when decoding is all the work.
func BenchmarkPoolDecodesJSON(b *testing.B) {
	schema := sluicert.NewSchema(
		sluicert.Field{Name: "user", Type: sluicert.Varchar, Nullable: true},
		sluicert.Field{Name: "n", Type: sluicert.BigInt, Nullable: true},
		sluicert.Field{Name: "ts", Type: sluicert.Timestamp, Nullable: true},
	)
	const records = 500_000
	var chunks [][][]byte
	for i := 0; i < records; i += sluicert.DefaultBatchRows {
		var c [][]byte
		for j := i; j < min(i+sluicert.DefaultBatchRows, records); j++ {
			c = append(c, fmt.Appendf(nil, `{"user":"u%d","n":%d,"ts":%d}`, j%10000, j, 1_790_000_000_000+int64(j)))
		}
		chunks = append(chunks, c)
	}
	n := runtime.GOMAXPROCS(0)
	batches := NewBatches(schema, 2*n+2)
	defer batches.Close()
	decoders := make([]*format.JSONDecoder, n+1)
	for i := range decoders {
		decoders[i] = format.NewJSONDecoder(schema)
	}
	decode := func(w int, c [][]byte) *sluicert.Batch {
		bt := batches.Get()
		for _, rec := range c {
			if err := decoders[w].Decode(rec, bt); err != nil {
				panic(err)
			}
		}
		return bt
	}
	inline := func() int {
		rows := 0
		for _, c := range chunks {
			bt := decode(0, c)
			rows += bt.N
			batches.Put(bt)
		}
		return rows
	}
	pooled := func() int {
		p := New(n, 2*n, decode, nil)
		defer p.Close()
		go func() {
			for _, c := range chunks {
				if !p.Submit(context.Background(), c) {
					return
				}
			}
		}()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		rows := 0
		for range chunks {
			for {
				bt, ok, err := p.Next(context.Background(), timer, time.Second)
				if err != nil {
					panic(err)
				}
				if ok {
					rows += bt.N
					batches.Put(bt)
					break
				}
			}
		}
		return rows
	}
	var one, many []time.Duration
	for b.Loop() {
		for _, run := range []struct {
			f   func() int
			out *[]time.Duration
		}{{inline, &one}, {pooled, &many}} {
			start := time.Now()
			if got := run.f(); got != records {
				b.Fatalf("decoded %d rows, want %d", got, records)
			}
			*run.out = append(*run.out, time.Since(start))
		}
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	b.ReportMetric(records/median(one).Seconds(), "inline-records/s")
	b.ReportMetric(records/median(many).Seconds(), fmt.Sprintf("%d-workers-records/s", n))
	b.ReportMetric(median(one).Seconds()/median(many).Seconds(), "speedup")
	b.ReportMetric(slices.Min(one).Seconds()/slices.Min(many).Seconds(), "best-speedup")
}
