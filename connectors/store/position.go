package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/connectors"
	kstore "github.com/sluicehq/sluice/store"
)

// position is a source subtask's checkpointed read position (JSON): where
// each of its shards stands and which shards it has read to their end. The
// positions of all subtasks together say where the whole source stands:
// a restored run deals them out again, whatever its parallelism.
type position struct {
	Stream string `json:"stream"`
	// Start is where shards with no position begin: 0 for the trim horizon,
	// else an arrival time (epoch ms) read AT_TIMESTAMP — for 'latest', the
	// time the job first started, so that records put while it was down
	// are not skipped.
	Start int64 `json:"start,omitempty"`
	// Bound is the arrival time after which a bounded read ends (0: none).
	Bound int64 `json:"bound,omitempty"`
	// Ended are shards read to their end.
	Ended []string `json:"ended,omitempty"`
	// Shards maps a shard to the sequence number of its last record
	// emitted; reading resumes after it.
	Shards map[string]string `json:"shards,omitempty"`
}

// SnapshotPosition returns the subtask's position: called between Polls,
// it covers exactly the records of the batches returned so far. A shard
// whose last records have been emitted counts as ended.
func (s *source) SnapshotPosition() ([]byte, error) {
	p := position{Stream: s.cfg.stream, Start: s.lin.resumeFrom(), Bound: s.lin.boundIfAny(), Shards: map[string]string{}}
	p.Ended = append(p.Ended, s.ended...)
	for _, sh := range s.shards {
		switch {
		case sh.done:
			p.Ended = append(p.Ended, sh.id)
		case sh.after != "":
			p.Shards[sh.id] = sh.after
		}
	}
	sort.Strings(p.Ended)
	return json.Marshal(p)
}

// RestorePositions takes the positions of every subtask of a checkpoint;
// the lineage deals the shards out again at Open.
func (s *source) RestorePositions(all [][]byte) error {
	var merged *position
	for i, data := range all {
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return connectors.Errorf(s.cfg.table, "checkpointed position %d of the source is not readable: %v", i, err)
		}
		if p.Stream != s.cfg.stream {
			return connectors.Errorf(s.cfg.table, "the checkpoint read stream %q, the table reads %q", p.Stream, s.cfg.stream)
		}
		if merged == nil {
			merged = &position{Stream: p.Stream, Start: p.Start, Bound: p.Bound, Shards: map[string]string{}}
		}
		merged.Ended = append(merged.Ended, p.Ended...)
		for id, seq := range p.Shards {
			if err := checkSeq(seq); err != nil {
				return connectors.Errorf(s.cfg.table, "checkpointed position %d of the source: stream %s shard %s is at sequence number %q, %v", i, p.Stream, id, seq, err)
			}
			if old, ok := merged.Shards[id]; !ok || seqLess(old, seq) {
				merged.Shards[id] = seq
			}
		}
	}
	if merged != nil {
		for _, id := range merged.Ended {
			delete(merged.Shards, id)
		}
	}
	s.restored = merged
	return nil
}

// oldSeqDigits is the most digits of the sequence numbers of Sluice's
// store before they took Kinesis's 56-digit shape (the shard log's own
// counter, a uint64). Kinesis's are never that short.
const oldSeqDigits = 20

// checkSeq refuses a checkpointed sequence number that is not a decimal
// number or is one of the old short ones: the store no longer accepts
// them, and reading them as a position would skip or repeat records.
func checkSeq(seq string) error {
	if seq == "" || strings.Trim(seq, "0123456789") != "" {
		return fmt.Errorf("which is not a decimal sequence number")
	}
	if len(seq) <= oldSeqDigits {
		return fmt.Errorf("a short sequence number of an older Sluice store (they now have %d digits); "+
			"such a checkpoint cannot be restored: run the job without it", kstore.SequenceNumberLen)
	}
	return nil
}

// seqLess compares two decimal sequence numbers.
func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (p *position) String() string {
	return fmt.Sprintf("stream %s: %d shards at a position, %d ended", p.Stream, len(p.Shards), len(p.Ended))
}
