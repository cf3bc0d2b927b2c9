package bench

import "context"

// RunLoop runs the workload as a hand-written single-goroutine loop: one map
// of accumulators per open window, windows closed by the same watermark
// rule as the engine's. It is the speed of light the engine is measured
// against. It returns ctx.Err() soon after ctx ends.
func RunLoop(ctx context.Context, w Workload) (Result, error) {
	type acc struct{ count, sum int64 }
	size := w.Window.Milliseconds()
	open := map[int64]map[int64]acc{}
	var check Checksum
	maxTs := int64(-1 << 62)
	m := startMeter()
	nextFire := int64(1 << 62) // earliest end-1 of an open window
	for i := int64(0); i < w.Events; i++ {
		if i&(checkEvery-1) == 0 && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		k, ts, v := w.Event(i)
		ws := ts - ts%size
		m := open[ws]
		if m == nil {
			m = make(map[int64]acc)
			open[ws] = m
			nextFire = min(nextFire, ws+size-1)
		}
		a := m[k]
		a.count++
		a.sum += v
		m[k] = a
		if ts > maxTs {
			maxTs = ts
			if wm := maxTs - bound.Milliseconds() - 1; wm >= nextFire {
				nextFire = 1 << 62
				for s, m := range open {
					if s+size-1 <= wm {
						for _, a := range m {
							check.add(a.count, a.sum)
						}
						delete(open, s)
					} else {
						nextFire = min(nextFire, s+size-1)
					}
				}
			}
		}
	}
	for _, m := range open {
		for _, a := range m {
			check.add(a.count, a.sum)
		}
	}
	wall, cpu := m.stop()
	return Result{Name: "hand-written loop", Events: w.Events, Elapsed: wall, CPU: cpu, Check: check}, nil
}
