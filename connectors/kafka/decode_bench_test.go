package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// benchDecodeRecords is the records of the partition BenchmarkDecodeWorkers
// reads.
const benchDecodeRecords = 1_000_000

// BenchmarkDecodeWorkers reads one partition of 1M JSON records (~60
// bytes) from an in-process broker to its end with one subtask, decoding
// with one worker (in Poll) and with GOMAXPROCS workers, the two runs
// interleaved (in turn first); it reports the median events/s of each,
// their ratio (and that of the best runs), and the process's CPU time per
// million events of each (the broker's included).
func BenchmarkDecodeWorkers(b *testing.B) {
	addr := startCluster(b, 1)
	vals := make([][]byte, 0, 5000)
	for i := range benchDecodeRecords {
		vals = append(vals, fmt.Appendf(nil, `{"user":"u%d","n":%d,"ts":%d}`, i%10000, i, base+int64(i)))
		if len(vals) == cap(vals) {
			produce(b, addr, "clicks", 0, vals, nil)
			vals = vals[:0]
		}
	}
	n := runtime.GOMAXPROCS(0)
	modes := []int{1, n}
	wall, cpu := map[int][]time.Duration{}, map[int][]time.Duration{}
	for b.Loop() {
		for _, workers := range modes {
			w, c := readPartition(b, addr, workers)
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

// readPartition reads the bench partition to its end with workers decode
// workers and returns how long it took and the process's CPU time meanwhile.
func readPartition(b *testing.B, addr string, workers int) (wall, cpu time.Duration) {
	tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "scan.decode.parallelism": fmt.Sprint(workers)})
	tab.TimeColumn = 2
	start, cpu0 := time.Now(), cpuTime()
	d, err := tryOpen(tab, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer d.close()
	rows := 0
	for {
		batch, _, err := d.srcs[0].Poll(context.Background())
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
