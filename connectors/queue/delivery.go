package queue

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// When messages are deleted.
//
// With checkpoints (the job has a checkpoint interval), a message is
// deleted only once a checkpoint that covers its row is complete, so that
// a job restored from any checkpoint has either the message's row in its
// state and published output, or the message still in the queue:
//
//   - Poll holds the messages it emits ("open"); at a checkpoint's barrier
//     (OnBarrier) they are sealed under that checkpoint's id;
//   - NotifyCheckpointComplete(id) deletes the messages sealed under id and
//     earlier ids (with the checkpoint that records the end of a bounded
//     job, every held message);
//   - meanwhile the keeper goroutine extends the visibility timeout of every
//     held message (ChangeMessageVisibilityBatch, 'scan.visibility-timeout',
//     when half of it is left), so that no other consumer — nor this job —
//     receives them again while they wait.
//
// Without checkpoints, the messages of a batch are deleted once the batch
// has been emitted (at the next Poll): at-least-once, a failure may lose
// the rows of the last batch downstream of the source, and the messages
// of a failed job whose deletes did not happen are received again.

// keepInterval is how often the keeper looks for held messages whose
// visibility timeout needs extending: a quarter of the timeout, at most a
// second.
func keepInterval(vis time.Duration) time.Duration { return min(time.Second, vis/4) }

// deleteLanes bounds the DeleteMessageBatch calls one deletion makes at once.
const deleteLanes = 8

// OnBarrier seals the messages emitted since the previous barrier under
// the checkpoint's id (the runtime calls it between two Polls, before
// SnapshotPosition).
func (s *source) OnBarrier(b runtime.Barrier) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.open) > 0 {
		s.sealed = append(s.sealed, sealed{id: b.ID, msgs: s.open})
		s.open = nil
	}
	return nil
}

// NotifyCheckpointComplete deletes the messages whose rows checkpoint id
// (and earlier ones) covers. It runs on the checkpoint coordinator's
// goroutine, also after Close. Messages whose delete fails are remembered
// by the run as delivered: received again, they are deleted and dropped.
func (s *source) NotifyCheckpointComplete(id int64) error {
	s.mu.Lock()
	var due []*held
	keep := s.sealed[:0]
	for _, g := range s.sealed {
		if g.id <= id {
			due = append(due, g.msgs...)
			continue
		}
		keep = append(keep, g)
	}
	clear(s.sealed[len(keep):])
	s.sealed = keep
	if id == runtime.EndCheckpoint {
		due = append(due, s.open...)
		s.open = nil
	}
	// Until their deletes have happened (or failed, and the run remembers
	// them), snapshots still list them.
	s.deletion++
	key := s.deletion
	if len(due) > 0 {
		s.deleting[key] = due
	}
	s.mu.Unlock()
	s.deleteNow(due)
	s.mu.Lock()
	delete(s.deleting, key)
	s.mu.Unlock()
	if s.lingering.Load() && !s.holds() {
		s.stopLive() // the keeper of a closed source has nothing left to keep
	}
	return nil
}

// deleteNow deletes msgs, deleteLanes batches at a time, retrying
// transient failures a few times. The ids of those not deleted are added
// to the run's delivered set; those deleted leave it.
func (s *source) deleteNow(msgs []*held) {
	if len(msgs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, deleteLanes)
	for start := 0; start < len(msgs); start += maxBatch {
		part := msgs[start:min(start+maxBatch, len(msgs))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.deleteBatch(ctx, part)
		}()
	}
	wg.Wait()
}

