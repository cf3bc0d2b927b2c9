package datagen

import (
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/runtime"
)

// position is a source subtask's checkpointed position (JSON). Subtask and
// Parallelism say which blocks are the subtask's; Next is the row it emits
// next. The rows-per-second limiter and sequences need nothing more: rows
// are a pure function of their index, and the limiter restarts its clock
// when a restored subtask first polls.
type position struct {
	Table       string `json:"table"`
	Subtask     int64  `json:"subtask"`
	Parallelism int64  `json:"parallelism"`
	Next        int64  `json:"next"`
	// Block is the rows per block (absent in positions written before
	// throttled sources had smaller blocks: blockRows).
	Block int64 `json:"block,omitempty"`
}

var _ runtime.CheckpointedSource = (*Source)(nil)

// SnapshotPosition returns the subtask's position: called between Polls,
// it covers exactly the rows of the batches returned so far.
func (s *Source) SnapshotPosition() ([]byte, error) {
	return json.Marshal(position{Table: s.cfg.table, Subtask: s.subtask, Parallelism: s.par, Next: s.next, Block: s.block})
}

// RestorePositions takes the positions of every subtask of a checkpoint
// (before Open); Open picks this subtask's. The positions must come from
// one run: one per subtask, all with the same parallelism.
func (s *Source) RestorePositions(all [][]byte) error {
	ps := make([]position, 0, len(all))
	seen := map[int64]bool{}
	for i, data := range all {
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("table %s: checkpointed position %d of the datagen source is not readable: %v", s.cfg.table, i, err)
		}
		switch {
		case p.Parallelism < 1 || p.Subtask < 0 || p.Subtask >= p.Parallelism || p.Next < 0:
			return fmt.Errorf("table %s: checkpointed position %d of the datagen source is not valid: subtask %d of %d at row %d",
				s.cfg.table, i, p.Subtask, p.Parallelism, p.Next)
		case len(ps) > 0 && p.Parallelism != ps[0].Parallelism:
			return fmt.Errorf("table %s: the checkpointed positions of the datagen source disagree on its parallelism (%d and %d)",
				s.cfg.table, ps[0].Parallelism, p.Parallelism)
		case seen[p.Subtask]:
			return fmt.Errorf("table %s: the checkpoint holds two positions of datagen subtask %d", s.cfg.table, p.Subtask)
		}
		seen[p.Subtask] = true
		ps = append(ps, p)
	}
	s.restored = ps
	s.restoring = true
	return nil
}

// restore applies the positions RestorePositions took; Open calls it.
func (s *Source) restore() error {
	if len(s.restored) == 0 {
		return nil // the checkpoint holds no position: start from the beginning
	}
	if was := s.restored[0].Parallelism; was != s.par {
		return fmt.Errorf("table %s: the checkpoint was taken with %d datagen subtasks and the job now runs %d; "+
			"a datagen source can only be restored with the parallelism of its checkpoint (%d)", s.cfg.table, was, s.par, was)
	}
	was := s.restored[0].Block
	if was == 0 {
		was = blockRows
	}
	if was != s.block {
		return fmt.Errorf("table %s: the checkpoint dealt the datagen rows to subtasks in blocks of %d and the job now deals "+
			"blocks of %d (with 'rows-per-second' a block holds 10 ms of rows); restore it with the options of its checkpoint",
			s.cfg.table, was, s.block)
	}
	for _, p := range s.restored {
		if p.Subtask == s.subtask {
			s.next = p.Next
			return nil
		}
	}
	return fmt.Errorf("table %s: the checkpoint holds no position of datagen subtask %d of %d", s.cfg.table, s.subtask, s.par)
}
