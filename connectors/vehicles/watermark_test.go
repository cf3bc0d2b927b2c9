package vehicles_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// arrivals is a sink connector ('vehicle_arrivals') that records, for each
// row, the wall clock when it came and its first column (a window's end).
type arrivals struct {
	mu   sync.Mutex
	at   []time.Time
	ends []int64
}

func (*arrivals) Name() string                         { return "vehicle_arrivals" }
func (*arrivals) Options() []connectors.Option         { return nil }
func (*arrivals) AcceptsUpdates(connectors.Table) bool { return false }
func (a *arrivals) NewSink(connectors.Table) (func() runtime.Operator, int, error) {
	return func() runtime.Operator { return arrivalSink{a: a} }, 1, nil
}

type arrivalSink struct {
	runtime.Base
	a *arrivals
}

func (s arrivalSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	now := time.Now()
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	for i := range b.Len() {
		s.a.at = append(s.a.at, now)
		s.a.ends = append(s.a.ends, b.Cols[0].I64[b.Row(i)])
	}
	return nil
}

var windowArrivals = &arrivals{}

func init() { connectors.Register(windowArrivals) }

// TestLiveWindowsFireOnTimeAtAnyParallelism: vehicles starting at the wall
// clock, throttled to keep up with it (vehicles / interval rows per
// second), feed 100 ms tumbling windows; each window must come out soon
// after its end has passed on the wall clock, at parallelism 1, 2 and 4
// (with 10 vehicles the subtasks have unequal shares, 3, 3, 2 and 2).
func TestLiveWindowsFireOnTimeAtAnyParallelism(t *testing.T) {
	for _, par := range []int{1, 2, 4} {
		windowArrivals.mu.Lock()
		windowArrivals.at, windowArrivals.ends = nil, nil
		windowArrivals.mu.Unlock()
		job := `CREATE TABLE v (id VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'vehicles', 'vehicles' = '10', 'interval' = '10 ms', 'duration' = '1500 ms',
      'start' = 'now', 'rows-per-second' = '1000');
CREATE TABLE out (window_end TIMESTAMP(3), n BIGINT) WITH ('connector' = 'vehicle_arrivals');
INSERT INTO out SELECT window_end, COUNT(DISTINCT id) AS n
FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND))
GROUP BY window_start, window_end;`
		plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		a := windowArrivals
		if len(a.ends) < 15 || len(a.ends) > 16 {
			t.Fatalf("parallelism %d: %d windows, want 15 or 16 (1.5 s in windows of 100 ms)", par, len(a.ends))
		}
		// The last window ends with the input; every other must come within
		// 250 ms of its end, but for two, which a loaded machine may delay.
		var late []time.Duration
		for i, end := range a.ends {
			if end == slices.Max(a.ends) {
				continue
			}
			if d := a.at[i].Sub(time.UnixMilli(end)); d > 250*time.Millisecond {
				late = append(late, d)
			}
		}
		if len(late) > 2 {
			t.Errorf("parallelism %d: %d of %d windows came more than 250ms after their end: %v", par, len(late), len(a.ends)-1, late)
		}
	}
}

// TestFewerVehiclesThanSubtasks: subtasks without a vehicle end at once
// and hold no window back.
func TestFewerVehiclesThanSubtasks(t *testing.T) {
	collected.mu.Lock()
	collected.rows = nil
	collected.mu.Unlock()
	job := `CREATE TABLE v (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'vehicles', 'vehicles' = '2', 'duration' = '20 s');
CREATE TABLE out WITH ('connector' = 'vehicle_windows');
INSERT INTO out SELECT id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY id, window_start, window_end;`
	plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 3}); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(collected.rows))
	if want := []string{"0 10", "0 10", "1 10", "1 10"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
