package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// Exactly-once delivery (file:// and s3:// with checkpoints) is a two-phase
// commit:
//
//   - Pre-commit (OnBarrier, then SnapshotState): every buffer is written
//     under a staging key of the subtask; the objects staged since the
//     last checkpoint are recorded as pending for this checkpoint, and the
//     state lists every pending object with its final key.
//   - Commit (NotifyCheckpointComplete): once the checkpoint is durable, the
//     pending objects of it and earlier checkpoints are published (renamed,
//     or copied and deleted on S3) and counted in the metrics.
//   - Restore (RestoreState): the objects the state lists are published
//     (their checkpoint is complete; publishing twice is harmless), then
//     everything else in the subtask's staging folder — what the failed
//     attempt staged after the checkpoint — is deleted.
//
// The commit record: before a subtask publishes the objects of a
// checkpoint, it records that checkpoint's id (and the objects' keys) in
// .staging/<table>/commits-<subtask> of its destination, written whole (a
// file renamed into place, or one PUT). It outlives the checkpoints: a run
// that would start from an older checkpoint than the newest one published,
// or from none, and so publish those rows again, is refused by the runtime
// (runtime.PublishLog) unless duplicates are allowed.
//
// A task of a job that several processes share (runtime.TaskInfo) may run
// twice for a while: its new owner, restored from the last checkpoint that
// counted, and a zombie, the old owner that has not noticed yet that it
// lost the task. Both are the same subtask, so each stages in a folder of
// its attempt, .staging/<table>/<subtask>-<attempt>. A restore removes at
// once only the untagged staging folder and the attempt's own; that of the
// attempt that took the restored checkpoint is removed once a checkpoint
// of the restoring attempt counts (its first NotifyCheckpointComplete):
// until then that attempt may be the owner, and the restoring one a
// zombie. Other attempts' folders are left alone. Final keys are unique (a
// UUID each) and only the attempt whose checkpoints count publishes its
// own. The commit record is the task's, shared, written only once a
// checkpoint counts (NotifyCheckpointComplete) or by a restore of one that
// did, read again before it is written and never moved back (not even by
// ForgetPublished).

// sinkState is a subtask's checkpointed state (JSON).
type sinkState struct {
	Table   string `json:"table"`
	Subtask int    `json:"subtask"`
	// Attempt is the tag of the task attempt that took the checkpoint (""
	// outside a task run): its staging folder is removed once a checkpoint
	// of the restoring attempt counts.
	Attempt string         `json:"attempt,omitempty"`
	Pending []stagedObject `json:"pending,omitempty"`
}

// commitRecord is the content of a subtask's commit record (JSON).
type commitRecord struct {
	Table   string `json:"table"`
	Subtask int    `json:"subtask"`
	// Last is the newest checkpoint whose objects the subtask has
	// published (runtime.EndCheckpoint: the end of the job).
	Last int64 `json:"last"`
	// Objects are the keys published for it.
	Objects []string `json:"objects,omitempty"`
}

var (
	_ runtime.PublishLog         = (*sink)(nil)
	_ runtime.Snapshotter        = (*sink)(nil)
	_ runtime.CheckpointListener = (*sink)(nil)
	_ runtime.BarrierHandler     = (*sink)(nil)
	_ runtime.ProcessingTimer    = (*sink)(nil)
)

// commitTimeout bounds the publishing of one checkpoint's objects.
const commitTimeout = 5 * time.Minute

// SnapshotState delivers every buffer (HTTP: and waits for the endpoint's
// acknowledgement, so the checkpoint covers them at least once) and, when
// exactly-once, pre-commits the staged objects for checkpoint id.
func (s *sink) SnapshotState(id int64) ([]byte, error) {
	if err := s.flushAll(); err != nil {
		return nil, err
	}
	if !s.exactlyOnce {
		return nil, nil
	}
	s.mu.Lock()
	for _, o := range s.uncovered {
		o.Checkpoint = id
		s.pending = append(s.pending, o)
	}
	st := sinkState{Table: s.cfg.table, Subtask: s.ctx.Subtask, Attempt: s.tag, Pending: slices.Clone(s.pending)}
	s.mu.Unlock()
	s.uncovered = s.uncovered[:0]
	return json.Marshal(st)
}

