package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// benchDecodeRecords is the records of the shard BenchmarkDecodeWorkers
// reads.
const benchDecodeRecords = 1_000_000

// BenchmarkDecodeWorkers reads one shard of 1M JSON records (~60 bytes)
// of the embedded store to its end with one subtask, decoding with one
// worker (in Poll) and with GOMAXPROCS workers, the two runs interleaved
// (in turn first); it reports the median events/s of each, their ratio
// (and that of the best runs), and the process's CPU time per million
// events of each (the store's included).
func BenchmarkDecodeWorkers(b *testing.B) {
	srv, err := server.New(b.TempDir(), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	UseEmbedded(srv)
	defer UseEmbedded(nil)
	c := client.New("http://embedded", &http.Client{Transport: srv.Transport()})
	ctx := context.Background()
	if err := c.CreateStream(ctx, "bench", 1); err != nil {
		b.Fatal(err)
	}
	recs := make([]client.PutRecordsEntry, 0, 500)
	for i := range benchDecodeRecords {
		recs = append(recs, client.PutRecordsEntry{PartitionKey: "k",
			Data: fmt.Appendf(nil, `{"id":%d,"name":"n%d","score":%d.5,"ts":%d}`, i, i%10000, i%100, base+int64(i))})
		if len(recs) == cap(recs) {
			if out, err := c.PutRecords(ctx, "bench", recs); err != nil || out.FailedRecordCount != 0 {
				b.Fatalf("PutRecords: %v (%+v)", err, out)
			}
			recs = recs[:0]
		}
	}
	n := runtime.GOMAXPROCS(0)
	modes := []int{1, n}
	wall, cpu := map[int][]time.Duration{}, map[int][]time.Duration{}
	for b.Loop() {
		for _, workers := range modes {
			w, c := readShard(b, workers)
			wall[workers], cpu[workers] = append(wall[workers], w), append(cpu[workers], c)
		}
		slices.Reverse(modes)
	}
	one, many := median(wall[1]), median(wall[n])
	b.ReportMetric(benchDecodeRecords/one.Seconds(), "1-worker-events/s")
	b.ReportMetric(benchDecodeRecords/many.Seconds(), fmt.Sprintf("%d-workers-events/s", n))
	b.ReportMetric(one.Seconds()/many.Seconds(), "speedup")
	// On a shared machine the runs' times vary several-fold with the
	// load: the best run of each is the least disturbed.
	b.ReportMetric(slices.Min(wall[1]).Seconds()/slices.Min(wall[n]).Seconds(), "best-speedup")
	b.ReportMetric(median(cpu[1]).Seconds()*1e6/benchDecodeRecords, "1-worker-cpu-s/Mevents")
	b.ReportMetric(median(cpu[n]).Seconds()*1e6/benchDecodeRecords, fmt.Sprintf("%d-workers-cpu-s/Mevents", n))
}

// readShard reads the bench stream to its end with workers decode workers
// and returns how long it took and the process's CPU time meanwhile.
func readShard(b *testing.B, workers int) (wall, cpu time.Duration) {
	tab := table(map[string]string{"stream": "bench", "scan.bounded.mode": "latest", "scan.decode.parallelism": fmt.Sprint(workers)})
	tab.TimeColumn = 3
	newSrc, _, err := connector(b).NewSource(tab)
	if err != nil {
		b.Fatal(err)
	}
	start, cpu0 := time.Now(), cpuTime()
	s := newSrc()
	if err := s.Open(rttest.NewContext("src", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rows := 0
	for {
		batch, _, err := s.Poll(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if batch != nil {
			rows += batch.Len()
		}
	}
	if rows != benchDecodeRecords {
		b.Fatalf("read %d rows, want %d", rows, benchDecodeRecords)
	}
	return time.Since(start), cpuTime() - cpu0
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// cpuTime is the CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
