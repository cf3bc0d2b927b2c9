package rank

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// Snapshots (runtime.Snapshotter), in the framing of package snap. Rows
// are written column by column in rank order with their arrival numbers,
// so ties rank as they did; restoring packs them into a fresh store.
//
// Top-N:
//
//	partition columns, sort keys, start, end (8 bytes each), updating
//	input (byte), next arrival number (8 bytes), partition table
//	(agg.Table), rows
//
// deduplication:
//
//	key columns, processing time (byte), keep last (byte), key table,
//	then unless processing-time keep-first: one column vector per input
//	column, row g being key g's
//
// window Top-N:
//
//	group key columns, start, end, watermark, next arrival number (8
//	bytes each), npanes, per pane: window end (8 bytes), group table, rows
//
// where rows are: the number of rows of each group (Int32s), one vector
// per input column holding them group after group, and their arrival
// numbers (Int64s).

var (
	_ runtime.Snapshotter = (*topOp)(nil)
	_ runtime.Snapshotter = (*dedupOp)(nil)
	_ runtime.Snapshotter = (*windowOp)(nil)
)

const (
	topKind    = "top-n"
	dedupKind  = "deduplication"
	windowKind = "window top-n"
)

func restoreError(ctx *runtime.Context, kind string, err error) error {
	name := "?"
	if ctx != nil {
		name = ctx.Operator
	}
	return fmt.Errorf("%s operator %q: cannot restore state: %w", kind, name, err)
}

// appendRows writes the rows of lists, group after group.
func appendRows(e *snap.Encoder, st *rowStore, lists [][]int32) {
	lens := make([]int32, len(lists))
	var ids []int32
	for g, l := range lists {
		lens[g] = int32(len(l))
		ids = append(ids, l...)
	}
	e.Int32s(lens)
	if ids == nil {
		ids = []int32{}
	}
	for c := range st.cols {
		e.Vector(&st.cols[c], ids)
	}
	seqs := make([]int64, len(ids))
	for i, id := range ids {
		seqs[i] = st.seq[id]
	}
	e.Int64s(seqs)
}

// restoreRows reads what appendRows wrote for ngroups groups into an empty
// store, and returns the groups' lists.
func restoreRows(d *snap.Decoder, st *rowStore, ngroups int) [][]int32 {
	lens := d.Int32s(nil)
	if d.Err() != nil {
		return nil
	}
	if len(lens) != ngroups {
		d.Fail("%d row lists for %d groups", len(lens), ngroups)
		return nil
	}
	total := 0
	for _, n := range lens {
		if n < 0 || n > math.MaxInt32-int32(total) {
			d.Fail("bad row count %d", n)
			return nil
		}
		total += int(n)
	}
	for c := range st.cols {
		if n := d.Vector(&st.cols[c], st.cols[c].Type); d.Err() == nil && n != total {
			d.Fail("column %d holds %d rows, want %d", c, n, total)
		}
	}
	st.seq = d.Int64s(st.seq)
	if d.Err() != nil {
		return nil
	}
	if len(st.seq) != total {
		d.Fail("%d arrival numbers for %d rows", len(st.seq), total)
		return nil
	}
	st.live = total
	lists := make([][]int32, ngroups)
	id := int32(0)
	for g, n := range lens {
		l := make([]int32, n)
		for i := range l {
			l[i] = id
			id++
		}
		lists[g] = l
	}
	return lists
}

func appendCols(e *snap.Encoder, cols []int) {
	e.Int(len(cols))
	for _, c := range cols {
		e.Int(c)
	}
}

func expectCols(d *snap.Decoder, role string, cols []int) {
	n := d.Int(1 << 20)
	if d.Err() != nil {
		return
	}
	got := make([]int, n)
	for i := range got {
		got[i] = d.Int(1 << 20)
	}
	if d.Err() == nil && fmt.Sprint(got) != fmt.Sprint(cols) {
		d.Fail("snapshot of an operator with %s columns %v, this one has %v", role, got, cols)
	}
}

func appendOrder(e *snap.Encoder, order []SortKey) {
	e.Int(len(order))
	for _, k := range order {
		e.Int(k.Col)
		e.Bool(k.Desc)
		e.Bool(k.NullsFirst)
	}
}

func expectOrder(d *snap.Decoder, order []SortKey) {
	n := d.Int(1 << 20)
	if d.Err() != nil {
		return
	}
	got := make([]SortKey, n)
	for i := range got {
		got[i] = SortKey{Col: d.Int(1 << 20), Desc: d.Bool(), NullsFirst: d.Bool()}
	}
	if d.Err() == nil && fmt.Sprint(got) != fmt.Sprint(order) {
		d.Fail("snapshot of an operator ordering by %v, this one orders by %v", got, order)
	}
}

// SnapshotState implements runtime.Snapshotter.
func (o *topOp) SnapshotState(int64) ([]byte, error) {
	e := snap.NewEncoder(topKind, 64+o.table.SnapshotSize()+o.st.bytes())
	appendCols(e, o.spec.PartitionCols)
	appendOrder(e, o.spec.Order)
	e.Int64(o.spec.Start)
	e.Int64(o.spec.End)
	e.Bool(o.spec.UpdatingInput)
	e.Int64(o.seq)
	o.table.AppendSnapshot(e)
	appendRows(e, o.st, o.lists)
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *topOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		if o.table != nil { // back to empty
			o.table, o.st, o.lists, o.seq = agg.NewTable(o.spec.In, o.spec.PartitionCols), newRowStore(o.spec.In), nil, 0
			o.sort.st = o.st
		}
		return restoreError(o.ctx, topKind, err)
	}
	o.exp.Reset(o.table.Len(), o.exp.Now()) // the TTL of restored partitions starts now
	for len(o.mark) < o.table.Len() {
		o.mark = append(o.mark, false)
	}
	o.account()
	return nil
}

