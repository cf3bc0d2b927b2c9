package runtime

import "time"

// wmGenerator turns the event times of a source subtask's rows into
// watermarks: per partition, the largest time seen minus the allowed
// out-of-orderness (minus one millisecond, so a row exactly at the bound is
// on time); across partitions, the minimum over those not idle.
type wmGenerator struct {
	col     int
	delay   int64
	idle    int64 // ms; 0 = never idle
	parts   []partWM
	emitted int64
	isIdle  bool
	started int64 // processing time the subtask started
	dynamic bool  // the source reports its partitions (DynamicPartitions)
}

type partWM struct {
	seen     bool
	ended    bool // no more rows: not part of the minimum
	max      int64
	lastSeen int64 // processing time of the last row
	idle     bool
}

func newWMGenerator(s WatermarkStrategy) *wmGenerator {
	return &wmGenerator{col: s.TimeColumn, delay: s.MaxOutOfOrderness.Milliseconds(), idle: s.IdleTimeout.Milliseconds(),
		emitted: MinWatermark, started: time.Now().UnixMilli()}
}

// declare registers partitions that hold back the watermark before their
// first row.
func (g *wmGenerator) declare(parts []int, now int64) {
	for _, part := range parts {
		for part >= len(g.parts) {
			g.parts = append(g.parts, partWM{max: MinWatermark})
		}
		p := &g.parts[part]
		p.seen, p.lastSeen, p.ended = true, now, false
	}
}

// end removes partitions from the minimum for good.
func (g *wmGenerator) end(parts []int) {
	for _, part := range parts {
		if part >= 0 && part < len(g.parts) {
			g.parts[part].ended = true
		}
	}
}

// observe records a batch of partition part at processing time now.
func (g *wmGenerator) observe(part int, b *Batch, now int64) {
	if g.col < 0 {
		return
	}
	for part >= len(g.parts) {
		g.parts = append(g.parts, partWM{max: MinWatermark})
	}
	p := &g.parts[part]
	n := b.Len()
	if n == 0 {
		return
	}
	p.seen, p.lastSeen, p.idle, p.ended = true, now, false, false
	v := &b.Cols[g.col]
	m := p.max
	if b.Sel == nil && v.Null == nil {
		for _, t := range v.I64[:n] {
			m = max(m, t)
		}
	} else {
		for i := 0; i < n; i++ {
			if r := b.Row(i); !v.IsNull(r) {
				m = max(m, v.I64[r])
			}
		}
	}
	p.max = m
}

// current computes the combined watermark at processing time now. It
// returns the new watermark (never lower than one already emitted), whether
// it advanced, and whether every partition is idle.
func (g *wmGenerator) current(now int64) (wm int64, advanced, allIdle bool) {
	if g.col < 0 {
		return g.emitted, false, false
	}
	if len(g.parts) == 0 {
		// A subtask without partitions (more subtasks than partitions)
		// is idle once the idle timeout has passed, so that it does not
		// hold back the watermark of the others.
		// A source that reports its partitions and has none has nothing
		// to wait for.
		return g.emitted, false, g.dynamic || g.idle > 0 && now-g.started >= g.idle
	}
	min := MaxWatermark
	active := 0
	for i := range g.parts {
		p := &g.parts[i]
		if g.idle > 0 && p.seen && now-p.lastSeen >= g.idle {
			p.idle = true
		}
		if p.idle || !p.seen || p.ended {
			continue
		}
		active++
		w := p.max
		if w != MinWatermark {
			w = w - g.delay - 1
		}
		if w < min {
			min = w
		}
	}
	if active == 0 {
		return g.emitted, false, true
	}
	if min > g.emitted {
		g.emitted = min
		return min, true, false
	}
	return g.emitted, false, false
}

// watermarkTracker combines the watermarks of a subtask's input lanes:
// the minimum over lanes that are neither idle nor ended. When every open
// lane is idle the subtask's output is idle too.
type watermarkTracker struct {
	wm      []int64
	idle    []bool
	ended   []bool
	current int64
}

func newWatermarkTracker(lanes int) *watermarkTracker {
	t := &watermarkTracker{wm: make([]int64, lanes), idle: make([]bool, lanes), ended: make([]bool, lanes), current: MinWatermark}
	for i := range t.wm {
		t.wm[i] = MinWatermark
	}
	return t
}

// combined returns the minimum watermark, whether it advanced past the last
// one returned, and whether all open lanes are idle. When every open lane
// is idle, the largest watermark any of them reached is emitted (as Flink's
// watermark valve does): nothing is holding it back any more.
func (t *watermarkTracker) combined() (wm int64, advanced, allIdle bool) {
	min := MaxWatermark
	maxIdle := MinWatermark
	open, active := 0, 0
	for i := range t.wm {
		if t.ended[i] {
			continue
		}
		open++
		if t.idle[i] {
			maxIdle = max(maxIdle, t.wm[i])
			continue
		}
		active++
		if t.wm[i] < min {
			min = t.wm[i]
		}
	}
	if open > 0 && active == 0 {
		if maxIdle > t.current {
			t.current = maxIdle
			return maxIdle, true, true
		}
		return t.current, false, true
	}
	if min > t.current {
		t.current = min
		return min, true, false
	}
	return t.current, false, false
}
