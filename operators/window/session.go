package window

import (
	"unsafe"

	"math"
	"slices"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// session is one open session of a key: [start, end) where end is the last
// row's time plus the gap. Sessions live in one flat array indexed by
// session id, which is also the id of the session's accumulators; the
// sessions of a key form a list sorted by start (first, next), nearly
// always of one.
type session struct {
	start, end int64
	// timer is the time of the session's armed timer (noTimer: none). A
	// session has at most one live timer: at end-1 until it fires, then at
	// end-1+lateness for its cleanup. Growing a session does not push a new
	// timer; the armed one re-arms itself when it finds the end has moved.
	timer int64
	key   int32 // -1: the id is free
	next  int32 // the key's next session by start, +1 (0: none)
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
// Key ids index first; when most keys have no session left, the key table is
// compacted to the live ones (compactKeys), so state follows the open
// sessions, not every key ever seen. Timers are in a timer wheel
// (session_timers.go).
type sessionOp struct {
	common
	keys    *agg.Table
	first   []int32   // per key id: its first session by start, +1 (0: none)
	ss      sessions  // by session id
	accs    *agg.Accs // by session id
	cursor  int32     // where alloc looks for a free session id
	wheel   timerWheel
	expired []timer
	ids     []int32
	heads   []int32 // prefetch's scratch
	sink    int64   // what prefetch read, so that it is read
	pendRow []int32
	pendAcc []int32
	dirty   []int32 // sessions to emit again (skipped unless still dirty)
	lates   []int32
	// compactKeys' scratch: the live keys, in a batch of the key columns
	// and in one of the input's schema.
	kscratch, kbatch *runtime.Batch
	krows, remap     []int32
	// minCompact is the size of the key table up to which it is never
	// compacted (tests lower it after Open).
	minCompact int
	open       int // sessions
	nlive      int // keys with at least one session
}

func (o *sessionOp) Open(ctx *runtime.Context) error {
	o.keys = agg.NewTable(o.spec.In, o.spec.KeyCols)
	o.accs = agg.NewAccs(o.layout)
	o.wheel = newTimerWheel(o.spec.Window.Gap+o.lateness, runtime.MinWatermark)
	o.minCompact = 1024
	return o.common.Open(ctx)
}

// alloc returns a free session id with empty accumulators. Ids are handed
// out round the session array from cursor on, skipping those in use, so
// that sessions that begin together sit together in memory, and, as
// sessions mostly end in the order they began, so do those that fire
// together. The array grows when no more than a quarter of it is free,
// which keeps the search short.
func (o *sessionOp) alloc() int32 {
	if n := o.ss.len(); 4*(n-o.open) > n {
		for {
			sid := o.cursor
			if o.cursor++; int(o.cursor) == n {
				o.cursor = 0
			}
			if o.ss.at(sid).key < 0 {
				o.accs.Clear(sid)
				return sid
			}
		}
	}
	o.ss.add()
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
	if n, m := o.keys.Len(), len(o.first); n > m {
		o.first = append(o.first, make([]int32, n-m)...)
	}
	o.pendRow, o.pendAcc = o.pendRow[:0], o.pendAcc[:0]
	o.prefetch()
	times := tv.I64
	for k, r := range all {
		key := o.ids[k]
		lo := times[r]
		hi := lo + gap
		if h := o.first[key]; h != 0 {
			// The common case: a row that falls in its key's only session,
			// which has not fired.
			if s := o.ss.at(h - 1); s.next == 0 && !s.fired && s.start <= hi && s.end >= lo {
				s.start = min(s.start, lo)
				s.end = max(s.end, hi)
				o.pendRow = append(o.pendRow, r)
				o.pendAcc = append(o.pendAcc, h-1)
				continue
			}
		}
		sid, ok := o.place(b, key, lo, hi)
		if !ok {
			o.lates = append(o.lates, r)
			continue
		}
		o.pendRow = append(o.pendRow, r)
		o.pendAcc = append(o.pendAcc, sid)
	}
	o.flushPending(b)
	o.dropLate(b, o.lates)
	for _, sid := range o.dirty {
		if s := o.ss.at(sid); s.dirty && s.key >= 0 {
			s.dirty = false
			if err := o.emitRow(o.keys, o.accs, s.key, sid, s.start, s.end, out); err != nil {
				return err
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

// prefetch reads the first session of each row's key before any row is
// placed. At many keys each of those reads misses the caches; here they do
// not depend on one another, so the memory system serves many at once,
// and placing the rows then finds them in the cache.
func (o *sessionOp) prefetch() {
	heads := o.heads[:0]
	for _, key := range o.ids {
		heads = append(heads, o.first[key])
	}
	o.heads = heads
	var sum int64
	for _, h := range heads {
		if h != 0 {
			sum += o.ss.at(h - 1).end
		}
	}
	o.sink = sum
}

// place puts a row at lo of key into its session, which it opens, grows
// or merges with others, and returns the session's id; ok is false for a
// row too late for any session.
func (o *sessionOp) place(b *runtime.Batch, key int32, lo, hi int64) (sid int32, ok bool) {
	// The first session that intersects [lo, hi] (inclusive bounds), and
	// the one before it.
	prev, cur := int32(-1), o.first[key]-1
	for cur >= 0 {
		s := o.ss.at(cur)
		if s.start <= hi && s.end >= lo {
			break
		}
		if s.start > hi {
			cur = -1 // sessions are sorted by start: none intersects
			break
		}
		prev, cur = cur, s.next-1
	}
	if cur < 0 {
		if hi-1+o.lateness <= o.wm {
			return 0, false
		}
		sid := o.alloc()
		s := o.ss.at(sid)
		*s = session{start: lo, end: hi, key: key, timer: noTimer}
		if hi-1 <= o.wm {
			// Behind the watermark but within the allowed lateness:
			// the new session fires at once.
			s.fired, s.dirty = true, true
			o.dirty = append(o.dirty, sid)
		}
		// Link it after prev, or first, keeping the list sorted by start.
		at := &o.first[key]
		if prev >= 0 {
			at = &o.ss.at(prev).next
		}
		for *at != 0 && o.ss.at(*at-1).start < lo {
			at = &o.ss.at(*at - 1).next
		}
		if o.first[key] == 0 {
			o.nlive++
		}
		s.next, *at = *at, sid+1
		o.open++
		o.arm(sid, s)
		return sid, true
	}
	s := o.ss.at(cur)
	// Merge the following sessions that [lo, hi] reaches into s: they
	// start after s ends (sessions of a key never touch), so they
	// intersect [lo, hi] when they start by hi.
	for s.next != 0 && o.ss.at(s.next-1).start <= hi {
		m := s.next - 1
		ms := o.ss.at(m)
		o.flushPending(b)
		o.accs.Merge(cur, o.accs, m)
		s.end = max(s.end, ms.end)
		s.fired = s.fired || ms.fired
		if ms.dirty && !s.dirty {
			s.dirty = true
			o.dirty = append(o.dirty, cur)
		}
		s.next = ms.next
		o.freeSession(m)
	}
	s.start = min(s.start, lo)
	s.end = max(s.end, hi)
	if s.fired {
		if s.end-1 > o.wm {
			// Grown past the watermark: it fires again at its new end.
			s.fired, s.dirty = false, false
		} else if !s.dirty {
			s.dirty = true
			o.dirty = append(o.dirty, cur)
		}
	}
	o.arm(cur, s)
	return cur, true
}

// freeSession frees session sid, unlinked from its key's list by the
// caller.
func (o *sessionOp) freeSession(sid int32) {
	o.ss.at(sid).key = -1
	o.open--
}

// arm makes sure the session has a timer no later than the one it needs:
// its end-1 until it fires, end-1+lateness (cleanup) afterwards.
func (o *sessionOp) arm(sid int32, s *session) {
	at := s.end - 1
	if s.fired {
		at += o.lateness
	}
	if at < s.timer {
		s.timer = at
		o.wheel.push(timer{at: at, sid: sid})
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
	o.expired = o.wheel.expire(wm, o.expired[:0])
	for _, t := range o.expired {
		s := o.ss.at(t.sid)
		if s.key < 0 || s.timer != t.at {
			continue // merged away, or re-armed since
		}
		s.timer = noTimer
		if !s.fired && s.end-1 <= wm {
			if err := o.emitRow(o.keys, o.accs, s.key, t.sid, s.start, s.end, out); err != nil {
				return err
			}
			s.fired = true
		}
		if s.fired && s.end-1+o.lateness <= wm {
			o.unlink(t.sid)
			o.freeSession(t.sid)
			continue
		}
		o.arm(t.sid, s) // it grew since the timer was armed
	}
	if err := o.account(o.open); err != nil {
		return err
	}
	if n := o.keys.Len(); n > o.minCompact && 2*o.nlive < n {
		o.compactKeys()
	}
	return o.flush(out)
}

// unlink takes session sid out of its key's list.
func (o *sessionOp) unlink(sid int32) {
	s := o.ss.at(sid)
	at := &o.first[s.key]
	for *at != sid+1 {
		at = &o.ss.at(*at - 1).next
	}
	*at = s.next
	if o.first[s.key] == 0 {
		o.nlive--
	}
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
	if o.spec.ProcTime && o.wheel.len() > 0 {
		o.armClock(o.wheel.min())
	}
}

// compactKeys drops the keys without sessions from the key table, so state
// stays bounded by the open sessions. It empties the table, keeping its
// memory (the table does not grow again from small each time), and looks
// up the live keys again in their order: the live key g becomes the number
// of live keys before it.
func (o *sessionOp) compactKeys() {
	in := o.spec.In
	if o.kscratch == nil {
		o.kscratch = &runtime.Batch{Cols: make([]runtime.Vector, len(o.spec.KeyCols))}
		for i, c := range o.spec.KeyCols {
			o.kscratch.Cols[i].Type = in.Fields[c].Type
		}
		o.kbatch = &runtime.Batch{Schema: in, Cols: make([]runtime.Vector, in.Len())}
		for i, f := range in.Fields {
			o.kbatch.Cols[i].Type = f.Type
		}
	}
	sc := o.kscratch
	sc.Reset()
	o.krows = o.krows[:0]
	o.remap = slices.Grow(o.remap[:0], len(o.first))[:len(o.first)]
	n := int32(0)
	for g, h := range o.first {
		if h == 0 {
			continue
		}
		// Table.Key writes key column i to Cols[i] of the scratch batch.
		o.keys.Key(int32(g), sc, 0)
		o.remap[g] = n
		o.first[n] = h
		o.krows = append(o.krows, n)
		n++
	}
	// The sessions' keys, in one pass over the sessions in memory order.
	for sid := int32(0); int(sid) < o.ss.len(); sid++ {
		if s := o.ss.at(sid); s.key >= 0 {
			s.key = o.remap[s.key]
		}
	}
	o.first = o.first[:n]
	sc.N = int(n)
	for i, c := range o.spec.KeyCols {
		o.kbatch.Cols[c] = sc.Cols[i]
	}
	o.kbatch.N = int(n)
	o.keys.Reset()
	// The keys are distinct: they get the ids 0..n-1 in turn.
	o.ids = o.keys.Lookup(o.kbatch, o.krows, o.ids)
}

// StateBytes estimates the memory held by session state.
func (o *sessionOp) StateBytes() int {
	return o.keys.Bytes() + o.accs.Bytes() + 4*cap(o.first) + o.ss.bytes() + o.wheel.bytes()
}

// freeIDs appends the free session ids to dst in the order alloc takes
// them, and returns dst.
func (o *sessionOp) freeIDs(dst []int32) []int32 {
	n := int32(o.ss.len())
	for i := int32(0); i < n; i++ {
		sid := o.cursor + i
		if sid >= n {
			sid -= n
		}
		if o.ss.at(sid).key < 0 {
			dst = append(dst, sid)
		}
	}
	return dst
}

// sessionPage is the number of sessions in a page of sessions, a power of
// two.
const sessionPage = 1 << 12

// sessions is an array of sessions by id, in pages of sessionPage: it
// grows without copying what it holds (at a million keys a copy moves
// tens of megabytes), and an id finds its session in two loads.
type sessions struct {
	pages []*[sessionPage]session
	n     int
}

// at returns session sid (sid < len()).
func (s *sessions) at(sid int32) *session {
	return &s.pages[uint32(sid)/sessionPage][uint32(sid)%sessionPage]
}

func (s *sessions) len() int { return s.n }

// add appends a free session and returns its id.
func (s *sessions) add() int32 {
	if s.n == len(s.pages)*sessionPage {
		s.pages = append(s.pages, new([sessionPage]session))
	}
	sid := int32(s.n)
	s.n++
	*s.at(sid) = session{key: -1}
	return sid
}

// bytes estimates the memory of the sessions.
func (s *sessions) bytes() int {
	return 8*cap(s.pages) + len(s.pages)*int(unsafe.Sizeof([sessionPage]session{}))
}
