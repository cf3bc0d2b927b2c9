package queue

import (
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// What checkpoints record.
//
// A queue has no read position: what a checkpoint needs is which messages
// its rows already reflect. A subtask's position lists the ids of the
// messages it emitted before the barrier and has not deleted (the
// checkpoint's own and those of earlier checkpoints whose deletes have not
// happened or are under way), and the run's delivered set. A restored run
// loads every subtask's ids into its delivered set (any subtask may receive
// any message): a message received again whose id is in it is deleted and
// dropped, not emitted twice. Messages emitted after the barrier are not
// listed: the restored job emits them again, as it must.
//
// The delivered set is pruned: an id leaves it once its message has been
// received again and deleted, or once it is older than the queue's message
// retention period (the queue has dropped the message by then). It also
// takes, during a run, the ids of messages whose delete failed after their
// checkpoint completed.

// position is a source subtask's checkpointed position (JSON).
type position struct {
	Queue string `json:"queue"`
	// Delivered maps the id of a message the checkpoint's rows reflect
	// and that may still be in the queue to when it was recorded (epoch ms).
	Delivered map[string]int64 `json:"delivered,omitempty"`
}

// SnapshotPosition returns the ids of the messages the checkpoint covers
// that may still be in the queue (called after OnBarrier).
func (s *source) SnapshotPosition() ([]byte, error) {
	now := time.Now().UnixMilli()
	p := position{Queue: s.cfg.queue, Delivered: map[string]int64{}}
	s.mu.Lock()
	for _, g := range s.sealed {
		for _, m := range g.msgs {
			p.Delivered[m.id] = now
		}
	}
	for _, msgs := range s.deleting {
		for _, m := range msgs {
			p.Delivered[m.id] = now
		}
	}
	s.mu.Unlock()
	s.run.snapshot(p.Delivered, now)
	return json.Marshal(p)
}

// RestorePositions takes the positions of every subtask of a checkpoint:
// the union of their ids is the run's delivered set (loaded at Open).
func (s *source) RestorePositions(all [][]byte) error {
	merged := map[string]int64{}
	for i, data := range all {
		var p position
		if err := json.Unmarshal(data, &p); err != nil {
			return connectors.Errorf(s.cfg.table, "checkpointed position %d of the source is not readable: %v", i, err)
		}
		if p.Queue != s.cfg.queue {
			return connectors.Errorf(s.cfg.table, "the checkpoint read queue %q, the table reads %q", p.Queue, s.cfg.queue)
		}
		for id, at := range p.Delivered {
			if old, ok := merged[id]; !ok || at < old {
				merged[id] = at
			}
		}
	}
	s.restored = merged
	return nil
}

// runs hands the subtasks of each run of a source their shared run:
// subtasks join the current one until all of its run have joined.
type runs struct {
	mu  sync.Mutex
	cur *run
}

func (rs *runs) join(ctx *runtime.Context) *run {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	p := max(ctx.Parallelism, 1)
	if rs.cur == nil || rs.cur.joined >= rs.cur.parallelism || rs.cur.parallelism != p {
		rs.cur = &run{parallelism: p, delivered: map[string]int64{}}
	}
	rs.cur.joined++
	return rs.cur
}

// run is what the subtasks of one run of a source share: the delivered
// set. It is guarded by its mutex.
type run struct {
	parallelism int
	joined      int

	mu        sync.Mutex
	loaded    bool
	retention int64 // ms
	delivered map[string]int64
}

// load fills the delivered set from a restored checkpoint, once per run.
func (r *run) load(restored map[string]int64, retention time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded {
		return
	}
	r.loaded = true
	r.retention = retention.Milliseconds()
	for id, at := range restored {
		r.delivered[id] = at
	}
}

// isDelivered reports whether the run has delivered message id already.
func (r *run) isDelivered(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.delivered[id]
	return ok
}

// remember adds the ids of msgs to the delivered set.
func (r *run) remember(msgs []*held) {
	if len(msgs) == 0 {
		return
	}
	now := time.Now().UnixMilli()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if _, ok := r.delivered[m.id]; !ok {
			r.delivered[m.id] = now
		}
	}
}

// forget removes the ids of deleted messages from the delivered set.
func (r *run) forget(msgs []*held) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.delivered) == 0 {
		return
	}
	for _, m := range msgs {
		delete(r.delivered, m.id)
	}
}

// snapshot adds the delivered set to into, dropping the ids older than the
// retention period.
func (r *run) snapshot(into map[string]int64, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, at := range r.delivered {
		if r.retention > 0 && now-at > r.retention {
			delete(r.delivered, id)
			continue
		}
		if old, ok := into[id]; !ok || at < old {
			into[id] = at
		}
	}
}

// ids lists the delivered set, sorted (for tests and logs).
func (r *run) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.delivered))
	for id := range r.delivered {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