// stageDirOf is the staging folder of this subtask in attempt tag ("": not
// a task run).
func (s *sink) stageDirOf(tag string) string {
	dir := stagingDir + "/" + s.cfg.table + "/" + strconv.Itoa(s.ctx.Subtask)
	if tag != "" {
		dir += "-" + tag
	}
	return dir
}

// recordKey is the subtask's commit record.
func (s *sink) recordKey() string {
	return stagingDir + "/" + s.cfg.table + "/commits-" + strconv.Itoa(s.ctx.Subtask)
}

// readRecord reads the commit record into last (Open, but for HTTP);
// an error is kept in recordErr, for LastPublished and the next commit.
func (s *sink) readRecord() {
	ctx, cancel := context.WithTimeout(s.rctx, commitTimeout)
	defer cancel()
	s.last, s.recordErr = s.loadRecord(ctx)
}

// loadRecord reads the newest checkpoint of the commit record (0 without
// one).
func (s *sink) loadRecord(ctx context.Context) (int64, error) {
	key := s.recordKey()
	data, err := s.store.get(ctx, key)
	if err != nil {
		return 0, connectors.Errorf(s.cfg.table, "cannot read the commit record: %v", err)
	}
	if data == nil {
		return 0, nil
	}
	var rec commitRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Last < 0 || rec.Subtask != s.ctx.Subtask {
		if err == nil {
			err = fmt.Errorf("it says subtask %d, checkpoint %d", rec.Subtask, rec.Last)
		}
		return 0, connectors.Errorf(s.cfg.table, "the commit record %s is not readable: %v", s.store.where(key), err)
	}
	return rec.Last, nil
}

