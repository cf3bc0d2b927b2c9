package rank

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// SortKey is one ORDER BY column of the OVER clause.
type SortKey struct {
	Col        int  // column index in the input
	Desc       bool // DESC; ASC otherwise
	NullsFirst bool // NULLs before every value (NULLS FIRST), else after
}

// Spec configures an unbounded Top-N:
//
//	SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY p… ORDER BY o…) AS rn FROM t)
//	WHERE rn BETWEEN Start AND End
type Spec struct {
	In            *runtime.Schema
	PartitionCols []int     // PARTITION BY (rows arrive keyed by them); none = one global partition
	Order         []SortKey // ORDER BY; at least one key
	// Start and End are the 1-based rank range kept, inclusive: rn <= N is
	// 1..N, rn < N is 1..N-1, rn = 1 is 1..1, rn BETWEEN a AND b is a..b.
	Start, End int64
	// RowNumber appends the rank as a BIGINT column (named RowNumberName,
	// default "rn"). Rows whose rank merely shifts are then updated (-U,
	// +U); without it they emit nothing.
	RowNumber     bool
	RowNumberName string
	// UpdatingInput says the input is a retract changelog (-U and -D rows
	// remove one copy of a row): every row of a partition is kept, since a
	// retraction can bring a lower row into the top. An append-only input
	// (false) keeps only the End best rows of each partition, and a -U or
	// -D row is an error.
	UpdatingInput bool
	// MaxGroups bounds the partitions one subtask may hold (0: no limit);
	// going over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// TTL drops a partition not updated for this long (0: never), in
	// processing time as Flink's 'table.exec.state.ttl': its rows are
	// forgotten without retraction, and a later row for it starts anew.
	// Partitions restored from a snapshot start their TTL at the restore.
	TTL time.Duration
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
}

// checkOrder checks sort keys against schema in.
func checkOrder(what string, in *runtime.Schema, order []SortKey) error {
	if len(order) == 0 {
		return fmt.Errorf("%s: no ORDER BY column", what)
	}
	for _, k := range order {
		if k.Col < 0 || k.Col >= in.Len() {
			return fmt.Errorf("%s: ORDER BY column %d out of range (the input has %d columns)", what, k.Col, in.Len())
		}
	}
	return nil
}

func checkCols(what, role string, in *runtime.Schema, cols []int) error {
	for _, c := range cols {
		if c < 0 || c >= in.Len() {
			return fmt.Errorf("%s: %s column %d out of range (the input has %d columns)", what, role, c, in.Len())
		}
	}
	return nil
}

func checkRange(what string, start, end int64) error {
	if start < 1 || end < start || end > math.MaxInt32 {
		return fmt.Errorf("%s: rank range [%d, %d] is empty or out of bounds (1 <= start <= end <= %d)", what, start, end, math.MaxInt32)
	}
	return nil
}

// outSchema is in, plus the rank column when asked.
func outSchema(in *runtime.Schema, rowNumber bool, name string) (*runtime.Schema, error) {
	fields := append([]runtime.Field(nil), in.Fields...)
	if rowNumber {
		if name == "" {
			name = "rn"
		}
		for _, f := range in.Fields {
			if strings.EqualFold(f.Name, name) {
				return nil, fmt.Errorf("the row number column %q clashes with an input column", name)
			}
		}
		fields = append(fields, runtime.Field{Name: name, Type: runtime.BigInt})
	}
	return runtime.NewSchema(fields...), nil
}

// New checks spec and returns a factory of Top-N operators (one per
// subtask) and the output schema: the input columns, then the rank if
// spec.RowNumber.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	const what = "Top-N"
	if spec.In == nil {
		return nil, nil, fmt.Errorf("%s: no input schema", what)
	}
	if spec.TTL < 0 || spec.MaxGroups < 0 {
		return nil, nil, fmt.Errorf("%s: negative state TTL (%v) or partition limit (%d)", what, spec.TTL, spec.MaxGroups)
	}
	if err := checkCols(what, "PARTITION BY", spec.In, spec.PartitionCols); err != nil {
		return nil, nil, err
	}
	if err := checkOrder(what, spec.In, spec.Order); err != nil {
		return nil, nil, err
	}
	if err := checkRange(what, spec.Start, spec.End); err != nil {
		return nil, nil, err
	}
	out, err = outSchema(spec.In, spec.RowNumber, spec.RowNumberName)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return func() runtime.Operator { return &topOp{spec: spec, out: out} }, out, nil
}

