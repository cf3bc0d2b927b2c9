package rank

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// WindowSpec configures a window Top-N or window deduplication over the
// result of a window TVF or window aggregation:
//
//	SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, p… ORDER BY o…) AS rn
//	  FROM TABLE(TUMBLE(…))) WHERE rn BETWEEN Start AND End
//
// Window deduplication is the case End = 1 with Order the time attribute,
// ASC for keep-first, DESC with LastFirst for keep-last.
type WindowSpec struct {
	In *runtime.Schema
	// PartitionCols are the PARTITION BY columns besides the window bounds
	// (the window columns may be listed too; they are implied).
	PartitionCols []int
	// WindowStartCol and WindowEndCol are the window_start and window_end
	// columns (TIMESTAMP(3) or BIGINT ms).
	WindowStartCol, WindowEndCol int
	Order                        []SortKey
	Start, End                   int64 // the 1-based rank range, inclusive
	// LastFirst ranks the later of two rows with equal sort keys first
	// (window deduplication keeping the last row); otherwise the earlier.
	LastFirst     bool
	RowNumber     bool
	RowNumberName string
	// MaxGroups bounds the (partition, window) groups one subtask may hold
	// at once (0: no limit); going over fails the job with an error
	// wrapping state.ErrStateLimit.
	MaxGroups int
}

// NewWindow checks spec and returns a factory of window Top-N operators
// (one per subtask) and the output schema: the input columns, then the
// rank if spec.RowNumber.
func NewWindow(spec WindowSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	const what = "window Top-N"
	in := spec.In
	if in == nil {
		return nil, nil, fmt.Errorf("%s: no input schema", what)
	}
	if spec.MaxGroups < 0 {
		return nil, nil, fmt.Errorf("%s: negative group limit (%d)", what, spec.MaxGroups)
	}
	if err := checkCols(what, "PARTITION BY", in, spec.PartitionCols); err != nil {
		return nil, nil, err
	}
	for _, c := range []struct {
		role string
		col  int
	}{{"window_start", spec.WindowStartCol}, {"window_end", spec.WindowEndCol}} {
		if c.col < 0 || c.col >= in.Len() {
			return nil, nil, fmt.Errorf("%s: %s column %d out of range (the input has %d columns)", what, c.role, c.col, in.Len())
		}
		if t := in.Fields[c.col].Type; t != runtime.Timestamp && t != runtime.BigInt {
			return nil, nil, fmt.Errorf("%s: %s column %q is %s, want TIMESTAMP(3)", what, c.role, in.Fields[c.col].Name, t)
		}
	}
	if spec.WindowStartCol == spec.WindowEndCol {
		return nil, nil, fmt.Errorf("%s: window_start and window_end are the same column %d", what, spec.WindowStartCol)
	}
	if err := checkOrder(what, in, spec.Order); err != nil {
		return nil, nil, err
	}
	if err := checkRange(what, spec.Start, spec.End); err != nil {
		return nil, nil, err
	}
	out, err = outSchema(in, spec.RowNumber, spec.RowNumberName)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	// A pane holds the windows of one window_end; its groups are keyed by
	// the partition columns and window_start.
	var keys []int
	for _, c := range spec.PartitionCols {
		if c != spec.WindowStartCol && c != spec.WindowEndCol && !slices.Contains(keys, c) {
			keys = append(keys, c)
		}
	}
	keys = append(keys, spec.WindowStartCol)
	return func() runtime.Operator {
		return &windowOp{spec: spec, out: out, keys: keys, wm: runtime.MinWatermark, panes: map[int64]*pane{}}
	}, out, nil
}

// pane is the state of the windows ending at end: per group (partition and
// window_start) the ids of its best End rows in rank order.
type pane struct {
	end   int64
	table *agg.Table
	st    *rowStore
	sort  sorter
	lists [][]int32
}

