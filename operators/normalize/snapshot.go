package normalize

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// A normalize snapshot (runtime.Snapshotter), in the framing of package
// snap, holds the keys and the row held for each: after a restore a key
// held before is updated with -U/+U and deleted with -D, as without the
// restart.
//
//	key columns, key table (agg.Table), columns of the rows (snap vectors), live flags

const snapKind = "changelog normalize"

var _ runtime.Snapshotter = (*op)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *op) SnapshotState(int64) ([]byte, error) {
	e := snap.NewEncoder(snapKind, 64+o.table.SnapshotSize()+o.table.Bytes())
	e.Int(len(o.spec.KeyCols))
	o.table.AppendSnapshot(e)
	for c := range o.rows.Cols {
		e.Vector(&o.rows.Cols[c], nil)
	}
	e.Int(len(o.has))
	for _, h := range o.has {
		e.Bool(h)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *op) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		if o.table != nil { // back to empty
			o.table = agg.NewTable(o.spec.In, o.spec.KeyCols)
			o.rows.Reset()
			o.has, o.live = o.has[:0], 0
		}
		name := "?"
		if o.ctx != nil {
			name = o.ctx.Operator
		}
		return fmt.Errorf("%s operator %q: cannot restore state: %w", snapKind, name, err)
	}
	o.live = 0
	for _, h := range o.has {
		if h {
			o.live++
		}
	}
	o.last = o.last[:0]
	if o.ttlMs() > 0 { // the TTL of restored keys starts now
		now := o.now()
		for range o.has {
			o.last = append(o.last, now)
		}
	}
	o.setStateKeys()
	return nil
}

func (o *op) restore(data []byte) error {
	if o.table == nil || o.table.Len() > 0 {
		return fmt.Errorf("the operator is not open, or already holds state")
	}
	d, err := snap.Open(snapKind, data)
	if err != nil {
		return err
	}
	if nk := d.Int(1 << 20); d.Err() == nil && nk != len(o.spec.KeyCols) {
		return fmt.Errorf("snapshot of a key of %d columns, the operator's has %d", nk, len(o.spec.KeyCols))
	}
	o.table.RestoreSnapshot(d)
	n := o.table.Len()
	for c, f := range o.spec.In.Fields {
		if got := d.Vector(&o.rows.Cols[c], f.Type); d.Err() == nil && got != n {
			d.Fail("column %s holds %d rows for %d keys", f.Name, got, n)
		}
	}
	o.rows.N = n
	if m := d.Int(1 << 40); d.Err() == nil && m != n {
		d.Fail("%d live flags for %d keys", m, n)
	}
	o.has = o.has[:0]
	for range n {
		if d.Err() != nil {
			break
		}
		o.has = append(o.has, d.Bool())
	}
	return d.Done()
}
