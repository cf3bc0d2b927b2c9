package bench

import (
	"context"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
)

type gsEvent struct{ key, ts, v int64 }

type gsKey struct{ window, key int64 }

type gsAcc struct{ count, sum int64 }

// checkEvery is how many events a producer sends between two looks at its
// context: often enough to stop within milliseconds, rarely enough not to
// show in the rate.
const checkEvery = 1 << 12

// RunGoStreams runs the workload on github.com/reugn/go-streams v0.13.0:
// events flow one by one through its channels into a tumbling window (its
// windows are cut by the wall clock, 50 ms here), and a map counts each
// window's events by (event-time window, key); a sink merges the partial
// counts as they come. Results are exact because every partial is merged
// before the checksum is taken. When ctx ends, the events stop, what is in
// flight drains, and RunGoStreams returns ctx.Err().
func RunGoStreams(ctx context.Context, w Workload) (Result, error) {
	return runGoStreams(ctx, w, func(in chan<- any) {
		for i := int64(0); i < w.Events; i++ {
			if i&(checkEvery-1) == 0 && ctx.Err() != nil {
				return
			}
			k, ts, v := w.Event(i)
			in <- gsEvent{k, ts, v}
		}
	})
}

// runGoStreams runs the count over the events produce sends (as gsEvent
// values) from its own goroutine; the time includes producing them.
// produce should return early once ctx ends.
func runGoStreams(ctx context.Context, w Workload, produce func(in chan<- any)) (Result, error) {
	size := w.Window.Milliseconds()
	in := make(chan any, 1024)
	m := startMeter()
	go func() {
		defer close(in)
		produce(in)
	}()
	count := flow.NewMap(func(evs []gsEvent) map[gsKey]gsAcc {
		m := make(map[gsKey]gsAcc)
		for _, e := range evs {
			id := gsKey{e.ts - e.ts%size, e.key}
			a := m[id]
			a.count++
			a.sum += e.v
			m[id] = a
		}
		return m
	}, 1)
	// To blocks until the sink has taken the last partial count, so the
	// sink must consume as it goes (a channel nobody reads until To
	// returns fills up after a few seconds of windows and wedges the run).
	sink := newMergeSink()
	extension.NewChanSource(in).
		Via(flow.NewTumblingWindow[gsEvent](50 * time.Millisecond)).
		Via(count).
		To(sink)
	elapsed, cpu := m.stop()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var check Checksum
	for _, a := range sink.total {
		check.add(a.count, a.sum)
	}
	return Result{Name: "go-streams v0.13.0", Events: w.Events, Elapsed: elapsed, CPU: cpu, Check: check}, nil
}

// mergeSink is a go-streams sink that merges the partial counts it
// receives into total, on its own goroutine, as they arrive.
type mergeSink struct {
	in    chan any
	done  chan struct{}
	total map[gsKey]gsAcc // complete once done is closed
}

var _ streams.Sink = (*mergeSink)(nil)

func newMergeSink() *mergeSink {
	s := &mergeSink{in: make(chan any), done: make(chan struct{}), total: make(map[gsKey]gsAcc)}
	go func() {
		defer close(s.done)
		for part := range s.in {
			for id, a := range part.(map[gsKey]gsAcc) {
				t := s.total[id]
				t.count += a.count
				t.sum += a.sum
				s.total[id] = t
			}
		}
	}()
	return s
}

// In is the sink's input; the upstream closes it after the last partial.
func (s *mergeSink) In() chan<- any { return s.in }

// AwaitCompletion waits until every partial sent to In has been merged.
func (s *mergeSink) AwaitCompletion() { <-s.done }
