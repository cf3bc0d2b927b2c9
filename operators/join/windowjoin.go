package join

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// ErrInvalidWindowJoin is wrapped by every error NewWindow returns for a bad
// spec.
var ErrInvalidWindowJoin = errors.New("invalid window join")

// WindowSpec describes a window join (NewWindow), as Flink SQL's
//
//	SELECT … FROM L [LEFT|RIGHT|FULL] JOIN R
//	    ON L.window_start = R.window_start AND L.window_end = R.window_end
//	    AND L.k = R.k [AND residual]
//
// where L and R are results of window table-valued functions (TUMBLE, HOP,
// CUMULATE) or of window aggregations over them: append-only streams whose
// rows carry their window's window_start and window_end (TIMESTAMP, or BIGINT
// milliseconds; window_end exclusive). Nexmark q8 joins two window
// aggregations on (id, window_start, window_end).
//
// The planner must connect input 0 (L) and input 1 (R) through runtime.Keyed
// edges hashed on LeftKeys and RightKeys, so equal keys meet in one subtask
// (with no keys, give the operator parallelism 1). Both inputs must carry
// watermarks; the operator works on their minimum. Inputs are append-only
// (+I rows only; any other kind is an error).
//
// Rows are buffered per window (start, end) and key. When the watermark
// reaches window_end - 1 (the window's window_time), the window is joined
// and emitted at once, then its state freed: every pair of a left and a
// right row of the window with equal keys (no key column NULL or NaN) and a
// TRUE residual condition gives one row, the left columns followed by the
// right ones. LeftOuter (LEFT or FULL) also emits each left row that found
// no partner, padded with NULLs; RightOuter (RIGHT or FULL) each such right
// row. Windows are emitted in the order of their ends (then starts), and the
// output is append-only (+I). An output row's window columns are those of
// its window (the left ones are NULL on a right row padded by RightOuter,
// and conversely): for the planner, the output's window_start/window_end are
// the non-NULL side's (COALESCE of the two), and its window_time,
// window_end - 1, is at or behind the watermark the runtime forwards after
// the rows — as for a window aggregate, the rows reach the next operator
// before that watermark, so windows cascade.
//
// Late rows: a row whose window_end - 1 is at or behind the watermark when
// it arrives (its window has fired, or would have), or whose window_start or
// window_end is NULL, is dropped and counted in
// OperatorMetrics.LateRowsDropped and the late-row log, as the window
// operators do.
//
// State: the rows of the windows not yet fired. MaxGroups bounds the
// (window, key) pairs buffered in one subtask (an error wrapping
// state.ErrStateLimit beyond it).
type WindowSpec struct {
	// Left and Right are the schemas of input 0 and input 1.
	Left, Right *runtime.Schema
	// LeftKeys and RightKeys are the equi-join key columns besides the
	// window, pairwise of the same type (INT and BIGINT may be mixed);
	// none joins every pair of rows of a window.
	LeftKeys, RightKeys []int
	// The window_start and window_end columns of each side (TIMESTAMP or
	// BIGINT).
	LeftWindowStart, LeftWindowEnd   int
	RightWindowStart, RightWindowEnd int
	// LeftOuter emits unmatched left rows padded with NULLs (LEFT JOIN),
	// RightOuter unmatched right rows (RIGHT JOIN); both: FULL JOIN.
	LeftOuter, RightOuter bool
	// Residual, when set, is a further condition over the output row (left
	// columns, then right columns, by index).
	Residual expr.Expr
	// MaxGroups bounds the (window, key) pairs one subtask buffers (0: no
	// limit); going over fails with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// Name, when set, is prepended to every output column name (as
	// Spec.Name).
	Name string
}

