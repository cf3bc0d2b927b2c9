package bench

import (
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
)

type gsEvent struct{ key, ts, v int64 }

type gsKey struct{ window, key int64 }

type gsAcc struct{ count, sum int64 }

// RunGoStreams runs the workload on github.com/reugn/go-streams v0.13.0:
// events flow one by one through its channels into a tumbling window (its
// windows are cut by the wall clock, 50 ms here), and a map counts each
// window's events by (event-time window, key); a final stage merges the
// partial counts. Results are exact because every partial is merged before
// the checksum is taken.
func RunGoStreams(w Workload) Result {
	return runGoStreams(w, func(in chan<- any) {
		for i := int64(0); i < w.Events; i++ {
			k, ts, v := w.Event(i)
			in <- gsEvent{k, ts, v}
		}
	})
}

// runGoStreams runs the count over the events produce sends (as gsEvent
// values) from its own goroutine; the time includes producing them.
func runGoStreams(w Workload, produce func(in chan<- any)) Result {
	size := w.Window.Milliseconds()
	in := make(chan any, 1024)
	out := make(chan any, 64)
	start := time.Now()
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
	extension.NewChanSource(in).
		Via(flow.NewTumblingWindow[gsEvent](50 * time.Millisecond)).
		Via(count).
		To(extension.NewChanSink(out))
	total := make(map[gsKey]gsAcc)
	for part := range out {
		for id, a := range part.(map[gsKey]gsAcc) {
			t := total[id]
			t.count += a.count
			t.sum += a.sum
			total[id] = t
		}
	}
	elapsed := time.Since(start)
	var check Checksum
	for _, a := range total {
		check.add(a.count, a.sum)
	}
	return Result{Name: "go-streams v0.13.0", Events: w.Events, Elapsed: elapsed, Check: check}
}
