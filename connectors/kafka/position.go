package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/segmentio/kafka-go"
	"github.com/sluicehq/sluice/connectors"
)

// partPos is the checkpointed position of one partition.
type partPos struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	// Next is the offset of the next record to read (-2: the earliest).
	Next int64 `json:"next"`
	// Stop is where a bounded read ends (-1: unbounded).
	Stop int64 `json:"stop"`
}

// position is a source subtask's checkpointed read position (JSON). The
// positions of all subtasks together say where the whole source stands;
// a restored run deals the partitions out again, whatever its parallelism.
type position struct {
	Partitions []partPos `json:"partitions"`
}

// SnapshotPosition returns the subtask's position: called between Polls,
// it covers exactly the records of the batches returned so far. It also
// keeps the offsets to commit to the group once the checkpoint completes.
func (s *source) SnapshotPosition() ([]byte, error) {
	p := position{Partitions: make([]partPos, 0, len(s.parts))}
	commit := map[topicPart]int64{}
	for _, ps := range s.parts {
		p.Partitions = append(p.Partitions, partPos{Topic: ps.topic, Partition: ps.part, Next: ps.next, Stop: ps.stop})
		if ps.next >= 0 {
			commit[ps.topicPart] = ps.next
		}
	}
	if tk := s.ctx.Task; tk != nil {
		// A task of a shared job: its owner commits the offsets, fenced
		// by the group's generation, once the checkpoint counts.
		if tk.Offsets != nil {
			for tp, next := range commit {
				tk.Offsets(tp.topic, tp.part, next)
			}
		}
		return json.Marshal(p)
	}
	if s.cfg.group != "" {
		// One checkpoint is in flight at a time: when a checkpoint
		// completes, the last snapshot taken is the one it holds.
		s.commitMu.Lock()
		s.pending = commit
		s.commitMu.Unlock()
	}
	return json.Marshal(p)
}

// RestorePositions takes the positions of every subtask of a checkpoint;
// Open picks those of the partitions the subtask now reads.
func (s *source) RestorePositions(all [][]byte) error {
	merged := map[topicPart]partPos{}
	for i, data := range all {
		if len(data) == 0 {
			continue
		}
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return connectors.Errorf(s.cfg.table, "checkpointed position %d of the kafka source is not readable: %v", i, err)
		}
		for _, pp := range p.Partitions {
			tp := topicPart{pp.Topic, pp.Partition}
			if old, ok := merged[tp]; !ok || pp.Next > old.Next {
				merged[tp] = pp
			}
		}
	}
	s.restored = merged
	return nil
}

// NotifyCheckpointComplete commits the offsets of the last snapshot to the
// group 'properties.group.id' (called from the checkpoint coordinator's
// goroutine). The commit is a "simple" one, outside any group generation:
// the job does not join the group, so the commit is refused while
// consumers of the group are active.
func (s *source) NotifyCheckpointComplete(int64) error {
	if s.cfg.group == "" {
		return nil
	}
	s.commitMu.Lock()
	offsets := s.pending
	s.pending = nil
	s.commitMu.Unlock()
	if len(offsets) == 0 {
		return nil
	}
	return s.cfg.commit(context.Background(), offsets)
}

// commit commits offsets to the table's group.
func (c *config) commit(ctx context.Context, offsets map[topicPart]int64) error {
	req := &kafka.OffsetCommitRequest{GroupID: c.group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{}}
	tps := make([]topicPart, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		return tps[i].topic < tps[j].topic || tps[i].topic == tps[j].topic && tps[i].part < tps[j].part
	})
	for _, tp := range tps {
		req.Topics[tp.topic] = append(req.Topics[tp.topic], kafka.OffsetCommit{Partition: tp.part, Offset: offsets[tp]})
	}
	return c.call(ctx, func(ctx context.Context, cl *kafka.Client) error {
		res, err := cl.OffsetCommit(ctx, req)
		if err != nil {
			return c.brokerError(fmt.Sprintf("cannot commit the offsets of group %q", c.group), err)
		}
		for topic, parts := range res.Topics {
			for _, p := range parts {
				if p.Error != nil {
					return connectors.Errorf(c.table, "kafka topic %q partition %d: cannot commit offset %d to group %q: %w",
						topic, p.Partition, offsets[topicPart{topic, p.Partition}], c.group, p.Error)
				}
			}
		}
		return nil
	})
}