// NewWindow validates spec and returns a factory making one operator per
// subtask, and the output schema: the left columns followed by the right
// columns, named as New names them; the columns of a side that may be
// padded are nullable.
func NewWindow(spec WindowSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := wjValidate(&spec); err != nil {
		return nil, nil, err
	}
	spec.LeftKeys = slices.Clone(spec.LeftKeys)
	spec.RightKeys = slices.Clone(spec.RightKeys)
	out = tjOutputSchema(spec.Left, spec.Right, spec.Name, spec.RightOuter, spec.LeftOuter)
	if spec.Residual != nil {
		c, err := expr.Compile(spec.Residual, out)
		if err != nil {
			return nil, nil, wjInvalid("residual condition: %v", err)
		}
		if c.Type() != runtime.Boolean {
			return nil, nil, wjInvalid("residual condition %s is %s, want BOOLEAN", spec.Residual, c.Type())
		}
	}
	return func() runtime.Operator { return newWJ(&spec, out) }, out, nil
}

func wjInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidWindowJoin, fmt.Sprintf(format, args...))
}

func wjValidate(s *WindowSpec) error {
	if s.Left == nil || s.Right == nil {
		return wjInvalid("both input schemas are required")
	}
	if len(s.LeftKeys) != len(s.RightKeys) {
		return wjInvalid("%d left key columns but %d right key columns", len(s.LeftKeys), len(s.RightKeys))
	}
	for i := range s.LeftKeys {
		l, r := s.LeftKeys[i], s.RightKeys[i]
		if l < 0 || l >= s.Left.Len() {
			return wjInvalid("left key column %d out of range (left has %d columns)", l, s.Left.Len())
		}
		if r < 0 || r >= s.Right.Len() {
			return wjInvalid("right key column %d out of range (right has %d columns)", r, s.Right.Len())
		}
		lt, rt := s.Left.Fields[l].Type, s.Right.Fields[r].Type
		if !keyTypesMatch(lt, rt) {
			return wjInvalid("key %d: left column %q is %s but right column %q is %s", i,
				s.Left.Fields[l].Name, lt, s.Right.Fields[r].Name, rt)
		}
	}
	for _, c := range []struct {
		what string
		s    *runtime.Schema
		col  int
	}{
		{"left window_start", s.Left, s.LeftWindowStart}, {"left window_end", s.Left, s.LeftWindowEnd},
		{"right window_start", s.Right, s.RightWindowStart}, {"right window_end", s.Right, s.RightWindowEnd},
	} {
		if c.col < 0 || c.col >= c.s.Len() {
			return wjInvalid("%s column %d out of range (the side has %d columns)", c.what, c.col, c.s.Len())
		}
		if t := c.s.Fields[c.col].Type; t != runtime.Timestamp && t != runtime.BigInt {
			return wjInvalid("%s column %q is %s, want TIMESTAMP or BIGINT", c.what, c.s.Fields[c.col].Name, t)
		}
	}
	if s.MaxGroups < 0 {
		return wjInvalid("negative MaxGroups %d", s.MaxGroups)
	}
	return nil
}

// wjWindow holds the rows of one window: per side a store whose rows are
// linked per key (rows with a key that matches nothing have key nilID and
// are kept only by an outer side).
type wjWindow struct {
	start, end int64
	keys       keyTable
	rows       [2]rowStore
}

// wjSide is the configuration of one input.
type wjSide struct {
	schema     *runtime.Schema
	keyCols    []int
	start, end int
	outer      bool
}

// wjOp is one subtask of a window join.
type wjOp struct {
	spec    *WindowSpec
	out     *runtime.Schema
	ctx     *runtime.Context
	wm      int64
	sides   [2]wjSide
	windows map[[2]int64]*wjWindow
	spare   []*wjWindow // fired windows, emptied, for reuse
	groups  int         // (window, key) pairs held
	filter  tjFilter
	outB    *runtime.Batch

	// Scratch.
	hashes  []uint64
	stored  []int32
	fire    []*wjWindow
	pairL   []int32
	pairR   []int32
	matched [2][]bool
	lateLog runtime.LateLog
}

var _ runtime.Operator = (*wjOp)(nil)

