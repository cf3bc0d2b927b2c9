package log

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

const benchRecord = 1 << 10

// BenchmarkAppendGroupCommit: 8 goroutines append 1 KiB records, one per
// Append call, with group-commit fsync. b.N counts records.
func BenchmarkAppendGroupCommit(b *testing.B) {
	l, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := [][]byte{make([]byte, benchRecord)}
	var left atomic.Int64
	left.Store(int64(b.N))
	b.SetBytes(benchRecord)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if _, err := l.Append(rec, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	if n := l.batches.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "records/commit")
	}
	b.ReportMetric(float64(b.N)*benchRecord/secs/1e6, "MB/s")
	b.ReportMetric(float64(b.N)/secs, "records/s")
}

// BenchmarkRawFileFsync writes the same bytes to a plain file and fsyncs in
// batches of 8 records (what 8 concurrent appenders give one group commit at
// most), the ceiling group commit is measured against.
func BenchmarkRawFileFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8*benchRecord)
	b.SetBytes(benchRecord)
	b.ResetTimer()
	for n := b.N; n > 0; n -= 8 {
		k := min(n, 8)
		if _, err := f.Write(buf[:k*benchRecord]); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)*benchRecord/secs/1e6, "MB/s")
	b.ReportMetric(float64(b.N)/secs, "records/s")
}
