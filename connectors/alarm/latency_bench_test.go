package alarm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// benchHosts is a source of live host readings: 1,000 hosts, each every
// 100 ms (10,000 rows/s), event time = the wall clock. Host h runs hot
// (95%) in the periods p of one second where (p+h) mod 50 < 25, else 50%:
// every period 40 hosts change state.
type benchHosts struct{}

func init() { connectors.Register(benchHosts{}) }

func (benchHosts) Name() string                 { return "bench_hosts" }
func (benchHosts) Options() []connectors.Option { return nil }
func (benchHosts) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	return func() runtime.Source { return &hostsSource{schema: t.Schema} }, 1, nil
}

const benchHostCount = 1000

type hostsSource struct {
	schema *runtime.Schema
	b      *runtime.Batch
	next   time.Time
	h      int
}

func (s *hostsSource) Open(*runtime.Context) error {
	s.b = runtime.NewBatch(s.schema)
	s.next = time.Now()
	return nil
}

// Poll emits every 10 ms the rows of 100 hosts, in turn.
func (s *hostsSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if d := time.Until(s.next); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	s.next = s.next.Add(10 * time.Millisecond)
	now := time.Now().UnixMilli()
	p := now / 1000
	s.b.Reset()
	for range benchHostCount / 10 {
		cpu := 50.0
		if (p+int64(s.h))%50 < 25 {
			cpu = 95
		}
		s.b.AppendValues(runtime.StringValue(fmt.Sprintf("h%04d", s.h)), runtime.FloatValue(cpu), runtime.TimeValue(now))
		s.h = (s.h + 1) % benchHostCount
	}
	return s.b, 0, nil
}

func (s *hostsSource) Close() error { return nil }

// BenchmarkNotificationLatency: 1,000 hosts at 10,000 rows/s → per-host
// average per 1-second period → alarm (1 of 1 above 90) → topic → an HTTP
// subscriber. Latency of each notification: from the moment the watermark
// can pass its period end (the period end plus the watermark's 100 ms
// bound: event time is the wall clock) to its arrival at the receiver.
// The first periods (every host's first state) are left out. Target:
// p99 ≤ 50 ms.
func BenchmarkNotificationLatency(b *testing.B) {
	const delay = 100 // ms, the WATERMARK bound
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var e struct{ Message string }
		var n struct{ StateChangeTime time.Time }
		if json.Unmarshal(body, &e) != nil || json.Unmarshal([]byte(e.Message), &n) != nil {
			b.Errorf("bad notification %s", body)
			return
		}
		if n.StateChangeTime.Before(start.Add(3 * time.Second)) {
			return // every host's first state
		}
		mu.Lock()
		lat = append(lat, now.Sub(n.StateChangeTime.Add(delay*time.Millisecond)))
		mu.Unlock()
	}))
	defer hook.Close()
	job := fmt.Sprintf(`
CREATE TABLE cpu (host VARCHAR, cpu DOUBLE, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND)
  WITH ('connector' = 'bench_hosts');
CREATE TOPIC ops;
CREATE SUBSCRIPTION hook ON TOPIC ops WITH ('protocol' = 'http', 'endpoint' = '%s');
CREATE TABLE high_cpu (host VARCHAR, period_end TIMESTAMP(3), avg_cpu DOUBLE) WITH (
  'connector' = 'alarm', 'topic' = 'ops', 'alarm-name' = 'HighCPU', 'metric' = 'avg_cpu', 'dimensions' = 'host',
  'period' = 'period_end', 'period.length' = '1 s', 'comparison' = 'GreaterThanThreshold', 'threshold' = '90',
  'evaluation-periods' = '1');
INSERT INTO high_cpu SELECT host, TUMBLE_END(ts, INTERVAL '1' SECOND) AS period_end, AVG(cpu) AS avg_cpu
  FROM cpu GROUP BY host, TUMBLE(ts, INTERVAL '1' SECOND);
`, delay, hook.URL)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.N)*10*time.Second+3*time.Second)
	defer cancel()
	b.ResetTimer()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2}); err != nil && ctx.Err() == nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	plan.Close(cctx)
	mu.Lock()
	defer mu.Unlock()
	if len(lat) < 100 {
		b.Fatalf("only %d notifications measured", len(lat))
	}
	slices.Sort(lat)
	ms := func(p float64) float64 { return float64(lat[int(p/100*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(len(lat)), "notifications")
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(99), "p99-ms")
	b.ReportMetric(ms(100), "max-ms")
}
