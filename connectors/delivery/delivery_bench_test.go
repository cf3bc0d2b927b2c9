package delivery

import (
	"compress/gzip"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// benchRows makes a batch of n rows of the test schema with varied values.
func benchRows(n int) *runtime.Batch {
	rs := make([][]runtime.Value, n)
	for i := range rs {
		rs[i] = []runtime.Value{runtime.IntValue(int64(i) * 7919), runtime.StringValue(fmt.Sprintf("user-%d/page-%d", i%997, i%31)),
			runtime.FloatValue(float64(i%1000) / 7), runtime.BoolValue(i%3 == 0), {Type: runtime.Int, I: int64(i % 5000)},
			runtime.TimeValue(t0 + int64(i)*37)}
	}
	return rttest.NewBatch(schema, rs...)
}

// BenchmarkDelivery measures rows delivered to file:// as JSON+gzip and as
// Parquet (Snappy), in MB/s of the rows' JSON text, against compress/gzip
// compressing the same JSON text in the same run ("x-gzip" is the ratio of
// the two throughputs).
//
//	go test -run '^$' -bench Delivery ./connectors/delivery/
func BenchmarkDelivery(b *testing.B) {
	batch := benchRows(runtime.DefaultBatchRows)
	const batches = 16
	var text []byte
	for i := range batch.Len() {
		text = format.AppendJSON(text, batch, i)
		text = append(text, '\n')
	}
	perOp := int64(len(text)) * batches
	gzipMBps := stdGzipMBps(text, batches)

	for _, c := range []struct{ name, format, compression string }{
		{"json-gzip", "json", "gzip"},
		{"parquet-snappy", "parquet", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			opts := map[string]string{"destination": "file://" + dir, "format": c.format, "prefix": "b/!{timestamp:yyyy}/"}
			if c.compression != "" {
				opts["compression"] = c.compression
			}
			op := benchSink(b, opts)
			defer op.Close()
			b.SetBytes(perOp)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				for range batches {
					if err := op.ProcessBatch(0, batch, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.Finish(nil); err != nil {
					b.Fatal(err)
				}
			}
			mbps := float64(perOp) * float64(b.N) / time.Since(start).Seconds() / 1e6
			b.ReportMetric(gzipMBps, "gzip-MB/s")
			b.ReportMetric(mbps/gzipMBps, "x-gzip")
		})
	}
	b.Run("compress-gzip", func(b *testing.B) {
		b.SetBytes(perOp)
		w := gzip.NewWriter(io.Discard)
		for b.Loop() {
			w.Reset(io.Discard)
			for range batches {
				w.Write(text)
			}
			w.Close()
		}
	})
}

// stdGzipMBps times compress/gzip (default level) over batches copies of
// text.
func stdGzipMBps(text []byte, batches int) float64 {
	w := gzip.NewWriter(io.Discard)
	start := time.Now()
	n := 0
	for time.Since(start) < 300*time.Millisecond {
		w.Reset(io.Discard)
		for range batches {
			w.Write(text)
		}
		w.Close()
		n++
	}
	return float64(len(text)*batches*n) / time.Since(start).Seconds() / 1e6
}

func benchSink(b *testing.B, opts map[string]string) *sink {
	b.Helper()
	c, err := parseConfig(connectorsTable("bench_"+b.Name(), opts))
	if err != nil {
		b.Fatal(err)
	}
	op := &sink{cfg: c}
	if err := op.Open(rttest.NewContext("delivery", 0, 1)); err != nil {
		b.Fatal(err)
	}
	return op
}