// topOp is the unbounded Top-N of one subtask: per partition (a group of
// agg.Table) the ids of its rows in rank order.
type topOp struct {
	runtime.Base
	spec  Spec
	out   *runtime.Schema
	ctx   *runtime.Context
	table *agg.Table
	st    *rowStore
	sort  sorter
	lists [][]int32
	seq   int64 // arrival number of the next row
	outb  *runtime.Batch

	exp agg.Expiry // state TTL

	// Per batch.
	rows    []int32
	groups  []int32
	touched []int32
	mark    []bool
	oldTop  []int32 // the top of each touched partition before the batch
	oldOff  []int   // oldTop[oldOff[i]:oldOff[i+1]] is touched[i]'s
	pending []int32 // rows removed in this batch, freed after emitting
	emptied int     // about how many partitions retractions left empty
	stamp   []uint32
	gen     uint32
	live    []bool
}

func (o *topOp) Open(ctx *runtime.Context) error {
	o.ctx = ctx
	o.table = agg.NewTable(o.spec.In, o.spec.PartitionCols)
	o.st = newRowStore(o.spec.In)
	o.sort = sorter{st: o.st, keys: o.spec.Order}
	o.outb = runtime.NewBatch(o.out)
	o.exp = agg.NewExpiry(o.spec.TTL, o.spec.Clock)
	o.exp.Start(ctx)
	return nil
}

func (o *topOp) Close() error {
	if o.outb != nil {
		o.outb.Release()
		o.outb = nil
	}
	return nil
}

// OnProcessingTime purges expired partitions while no rows arrive.
func (o *topOp) OnProcessingTime(_ int64, _ runtime.Output) error {
	now := o.exp.Now()
	o.purge(now)
	o.exp.Rearm(o.ctx, now)
	return nil
}

// purge drops the partitions expired at now, if it is time to.
func (o *topOp) purge(now int64) {
	if !o.exp.Due(now) {
		return
	}
	o.live = o.live[:0]
	dead := 0
	for g := range o.table.Len() {
		ok := !o.exp.Expired(int32(g), now)
		o.live = append(o.live, ok)
		if !ok {
			dead++
			for _, id := range o.lists[g] {
				o.st.release(id)
			}
		}
	}
	if dead > 0 {
		o.compact()
	}
}

// compact keeps the partitions g with o.live[g].
func (o *topOp) compact() {
	o.table.Compact(o.live)
	o.exp.Compact(o.live)
	k := 0
	for g, ok := range o.live {
		if ok {
			o.lists[k] = o.lists[g]
			k++
		}
	}
	clear(o.lists[k:])
	o.lists = o.lists[:k]
	o.mark = o.mark[:min(len(o.mark), k)]
	o.emptied = 0
	o.account()
}

// dropEmpty forgets the partitions whose rows have all been retracted.
func (o *topOp) dropEmpty() {
	o.live = o.live[:0]
	for _, l := range o.lists {
		o.live = append(o.live, len(l) > 0)
	}
	o.compact()
}

func (o *topOp) account() {
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.table.Len())
	}
}

