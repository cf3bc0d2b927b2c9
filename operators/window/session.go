package window

import (
	"math"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// session is one open session of a key: [start, end) where end is the last
// row's time plus the gap.
type session struct {
	start, end int64
	// timer is the time of the session's armed timer (noTimer: none). A
	// session has at most one live timer: at end-1 until it fires, then at
	// end-1+lateness for its cleanup. Growing a session does not push a new
	// timer; the armed one re-arms itself when it finds the end has moved.
	timer int64
	acc   int32
	fired bool
	dirty bool
}

const noTimer = math.MaxInt64

// sessionOp aggregates session windows. A row at time t opens the window
// [t, t+gap); windows of one key that touch or overlap (bounds inclusive, as
// in Flink) merge, so a row exactly one gap after the last joins its session.
//
// As in Flink, a session fires when the watermark reaches end-1, so a row at
// exactly end that arrives after that (it is on time: later than the
// watermark) opens a new session unless the allowed lateness keeps the fired
// one, which it then joins and re-fires with.
//
// Key ids index sess; when most keys have no session left, the key table is
// rebuilt with the live ones (compactKeys), so state follows the open
// sessions, not every key ever seen.
type sessionOp struct {
	common
	keys    *agg.Table
	sess    [][]session // per key id, sorted by start
	accs    *agg.Accs
	free    []int32
	timers  timerHeap
	ids     []int32
	pendRow []int32
	pendAcc []int32
	dirty   []int32 // key ids with dirty sessions
	lates   []int32
	open    int // sessions
	live    int // keys with at least one session
}

// timer asks to look at the session acc of key at watermark at. A timer
// whose session is gone, or whose session has armed another time, is stale
// and ignored.
type timer struct {
	at  int64
	key int32
	acc int32
}

// timerHeap is a binary min-heap of timers by time.
type timerHeap []timer

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
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
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
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

func (o *sessionOp) Open(ctx *runtime.Context) error {
	o.keys = agg.NewTable(o.spec.In, o.spec.KeyCols)
	o.accs = agg.NewAccs(o.layout)
	return o.common.Open(ctx)
}

func (o *sessionOp) alloc() int32 {
	if n := len(o.free); n > 0 {
		a := o.free[n-1]
		o.free = o.free[:n-1]
		o.accs.Clear(a)
		return a
	}
	return o.accs.Add()
}

func (o *sessionOp) flushPending(b *runtime.Batch) {
	if len(o.pendRow) > 0 {
		o.accs.Update(b, o.pendRow, o.pendAcc)
		o.pendRow, o.pendAcc = o.pendRow[:0], o.pendAcc[:0]
	}
}

func (o *sessionOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	tv := o.timeCol(b)
	gap := o.spec.Window.Gap
	o.lates = o.lates[:0]
	// Key ids for every row with a time.
	all := o.rows[:0]
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) {
			// No session for a row without a sane time: dropped as late.
			o.lates = append(o.lates, int32(r))
			continue
		}
		all = append(all, int32(r))
	}
	o.rows = all
	o.ids = o.keys.Lookup(b, all, o.ids)
	for len(o.sess) < o.keys.Len() {
		o.sess = append(o.sess, nil)
	}
	o.pendRow, o.pendAcc = o.pendRow[:0], o.pendAcc[:0]
	for k, r := range all {
		key := o.ids[k]
		ts := tv.I64[r]
		lo, hi := ts, ts+gap
		list := o.sess[key]
		// Sessions intersecting [lo, hi] (inclusive bounds).
		first, n := -1, 0
		for j := range list {
			if list[j].start <= hi && list[j].end >= lo {
				if first < 0 {
					first = j
				}
				n++
			} else if first >= 0 {
				break
			}
		}
		if n == 0 {
			if hi-1+o.lateness <= o.wm {
				o.lates = append(o.lates, r)
				continue
			}
			s := session{start: lo, end: hi, acc: o.alloc(), timer: noTimer}
			if hi-1 <= o.wm {
				// Behind the watermark but within the allowed lateness:
				// the new session fires at once.
				s.fired, s.dirty = true, true
				o.dirty = append(o.dirty, key)
			}
			pos := len(list)
			for pos > 0 && list[pos-1].start > lo {
				pos--
			}
			list = append(list, session{})
			copy(list[pos+1:], list[pos:])
			list[pos] = s
			o.sess[key] = list
			if len(list) == 1 {
				o.live++
			}
			o.open++
			o.arm(key, &list[pos])
			o.pendRow = append(o.pendRow, r)
			o.pendAcc = append(o.pendAcc, s.acc)
			continue
		}
		s := &list[first]
		if n > 1 {
			// Merge sessions first+1 .. first+n-1 into first.
			o.flushPending(b)
			for j := first + 1; j < first+n; j++ {
				m := &list[j]
				o.accs.Merge(s.acc, o.accs, m.acc)
				o.free = append(o.free, m.acc)
				if m.end > s.end {
					s.end = m.end
				}
				s.fired = s.fired || m.fired
				s.dirty = s.dirty || m.dirty
			}
			list = append(list[:first+1], list[first+n:]...)
			o.sess[key] = list
			o.open -= n - 1
			s = &list[first]
		}
		if lo < s.start {
			s.start = lo
		}
		if hi > s.end {
			s.end = hi
		}
		if s.fired {
			if s.end-1 > o.wm {
				// Grown past the watermark: it fires again at its new end.
				s.fired, s.dirty = false, false
			} else if !s.dirty {
				s.dirty = true
				o.dirty = append(o.dirty, key)
			}
		}
		o.arm(key, s)
		o.pendRow = append(o.pendRow, r)
		o.pendAcc = append(o.pendAcc, s.acc)
	}
	o.flushPending(b)
	o.dropLate(b, o.lates)
	for _, key := range o.dirty {
		list := o.sess[key]
		for j := range list {
			if list[j].dirty {
				list[j].dirty = false
				if err := o.emitRow(o.keys, o.accs, key, list[j].acc, list[j].start, list[j].end, out); err != nil {
					return err
				}
			}
		}
	}
	o.dirty = o.dirty[:0]
	if err := o.account(o.open); err != nil {
		return err
	}
	if err := o.flush(out); err != nil {
		return err
	}
	o.armNext()
	return o.flushLate()
}

