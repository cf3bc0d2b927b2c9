package window

import (
	"math"
	"slices"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// Stream slicing for hopping and cumulating windows (as Flink's window
// slicing, after the Scotty and Cutty papers). A row is aggregated once,
// into the slice of its slide (a hop's slide, a cumulating window's step;
// a valid window's size is a multiple of it), instead of once into each of
// the size/slide windows that hold it; a window fires by combining its
// slices.
//
// Keys get dense ids from one key table that every slice shares; a slice
// holds the accumulators of the keys it saw, and their key ids. Firing
// keeps one running accumulator per key id over a range of slices: a hop
// over counts, exact sums, MIN and MAX (agg.Layout.Subtractable) adds the
// newest slice and takes the oldest back out, two merges per key and
// slice, merging a key afresh from its slices only when the slice taken
// out held its MIN or MAX; a cumulating window only ever adds the next
// slice of its period; a hop over other aggregates (DOUBLE sums, DISTINCT,
// the variances) merges its slices afresh, still one update per row rather
// than size/slide. A slice is freed when the last window holding it has
// fired and its allowed lateness has passed; key ids that no live slice
// holds are reclaimed now and then by compacting the key table.
//
// Results are those of one pane per window (alignedOp), which the
// aggregates whose result depends on the arrival order across slices
// (FIRST_VALUE, LAST_VALUE, LISTAGG) keep using; DOUBLE sums may differ in
// their last bits, being added in another order. Spec.MaxGroups counts the
// (key, slice) groups held.

// slice is the state of one slide of event time [start, start+slide).
type slice struct {
	start int64
	accs  *agg.Accs
	kids  []int32 // key id of each group
	// A map from key id to group, built when first needed (a row for a
	// slice other than the latest, a late row's re-fire): group+1 per
	// slot, 0 empty.
	m     []int32
	shift uint8 // 64 - log2(len(m))
	// tab is the index of the locTab bound to the slice, -1 if none;
	// binds, how many times one was: after maxBinds, the slice finds its
	// groups through its map.
	tab   int8
	binds uint8
	// reserved is the number of groups the accumulators and kids have
	// room for.
	reserved int
}

// reserve makes room for the groups of s and at least want, by half as
// many again as it had when they have outgrown it, so that a slice growing
// batch by batch copies its accumulators a few times, not at every batch.
func (s *slice) reserve(want int) {
	need := max(len(s.kids), want)
	if need <= s.reserved {
		return
	}
	n := max(s.reserved+s.reserved/2, need)
	s.accs.Reserve(n)
	s.kids = slices.Grow(s.kids, n-len(s.kids))
	s.reserved = n
}

// maxTabs is how many slices at once find their keys' groups by key id (a
// locTab each) rather than through a map: the slice the rows of an input
// are in and the one before it (rows up to a slide out of order), for two
// inputs whose event times differ by more than a slide (source subtasks
// tens of slides apart).
const maxTabs = 4

// maxBinds is how many times a slice may have a locTab bound to it (each
// costs a pass over its groups): inputs that take turns for a while leave
// a slice and come back to it.
const maxBinds = 3

// locTab binds a per-key-id array to slice s: the group of each key id in
// s if the key has one there, else anything — a group g is the key's when
// s.kids[g] is its id.
type locTab struct {
	s    *slice
	loc  []int32
	used uint64 // when last used, by slicedOp.tick
}

// slot is where key id kid's search starts: the top bits of a
// multiplicative hash (Fibonacci hashing).
func (s *slice) slot(kid int32) int {
	return int((uint64(uint32(kid)) * 0x9E3779B97F4A7C15) >> s.shift)
}

// find returns the group of key id kid.
func (s *slice) find(kid int32) (int32, bool) {
	if s.m == nil {
		s.buildMap()
	}
	mask := len(s.m) - 1
	for i := s.slot(kid); ; i = (i + 1) & mask {
		g := s.m[i] - 1
		if g < 0 {
			return 0, false
		}
		if s.kids[g] == kid {
			return g, true
		}
	}
}

// add appends a group for key id kid and returns it.
func (s *slice) add(kid int32) int32 {
	g := int32(len(s.kids))
	s.kids = append(s.kids, kid)
	if s.m != nil {
		if 2*len(s.kids) > len(s.m) {
			s.buildMap()
		} else {
			s.put(kid, g)
		}
	}
	return g
}

func (s *slice) buildMap() {
	s.emptyMap()
	for g, kid := range s.kids {
		s.put(kid, int32(g))
	}
}

// emptyMap makes an empty map for the groups of s.
func (s *slice) emptyMap() {
	size, shift := 16, uint8(60)
	for size < 2*len(s.kids)+2 {
		size, shift = size*2, shift-1
	}
	s.m, s.shift = make([]int32, size), shift
}

func (s *slice) put(kid, g int32) {
	mask := len(s.m) - 1
	i := s.slot(kid)
	for s.m[i] != 0 {
		i = (i + 1) & mask
	}
	s.m[i] = g + 1
}

func (s *slice) bytes() int {
	return s.accs.Bytes() + cap(s.kids)*4 + cap(s.m)*4
}

// dirtyWin is a fired window that late rows updated: the key ids to
// re-fire, in the order they were updated.
type dirtyWin struct {
	kids []int32
	seen map[int32]struct{}
}

// slicedOp aggregates hopping and cumulating windows by slices.
type slicedOp struct {
	common
	slide int64
	// invertible: a hop whose aggregates the running accumulators can
	// take a slice back out of (agg.Layout.Subtractable); a key whose MIN
	// or MAX that may change (stale) is merged afresh from its slices.
	invertible bool
	stale      []int32
	inRange    []*slice
	keys       *agg.Table
	// Key id to group arrays bound to some of the newest slices (at most
	// maxTabs), so that their rows find their groups without a map; the
	// other slices build one when first needed.
	tabs []locTab
	tick uint64
	// Per key id: how many slices of the running range hold it.
	runN    []int32
	slices  map[int64]*slice // by start
	order   []*slice         // by start
	last    *slice
	free    []*slice // freed slices, with their room, for the next to be made
	entries int      // (key, slice) groups held
	// The running accumulators, by key id: the merge of the live slices
	// whose start is in [lo, hi), valid when runOK.
	run       *agg.Accs
	lo, hi    int64
	runOK     bool
	scratch   *agg.Accs // one group: a window of one key, merged from slices
	compactAt int
	dirty     map[int64]*dirtyWin // by window end
	ends      []int64
	nrows     []int32
	starts    []int64 // of the slice of each of nrows
	kg        []int32
	lates     []int32
	// panes runs the windows restored from a snapshot of panes (written
	// before windows were sliced) until they have all been freed.
	panes *alignedOp
}

const minCompact = 4096

func newSlicedOp(c common) *slicedOp {
	o := &slicedOp{common: c, slide: c.spec.Window.Slide, invertible: c.layout.Subtractable() && c.spec.Window.Kind == Hopping}
	o.common.sliced = true
	o.resetKeys()
	o.slices = make(map[int64]*slice)
	o.scratch = agg.NewAccs(o.layout)
	return o
}

// sliceable reports whether the windows of spec can be sliced: hops of
// more than one slide, cumulating windows of more than one step, over
// aggregates whose result does not depend on the arrival order of rows in
// different slices.
func sliceable(spec Spec) bool {
	w := spec.Window
	if w.Kind != Hopping && w.Kind != Cumulating || w.Size == w.Slide || spec.panes {
		return false
	}
	for _, a := range spec.Aggs {
		switch a.Func {
		case agg.FirstValue, agg.LastValue, agg.ListAgg:
			return false
		}
	}
	return true
}

// resetKeys forgets every key id.
func (o *slicedOp) resetKeys() {
	o.keys = agg.NewTable(o.spec.In, o.spec.KeyCols)
	for i := range o.tabs {
		if s := o.tabs[i].s; s != nil {
			s.tab = -1
		}
	}
	o.tabs, o.runN = nil, nil
	o.run = agg.NewAccs(o.layout)
	o.runOK = false
	o.compactAt = minCompact
}

// windowEnds returns the ends of the first and last windows holding the
// slice that starts at ss.
func (o *slicedOp) windowEnds(ss int64) (first, last int64) {
	w := o.spec.Window
	if w.Kind == Cumulating {
		return ss + w.Slide, ss - floorMod(ss-w.Offset, w.Size) + w.Size
	}
	return ss + w.Slide, ss + w.Size
}

// windowStart returns the start of the window ending at end.
func (o *slicedOp) windowStart(end int64) int64 {
	w := o.spec.Window
	if w.Kind == Cumulating {
		return end - 1 - floorMod(end-1-w.Offset, w.Size)
	}
	return end - w.Size
}

// slice returns the slice starting at ss, made if need be.
func (o *slicedOp) slice(ss int64) *slice {
	if o.last != nil && o.last.start == ss {
		return o.last
	}
	s := o.slices[ss]
	if s == nil {
		if n := len(o.free); n > 0 {
			s = o.free[n-1]
			o.free = o.free[:n-1]
		} else {
			s = &slice{accs: agg.NewAccs(o.layout), tab: -1}
		}
		if s.reserved == 0 {
			// Likely about as many groups as the fullest slice (the
			// latest may not have all of its own yet). A freed slice
			// keeps the room it had.
			most := 0
			for _, x := range o.order {
				most = max(most, len(x.kids))
			}
			s.reserve(most + most/8)
		}
		s.start = ss
		o.slices[ss] = s
		i := len(o.order)
		for i > 0 && o.order[i-1].start > ss {
			i--
		}
		o.order = slices.Insert(o.order, i, s)
	}
	o.last = s
	return s
}

// growKeys extends the per-key arrays to every key id.
func (o *slicedOp) growKeys() {
	n := o.keys.Len()
	if len(o.runN) < n {
		o.runN = append(o.runN, make([]int32, n-len(o.runN))...)
	}
	for i := range o.tabs {
		if t := &o.tabs[i]; len(t.loc) < n {
			t.loc = append(t.loc, make([]int32, n-len(t.loc))...)
		}
	}
}

// locOf returns the key id to group array of s, binding one to it unless
// it has had its maxBinds (then nil: s uses its map).
func (o *slicedOp) locOf(s *slice) []int32 {
	o.tick++
	if s.tab >= 0 {
		t := &o.tabs[s.tab]
		t.used = o.tick
		return t.loc
	}
	if s.binds >= maxBinds {
		return nil
	}
	// A free array, a new one, or that of the slice used least recently:
	// rows that go back and forth between more slices than there are
	// arrays fill each slice's a few times, then use its map.
	at := -1
	for i := range o.tabs {
		if o.tabs[i].s == nil {
			at = i
			break
		}
		if at < 0 || o.tabs[i].used < o.tabs[at].used {
			at = i
		}
	}
	if len(o.tabs) < maxTabs && (at < 0 || o.tabs[at].s != nil) {
		o.tabs = append(o.tabs, locTab{loc: make([]int32, o.keys.Len())})
		at = len(o.tabs) - 1
	}
	t := &o.tabs[at]
	if t.s != nil {
		t.s.tab = -1
	}
	t.s, t.used, s.tab = s, o.tick, int8(at)
	s.binds++
	t.fill()
	return t.loc
}

// fill points the array of t at the groups of its slice.
func (t *locTab) fill() {
	for g, kid := range t.s.kids {
		t.loc[kid] = int32(g)
	}
}

// newEntry adds a group for key id kid to s.
func (o *slicedOp) newEntry(s *slice, kid int32, inRun bool) int32 {
	o.entries++
	if inRun {
		o.joinRun(kid)
	}
	return s.add(kid)
}

// joinRun counts one more slice of the running range holding kid.
func (o *slicedOp) joinRun(kid int32) {
	if o.runN[kid] == 0 {
		o.run.Grow(int(kid) + 1)
		o.run.Clear(kid)
	}
	o.runN[kid]++
}

func (o *slicedOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	if o.panes != nil {
		return o.panes.ProcessBatch(0, b, out)
	}
	tv := o.timeCol(b)
	w := o.spec.Window
	n := b.Len()
	// The rows of open slices, each with its slice's start, and the late
	// ones; then their key ids, in one lookup.
	o.lates, o.nrows, o.starts = o.lates[:0], o.nrows[:0], o.starts[:0]
	closed := int64(math.MinInt64) // a slice start known to be closed
	// The slice of the row before, [ss, ss+slide), and whether it is
	// closed: rows mostly follow in order, so most need no division.
	ss, se, late := int64(math.MaxInt64), int64(math.MinInt64), false
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if tv.IsNull(r) || !runtime.SaneEventTime(tv.I64[r]) {
			o.lates = append(o.lates, int32(r))
			continue
		}
		if ts := tv.I64[r]; ts < ss || ts >= se {
			ss = ts - floorMod(ts-w.Offset, w.Slide)
			se = ss + w.Slide
			late = ss <= closed
			if _, le := o.windowEnds(ss); !late && le-1+o.lateness <= o.wm {
				closed = ss // every window of the slice is closed, and of those before
				late = true
			}
		}
		if late {
			o.lates = append(o.lates, int32(r))
			continue
		}
		o.nrows = append(o.nrows, int32(r))
		o.starts = append(o.starts, ss)
	}
	if len(o.nrows) > 0 {
		o.kg = o.keys.Lookup(b, o.nrows, o.kg)
		o.growKeys()
	}
	// Runs of rows in one slice.
	for i := 0; i < len(o.nrows); {
		ss := o.starts[i]
		j := i + 1
		for j < len(o.nrows) && o.starts[j] == ss {
			j++
		}
		rows, kg := o.nrows[i:j], o.kg[i:j]
		i = j
		fe, le := o.windowEnds(ss)
		s := o.slice(ss)
		inRun := o.runOK && ss >= o.lo && ss < o.hi
		loc := o.locOf(s)
		o.groups = slices.Grow(o.groups[:0], len(kg))[:len(kg)]
		for x, kid := range kg {
			var g int32
			if loc != nil {
				// The key's group in the slice, or none there.
				if g = loc[kid]; int(g) >= len(s.kids) || s.kids[g] != kid {
					g = o.newEntry(s, kid, inRun)
					loc[kid] = g
				}
			} else {
				var ok bool
				if g, ok = s.find(kid); !ok {
					g = o.newEntry(s, kid, inRun)
				}
			}
			o.groups[x] = g
		}
		s.reserve(0)
		s.accs.Grow(len(s.kids))
		s.accs.Update(b, rows, o.groups)
		if inRun {
			o.run.Grow(o.keys.Len())
			o.run.Update(b, rows, kg)
		}
		// Windows of the slice that have fired re-fire the keys updated,
		// those first seen after the watermark passed their end (within
		// the allowed lateness) fire them at once.
		for e := fe; e <= le && e-1 <= o.wm; e += w.Slide {
			if e-1+o.lateness > o.wm {
				o.markDirty(e, kg)
			}
		}
	}
	o.dropLate(b, o.lates)
	if err := o.refire(out); err != nil {
		return err
	}
	if err := o.account(o.entries); err != nil {
		return err
	}
	if err := o.flush(out); err != nil {
		return err
	}
	o.armNext()
	return o.flushLate()
}

