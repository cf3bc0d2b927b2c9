package groupagg

import (
	"fmt"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// compactDeadAt is the number of groups without rows above which, when
// they are also most groups, the table is compacted.
const compactDeadAt = 1024

// processRetract is ProcessBatch over an updating input: for each group the
// batch touches, in first-touch order, -U of the previous result then +U of
// the new one (nothing when they are equal and there is no TTL), +I for a
// group that had no rows, -D for a group left without rows.
func (o *op) processRetract(b *runtime.Batch, out runtime.Output) error {
	o.rows = o.rows[:0]
	for i := 0; i < b.Len(); i++ {
		o.rows = append(o.rows, int32(b.Row(i)))
	}
	if len(o.rows) == 0 {
		return nil
	}
	ttl := o.exp.TTL()
	var now int64
	if ttl > 0 {
		now = o.exp.Now()
		o.purge(now)
	}
	before := int32(o.table.Len())
	o.groups = o.table.Lookup(b, o.rows, o.groups)
	o.dead += o.table.Len() - int(before) // new groups hold no rows yet
	o.accs.Grow(o.table.Len())
	for len(o.mark) < o.table.Len() {
		o.mark = append(o.mark, false)
	}
	o.touched = o.touched[:0]
	for _, g := range o.groups {
		if !o.mark[g] {
			o.mark[g] = true
			o.touched = append(o.touched, g)
		}
	}
	o.exp.Grow(o.table.Len(), now)
	// The previous results of the groups holding rows; an expired group
	// starts anew.
	o.prev.Reset()
	o.prevRow = o.prevRow[:0]
	for _, g := range o.touched {
		if ttl > 0 && g < before && o.exp.Expired(g, now) && o.accs.Rows(g) > 0 {
			o.accs.Clear(g)
			o.dead++
		}
		if ttl > 0 {
			o.exp.Last[g] = now
		}
		if o.accs.Rows(g) == 0 {
			o.prevRow = append(o.prevRow, -1)
			continue
		}
		o.prevRow = append(o.prevRow, int32(o.prev.N))
		o.table.Key(g, o.prev, 0)
		o.accs.Emit(g, o.prev, len(o.spec.KeyCols))
		o.prev.N++
	}
	o.accs.Update(b, o.rows, o.groups)
	for _, g := range o.touched {
		o.mark[g] = false
	}
	for i, g := range o.touched {
		was, now := o.prevRow[i] >= 0, o.accs.Rows(g) > 0
		if now {
			if err := o.accs.Check(g); err != nil {
				return fmt.Errorf("%w, for the group %s", err, o.table.KeyString(g))
			}
		}
		var err error
		switch {
		case was && now && ttl == 0:
			// An unchanged result emits nothing (as Flink, without a TTL).
			o.cur.Reset()
			o.table.Key(g, o.cur, 0)
			o.accs.Emit(g, o.cur, len(o.spec.KeyCols))
			o.cur.N++
			if sameResult(o.prev, int(o.prevRow[i]), o.cur, 0, len(o.spec.KeyCols)) {
				break
			}
			if err = o.emitPrev(o.prevRow[i], runtime.UpdateBefore, out); err == nil {
				err = o.emitRow(o.cur, 0, runtime.UpdateAfter, out)
			}
		case was && now:
			if err = o.emitPrev(o.prevRow[i], runtime.UpdateBefore, out); err == nil {
				err = o.emit(g, runtime.UpdateAfter, out)
			}
		case was:
			err = o.emitPrev(o.prevRow[i], runtime.Delete, out)
			o.accs.Clear(g)
			o.dead++
		case now:
			err = o.emit(g, runtime.Insert, out)
			o.dead--
		default:
			// Retractions only (ignored) or rows added and retracted in
			// this batch: nothing to say.
			o.accs.Clear(g)
		}
		if err != nil {
			return err
		}
	}
	if o.dead > compactDeadAt && 2*o.dead > o.table.Len() {
		o.live = o.live[:0]
		for g := range o.table.Len() {
			o.live = append(o.live, o.accs.Rows(int32(g)) > 0)
		}
		o.compact()
	}
	o.setStateKeys()
	if live := o.table.Len() - o.dead; o.spec.MaxGroups > 0 && live > o.spec.MaxGroups {
		return fmt.Errorf("%w: GROUP BY holds %d groups in this subtask, over its limit of %d ('sluice.state.max-keys'; 'table.exec.state.ttl' drops idle keys)", state.ErrStateLimit, live, o.spec.MaxGroups)
	}
	return o.flush(out)
}

// emitPrev appends row r of o.prev, the previous result of a group, with
// kind.
func (o *op) emitPrev(r int32, kind runtime.RowKind, out runtime.Output) error {
	return o.emitRow(o.prev, r, kind, out)
}

// emitRow appends row r of src (of the output schema) with kind.
func (o *op) emitRow(src *runtime.Batch, r int32, kind runtime.RowKind, out runtime.Output) error {
	b := o.outb
	for c := range b.Cols {
		b.Cols[c].AppendFrom(&src.Cols[c], int(r))
	}
	b.SetKind(b.N, kind)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return o.flush(out)
	}
	return nil
}