func (o *topOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	o.rows = o.rows[:0]
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		if k := b.Kind(r); k != runtime.Insert && k != runtime.UpdateAfter && !o.spec.UpdatingInput {
			return fmt.Errorf("Top-N: a %s row in an input declared append-only (Spec.UpdatingInput is false)", k)
		}
		o.rows = append(o.rows, int32(r))
	}
	if len(o.rows) == 0 {
		return nil
	}
	var now int64
	if o.exp.On() {
		now = o.exp.Now()
		o.purge(now)
	}
	before := int32(o.table.Len())
	o.groups = o.table.Lookup(b, o.rows, o.groups)
	for len(o.lists) < o.table.Len() {
		o.lists = append(o.lists, nil)
		o.mark = append(o.mark, false)
	}
	o.exp.Grow(o.table.Len(), now)
	o.touched = o.touched[:0]
	o.oldTop = o.oldTop[:0]
	o.oldOff = append(o.oldOff[:0], 0)
	o.pending = o.pending[:0]
	start, end := int(o.spec.Start), int(o.spec.End)
	for k, r := range o.rows {
		g := o.groups[k]
		if !o.mark[g] {
			o.mark[g] = true
			o.touched = append(o.touched, g)
			if o.exp.On() {
				if g < before && o.exp.Expired(g, now) {
					// Expired, not purged yet: it starts anew.
					for _, id := range o.lists[g] {
						o.st.release(id)
					}
					o.lists[g] = o.lists[g][:0]
				}
				o.exp.Last[g] = now
			}
			l := o.lists[g]
			if len(l) >= start {
				o.oldTop = append(o.oldTop, l[start-1:min(end, len(l))]...)
			}
			o.oldOff = append(o.oldOff, len(o.oldTop))
		}
		switch b.Kind(int(r)) {
		case runtime.Insert, runtime.UpdateAfter:
			o.insert(g, b, int(r))
		default:
			o.retract(g, b, int(r))
		}
	}
	for i, g := range o.touched {
		o.mark[g] = false
		if err := o.emitChanges(g, o.oldTop[o.oldOff[i]:o.oldOff[i+1]], out); err != nil {
			return err
		}
	}
	for _, id := range o.pending {
		o.st.release(id)
	}
	if o.spec.UpdatingInput {
		// Partitions left empty by retractions are dropped now and then.
		for _, g := range o.touched {
			if len(o.lists[g]) == 0 {
				o.emptied++
			}
		}
		over := o.spec.MaxGroups > 0 && o.table.Len() > o.spec.MaxGroups
		if o.emptied > max(1024, o.table.Len()/2) || over && o.emptied > 0 {
			o.dropEmpty()
		}
	}
	o.account()
	if o.spec.MaxGroups > 0 && o.table.Len() > o.spec.MaxGroups {
		return fmt.Errorf("%w: Top-N holds %d partitions in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, o.table.Len(), o.spec.MaxGroups)
	}
	return o.flush(out)
}

func (o *topOp) insert(g int32, b *runtime.Batch, r int) {
	l := o.lists[g]
	end := int(o.spec.End)
	seq := o.seq
	o.seq++
	if !o.spec.UpdatingInput && len(l) >= end && !o.sort.before(b, r, l[end-1]) {
		return // can never enter the top
	}
	id := o.st.add(b, r, seq)
	pos := o.sort.insertPos(l, id)
	if l == nil && !o.spec.UpdatingInput { // room for the top and one more
		l = make([]int32, 0, min(end+1, 64))
	}
	l = append(l, 0)
	copy(l[pos+1:], l[pos:])
	l[pos] = id
	if !o.spec.UpdatingInput && len(l) > end {
		o.pending = append(o.pending, l[end])
		l = l[:end]
	}
	o.lists[g] = l
}

func (o *topOp) retract(g int32, b *runtime.Batch, r int) {
	tmp := o.st.add(b, r, math.MaxInt64)
	l := o.lists[g]
	// A row not held (forgotten by the TTL) is ignored, as Flink does.
	if i := o.sort.find(l, tmp); i >= 0 {
		o.pending = append(o.pending, l[i])
		o.lists[g] = append(l[:i], l[i+1:]...)
	}
	o.st.release(tmp)
}