func (o *slicedOp) markDirty(end int64, kids []int32) {
	if o.dirty == nil {
		o.dirty = make(map[int64]*dirtyWin)
	}
	d := o.dirty[end]
	if d == nil {
		d = &dirtyWin{seen: make(map[int32]struct{})}
		o.dirty[end] = d
	}
	for _, kid := range kids {
		if _, ok := d.seen[kid]; !ok {
			d.seen[kid] = struct{}{}
			d.kids = append(d.kids, kid)
		}
	}
}

// refire emits the keys of the windows late rows updated, windows by end.
func (o *slicedOp) refire(out runtime.Output) error {
	if len(o.dirty) == 0 {
		return nil
	}
	o.ends = o.ends[:0]
	for e := range o.dirty {
		o.ends = append(o.ends, e)
	}
	slices.Sort(o.ends)
	for _, e := range o.ends {
		for _, kid := range o.dirty[e].kids {
			if err := o.emitFromSlices(kid, o.windowStart(e), e, out); err != nil {
				return err
			}
		}
		delete(o.dirty, e)
	}
	return nil
}

// emitFromSlices emits the window [start, end) of key id kid, merged from
// its slices.
func (o *slicedOp) emitFromSlices(kid int32, start, end int64, out runtime.Output) error {
	sc := o.scratch
	sc.Reset()
	sc.Add()
	for ss := start; ss < end; ss += o.slide {
		if s := o.slices[ss]; s != nil {
			if g, ok := s.find(kid); ok {
				sc.Merge(0, s.accs, g)
			}
		}
	}
	return o.emitRow(o.keys, sc, kid, 0, start, end, out)
}