func newWJ(spec *WindowSpec, out *runtime.Schema) *wjOp {
	o := &wjOp{
		spec:    spec,
		out:     out,
		wm:      runtime.MinWatermark,
		windows: map[[2]int64]*wjWindow{},
		sides: [2]wjSide{
			{schema: spec.Left, keyCols: spec.LeftKeys, start: spec.LeftWindowStart, end: spec.LeftWindowEnd, outer: spec.LeftOuter},
			{schema: spec.Right, keyCols: spec.RightKeys, start: spec.RightWindowStart, end: spec.RightWindowEnd, outer: spec.RightOuter},
		},
	}
	if spec.Residual != nil {
		o.filter.c, _ = expr.Compile(spec.Residual, out) // checked by NewWindow
	}
	return o
}

func (o *wjOp) newWindow(start, end int64) *wjWindow {
	if n := len(o.spare); n > 0 {
		w := o.spare[n-1]
		o.spare = o.spare[:n-1]
		w.start, w.end = start, end
		return w
	}
	keyTypes := make([]runtime.Type, len(o.spec.LeftKeys))
	for i, c := range o.spec.LeftKeys {
		keyTypes[i] = o.spec.Left.Fields[c].Type
	}
	return &wjWindow{start: start, end: end, keys: newKeyTable(keyTypes),
		rows: [2]rowStore{newRowStore(o.spec.Left), newRowStore(o.spec.Right)}}
}

// OutputSchema implements runtime.OutputSchemaer.
func (o *wjOp) OutputSchema() *runtime.Schema { return o.out }

// Open implements runtime.Operator.
func (o *wjOp) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	if o.outB == nil {
		o.outB = runtime.NewBatch(o.out)
	}
	return nil
}

// ProcessBatch buffers the rows of b in their windows.
func (o *wjOp) ProcessBatch(input int, b *runtime.Batch, _ runtime.Output) error {
	if input != 0 && input != 1 {
		return fmt.Errorf("window join has inputs 0 and 1, got rows on input %d", input)
	}
	s := &o.sides[input]
	if len(b.Cols) != s.schema.Len() {
		return fmt.Errorf("window join input %d: batch has %d columns, schema %d", input, len(b.Cols), s.schema.Len())
	}
	n := b.Len()
	if n == 0 {
		return nil
	}
	if len(s.keyCols) > 0 {
		o.hashes = runtime.HashColumns(b, s.keyCols, o.hashes)
	}
	sv, ev := &b.Cols[s.start], &b.Cols[s.end]
	late, latest := 0, runtime.MinWatermark
	var w *wjWindow
	o.stored = o.stored[:0]
	for i := 0; i < n; i++ {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert {
			if err := o.storeRows(input, w, b); err != nil {
				return err
			}
			return fmt.Errorf("window join: input %d must be append-only, got a %s row", input, k)
		}
		if sv.IsNull(r) || ev.IsNull(r) {
			late++
			continue
		}
		start, end := sv.I64[r], ev.I64[r]
		if o.wm != runtime.MinWatermark && end-1 <= o.wm {
			late++
			latest = end - 1
			continue
		}
		if w == nil || w.start != start || w.end != end {
			if err := o.storeRows(input, w, b); err != nil {
				return err
			}
			w = o.windows[[2]int64{start, end}]
			if w == nil {
				w = o.newWindow(start, end)
				o.windows[[2]int64{start, end}] = w
			}
		}
		k := int32(nilID)
		if len(s.keyCols) == 0 {
			if w.keys.live == 0 {
				w.keys.insert(0, b, nil, r)
				o.groups++
			}
			k = 0
		} else if !tjNoMatch(b, s.keyCols, r) {
			h := o.hashes[i]
			if k = w.keys.find(h, b, s.keyCols, r); k == nilID {
				k = w.keys.insert(h, b, s.keyCols, r)
				o.groups++
			}
		} else if !s.outer {
			continue // matches nothing, and is not emitted alone
		}
		wjLink(&w.rows[input], &w.keys, input, k)
		o.stored = append(o.stored, int32(r))
	}
	if err := o.storeRows(input, w, b); err != nil {
		return err
	}
	if late > 0 {
		if m := metricsOf(o.ctx); m != nil && m.LateRowsDropped != nil {
			m.LateRowsDropped.Add(late)
		}
		o.lateLog.Dropped(o.ctx, late, latest, o.wm)
	}
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.groups)
	}
	if o.spec.MaxGroups > 0 && o.groups > o.spec.MaxGroups {
		return tjLimit("the window join", o.groups, o.spec.MaxGroups)
	}
	return nil
}

