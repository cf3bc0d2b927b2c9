package log

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEncryption appends and reads 1 KiB records in a plaintext log
// and in an encrypted one, interleaved in the same b.N loop, without fsync
// so that the cost of the encryption itself shows: each iteration appends
// 1,000 records (10 Append calls of 100, each with a 16-byte header) to
// each log and reads them back (Read of up to 1,000). It reports each
// rate, the encrypted rate as a percentage of the plaintext one, and the
// heap allocations per record of each part.
func BenchmarkEncryption(b *testing.B) {
	const calls, per = 10, 100
	keys := newTestKeys(keyA)
	plain, err := Open(b.TempDir(), Options{Fsync: FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	enc, err := Open(b.TempDir(), Options{Fsync: FsyncNever, Keys: keys.get})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	if err := enc.SetEncryption(keyA, keys[keyA]); err != nil {
		b.Fatal(err)
	}
	recs, hdrs := make([][]byte, per), make([][]byte, per)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{byte(i)}, benchRecord)
		hdrs[i] = bytes.Repeat([]byte{'k'}, 16)
	}
	type part struct {
		d      time.Duration
		allocs uint64
	}
	var appendPlain, appendEnc, readPlain, readEnc part
	var ms runtime.MemStats
	timed := func(p *part, f func()) {
		runtime.ReadMemStats(&ms)
		a := ms.Mallocs
		t0 := time.Now()
		f()
		p.d += time.Since(t0)
		runtime.ReadMemStats(&ms)
		p.allocs += ms.Mallocs - a
	}
	appendAll := func(l *Log) func() {
		return func() {
			for range calls {
				if _, err := l.Append(recs, hdrs); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	readAll := func(l *Log, from uint64) func() {
		return func() {
			got, _, err := l.Read(from, calls*per, 64<<20)
			if err != nil || len(got) != calls*per {
				b.Fatalf("Read = %d records, %v", len(got), err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		p, e := plain.NextSeq(), enc.NextSeq()
		timed(&appendPlain, appendAll(plain))
		timed(&appendEnc, appendAll(enc))
		timed(&readPlain, readAll(plain, p))
		timed(&readEnc, readAll(enc, e))
	}
	b.StopTimer()
	n := float64(b.N) * calls * per
	mb := n * benchRecord / 1e6
	b.ReportMetric(mb/appendPlain.d.Seconds(), "append-plain-MB/s")
	b.ReportMetric(mb/appendEnc.d.Seconds(), "append-enc-MB/s")
	b.ReportMetric(100*appendPlain.d.Seconds()/appendEnc.d.Seconds(), "append-enc/plain-%")
	b.ReportMetric(mb/readPlain.d.Seconds(), "read-plain-MB/s")
	b.ReportMetric(mb/readEnc.d.Seconds(), "read-enc-MB/s")
	b.ReportMetric(100*readPlain.d.Seconds()/readEnc.d.Seconds(), "read-enc/plain-%")
	b.ReportMetric(float64(appendPlain.allocs)/n, "append-plain-allocs/rec")
	b.ReportMetric(float64(appendEnc.allocs)/n, "append-enc-allocs/rec")
	b.ReportMetric(float64(readPlain.allocs)/n, "read-plain-allocs/rec")
	b.ReportMetric(float64(readEnc.allocs)/n, "read-enc-allocs/rec")
}
