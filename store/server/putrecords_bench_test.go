package server

import (
	"fmt"
	"sync"
	"testing"
	"time"

	slog "github.com/sluicehq/sluice/store/log"
)

// One benchmark iteration: benchClients clients each make benchCallsPerClient
// PutRecords calls of benchPerCall records, i.e. 16,000 records (16.4 MB of
// record data).
const (
	benchCallsPerClient = 20
	benchIterRecords    = benchClients * benchCallsPerClient * benchPerCall
)

// Raw fsync batch sizes, in records. A single writer serialising the
// benchmark's clients can fsync after each PutRecords call's worth of
// records (benchPerCall), or after one call from every client at once
// (benchClients*benchPerCall), the most one commit could hold if the clients
// were perfectly in step. The first is the same batch per fsync as the API
// calls; the second is the stricter ceiling.
const (
	rawBatchCall = benchPerCall
	rawBatchAll  = benchClients * benchPerCall
)

// putRound runs one iteration: benchClients goroutines each post
// benchCallsPerClient of bodies (pre-encoded PutRecords requests) and wait
// for the acknowledgements. Every record must be accepted.
func putRound(c *benchClient, bodies [][]byte, round int) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for w := range benchClients {
		wg.Go(func() {
			for j := range benchCallsPerClient {
				body := bodies[(round*benchClients*benchCallsPerClient+w*benchCallsPerClient+j)%len(bodies)]
				var out struct{ FailedRecordCount int }
				err := c.post("PutRecords", body, &out)
				if err == nil && out.FailedRecordCount != 0 {
					err = fmt.Errorf("PutRecords: %d records failed", out.FailedRecordCount)
				}
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// BenchmarkPutRecordsGroupCommit: 8 clients post PutRecords calls of 100
// random-keyed 1 KiB records into a 4-shard stream over loopback HTTP, with
// the default group-commit fsync. MB/s counts record data acknowledged.
func BenchmarkPutRecordsGroupCommit(b *testing.B) {
	c := startBenchServer(b, Options{})
	bodies := benchPutRecordsBodies(b, 64, 1)
	b.SetBytes(benchIterRecords * benchRecordBytes)
	b.ResetTimer()
	for i := range b.N {
		if err := putRound(c, bodies, i); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchIterRecords/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutRecordsFsyncNever is BenchmarkPutRecordsGroupCommit with
// fsync off: not a durability mode to compare against the raw file, but the
// rate the HTTP, JSON and log path allows without any fsync on this machine,
// to tell CPU cost from fsync cost.
func BenchmarkPutRecordsFsyncNever(b *testing.B) {
	c := startBenchServer(b, Options{Fsync: slog.FsyncNever})
	bodies := benchPutRecordsBodies(b, 64, 1)
	b.SetBytes(benchIterRecords * benchRecordBytes)
	b.ResetTimer()
	for i := range b.N {
		if err := putRound(c, bodies, i); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchIterRecords/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRawFileFsync writes the same record bytes per iteration as
// BenchmarkPutRecordsGroupCommit to a plain file, from a single writer, with
// one write and one fsync per batch of records (see rawBatchCall and
// rawBatchAll).
func BenchmarkRawFileFsync(b *testing.B) {
	for _, batch := range []int{rawBatchCall, rawBatchAll} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f, buf := benchRawFile(b, batch)
			b.SetBytes(benchIterRecords * benchRecordBytes)
			b.ResetTimer()
			for range b.N {
				if err := rawFsyncWrite(f, buf, benchIterRecords, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)*benchIterRecords/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPutRecordsVsRawFsync runs both in the same b.N loop: each
// iteration does one PutRecords round (as BenchmarkPutRecordsGroupCommit),
// then writes the same number of bytes raw with each batch size, timing
// each part on its own. put/raw-% is the PutRecords rate as a percentage of
// the raw rate (the target: ≥ 50).
func BenchmarkPutRecordsVsRawFsync(b *testing.B) {
	c := startBenchServer(b, Options{})
	bodies := benchPutRecordsBodies(b, 64, 2)
	fCall, bufCall := benchRawFile(b, rawBatchCall)
	fAll, bufAll := benchRawFile(b, rawBatchAll)
	var put, rawCall, rawAll time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if err := putRound(c, bodies, i); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := rawFsyncWrite(fCall, bufCall, benchIterRecords, rawBatchCall); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := rawFsyncWrite(fAll, bufAll, benchIterRecords, rawBatchAll); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		put, rawCall, rawAll = put+t1.Sub(t0), rawCall+t2.Sub(t1), rawAll+t3.Sub(t2)
	}
	b.StopTimer()
	mb := float64(b.N) * benchIterRecords * benchRecordBytes / 1e6
	putRate, callRate, allRate := mb/put.Seconds(), mb/rawCall.Seconds(), mb/rawAll.Seconds()
	b.ReportMetric(putRate, "put-MB/s")
	b.ReportMetric(callRate, "raw100-MB/s")
	b.ReportMetric(allRate, "raw800-MB/s")
	b.ReportMetric(100*putRate/callRate, "put/raw100-%")
	b.ReportMetric(100*putRate/allRate, "put/raw800-%")
}