// storeRows appends the columns of the rows just linked into w.
func (o *wjOp) storeRows(input int, w *wjWindow, b *runtime.Batch) error {
	if w != nil && len(o.stored) > 0 {
		w.rows[input].appendColumns(b, o.stored)
	}
	o.stored = o.stored[:0]
	return nil
}

// wjLink appends a row to store st, linked to the list of key k on side
// (k nilID: not linked to any key). The caller appends its columns.
func wjLink(st *rowStore, kt *keyTable, side int, k int32) {
	id := int32(len(st.key))
	st.key = append(st.key, k)
	st.next = append(st.next, nilID)
	st.live++
	if k == nilID {
		return
	}
	e := &kt.entries[k]
	if e.tail[side] != nilID {
		st.next[e.tail[side]] = id
	} else {
		e.head[side] = id
	}
	e.tail[side] = id
	e.count[side]++
}

// ProcessWatermark joins and emits the windows whose end - 1 the watermark
// reaches, in the order of their ends, and frees them.
func (o *wjOp) ProcessWatermark(wm int64, out runtime.Output) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	o.fire = o.fire[:0]
	for _, w := range o.windows {
		if w.end-1 <= wm {
			o.fire = append(o.fire, w)
		}
	}
	slices.SortFunc(o.fire, func(a, b *wjWindow) int {
		if c := cmpInt64(a.end, b.end); c != 0 {
			return c
		}
		return cmpInt64(a.start, b.start)
	})
	for _, w := range o.fire {
		if err := o.emitWindow(w, out); err != nil {
			return err
		}
		delete(o.windows, [2]int64{w.start, w.end})
		o.groups -= w.keys.live
		o.recycle(w)
	}
	clear(o.fire)
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.groups)
	}
	return nil
}

// wjMaxSpare is the number of fired windows kept for reuse, and
// wjMaxSpareSlots the largest key table worth keeping.
const (
	wjMaxSpare      = 4
	wjMaxSpareSlots = 1 << 16
)

// recycle empties a fired window and keeps it for reuse, so that windows
// that come and go do not allocate their tables and stores anew.
func (o *wjOp) recycle(w *wjWindow) {
	if len(o.spare) >= wjMaxSpare || len(w.keys.slots) > wjMaxSpareSlots {
		return
	}
	kt := &w.keys
	for i := range kt.slots {
		kt.slots[i] = slot{id: nilID}
	}
	kt.entries, kt.free, kt.live = kt.entries[:0], kt.free[:0], 0
	for c := range kt.vals {
		kt.vals[c].Reset()
	}
	for i := range w.rows {
		st := &w.rows[i]
		for c := range st.cols {
			st.cols[c].Reset()
		}
		st.key, st.next, st.live = st.key[:0], st.next[:0], 0
	}
	o.spare = append(o.spare, w)
}

