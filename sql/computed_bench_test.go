package sql

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// nexmarkDateTimeJob is Nexmark's table reduced to the columns its
// computed dateTime reads, with dateTime computed (as ddl.sql) or physical
// (filled by the connector).
func nexmarkDateTimeJob(computed bool) string {
	dateTime := "`dateTime` TIMESTAMP(3)"
	if computed {
		dateTime = "`dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime` WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END"
	}
	return `CREATE TABLE nexmark (event_type INT, person ROW<id BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3)>,
  auction ROW<id BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3)>, bid ROW<price BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3)>, ` + dateTime + `,
  WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + ` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark');
CREATE TABLE out (event_type INT, pid BIGINT, pt TIMESTAMP(3), aid BIGINT, at TIMESTAMP(3), price BIGINT, bt TIMESTAMP(3), dt TIMESTAMP(3))
  WITH ('connector' = 'blackhole');
INSERT INTO out SELECT * FROM nexmark;`
}

// nexmarkSource returns subtask 0 of 1 of the nexmark source of
// nexmarkDateTimeJob(computed), open.
func nexmarkSource(b *testing.B, computed bool) runtime.Source {
	plan, err := Compile(nexmarkDateTimeJob(computed), Options{File: "bench.sql", Parallelism: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range plan.Graph.Nodes {
		if n.NewSource != nil {
			src := n.NewSource()
			if err := src.Open(&runtime.Context{Job: "bench", Operator: n.Name, Parallelism: 1, Metrics: &runtime.OperatorMetrics{}}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { src.Close() })
			return src
		}
	}
	b.Fatal("no source")
	return nil
}

// BenchmarkNexmarkComputedDateTime measures Nexmark's computed dateTime
// (the CASE over the three ROWs' dateTime) where it runs, in the nexmark
// source's subtask: "case" is the CASE alone over one of the connector's
// batches; "poll" a source subtask's Poll with dateTime filled by the
// connector (physical) and computed, alternately. Each reports ns per
// event.
func BenchmarkNexmarkComputedDateTime(b *testing.B) {
	b.Run("case", func(b *testing.B) {
		s := nexmarkSource(b, true).(*computedSource)
		batch, _, err := s.src.Poll(context.Background())
		if err != nil || batch == nil || batch.Len() == 0 {
			b.Fatalf("no batch: %v", err)
		}
		n := batch.Len()
		b.ResetTimer()
		for b.Loop() {
			if err := s.calc.ProcessBatch(0, batch, s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
	})
	// Both sources in one loop, batch by batch, so that the load of the
	// machine weighs on both alike.
	b.Run("poll", func(b *testing.B) {
		srcs := [2]runtime.Source{nexmarkSource(b, false), nexmarkSource(b, true)}
		var spent [2]time.Duration
		var events [2]int
		for b.Loop() {
			for i, src := range srcs {
				start := time.Now()
				batch, _, err := src.Poll(context.Background())
				spent[i] += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				events[i] += batch.Len()
			}
		}
		b.ReportMetric(float64(spent[0].Nanoseconds())/float64(events[0]), "ns/event-physical")
		b.ReportMetric(float64(spent[1].Nanoseconds())/float64(events[1]), "ns/event-computed")
	})
}