type windowOp struct {
	runtime.Base
	spec    WindowSpec
	out     *runtime.Schema
	keys    []int // group key columns of a pane
	ctx     *runtime.Context
	wm      int64
	seq     int64
	panes   map[int64]*pane
	order   []*pane // by end
	spare   []*pane // fired panes, for reuse
	groups  int     // over all panes
	outb    *runtime.Batch
	lateLog runtime.LateLog

	run    []int32
	lates  []int32
	gids   []int32
	lastPn *pane
}

func (o *windowOp) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.outb = runtime.NewBatch(o.out)
	return nil
}

func (o *windowOp) Close() error {
	o.lateLog.Close(o.ctx)
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}

func (o *windowOp) newPane(end int64) *pane {
	if n := len(o.spare); n > 0 {
		p := o.spare[n-1]
		o.spare = o.spare[:n-1]
		p.end = end
		return p
	}
	p := &pane{end: end, table: agg.NewTable(o.spec.In, o.keys), st: newRowStore(o.spec.In)}
	p.sort = sorter{st: p.st, keys: o.spec.Order, lastFirst: o.spec.LastFirst}
	return p
}

func (o *windowOp) pane(end int64) *pane {
	if p := o.lastPn; p != nil && p.end == end {
		return p
	}
	p := o.panes[end]
	if p == nil {
		p = o.newPane(end)
		o.addPane(p)
	}
	o.lastPn = p
	return p
}

func (o *windowOp) addPane(p *pane) {
	o.panes[p.end] = p
	i := sort.Search(len(o.order), func(i int) bool { return o.order[i].end > p.end })
	o.order = append(o.order, nil)
	copy(o.order[i+1:], o.order[i:])
	o.order[i] = p
}

// isLate tells whether a row of window end end can no longer be placed:
// its window fired when the watermark reached end-1.
func (o *windowOp) isLate(end int64) bool { return end <= o.wm || end-1 <= o.wm } // end-1 may wrap

func (o *windowOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	ev := &b.Cols[o.spec.WindowEndCol]
	o.lates = o.lates[:0]
	n := b.Len()
	for i := 0; i < n; {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert {
			return fmt.Errorf("window Top-N over an updating input (a %s row) is not supported: it needs an append-only input", k)
		}
		if ev.IsNull(r) || o.isLate(ev.I64[r]) {
			o.lates = append(o.lates, int32(r))
			i++
			continue
		}
		end := ev.I64[r]
		o.run = append(o.run[:0], int32(r))
		for i++; i < n; i++ {
			r2 := b.Row(i)
			if b.Kind(r2) != runtime.Insert || ev.IsNull(r2) || ev.I64[r2] != end {
				break
			}
			o.run = append(o.run, int32(r2))
		}
		p := o.pane(end)
		before := p.table.Len()
		o.gids = p.table.Lookup(b, o.run, o.gids)
		for len(p.lists) < p.table.Len() {
			if n := len(p.lists); n < cap(p.lists) { // a recycled pane's list
				p.lists = p.lists[:n+1]
				p.lists[n] = p.lists[n][:0]
			} else {
				p.lists = append(p.lists, nil)
			}
		}
		o.groups += p.table.Len() - before
		for k, r := range o.run {
			o.insert(p, o.gids[k], b, int(r))
		}
	}
	o.dropLate(b)
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.groups)
	}
	if o.spec.MaxGroups > 0 && o.groups > o.spec.MaxGroups {
		return fmt.Errorf("%w: window Top-N holds %d groups (partition × window) in this subtask, over its limit of %d", state.ErrStateLimit, o.groups, o.spec.MaxGroups)
	}
	return nil
}

func (o *windowOp) insert(p *pane, g int32, b *runtime.Batch, r int) {
	l := p.lists[g]
	end := int(o.spec.End)
	seq := o.seq
	o.seq++
	if len(l) == end && !p.sort.before(b, r, l[end-1]) {
		return // can never enter the top
	}
	id := p.st.add(b, r, seq)
	pos := p.sort.insertPos(l, id)
	if l == nil {
		l = make([]int32, 0, min(end, 64))
	}
	if len(l) == end {
		p.st.release(l[end-1])
		l = l[:end-1]
	}
	l = append(l, 0)
	copy(l[pos+1:], l[pos:])
	l[pos] = id
	p.lists[g] = l
}

