package kafka

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// BenchmarkSourceRead reads 3 partitions of 20,000 JSON records each from
// an in-process broker with one subtask, bounded, and reports rows/s.
func BenchmarkSourceRead(b *testing.B) {
	addr := startCluster(b, 3)
	const per = 20000
	for p := range 3 {
		vals := make([][]byte, per)
		for i := range vals {
			vals[i] = click("u", i, int64(i))
		}
		for i := 0; i < per; i += 5000 {
			produce(b, addr, "clicks", p, vals[i:i+5000], nil)
		}
	}
	tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset"})
	start := time.Now()
	rows := 0
	for b.Loop() {
		d, err := tryOpen(tab, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			batch, _, err := d.srcs[0].Poll(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if batch != nil {
				n += batch.Len()
			}
		}
		d.close()
		if n != 3*per {
			b.Fatalf("read %d rows, want %d", n, 3*per)
		}
		rows += n
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}
