package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// decodeRecords is the records of the one partition (one shard) the
// decode benchmarks read.
const decodeRecords = 1_000_000

// decodeJob is a keyed 10 s tumbling COUNT and SUM, at parallelism 2, of
// table events read with the options with.
func decodeJob(with string) string {
	return fmt.Sprintf(`
CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '100' MILLISECOND)
  WITH (%s);
CREATE TABLE results (k BIGINT, window_start TIMESTAMP(3), n BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO results
SELECT k, TUMBLE_START(ts, INTERVAL '10' SECOND), COUNT(*), SUM(v) FROM events
GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND);
`, with)
}

// decodeRecord is record i of the decode benchmarks: ~45 bytes of JSON,
// 10,000 keys, 10 records a millisecond.
func decodeRecord(i int) []byte {
	return fmt.Appendf(nil, `{"k":%d,"v":%d,"ts":%d}`, i%10000, i%1000, baseTime+int64(i)/10)
}

// compareDecoders runs job(workers) with one decode worker and with
// GOMAXPROCS, interleaved (in turn first), checks that each read every
// record, and reports the median events/s of each, their ratio (and that
// of the best runs), and CPU seconds per million events.
func compareDecoders(b *testing.B, job func(workers int) string) {
	n := runtime.GOMAXPROCS(0)
	modes := []int{1, n}
	wall, cpu := map[int][]time.Duration{}, map[int][]time.Duration{}
	for b.Loop() {
		for _, workers := range modes {
			set := metrics.NewSet()
			w, c, err := runSQLJob(context.Background(), job(workers), 2, set)
			if err != nil {
				b.Fatal(err)
			}
			if got := sumCounters(set, "sluice_operator_rows_in_total", "window "); got != decodeRecords {
				b.Fatalf("%d workers: the window took %d rows, want %d", workers, got, decodeRecords)
			}
			wall[workers], cpu[workers] = append(wall[workers], w), append(cpu[workers], c)
		}
		slices.Reverse(modes)
	}
	median := func(ds []time.Duration) time.Duration {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	one, many := median(wall[1]), median(wall[n])
	b.ReportMetric(decodeRecords/one.Seconds(), "1-worker-events/s")
	b.ReportMetric(decodeRecords/many.Seconds(), fmt.Sprintf("%d-workers-events/s", n))
	b.ReportMetric(one.Seconds()/many.Seconds(), "speedup")
	// On a shared machine the runs' times vary several-fold with the
	// load: the best run of each is the least disturbed.
	b.ReportMetric(slices.Min(wall[1]).Seconds()/slices.Min(wall[n]).Seconds(), "best-speedup")
	b.ReportMetric(median(cpu[1]).Seconds()*1e6/decodeRecords, "1-worker-cpu-s/Mevents")
	b.ReportMetric(median(cpu[n]).Seconds()*1e6/decodeRecords, fmt.Sprintf("%d-workers-cpu-s/Mevents", n))
}

// BenchmarkDecodeKafkaPartition: a SQL job (keyed tumbling COUNT/SUM,
// parallelism 2) reads one Kafka partition (in-process kfake) of 1M JSON
// records, its records decoded by one worker ('scan.decode.parallelism' =
// 1, in the source subtask) and by GOMAXPROCS workers, interleaved.
func BenchmarkDecodeKafkaPartition(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events"), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*kgo.Record, 0, 10000)
	for i := range decodeRecords {
		recs = append(recs, &kgo.Record{Value: decodeRecord(i)})
		if len(recs) == cap(recs) {
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	cl.Close()
	compareDecoders(b, func(workers int) string {
		return decodeJob(fmt.Sprintf(`'connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json',
  'scan.decode.parallelism' = '%d'`, addr, workers))
	})
}

// BenchmarkDecodeStoreShard: as BenchmarkDecodeKafkaPartition, reading one
// shard of the embedded store.
func BenchmarkDecodeStoreShard(b *testing.B) {
	srv, err := server.New(b.TempDir(), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	store.UseEmbedded(srv)
	defer store.UseEmbedded(nil)
	c := client.New("http://embedded", &http.Client{Transport: srv.Transport()})
	ctx := context.Background()
	if err := c.CreateStream(ctx, "events", 1); err != nil {
		b.Fatal(err)
	}
	recs := make([]client.PutRecordsEntry, 0, 500)
	for i := range decodeRecords {
		recs = append(recs, client.PutRecordsEntry{PartitionKey: "k", Data: decodeRecord(i)})
		if len(recs) == cap(recs) {
			if out, err := c.PutRecords(ctx, "events", recs); err != nil || out.FailedRecordCount != 0 {
				b.Fatalf("PutRecords: %v (%+v)", err, out)
			}
			recs = recs[:0]
		}
	}
	compareDecoders(b, func(workers int) string {
		return decodeJob(fmt.Sprintf(`'connector' = 'store', 'stream' = 'events', 'scan.bounded.mode' = 'latest',
  'scan.decode.parallelism' = '%d'`, workers))
	})
}
