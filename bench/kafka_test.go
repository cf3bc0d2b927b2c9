package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

const kafkaRecords = 1_000_000

// kafkaTopic starts an in-process broker with a 4-partition topic holding
// kafkaRecords JSON records and returns its address.
func kafkaTopic(b *testing.B) string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	addr := strings.Join(c.ListenAddrs(), ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("events"), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	recs := make([]*kgo.Record, 0, 10000)
	for i := range kafkaRecords {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"k":%d,"v":%d,"ts":%d}`, i%10000, i%1000, baseTime+int64(i)/10)})
		if len(recs) == cap(recs) {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return addr
}

// BenchmarkKafkaRead: rows/s read from a Kafka-protocol broker (in-process
// kfake, 4 partitions, 1M ~40-byte JSON records) into a blackhole by a SQL
// job, against kcat consuming the same topic to its end in the same run.
func BenchmarkKafkaRead(b *testing.B) {
	kcat, kcatErr := exec.LookPath("kcat")
	addr := kafkaTopic(b)
	job := fmt.Sprintf(`
CREATE TABLE events (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '100' MILLISECOND)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '%s',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', 'format' = 'json');
CREATE TABLE sink WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k, v, ts FROM events;
`, addr)
	var sluiceTime, kcatTime time.Duration
	for range b.N {
		plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
		if err != nil {
			b.Fatal(err)
		}
		set := metrics.NewSet()
		t0 := time.Now()
		if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2, Metrics: set}); err != nil {
			b.Fatal(err)
		}
		sluiceTime += time.Since(t0)
		if n := sumCounters(set, "sluice_operator_rows_in_total", "sink sink"); n != kafkaRecords {
			b.Fatalf("the job read %d records, want %d", n, kafkaRecords)
		}
		if kcatErr == nil {
			t0 = time.Now()
			out, err := exec.Command(kcat, "-C", "-b", addr, "-t", "events", "-o", "beginning", "-e", "-q", "-f", "%s\n").Output()
			if err != nil {
				b.Fatalf("kcat: %v", err)
			}
			kcatTime += time.Since(t0)
			if n := strings.Count(string(out), "\n"); n != kafkaRecords {
				b.Fatalf("kcat read %d records, want %d", n, kafkaRecords)
			}
		}
	}
	rows := float64(b.N) * kafkaRecords
	b.ReportMetric(rows/sluiceTime.Seconds(), "sluice-rows/s")
	if kcatErr == nil {
		b.ReportMetric(rows/kcatTime.Seconds(), "kcat-rows/s")
		b.ReportMetric(kcatTime.Seconds()/sluiceTime.Seconds(), "sluice/kcat")
	} else {
		b.Log("WARNING: kcat is not installed: no comparison")
	}
}