func (o *windowOp) dropLate(b *runtime.Batch) {
	if len(o.lates) == 0 {
		return
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.LateRowsDropped.Add(len(o.lates))
	}
	latest := runtime.MinWatermark
	ev := &b.Cols[o.spec.WindowEndCol]
	for i := len(o.lates) - 1; i >= 0; i-- {
		if r := int(o.lates[i]); !ev.IsNull(r) {
			latest = ev.I64[r] - 1
			break
		}
	}
	o.lateLog.Dropped(o.ctx, len(o.lates), latest, o.wm)
}

func (o *windowOp) ProcessWatermark(wm int64, out runtime.Output) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	return o.fire(out)
}

// Finish fires what is left (the final watermark has normally done it).
func (o *windowOp) Finish(out runtime.Output) error {
	o.wm = runtime.MaxWatermark
	return o.fire(out)
}

// fire emits and frees the panes whose end the watermark has reached.
func (o *windowOp) fire(out runtime.Output) error {
	k := 0
	for k < len(o.order) && o.isLate(o.order[k].end) {
		p := o.order[k]
		if err := o.emitPane(p, out); err != nil {
			return err
		}
		delete(o.panes, p.end)
		o.groups -= p.table.Len()
		if o.lastPn == p {
			o.lastPn = nil
		}
		o.recycle(p)
		k++
	}
	if k == 0 {
		return nil
	}
	clear(o.order[:k])
	o.order = append(o.order[:0], o.order[k:]...)
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.groups)
	}
	return o.flush(out)
}

// recycle keeps a fired pane's memory for a later window (a few at most).
func (o *windowOp) recycle(p *pane) {
	if len(o.spare) >= 4 {
		return
	}
	p.table.Reset()
	p.st.reset()
	for i := range p.lists {
		p.lists[i] = p.lists[i][:0]
	}
	p.lists = p.lists[:0]
	o.spare = append(o.spare, p)
}

func (o *windowOp) emitPane(p *pane, out runtime.Output) error {
	start := int(o.spec.Start)
	for _, l := range p.lists {
		for i := start - 1; i < len(l); i++ {
			b := o.outb
			p.st.emit(l[i], b)
			if o.spec.RowNumber {
				b.Cols[len(b.Cols)-1].AppendInt(int64(i + 1))
			}
			b.N++
			if b.N >= runtime.DefaultBatchRows {
				if err := o.flush(out); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (o *windowOp) flush(out runtime.Output) error {
	if o.outb.N == 0 {
		return nil
	}
	err := out.Emit(o.outb)
	o.outb.Reset()
	return err
}

// StateBytes estimates the memory the operator's state takes.
func (o *windowOp) StateBytes() int {
	n := 0
	for _, p := range o.order {
		n += p.table.Bytes() + p.st.bytes() + cap(p.lists)*24
		for _, l := range p.lists {
			n += cap(l) * 4
		}
	}
	return n
}

// Describe says what the operator keeps, for plans.
func (o *windowOp) Describe() string {
	var b strings.Builder
	in := o.spec.In
	fmt.Fprintf(&b, "window Top-N: ranks %d..%d by %s per window (%s, %s)", o.spec.Start, o.spec.End,
		orderString(in, o.spec.Order), in.Fields[o.spec.WindowStartCol].Name, in.Fields[o.spec.WindowEndCol].Name)
	if len(o.keys) > 1 {
		fmt.Fprintf(&b, " and %s", colNames(in, o.keys[:len(o.keys)-1]))
	}
	b.WriteString(", append-only, emitted when the watermark passes window_end")
	fmt.Fprintf(&b, "\nstate: the best %d rows per group of each open window, freed when it fires", o.spec.End)
	if o.spec.MaxGroups > 0 {
		fmt.Fprintf(&b, "; at most %d groups per subtask", o.spec.MaxGroups)
	}
	b.WriteString("\nlate rows: dropped and counted")
	return b.String()
}