// deleteBatch deletes up to maxBatch messages.
func (s *source) deleteBatch(ctx context.Context, msgs []*held) {
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.receipt
	}
	backoff := minBackoff
	for attempt := 0; ; attempt++ {
		failed, err := s.cfg.sqs.Delete(ctx, s.url, receipts)
		if err == nil && len(failed) == 0 {
			s.run.forget(msgs)
			return
		}
		if err != nil && (!retryable(err) || attempt == 3) || ctx.Err() != nil {
			s.cfg.log.Warn(s.ctx.Logger(), "table %s: queue %s: cannot delete %d messages: %v (dropped if received again)", s.cfg.table, s.cfg.queue, len(msgs), err)
			s.run.remember(msgs)
			return
		}
		if err == nil {
			var again []*held
			var lost []*held
			done := make([]bool, len(msgs))
			for _, f := range failed {
				i, e := strconv.Atoi(f.Id)
				if e != nil || i < 0 || i >= len(msgs) || done[i] {
					continue
				}
				done[i] = true
				if f.SenderFault || attempt == 3 {
					s.cfg.log.Warn(s.ctx.Logger(), "table %s: queue %s: cannot delete message %s: %s: %s (dropped if received again)",
						s.cfg.table, s.cfg.queue, msgs[i].id, f.Code, f.Message)
					lost = append(lost, msgs[i])
				} else {
					again = append(again, msgs[i])
				}
			}
			var ok []*held
			for i, m := range msgs {
				if !done[i] {
					ok = append(ok, m)
				}
			}
			s.run.forget(ok)
			s.run.remember(lost)
			if len(again) == 0 {
				return
			}
			msgs = again
			receipts = receipts[:0]
			for _, m := range msgs {
				receipts = append(receipts, m.receipt)
			}
		}
		if sleep(ctx, backoff) != nil {
			s.run.remember(msgs)
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// toDeleter hands msgs to the deleter goroutine; false when ctx ends first.
func (s *source) toDeleter(ctx context.Context, msgs []*held) bool {
	select {
	case s.deletes <- msgs:
		return true
	case <-ctx.Done():
		return false
	}
}

// deleter deletes what Poll hands it: without checkpoints, the messages of
// emitted batches; always, messages received again that the run had
// delivered. It returns once Close has closed its channel (after deleting
// what is left) or the job stops.
func (s *source) deleter() {
	defer s.helpers.Done()
	for {
		select {
		case msgs, ok := <-s.deletes:
			if !ok {
				return
			}
			// Take what else is waiting: one deletion, its batches in parallel.
			for more := true; more; {
				select {
				case m, ok := <-s.deletes:
					msgs = append(msgs, m...)
					more = ok
				default:
					more = false
				}
			}
			s.deleteNow(msgs)
		case <-s.ctx.Done():
			return
		}
	}
}

// keep is the keeper goroutine: every keepInterval it extends the
// visibility timeout of the held messages that have less than half of it
// left (or will have before the next look). A message whose extension fails (its receipt is no longer valid)
// may be received again; the checkpoint rules still hold for it (see
// position.go).
func (s *source) keep() {
	defer s.keeper.Done()
	every := keepInterval(s.cfg.vis)
	t := time.NewTicker(every)
	defer t.Stop()
	vis := s.cfg.vis.Milliseconds()
	for {
		select {
		case <-t.C:
		case <-s.live.Done():
			return
		}
		now := time.Now().UnixMilli()
		var due []*held
		s.mu.Lock()
		pick := func(msgs []*held) {
			for _, m := range msgs {
				if m.until-now < vis/2+every.Milliseconds() {
					due = append(due, m)
				}
			}
		}
		pick(s.open)
		for _, g := range s.sealed {
			pick(g.msgs)
		}
		s.mu.Unlock()
		for start := 0; start < len(due) && s.live.Err() == nil; start += maxBatch {
			part := due[start:min(start+maxBatch, len(due))]
			receipts := make([]string, len(part))
			for i, m := range part {
				receipts[i] = m.receipt
			}
			failed, err := s.cfg.sqs.ChangeVisibility(s.live, s.url, receipts, s.cfg.vis)
			if err != nil {
				if s.live.Err() == nil {
					s.cfg.log.Warn(s.ctx.Logger(), "table %s: queue %s: cannot extend the visibility of %d messages: %v", s.cfg.table, s.cfg.queue, len(part), err)
				}
				continue
			}
			bad := make(map[int]bool, len(failed))
			for _, f := range failed {
				if i, e := strconv.Atoi(f.Id); e == nil {
					bad[i] = true
				}
			}
			until := time.Now().UnixMilli() + vis
			s.mu.Lock()
			for i, m := range part {
				if !bad[i] {
					m.until = until
				}
			}
			s.mu.Unlock()
		}
	}
}
