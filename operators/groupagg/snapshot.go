package groupagg

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// A GROUP BY snapshot (runtime.Snapshotter), in the framing of package
// snap, holds every group's key and accumulators: after a restore a group
// seen before retracts its last result (-U) before the new one (+U), and a
// new group is inserted (+I), as without the restart.
//
//	key columns, key table (agg.Table), accumulators (agg.Accs)

const snapKind = "group aggregation"

var _ runtime.Snapshotter = (*op)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *op) SnapshotState(int64) ([]byte, error) {
	e := snap.NewEncoder(snapKind, 16+o.table.SnapshotSize()+o.accs.SnapshotSize())
	e.Int(len(o.spec.KeyCols))
	o.table.AppendSnapshot(e)
	o.accs.AppendSnapshot(e)
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *op) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		if o.table != nil { // back to empty
			o.table, o.accs = agg.NewTable(o.spec.In, o.spec.KeyCols), agg.NewAccs(o.layout)
		}
		name := "?"
		if o.ctx != nil {
			name = o.ctx.Operator
		}
		return fmt.Errorf("%s operator %q: cannot restore state: %w", snapKind, name, err)
	}
	o.exp.Reset(o.table.Len(), o.exp.Now()) // the TTL of restored groups starts now
	o.countDead()
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
		return fmt.Errorf("snapshot of a GROUP BY on %d columns, the operator groups by %d", nk, len(o.spec.KeyCols))
	}
	o.table.RestoreSnapshot(d)
	o.accs.RestoreSnapshot(d)
	if d.Err() == nil && o.accs.Len() != o.table.Len() {
		d.Fail("%d groups but %d accumulators", o.table.Len(), o.accs.Len())
	}
	return d.Done()
}
