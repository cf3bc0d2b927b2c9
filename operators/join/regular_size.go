package join

import "github.com/sluicehq/sluice/runtime"

// StateBytes estimates the memory of the subtask's state, for the
// runtime's stats while the job runs and when it ends (runtime.StateSizer).
func (o *regJoin) StateBytes() int { return o.stateBytes() }

var _ runtime.StateSizer = (*regJoin)(nil)