// LastPublished returns what the commit record says: the newest
// checkpoint whose objects this subtask has published, 0 when none.
func (s *sink) LastPublished() (int64, string, error) {
	if s.http != nil {
		return 0, "", nil // HTTP: at-least-once, no record
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.store.where(s.recordKey()), s.recordErr
}

// ForgetPublished rewrites the commit record to say checkpoint id is the
// newest published: the run goes on from there, duplicates allowed. In a
// task run a readable record is left as it is: it is the task's, and this
// attempt may be a zombie moving it back under the owner.
func (s *sink) ForgetPublished(id int64) error {
	if !s.exactlyOnce {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tag != "" && s.recordErr == nil {
		return nil
	}
	s.recordErr = nil
	ctx, cancel := context.WithTimeout(s.rctx, commitTimeout)
	defer cancel()
	return s.writeRecord(ctx, id, nil)
}

// recordPublishing makes the commit record say that objs are published,
// before they are. The caller holds mu.
func (s *sink) recordPublishing(ctx context.Context, objs []stagedObject) error {
	if s.recordErr != nil {
		return s.recordErr
	}
	last := s.last
	var keys []string
	for _, o := range objs {
		last = max(last, o.Checkpoint)
		keys = append(keys, o.Final)
	}
	if last == s.last {
		return nil
	}
	if s.tag != "" {
		// The record is the task's: another attempt may have moved it on
		// since it was read, and it never goes back.
		cur, err := s.loadRecord(ctx)
		if err != nil {
			return err
		}
		if cur >= last {
			s.last = cur
			return nil
		}
	}
	return s.writeRecord(ctx, last, keys)
}

// writeRecord replaces the commit record. The caller holds mu.
func (s *sink) writeRecord(ctx context.Context, last int64, keys []string) error {
	data, err := json.Marshal(commitRecord{Table: s.cfg.table, Subtask: s.ctx.Subtask, Last: last, Objects: keys})
	if err != nil {
		return err
	}
	if err := s.store.put(ctx, s.recordKey(), data); err != nil {
		return connectors.Errorf(s.cfg.table, "cannot write the commit record: %v", err)
	}
	s.last = last
	return nil
}

// NotifyCheckpointComplete publishes the objects pending for checkpoint id
// and earlier ones. It is called from the checkpoint coordinator's
// goroutine, also after Close. An object that cannot be published stays
// pending, for a later notification or a restore.
func (s *sink) NotifyCheckpointComplete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var due []stagedObject
	for _, o := range s.pending {
		if o.Checkpoint <= id {
			due = append(due, o)
		}
	}
	if err := s.recordPublishing(ctx, due); err != nil {
		return err // nothing published: the objects stay pending
	}
	var errs []error
	keep := s.pending[:0]
	for _, o := range s.pending {
		if o.Checkpoint > id {
			keep = append(keep, o)
			continue
		}
		if err := s.publish(ctx, o); err != nil {
			errs = append(errs, err)
			keep = append(keep, o)
		}
	}
	s.pending = keep
	if s.sweep != "" {
		// A checkpoint of this attempt counts: the attempt whose
		// checkpoint it restored no longer owns the task, and what it
		// staged after that checkpoint is of no use.
		sweep := s.sweep
		s.sweep = ""
		if err := s.removeStaged(ctx, []string{sweep}); err != nil {
			s.ctx.Logger().Warn(err.Error())
		}
	}
	return errors.Join(errs...)
}

// removeStaged deletes the staging folders dirs in every store.
func (s *sink) removeStaged(ctx context.Context, dirs []string) error {
	stores := []objectStore{s.store}
	if s.errStore != s.store {
		stores = append(stores, s.errStore)
	}
	for _, store := range stores {
		for _, dir := range dirs {
			if err := store.removeStaged(ctx, dir); err != nil {
				return connectors.Errorf(s.cfg.table, "cannot delete objects staged by an attempt that failed: %w", err)
			}
		}
	}
	return nil
}

// publish makes a staged object visible and counts it. The caller holds mu.
func (s *sink) publish(ctx context.Context, o stagedObject) error {
	st := s.store
	if o.Errors {
		st = s.errStore
	}
	if err := st.publish(ctx, o.Staged, o.Final); err != nil {
		return connectors.Errorf(s.cfg.table, "%v", err)
	}
	if !o.Errors {
		s.m.records.Add(o.Records)
		s.m.bytes.Add(o.Bytes)
		s.m.objects.Inc()
	}
	return nil
}

// RestoreState publishes the objects the state lists and deletes every other
// object this subtask staged (in a task run: see sweep).
func (s *sink) RestoreState(data []byte) error {
	if !s.exactlyOnce {
		return nil
	}
	var st sinkState
	if len(data) > 0 {
		if err := json.Unmarshal(data, &st); err != nil {
			return connectors.Errorf(s.cfg.table, "the checkpointed state of the sink is not readable: %v", err)
		}
		if st.Subtask != s.ctx.Subtask {
			return connectors.Errorf(s.cfg.table, "sink subtask %d was given the checkpointed state of subtask %d", s.ctx.Subtask, st.Subtask)
		}
	}
	if st.Attempt != "" && connectors.AttemptTag(st.Attempt) != st.Attempt {
		return connectors.Errorf(s.cfg.table, "the checkpointed state of the sink names the attempt %q, not one a task run writes", st.Attempt)
	}
	writer := s.stageDirOf(st.Attempt)
	for _, o := range st.Pending {
		if !strings.HasPrefix(o.Staged, writer+"/") || strings.Contains(o.Staged[len(writer)+1:], "/") ||
			strings.Contains(o.Final, "..") || strings.HasPrefix(o.Final, stagingDir+"/") {
			return connectors.Errorf(s.cfg.table, "the checkpointed state of the sink names %q → %q, not an object of subtask %d", o.Staged, o.Final, s.ctx.Subtask)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	s.mu.Lock()
	errs := []error{s.recordPublishing(ctx, st.Pending)}
	if errs[0] == nil {
		for _, o := range st.Pending {
			errs = append(errs, s.publish(ctx, o))
		}
	}
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	dirs := []string{s.stageDirOf(""), s.stageDir, writer}
	if s.tag != "" && st.Attempt != s.tag {
		// The attempt that took the checkpoint may still run — as a
		// zombie, or as the owner if this attempt is the zombie: its
		// staging folder is removed once a checkpoint of this attempt
		// counts (sweep).
		dirs = dirs[:2]
		s.mu.Lock()
		s.sweep = writer
		s.mu.Unlock()
	}
	if err := s.removeStaged(ctx, slices.Compact(dirs)); err != nil {
		return err
	}
	return nil
}
