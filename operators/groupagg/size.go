package groupagg

import "github.com/sluicehq/sluice/runtime"

// StateBytes estimates the memory of the subtask's state — its groups,
// their accumulators and, with a TTL, their last updates — for the
// runtime's stats while the job runs and when it ends (runtime.StateSizer).
func (o *op) StateBytes() int {
	if o.table == nil {
		return 0
	}
	return o.table.Bytes() + o.accs.Bytes() + o.exp.Bytes() + cap(o.live) + cap(o.expired)
}

var _ runtime.StateSizer = (*op)(nil)
