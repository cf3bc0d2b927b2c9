package join

import "github.com/sluicehq/sluice/runtime"

// StateBytes estimates the memory of the subtask's state, for the
// runtime's stats when the job ends (runtime.StateSizer).
func (o *regJoin) StateBytes() int { return o.stateBytes() }

var _ runtime.StateSizer = (*regJoin)(nil)
