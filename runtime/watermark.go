package runtime

import (
	"fmt"
	"time"
)

// The range of sane event times: the years 0001 to 9999 (UTC), in epoch
// milliseconds. Sources reject rows outside it as bad records; the
// watermark ignores such times and window operators drop such rows as late,
// so that no window arithmetic can overflow.
const (
	MinEventTime int64 = -62135596800000 // 0001-01-01 00:00:00.000
	MaxEventTime int64 = 253402300799999 // 9999-12-31 23:59:59.999
)

// SaneEventTime reports whether ts is within [MinEventTime, MaxEventTime].
func SaneEventTime(ts int64) bool { return ts >= MinEventTime && ts <= MaxEventTime }

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
	// Times outside the sane range never drive the watermark (the sources
	// reject them; this guards any other producer).
	if b.Sel == nil && v.Null == nil {
		for _, t := range v.I64[:n] {
			if t > m && t <= MaxEventTime {
				m = t
			}
		}
	} else {
		for i := 0; i < n; i++ {
			if r := b.Row(i); !v.IsNull(r) && v.I64[r] > m && v.I64[r] <= MaxEventTime {
				m = v.I64[r]
			}
		}
	}
	if m < MinEventTime {
		m = p.max
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

// LateLogEvery is the least time between two lines of one LateLog.
var LateLogEvery = 10 * time.Second

// LateLog tells the user about the rows an operator subtask drops as late
// (besides counting them in OperatorMetrics.LateRowsDropped): the first drop
// at once, then at most once per LateLogEvery, each line with the count so
// far, through the subtask's logger; Close tells the final count if it was
// not told yet. It is owned by the subtask's goroutine.
type LateLog struct {
	total  int64
	told   int64 // total at the last line
	last   time.Time
	latest int64 // time of the last row dropped with a time
	known  bool  // latest is set
	wm     int64
}

// Dropped records n rows dropped as late at watermark wm, the last of them
// at event time latest (MinWatermark when unknown, e.g. a NULL time), and
// writes a line when one is due.
func (l *LateLog) Dropped(ctx *Context, n int, latest, wm int64) {
	if n <= 0 {
		return
	}
	l.total += int64(n)
	if latest != MinWatermark {
		l.latest, l.known = latest, true
	}
	l.wm = wm
	if now := time.Now(); l.last.IsZero() || now.Sub(l.last) >= LateLogEvery {
		l.last = now
		l.write(ctx, "so far")
	}
}

// Close writes the final count when the last line did not tell it.
func (l *LateLog) Close(ctx *Context) {
	if l.total > l.told {
		l.write(ctx, "in all")
	}
}

// Total is the number of rows dropped so far.
func (l *LateLog) Total() int64 { return l.total }

func (l *LateLog) write(ctx *Context, when string) {
	l.told = l.total
	who := "operator"
	if ctx != nil {
		who = ctx.Operator
		if ctx.Parallelism > 1 {
			who = fmt.Sprintf("%s (subtask %d)", ctx.Operator, ctx.Subtask)
		}
	}
	detail := ""
	switch {
	case !SaneEventTime(l.wm):
	case l.known && SaneEventTime(l.latest):
		detail = fmt.Sprintf(" (latest %s behind watermark %s)", FormatTimestamp(l.latest), FormatTimestamp(l.wm))
	default:
		detail = fmt.Sprintf(" (watermark %s)", FormatTimestamp(l.wm))
	}
	log := DefaultLogger()
	if ctx != nil {
		log = ctx.Logger()
	}
	log.Warn(fmt.Sprintf("%s: %d late rows dropped %s%s", who, l.total, when, detail))
}