// emitWindow emits the joined rows of w: the pairs key by key, then the
// unmatched rows of the outer sides.
func (o *wjOp) emitWindow(w *wjWindow, out runtime.Output) error {
	outer := o.spec.LeftOuter || o.spec.RightOuter
	if outer {
		for i := range o.matched {
			o.matched[i] = slices.Grow(o.matched[i][:0], len(w.rows[i].key))[:len(w.rows[i].key)]
			clear(o.matched[i])
		}
	}
	o.pairL, o.pairR = o.pairL[:0], o.pairR[:0]
	left, right := &w.rows[0], &w.rows[1]
	for k := range w.keys.entries {
		e := &w.keys.entries[k]
		if e.count[0] == 0 || e.count[1] == 0 {
			continue
		}
		for l := e.head[0]; l != nilID; l = left.next[l] {
			for r := e.head[1]; r != nilID; r = right.next[r] {
				o.pairL = append(o.pairL, l)
				o.pairR = append(o.pairR, r)
				if len(o.pairL) == runtime.DefaultBatchRows {
					if err := o.flushPairs(w, out); err != nil {
						return err
					}
				}
			}
		}
	}
	if err := o.flushPairs(w, out); err != nil {
		return err
	}
	if !outer {
		return nil
	}
	for side, on := range [2]bool{o.spec.LeftOuter, o.spec.RightOuter} {
		if !on {
			continue
		}
		for id, m := range o.matched[side] {
			if m {
				continue
			}
			if side == 0 {
				o.pairL, o.pairR = append(o.pairL, int32(id)), append(o.pairR, nilID)
			} else {
				o.pairL, o.pairR = append(o.pairL, nilID), append(o.pairR, int32(id))
			}
			if len(o.pairL) == runtime.DefaultBatchRows {
				if err := o.flushPadded(w, out); err != nil {
					return err
				}
			}
		}
		if err := o.flushPadded(w, out); err != nil {
			return err
		}
	}
	return nil
}

// fill builds the output rows of the recorded pairs in outB (nilID pads).
func (o *wjOp) fill(w *wjWindow) *runtime.Batch {
	ob := o.outB
	ob.Reset()
	nl := o.spec.Left.Len()
	for c := range w.rows[0].cols {
		tjGatherOrNull(&ob.Cols[c], &w.rows[0].cols[c], o.pairL)
	}
	for c := range w.rows[1].cols {
		tjGatherOrNull(&ob.Cols[nl+c], &w.rows[1].cols[c], o.pairR)
	}
	ob.N = len(o.pairL)
	return ob
}

// flushPairs emits the recorded pairs that pass the residual condition,
// marking their rows matched.
func (o *wjOp) flushPairs(w *wjWindow, out runtime.Output) error {
	if len(o.pairL) == 0 {
		return nil
	}
	ob := o.fill(w)
	if c := o.filter.c; c != nil {
		o.filter.pass = c.Select(ob, o.filter.pass)
		if err := c.Err(); err != nil {
			return fmt.Errorf("window join residual condition: %w", err)
		}
		if len(o.filter.pass) == 0 { // a nil Sel would select every row
			o.pairL, o.pairR = o.pairL[:0], o.pairR[:0]
			return nil
		}
		ob.Sel = o.filter.pass
	}
	if o.spec.LeftOuter || o.spec.RightOuter {
		for i := 0; i < ob.Len(); i++ {
			r := ob.Row(i)
			o.matched[0][o.pairL[r]] = true
			o.matched[1][o.pairR[r]] = true
		}
	}
	o.pairL, o.pairR = o.pairL[:0], o.pairR[:0]
	if ob.Len() == 0 {
		return nil
	}
	return out.Emit(ob)
}

// flushPadded emits the recorded unmatched rows, padded.
func (o *wjOp) flushPadded(w *wjWindow, out runtime.Output) error {
	if len(o.pairL) == 0 {
		return nil
	}
	ob := o.fill(w)
	o.pairL, o.pairR = o.pairL[:0], o.pairR[:0]
	return out.Emit(ob)
}

// Finish emits the windows still open (the final watermark normally has).
func (o *wjOp) Finish(out runtime.Output) error {
	return o.ProcessWatermark(runtime.MaxWatermark, out)
}

// Close releases the output batch.
func (o *wjOp) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outB != nil {
		o.outB.Release()
		o.outB = nil
	}
	return nil
}