func (o *topOp) restore(data []byte) error {
	if o.table == nil || o.table.Len() > 0 {
		return fmt.Errorf("the operator is not open, or already holds state")
	}
	d, err := snap.Open(topKind, data)
	if err != nil {
		return err
	}
	expectCols(d, "partition", o.spec.PartitionCols)
	expectOrder(d, o.spec.Order)
	start, end, upd := d.Int64(), d.Int64(), d.Bool()
	if d.Err() == nil && (start != o.spec.Start || end != o.spec.End || upd != o.spec.UpdatingInput) {
		d.Fail("snapshot of ranks %d..%d (updating input %v), the operator keeps %d..%d (updating input %v)",
			start, end, upd, o.spec.Start, o.spec.End, o.spec.UpdatingInput)
	}
	o.seq = d.Int64()
	o.table.RestoreSnapshot(d)
	if d.Err() != nil {
		return d.Err()
	}
	o.lists = restoreRows(d, o.st, o.table.Len())
	return d.Done()
}

// SnapshotState implements runtime.Snapshotter.
func (o *dedupOp) SnapshotState(int64) ([]byte, error) {
	e := snap.NewEncoder(dedupKind, 64+o.table.SnapshotSize()+o.StateBytes())
	appendCols(e, o.spec.KeyCols)
	e.Bool(o.spec.ProcTime)
	e.Bool(o.spec.KeepLast)
	o.table.AppendSnapshot(e)
	for c := range o.vals {
		e.Vector(&o.vals[c], nil)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *dedupOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		if o.table != nil { // back to empty
			o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
			for c := range o.vals {
				o.vals[c].Reset()
			}
		}
		return restoreError(o.ctx, dedupKind, err)
	}
	n := o.table.Len()
	o.exp.Reset(n, o.exp.Now())
	for len(o.mark) < n {
		o.mark = append(o.mark, false)
		o.cand = append(o.cand, 0)
	}
	o.account()
	return nil
}

func (o *dedupOp) restore(data []byte) error {
	if o.table == nil || o.table.Len() > 0 {
		return fmt.Errorf("the operator is not open, or already holds state")
	}
	d, err := snap.Open(dedupKind, data)
	if err != nil {
		return err
	}
	expectCols(d, "key", o.spec.KeyCols)
	pt, kl := d.Bool(), d.Bool()
	if d.Err() == nil && (pt != o.spec.ProcTime || kl != o.spec.KeepLast) {
		d.Fail("snapshot of a deduplication with processing time %v, keep last %v; the operator has %v, %v", pt, kl, o.spec.ProcTime, o.spec.KeepLast)
	}
	o.table.RestoreSnapshot(d)
	for c := range o.vals {
		if n := d.Vector(&o.vals[c], o.vals[c].Type); d.Err() == nil && n != o.table.Len() {
			d.Fail("column %d holds %d rows for %d keys", c, n, o.table.Len())
		}
	}
	return d.Done()
}

// SnapshotState implements runtime.Snapshotter.
func (o *windowOp) SnapshotState(int64) ([]byte, error) {
	size := 64
	for _, p := range o.order {
		size += p.table.SnapshotSize() + p.st.bytes()
	}
	e := snap.NewEncoder(windowKind, size)
	appendCols(e, o.keys)
	appendOrder(e, o.spec.Order)
	e.Int64(o.spec.Start)
	e.Int64(o.spec.End)
	e.Bool(o.spec.LastFirst)
	e.Int64(o.wm)
	e.Int64(o.seq)
	e.Int(len(o.order))
	for _, p := range o.order {
		e.Int64(p.end)
		p.table.AppendSnapshot(e)
		appendRows(e, p.st, p.lists)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *windowOp) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		o.panes, o.order, o.groups, o.lastPn = map[int64]*pane{}, nil, 0, nil
		o.wm, o.seq = runtime.MinWatermark, 0
		return restoreError(o.ctx, windowKind, err)
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(o.groups)
	}
	return nil
}

func (o *windowOp) restore(data []byte) error {
	if len(o.order) > 0 {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(windowKind, data)
	if err != nil {
		return err
	}
	expectCols(d, "group key", o.keys)
	expectOrder(d, o.spec.Order)
	start, end, lf := d.Int64(), d.Int64(), d.Bool()
	if d.Err() == nil && (start != o.spec.Start || end != o.spec.End || lf != o.spec.LastFirst) {
		d.Fail("snapshot of ranks %d..%d (last first %v), the operator keeps %d..%d (last first %v)",
			start, end, lf, o.spec.Start, o.spec.End, o.spec.LastFirst)
	}
	o.wm, o.seq = d.Int64(), d.Int64()
	np := d.Int(1 << 30)
	for i := 0; i < np && d.Err() == nil; i++ {
		p := o.newPane(d.Int64())
		if o.panes[p.end] != nil {
			d.Fail("two panes ending at %d", p.end)
			break
		}
		p.table.RestoreSnapshot(d)
		if d.Err() != nil {
			break
		}
		p.lists = restoreRows(d, p.st, p.table.Len())
		o.groups += p.table.Len()
		o.addPane(p)
	}
	return d.Done()
}
