package datagen_test

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

// arrivals is a sink connector ('arrivals') that records, for each row, the
// wall clock when it came and its first column (a window's end).
type arrivals struct {
	mu   sync.Mutex
	at   []time.Time
	ends []int64
}

func (*arrivals) Name() string                         { return "arrivals" }
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

// TestThrottledSourceFiresWindowsOnTimeAtAnyParallelism: a datagen table
// with rows-per-second whose timestamps start at the wall clock and advance
// with it feeds 100 ms tumbling windows; each window must come out soon
// after its end has passed on the wall clock, at parallelism 1, 2 and 4.
// Dealt to subtasks in blocks of 2,048 rows (about 0.5 s at this rate), the
// subtask with the earliest block held the watermark back by up to
// (p − 1) blocks and the windows fell ever further behind.
func TestThrottledSourceFiresWindowsOnTimeAtAnyParallelism(t *testing.T) {
	for _, par := range []int{1, 2, 4} {
		windowArrivals.mu.Lock()
		windowArrivals.at, windowArrivals.ends = nil, nil
		windowArrivals.mu.Unlock()
		job := `CREATE TABLE gen (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '6000', 'rows-per-second' = '4000',
      'fields.ts.start' = 'now', 'fields.ts.step' = '250us');
CREATE TABLE out (window_end TIMESTAMP(3), n BIGINT) WITH ('connector' = 'arrivals');
INSERT INTO out SELECT window_end, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '100' MILLISECOND))
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
		// The last window ends with the input (its rows come at once at the
		// end); every other must come within 250 ms of its end, but for
		// two, which a loaded machine may delay by a scheduling hiccup.
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
			t.Errorf("parallelism %d: %d of %d windows came more than 250ms after their end on the wall clock: %v", par, len(late), len(a.ends)-1, late)
		}
	}
}