// arm makes sure the session has a timer no later than the one it needs:
// its end-1 until it fires, end-1+lateness (cleanup) afterwards.
func (o *sessionOp) arm(key int32, s *session) {
	at := s.end - 1
	if s.fired {
		at += o.lateness
	}
	if at < s.timer {
		s.timer = at
		o.timers.push(timer{at: at, key: key, acc: s.acc})
	}
}

func (o *sessionOp) ProcessWatermark(wm int64, out runtime.Output) error {
	if o.spec.ProcTime {
		return nil // processing-time sessions fire by the clock
	}
	return o.advance(wm, out)
}

// advance fires and frees the sessions that end by wm: the watermark, or
// for processing-time sessions the clock.
func (o *sessionOp) advance(wm int64, out runtime.Output) error {
	o.wm = wm
	for len(o.timers) > 0 && o.timers[0].at <= wm {
		t := o.timers.pop()
		list := o.sess[t.key]
		j := 0
		for j < len(list) && list[j].acc != t.acc {
			j++
		}
		if j == len(list) || list[j].timer != t.at {
			continue // merged away, or re-armed since
		}
		s := &list[j]
		s.timer = noTimer
		if !s.fired && s.end-1 <= wm {
			if err := o.emitRow(o.keys, o.accs, t.key, s.acc, s.start, s.end, out); err != nil {
				return err
			}
			s.fired = true
		}
		if s.fired && s.end-1+o.lateness <= wm {
			o.free = append(o.free, s.acc)
			o.sess[t.key] = append(list[:j], list[j+1:]...)
			o.open--
			if len(list) == 1 {
				o.live--
			}
			continue
		}
		o.arm(t.key, s) // it grew since the timer was armed
	}
	if err := o.account(o.open); err != nil {
		return err
	}
	if n := o.keys.Len(); n > 1024 && 2*o.live < n {
		o.compactKeys()
	}
	return o.flush(out)
}

// Finish fires what is left, should the input have ended without the final
// watermark.
func (o *sessionOp) Finish(out runtime.Output) error {
	if o.wm == runtime.MaxWatermark {
		return nil
	}
	return o.advance(runtime.MaxWatermark, out)
}

// OnProcessingTime fires the processing-time sessions that the clock has
// passed.
func (o *sessionOp) OnProcessingTime(_ int64, out runtime.Output) error {
	o.armed = noArm
	if now := o.now(); now > o.wm && o.wm != runtime.MaxWatermark {
		if err := o.advance(now, out); err != nil {
			return err
		}
	}
	o.armNext()
	return nil
}

// armNext asks for a processing-time timer at the earliest session end.
func (o *sessionOp) armNext() {
	if o.spec.ProcTime && len(o.timers) > 0 {
		o.armClock(o.timers[0].at)
	}
}

// compactKeys rebuilds the key table with only the keys that still have
// sessions, so state stays bounded by the open sessions.
func (o *sessionOp) compactKeys() {
	in := o.spec.In
	kb := &runtime.Batch{Schema: in, Cols: make([]runtime.Vector, in.Len())}
	for i, f := range in.Fields {
		kb.Cols[i].Type = f.Type
	}
	var old []int32
	for id, l := range o.sess {
		if len(l) == 0 {
			continue
		}
		// Table.Key writes key column c to Cols[first+c]: write into a
		// scratch batch with the key columns first, then move them.
		old = append(old, int32(id))
	}
	scratch := &runtime.Batch{Cols: make([]runtime.Vector, len(o.spec.KeyCols))}
	for i, c := range o.spec.KeyCols {
		scratch.Cols[i].Type = in.Fields[c].Type
	}
	for _, id := range old {
		o.keys.Key(id, scratch, 0)
		scratch.N++
	}
	for i, c := range o.spec.KeyCols {
		kb.Cols[c] = scratch.Cols[i]
	}
	kb.N = scratch.N
	rows := make([]int32, kb.N)
	for i := range rows {
		rows[i] = int32(i)
	}
	keys := agg.NewTable(in, o.spec.KeyCols)
	ids := keys.Lookup(kb, rows, nil)
	remap := make(map[int32]int32, len(old))
	sess := make([][]session, keys.Len())
	for i, id := range old {
		remap[id] = ids[i]
		sess[ids[i]] = o.sess[id]
	}
	kept := o.timers[:0]
	for _, t := range o.timers {
		if nid, ok := remap[t.key]; ok {
			t.key = nid
			kept = append(kept, t)
		}
	}
	o.timers = kept
	o.timers.init()
	o.keys, o.sess = keys, sess
}