// emitChanges emits what turns partition g's top from old into its
// current one.
func (o *topOp) emitChanges(g int32, old []int32, out runtime.Output) error {
	l := o.lists[g]
	start, end := int(o.spec.Start), int(o.spec.End)
	var cur []int32
	if len(l) >= start {
		cur = l[start-1 : min(end, len(l))]
	}
	if o.spec.RowNumber {
		for p := range max(len(old), len(cur)) {
			rn := int64(start + p)
			switch {
			case p >= len(cur):
				if err := o.emit(old[p], rn, runtime.Delete, out); err != nil {
					return err
				}
			case p >= len(old):
				if err := o.emit(cur[p], rn, runtime.Insert, out); err != nil {
					return err
				}
			case old[p] != cur[p] && !o.st.equal(old[p], cur[p]):
				if err := o.emit(old[p], rn, runtime.UpdateBefore, out); err != nil {
					return err
				}
				if err := o.emit(cur[p], rn, runtime.UpdateAfter, out); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Without the rank: the rows that left the top, then those that
	// entered it, told apart by a generation stamp per row id.
	for len(o.stamp) < o.st.size() {
		o.stamp = append(o.stamp, 0)
	}
	o.gen += 2
	if o.gen < 2 { // wrapped
		clear(o.stamp)
		o.gen = 2
	}
	for _, id := range cur {
		o.stamp[id] = o.gen
	}
	for _, id := range old {
		if o.stamp[id] != o.gen {
			if err := o.emit(id, 0, runtime.Delete, out); err != nil {
				return err
			}
		}
		o.stamp[id] = o.gen + 1
	}
	for _, id := range cur {
		if o.stamp[id] != o.gen+1 {
			if err := o.emit(id, 0, runtime.Insert, out); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *topOp) emit(id int32, rn int64, kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	o.st.emit(id, b)
	if o.spec.RowNumber {
		b.Cols[len(b.Cols)-1].AppendInt(rn)
	}
	b.SetKind(b.N, kind)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return o.flush(out)
	}
	return nil
}

func (o *topOp) flush(out runtime.Output) error {
	if o.outb.N == 0 {
		return nil
	}
	err := out.Emit(o.outb)
	o.outb.Reset()
	return err
}

// StateBytes estimates the memory the operator's state takes.
func (o *topOp) StateBytes() int {
	n := o.table.Bytes() + o.st.bytes() + cap(o.lists)*24 + o.exp.Bytes()
	for _, l := range o.lists {
		n += cap(l) * 4
	}
	return n
}

// Describe says what the operator keeps, for plans.
func (o *topOp) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Top-N: ranks %d..%d by %s", o.spec.Start, o.spec.End, orderString(o.spec.In, o.spec.Order))
	if len(o.spec.PartitionCols) > 0 {
		fmt.Fprintf(&b, " per %s", colNames(o.spec.In, o.spec.PartitionCols))
	}
	b.WriteString(", an updating result (+I, -U, +U, -D)")
	if o.spec.RowNumber {
		b.WriteString(" with the rank")
	}
	if o.spec.UpdatingInput {
		b.WriteString("\nstate: every row of each partition (an updating input can retract a top row)")
	} else {
		fmt.Fprintf(&b, "\nstate: the best %d rows of each partition", o.spec.End)
	}
	if o.spec.TTL > 0 {
		fmt.Fprintf(&b, ", TTL %v in processing time ('table.exec.state.ttl')", o.spec.TTL)
	} else {
		b.WriteString(", no TTL: kept forever")
	}
	if o.spec.MaxGroups > 0 {
		fmt.Fprintf(&b, "; at most %d partitions per subtask ('sluice.state.max-keys')", o.spec.MaxGroups)
	}
	return b.String()
}

func colNames(in *runtime.Schema, cols []int) string {
	var names []string
	for _, c := range cols {
		names = append(names, in.Fields[c].Name)
	}
	return strings.Join(names, ", ")
}

func orderString(in *runtime.Schema, order []SortKey) string {
	var parts []string
	for _, k := range order {
		s := in.Fields[k.Col].Name
		if k.Desc {
			s += " DESC"
		}
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
