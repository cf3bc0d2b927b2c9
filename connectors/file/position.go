package file

import (
	"encoding/json"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// checkpointPosition is a source subtask's checkpointed position (JSON):
// the position of each of its files. The positions of all subtasks
// together say where the whole source stands; every subtask of a restored
// run is given all of them and takes those of the files dealt to it, so a
// file's position reaches whichever subtask reads it now, whatever the
// parallelism or the order in which files are found.
type checkpointPosition struct {
	Table string         `json:"table"`
	Files []FilePosition `json:"files"`
}

var _ runtime.CheckpointedSource = (*Source)(nil)

// SnapshotPosition returns the subtask's position: called between Polls,
// it covers exactly the records of the batches returned so far (and the
// bad and blank lines among them).
func (s *Source) SnapshotPosition() ([]byte, error) {
	p := checkpointPosition{Table: s.cfg.table, Files: []FilePosition{}}
	for _, fs := range s.files {
		p.Files = fs.positions(p.Files)
	}
	return json.Marshal(p)
}

// RestorePositions takes the positions of every subtask of a checkpoint,
// before Open. A file in none of them is read from the start; a file now
// shorter than its position is read again from the start.
func (s *Source) RestorePositions(all [][]byte) error {
	var ps []Position
	for i, data := range all {
		var p checkpointPosition
		if err := json.Unmarshal(data, &p); err != nil {
			return connectors.Errorf(s.cfg.table, "checkpointed position %d of the file source is not readable: %v", i, err)
		}
		for _, f := range p.Files {
			if f.Offset < 0 || f.Line < 0 {
				return connectors.Errorf(s.cfg.table, "checkpointed position %d of the file source: %s at offset %d, line %d", i, f.Path, f.Offset, f.Line)
			}
			if f.Start < 0 || f.End < 0 || f.End > 0 && f.End <= f.Start || f.Offset < f.anchor() {
				return connectors.Errorf(s.cfg.table, "checkpointed position %d of the file source: %s: a range of bytes %d to %d read to %d",
					i, f.Path, f.Start, f.End, f.Offset)
			}
		}
		ps = append(ps, Position{Files: p.Files})
	}
	s.Restore(ps...)
	return nil
}