func (o *slicedOp) ProcessWatermark(wm int64, out runtime.Output) error {
	if o.spec.ProcTime {
		return nil
	}
	if o.panes != nil {
		return o.paneDo(func() error { return o.panes.ProcessWatermark(wm, out) })
	}
	return o.advance(wm, out)
}

// paneDo runs f on the restored panes, and goes over to slices once they
// are all freed.
func (o *slicedOp) paneDo(f func() error) error {
	err := f()
	if p := o.panes; err == nil && len(p.order) == 0 {
		o.wm = p.wm
		p.Close()
		o.panes = nil
		o.armNext()
	}
	return err
}

// advance fires the windows that end by wm (the watermark, or for
// processing-time windows the clock), in order of end, and frees the
// slices no open window holds.
func (o *slicedOp) advance(wm int64, out runtime.Output) error {
	prev := o.wm
	o.wm = wm
	next := int64(math.MinInt64) // the least end not fired yet in this pass
	for i := 0; i < len(o.order) && prev != runtime.MaxWatermark; i++ {
		fe, le := o.windowEnds(o.order[i].start)
		if le-1 <= prev {
			continue // every window of the slice was due before
		}
		e := fe
		if e-1 <= prev {
			e += ((prev-(e-1))/o.slide + 1) * o.slide
		}
		e = max(e, next)
		for ; e <= le && e-1 <= wm; e += o.slide {
			if err := o.fire(e, out); err != nil {
				return err
			}
			next = e + o.slide
		}
	}
	keep := o.order[:0]
	for _, s := range o.order {
		if _, le := o.windowEnds(s.start); le-1+o.lateness <= wm {
			o.release(s)
			continue
		}
		keep = append(keep, s)
	}
	clear(o.order[len(keep):])
	o.order = keep
	if len(o.order) == 0 {
		if o.keys.Len() > 0 {
			o.resetKeys()
		}
	} else if o.keys.Len() >= o.compactAt {
		o.compact()
	}
	if err := o.account(o.entries); err != nil {
		return err
	}
	return o.flush(out)
}

