package window

// Session timers. Every open session has a timer (see session.timer), and
// at a million keys nearly every row opens a session, so timers are pushed
// and taken at the rate of rows. A binary heap costs O(log n) cache misses
// per push and per pop; the watermark only moves forward and takes the
// timers behind it in bulk, so timers are kept instead in a ring of time
// slots (a hashed timing wheel): pushing appends to the slot of the time,
// and a watermark takes whole slots. Only the slot the watermark is in is
// ordered (a small heap, near), and timers beyond the ring's reach (a
// session far ahead of the watermark, a long allowed lateness) wait in a
// heap (far) until the ring comes round to them.

// wheelSlots is the number of slots of the ring, a power of two. A slot
// spans a power-of-two number of milliseconds chosen so that the ring
// reaches twice the gap plus the allowed lateness ahead of the watermark.
const wheelSlots = 1024

// timer asks to look at session sid when the watermark reaches at. A timer
// whose session is gone, or has armed another time, is stale and ignored
// (see sessionOp.advance).
type timer struct {
	at  int64
	sid int32
}

func (t timer) before(u timer) bool { return t.at < u.at || t.at == u.at && t.sid < u.sid }

// timerHeap is a binary min-heap of timers by time, then session: a total
// order, so that timers come out of it in the same order whatever order
// they went in (a restored operator fires as the original would).
type timerHeap []timer

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(s[p]) {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	t := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return t
}

func (h timerHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			m = r
		}
		if !h[m].before(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h timerHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// timerWheel holds timers by time. Every timer it holds is later than
// done, the time up to which timers have been taken. A timer in the slot
// unit of done (unit: time >> shift) is in near, one in the next
// wheelSlots-1 units in the ring slot of its unit, a later one in far.
type timerWheel struct {
	shift uint
	slots [][]timer
	done  int64
	near  timerHeap
	far   timerHeap
	n     int
}

// newTimerWheel returns a wheel for timers up to about span ms ahead of
// the watermark (later ones work, through the far heap), with nothing
// taken yet (done: MinWatermark).
func newTimerWheel(span int64, done int64) timerWheel {
	var shift uint
	for shift < 40 && int64(wheelSlots)<<shift < 2*span {
		shift++
	}
	return timerWheel{shift: shift, slots: make([][]timer, wheelSlots), done: done}
}

// len is the number of timers held, stale ones included.
func (w *timerWheel) len() int { return w.n }

// push adds a timer, which must be later than done to be taken at its
// time (an earlier one is taken by the next expire).
func (w *timerWheel) push(t timer) {
	w.n++
	d := uint64(t.at>>w.shift) - uint64(w.done>>w.shift)
	switch {
	case d == 0:
		w.near.push(t)
	case d < wheelSlots:
		s := &w.slots[(t.at>>w.shift)&(wheelSlots-1)]
		*s = append(*s, t)
	default:
		w.far.push(t)
	}
}

// expire takes the timers at or before wm, appends them to dst and
// returns it, and moves done to wm. Timers pushed while the caller handles
// them must be later than wm.
func (w *timerWheel) expire(wm int64, dst []timer) []timer {
	if wm <= w.done {
		return dst
	}
	before := len(dst)
	for len(w.near) > 0 && w.near[0].at <= wm {
		dst = append(dst, w.near.pop())
	}
	cur, to := w.done>>w.shift, wm>>w.shift
	w.done = wm
	if cur == to {
		w.n -= len(dst) - before
		return dst
	}
	// near is empty: its timers were all in unit cur, before wm.
	if d := uint64(to) - uint64(cur); d >= wheelSlots {
		// The ring lies wholly behind wm.
		for u := cur + 1; u != cur+wheelSlots; u++ {
			dst = w.take(u, dst)
		}
	} else {
		for u := cur + 1; u != to; u++ {
			dst = w.take(u, dst)
		}
		// The slot of wm: what is due, and the rest into near.
		s := &w.slots[to&(wheelSlots-1)]
		for _, t := range *s {
			if t.at <= wm {
				dst = append(dst, t)
			} else {
				w.near = append(w.near, t)
			}
		}
		*s = (*s)[:0]
		w.near.init()
	}
	for len(w.far) > 0 && w.far[0].at <= wm {
		dst = append(dst, w.far.pop())
	}
	// Timers the ring now reaches.
	for len(w.far) > 0 {
		t := w.far[0]
		d := uint64(t.at>>w.shift) - uint64(to)
		if d >= wheelSlots {
			break
		}
		w.far.pop()
		if d == 0 {
			w.near.push(t)
		} else {
			s := &w.slots[(t.at>>w.shift)&(wheelSlots-1)]
			*s = append(*s, t)
		}
	}
	w.n -= len(dst) - before
	return dst
}

// take appends the timers of the slot of unit u to dst and empties it.
func (w *timerWheel) take(u int64, dst []timer) []timer {
	s := &w.slots[u&(wheelSlots-1)]
	if len(*s) > 0 {
		dst = append(dst, *s...)
		*s = (*s)[:0]
	}
	return dst
}

// each calls f with every timer in the order expire would take them, as
// far as it is fixed: near by time, the ring slot by slot in the order
// pushed, far by time. Pushing them in this order into a wheel with the
// same done rebuilds the same wheel.
func (w *timerWheel) each(f func(timer)) {
	near := append(timerHeap(nil), w.near...)
	for len(near) > 0 {
		f(near.pop())
	}
	cur := w.done >> w.shift
	for u := cur + 1; u != cur+wheelSlots; u++ {
		for _, t := range w.slots[u&(wheelSlots-1)] {
			f(t)
		}
	}
	far := append(timerHeap(nil), w.far...)
	for len(far) > 0 {
		f(far.pop())
	}
}

// min returns the earliest time of a timer held (stale ones included), or
// noTimer.
func (w *timerWheel) min() int64 {
	if len(w.near) > 0 {
		return w.near[0].at
	}
	cur := w.done >> w.shift
	for u := cur + 1; u != cur+wheelSlots; u++ {
		if s := w.slots[u&(wheelSlots-1)]; len(s) > 0 {
			m := s[0].at
			for _, t := range s[1:] {
				m = min(m, t.at)
			}
			return m
		}
	}
	if len(w.far) > 0 {
		return w.far[0].at
	}
	return noTimer
}

// bytes estimates the wheel's memory.
func (w *timerWheel) bytes() int {
	n := 24*len(w.slots) + 16*(cap(w.near)+cap(w.far))
	for _, s := range w.slots {
		n += 16 * cap(s)
	}
	return n
}