// fire emits the window ending at end: one row per key.
func (o *slicedOp) fire(end int64, out runtime.Output) error {
	start := o.windowStart(end)
	switch {
	case o.spec.Window.Kind == Cumulating:
		if !o.runOK || o.lo != start || o.hi > end {
			o.resetRun(start)
		}
	case !o.invertible || !o.runOK || start < o.lo || start >= o.hi:
		o.resetRun(start)
	}
	for ; o.hi < end; o.hi += o.slide {
		if s := o.slices[o.hi]; s != nil {
			o.addToRun(s)
		}
	}
	for ; o.lo < start; o.lo += o.slide {
		if s := o.slices[o.lo]; s != nil {
			o.subFromRun(s)
		}
	}
	return o.emitRun(start, end, out)
}

// emitRun emits the running accumulators of the keys in the window
// [start, end), by key id: a run of consecutive key ids at a time where
// the accumulators allow it (agg.Accs.EmitRange), else row by row.
func (o *slicedOp) emitRun(start, end int64, out runtime.Output) error {
	n := int32(len(o.runN))
	for kid := int32(0); kid < n; {
		if o.runN[kid] <= 0 {
			kid++
			continue
		}
		room := int32(runtime.DefaultBatchRows - o.outb.N)
		to := kid + 1
		for to < n && to-kid < room && o.runN[to] > 0 {
			to++
		}
		if room > 0 {
			ok, err := o.emitRange(o.keys, o.run, kid, to, start, end, out)
			if err != nil {
				return err
			}
			if ok {
				kid = to
				continue
			}
		}
		for ; kid < to; kid++ {
			var err error
			if o.run.Check(kid) != nil {
				// An integer sum overflowed on the way (a running
				// sum may leave the range and come back): the
				// window's own.
				err = o.emitFromSlices(kid, start, end, out)
			} else {
				err = o.emitRow(o.keys, o.run, kid, kid, start, end, out)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// resetRun empties the running range, to start at start.
func (o *slicedOp) resetRun(start int64) {
	clear(o.runN)
	o.lo, o.hi, o.runOK = start, start, true
}

func (o *slicedOp) addToRun(s *slice) {
	o.run.Grow(o.keys.Len())
	for _, kid := range s.kids {
		o.joinRun(kid)
	}
	o.run.MergeGroups(s.kids, s.accs)
}

func (o *slicedOp) subFromRun(s *slice) {
	o.stale = o.run.UnmergeGroups(s.kids, s.accs, o.stale)
	for _, kid := range s.kids {
		o.runN[kid]--
	}
	if len(o.stale) == 0 {
		return
	}
	// The other slices of the range.
	o.inRange = o.inRange[:0]
	for ss := o.lo; ss < o.hi; ss += o.slide {
		if x := o.slices[ss]; x != nil && x != s {
			o.inRange = append(o.inRange, x)
		}
	}
	if 4*len(o.stale) > len(s.kids) {
		// Many keys had their extreme in s (MIN or MAX over few distinct
		// values): merging the range afresh costs less than looking each
		// key up in every slice.
		clear(o.runN)
		for _, x := range o.inRange {
			o.addToRun(x)
		}
	} else {
		for _, kid := range o.stale {
			if o.runN[kid] == 0 {
				continue
			}
			o.run.Clear(kid)
			for _, x := range o.inRange {
				if g, ok := x.find(kid); ok {
					o.run.Merge(kid, x.accs, g)
				}
			}
		}
	}
	o.stale = o.stale[:0]
}

// release frees slice s.
func (o *slicedOp) release(s *slice) {
	if o.runOK && s.start >= o.lo && s.start < o.hi {
		if o.invertible {
			o.subFromRun(s)
		} else {
			o.resetRun(0)
			o.runOK = false
		}
	}
	o.entries -= len(s.kids)
	delete(o.slices, s.start)
	if o.last == s {
		o.last = nil
	}
	if s.tab >= 0 {
		o.tabs[s.tab].s = nil
		s.tab = -1
	}
	s.binds = 0
	s.accs.Reset()
	s.kids = s.kids[:0]
	s.m = nil
	// Keep as many freed slices as a window holds: the watermark frees
	// slices in bursts (when the slowest input catches up), and the slices
	// made next reuse their room instead of memory the process must touch
	// afresh.
	if len(o.free) < o.maxFree() {
		o.free = append(o.free, s)
	}
}

// maxFree is how many freed slices the operator keeps for reuse: as many
// as a window holds, at least 4.
func (o *slicedOp) maxFree() int { return max(4, int(o.spec.Window.Size/o.slide)) }

// compact renumbers the key ids that live slices hold, forgetting the
// others, when they are at least a quarter of the table.
func (o *slicedOp) compact() {
	n := o.keys.Len()
	live := make([]bool, n)
	for _, s := range o.order {
		for _, kid := range s.kids {
			live[kid] = true
		}
	}
	remap := make([]int32, n)
	m := int32(0)
	for k, ok := range live {
		remap[k] = m
		if ok {
			m++
		}
	}
	o.compactAt = max(minCompact, 2*int(m))
	if 4*int(m) > 3*n {
		return
	}
	o.keys.Compact(live)
	o.run.Compact(live[:o.run.Len()])
	j := 0
	for k, ok := range live {
		if ok {
			o.runN[j] = o.runN[k]
			j++
		}
	}
	o.runN = o.runN[:j]
	for i := range o.tabs {
		o.tabs[i].loc = o.tabs[i].loc[:j]
	}
	for _, s := range o.order {
		for g, kid := range s.kids {
			s.kids[g] = remap[kid]
		}
		s.m = nil
	}
	for i := range o.tabs {
		if o.tabs[i].s != nil {
			o.tabs[i].fill()
		}
	}
}

// Finish fires what is left, should the input have ended without the final
// watermark.
func (o *slicedOp) Finish(out runtime.Output) error {
	if o.panes != nil {
		return o.paneDo(func() error { return o.panes.Finish(out) })
	}
	if o.wm == runtime.MaxWatermark {
		return nil
	}
	return o.advance(runtime.MaxWatermark, out)
}

// OnProcessingTime fires the processing-time windows that the clock has
// passed.
func (o *slicedOp) OnProcessingTime(t int64, out runtime.Output) error {
	if o.panes != nil {
		return o.paneDo(func() error { return o.panes.OnProcessingTime(t, out) })
	}
	return o.clockFired(out, o.advance, o.armNext)
}

// armNext asks for a processing-time timer at the end of the earliest
// window not fired.
func (o *slicedOp) armNext() {
	if !o.spec.ProcTime || len(o.order) == 0 {
		return
	}
	for _, s := range o.order {
		fe, le := o.windowEnds(s.start)
		if le-1 <= o.wm {
			continue
		}
		e := fe
		if e-1 <= o.wm {
			e += ((o.wm-(e-1))/o.slide + 1) * o.slide
		}
		o.armClock(e - 1)
		return
	}
}

// StateBytes estimates the memory held by window state.
func (o *slicedOp) StateBytes() int {
	if o.panes != nil {
		return o.panes.StateBytes()
	}
	n := o.keys.Bytes() + o.run.Bytes() + cap(o.runN)*4
	for i := range o.tabs {
		n += cap(o.tabs[i].loc) * 4
	}
	for _, s := range o.order {
		n += s.bytes()
	}
	return n
}

// Close returns the operator's batches to their pools.
func (o *slicedOp) Close() error {
	if o.panes != nil {
		o.panes.Close()
	}
	return o.common.Close()
}
