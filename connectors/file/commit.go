package file

import (
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// The sink's two-phase commit, when the job takes checkpoints:
//
//  1. Rows go to the hidden in-progress file .part-<s>-<n>.<ext>.inprogress;
//     a file that rolls (size, interval) is completed (flushed, fsynced,
//     closed) and waits, still hidden, for the next checkpoint.
//  2. Pre-commit, at a checkpoint's barrier (SnapshotState): the current
//     file is completed too, and every completed file is renamed to
//     .part-<s>-<n>.<ext>.pending-<checkpoint> ("pending-end" for the
//     checkpoint that records the end of the job). The subtask's state lists
//     the pending files not yet published and the next part number.
//  3. Commit, once the checkpoint is durable (NotifyCheckpointComplete):
//     pending files of that checkpoint and earlier ones are renamed to their
//     final names, part-<s>-<n>.<ext>.
//  4. Restore (RestoreState): the pending files of the state are published
//     — the checkpoint is complete, its commit may not have happened — and
//     every other hidden file of the subtask (the failed attempt's
//     in-progress files, and pending files of checkpoints that never
//     completed) is deleted; numbering goes on above both the state's next
//     number and every part name in the folder.
//
// The commit record: before a subtask publishes the files of a checkpoint,
// it records that checkpoint's id (and the files' names) in its folder, in
// .sluice-commits-<s> (a single-file sink: .<name>.commits beside the file),
// written to a temporary name, fsynced, renamed into place and the folder
// fsynced. It outlives the checkpoints: a run that would start from an older
// checkpoint than the newest one published, or from none, and so publish
// those rows again, is refused by the runtime (runtime.PublishLog) unless
// duplicates are allowed.
//
// A sink that writes one file keeps it in progress across checkpoints: the
// state records its length (flushed and fsynced), a restore truncates it
// back to that length and appends, and the file is published at the end of
// the job only.
//
// A task of a job that several processes share (runtime.TaskInfo) may run
// twice for a while: its new owner, restored from the last checkpoint that
// counted, and a zombie, the old owner that has not noticed yet that it
// lost the task. Their sinks are the same subtask, so every hidden name
// carries the attempt (.part-<s>-<n>.<ext>.<attempt>.inprogress,
// ….<attempt>.pending-<checkpoint>): the two never write, rename or
// publish one file, and only the final names, which one attempt publishes
// (the one whose checkpoints count), are shared. A restore deletes at once
// only untagged hidden files and the attempt's own; those of the attempt
// that took the restored checkpoint are deleted once a checkpoint of the
// restoring attempt counts (its first NotifyCheckpointComplete): until then
// that attempt may be the owner, and the restoring one a zombie. Other
// attempts' files are left alone, hidden and unpublished. The commit
// record is shared (it is the task's), written only once a checkpoint
// counts (NotifyCheckpointComplete) or by a restore of one that did, read
// again before it is written and never moved back (not even by
// ForgetPublished); its temporary name carries the attempt too.

// pendingFile is a complete part file waiting to be published: its hidden
// name and final name (both in the sink's folder), and the checkpoint that
// pre-committed it.
type pendingFile struct {
	Hidden     string `json:"hidden"`
	Final      string `json:"final"`
	Checkpoint int64  `json:"checkpoint"`
}

// sinkState is a sink subtask's checkpointed state (JSON).
type sinkState struct {
	Table   string `json:"table"`
	Subtask int    `json:"subtask"`
	// Attempt is the tag of the task attempt that took the checkpoint (""
	// outside a task run): its hidden files not listed here are deleted
	// once a checkpoint of the restoring attempt counts.
	Attempt string `json:"attempt,omitempty"`
	// Next is the number of the next part file.
	Next int `json:"next"`
	// Pending lists the files pre-committed and not yet published, by
	// this checkpoint and earlier ones whose commit has not happened.
	Pending []pendingFile `json:"pending,omitempty"`
	// InProgress and Size: the one file of a single-file sink, in progress,
	// and its length at the checkpoint.
	InProgress string `json:"inprogress,omitempty"`
	Size       int64  `json:"size,omitempty"`
	// With PARTITIONED BY: the partitions the subtask wrote to that were
	// not committed, with their commit times, and the watermark at the
	// checkpoint (its rows up to it are in the pending files).
	Partitions map[string]int64 `json:"partitions,omitempty"`
	Watermark  int64            `json:"watermark,omitempty"`
}

// commitRecord is the content of a subtask's commit record (JSON).
type commitRecord struct {
	Subtask int `json:"subtask"`
	// Last is the newest checkpoint whose files the subtask has published
	// (runtime.EndCheckpoint: the end of the job).
	Last int64 `json:"last"`
	// Parts are the files published for it.
	Parts []string `json:"parts,omitempty"`
}

var (
	_ runtime.Snapshotter        = (*sink)(nil)
	_ runtime.CheckpointListener = (*sink)(nil)
	_ runtime.PublishLog         = (*sink)(nil)
)

// recordPath is the subtask's commit record.
func (s *sink) recordPath() string {
	if s.cfg.single {
		return filepath.Join(s.dir, "."+filepath.Base(s.cfg.path)+".commits")
	}
	return filepath.Join(s.dir, ".sluice-commits-"+strconv.Itoa(s.ctx.Subtask))
}

// readRecord reads the commit record into last (Open);
// an error is kept in recordErr, for LastPublished and the next commit.
func (s *sink) readRecord() {
	s.last, s.recordErr = s.loadRecord()
}

// loadRecord reads the newest checkpoint of the commit record (0 without
// one).
func (s *sink) loadRecord() (int64, error) {
	path := s.recordPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("table %s: cannot read the commit record: %w", s.cfg.table, err)
	}
	var rec commitRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.Last < 0 || rec.Subtask != s.ctx.Subtask {
		if err == nil {
			err = fmt.Errorf("it says subtask %d, checkpoint %d", rec.Subtask, rec.Last)
		}
		return 0, fmt.Errorf("table %s: the commit record %s is not readable: %v", s.cfg.table, path, err)
	}
	return rec.Last, nil
}

// LastPublished returns what the commit record says: the newest
// checkpoint whose files this subtask has published, 0 when none.
func (s *sink) LastPublished() (int64, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.recordPath(), s.recordErr
}

// ForgetPublished rewrites the commit record to say checkpoint id is the
// newest published: the run goes on from there, duplicates allowed. In a
// task run a readable record is left as it is: it is the task's, and this
// attempt may be a zombie moving it back under the owner.
func (s *sink) ForgetPublished(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tag != "" && s.recordErr == nil {
		return nil
	}
	s.recordErr = nil
	return s.writeRecord(id, nil)
}

// recordPublishing makes the commit record say that the files of ps are
// published, before they are. The caller holds mu.
func (s *sink) recordPublishing(ps []pendingFile) error {
	if s.recordErr != nil {
		return s.recordErr
	}
	last := s.last
	var parts []string
	for _, p := range ps {
		last = max(last, p.Checkpoint)
		parts = append(parts, p.Final)
	}
	if last == s.last {
		return nil
	}
	if s.tag != "" {
		// The record is the task's: another attempt may have moved it on
		// since it was read, and it never goes back.
		cur, err := s.loadRecord()
		if err != nil {
			return err
		}
		if cur >= last {
			s.last = cur
			return nil
		}
	}
	return s.writeRecord(last, parts)
}

// writeRecord replaces the commit record, durably. The caller holds mu.
func (s *sink) writeRecord(last int64, parts []string) error {
	data, err := json.Marshal(commitRecord{Subtask: s.ctx.Subtask, Last: last, Parts: parts})
	if err != nil {
		return err
	}
	path := s.recordPath()
	tmp := path + s.tagSuffix() + ".tmp"
	err = writeSynced(tmp, data)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("table %s: cannot write the commit record %s: %w", s.cfg.table, path, err)
	}
	s.last = last
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pendingName is the hidden name of final once checkpoint id has
// pre-committed it; tag is the attempt's suffix (see sink.tagSuffix).
// final may be in a partition folder (dt=1/part-0-1.csv), and so is the
// pending name (dt=1/.part-0-1.csv.pending-4).
func pendingName(final, tag string, id int64) string {
	ck := strconv.FormatInt(id, 10)
	if id == runtime.EndCheckpoint {
		ck = "end"
	}
	dir, base := path.Split(final)
	return dir + "." + base + tag + ".pending-" + ck
}

// SnapshotState pre-commits the rows received so far and returns the
// subtask's state. It is a no-op state when the job takes no checkpoints.
func (s *sink) SnapshotState(id int64) ([]byte, error) {
	if !s.exactlyOnce {
		return nil, nil
	}
	if err := s.preCommit(id); err != nil {
		return nil, err
	}
	st := sinkState{Table: s.cfg.table, Subtask: s.ctx.Subtask, Attempt: s.tag, Next: s.n}
	if p := s.open[""]; s.cfg.single && p != nil {
		st.InProgress, st.Size = filepath.Base(p.tmp), p.size
	}
	if s.committer != nil {
		// Partitions stay in the state until committed: a restore from a
		// checkpoint whose report never reached the committer commits them.
		st.Partitions, st.Watermark = maps.Clone(s.mine), s.ctx.CurrentWatermark()
	}
	s.mu.Lock()
	st.Pending = slices.Clone(s.pending)
	s.mu.Unlock()
	return json.Marshal(st)
}

// preCommit completes the current part file (a single file only at the end
// of the job, else it is only flushed and fsynced) and renames the complete
// files to their pending names for checkpoint id.
func (s *sink) preCommit(id int64) error {
	if !s.cfg.single || id == runtime.EndCheckpoint {
		if err := s.closeAll(); err != nil {
			return err
		}
	}
	if p := s.open[""]; p != nil {
		if err := s.flush(p); err != nil {
			return err
		}
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("table %s: cannot sync %s: %w", s.cfg.table, p.tmp, err)
		}
	}
	if s.committer != nil {
		s.stashReport(id)
	}
	if len(s.closed) == 0 {
		return nil
	}
	var moved []pendingFile
	var err error
	for len(s.closed) > 0 {
		c := s.closed[0]
		p := pendingFile{Hidden: pendingName(c.Final, s.tagSuffix(), id), Final: c.Final, Checkpoint: id}
		if err = os.Rename(filepath.Join(s.dir, c.Hidden), filepath.Join(s.dir, p.Hidden)); err != nil {
			err = fmt.Errorf("table %s: checkpoint %d: %w", s.cfg.table, id, err)
			break
		}
		moved = append(moved, p)
		s.closed = s.closed[1:]
	}
	if err == nil {
		s.closed = nil
		err = s.syncDirs(moved, func(p pendingFile) string { return p.Hidden })
	}
	s.mu.Lock()
	s.pending = append(s.pending, moved...)
	s.mu.Unlock()
	return err
}

// syncDirs fsyncs the folders of the files ps (by name(p), relative to
// the sink's folder).
func (s *sink) syncDirs(ps []pendingFile, name func(pendingFile) string) error {
	seen := map[string]bool{}
	for _, p := range ps {
		dir := filepath.Dir(filepath.Join(s.dir, name(p)))
		if s.cfg.single {
			dir = s.dir
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// stashReport keeps, for checkpoint id, what to tell the committer once
// its files are published: the watermark now (every file is complete at a
// checkpoint), the partitions due now (process-time) and whether the
// input ended. Partitions committed since are forgotten.
func (s *sink) stashReport(id int64) {
	r := report{wm: s.ctx.CurrentWatermark(), end: id == runtime.EndCheckpoint}
	now := time.Now().UnixMilli()
	for rel, at := range s.mine {
		if s.committer.isCommitted(rel) {
			delete(s.mine, rel)
			continue
		}
		if s.cfg.trigger == triggerProcessTime && at <= now {
			r.done = append(r.done, rel)
		}
	}
	s.mu.Lock()
	if s.reports == nil {
		s.reports = map[int64]report{}
	}
	s.reports[id] = r
	s.mu.Unlock()
}

// deliverReports tells the committer what the checkpoints up to id
// stashed, oldest first. The caller holds mu.
func (s *sink) deliverReports(id int64) error {
	var ids []int64
	for k := range s.reports {
		if k <= id {
			ids = append(ids, k)
		}
	}
	slices.Sort(ids)
	for _, k := range ids {
		r := s.reports[k]
		delete(s.reports, k)
		if err := s.committer.report(s.ctx.Subtask, r); err != nil {
			return err
		}
	}
	return nil
}

// NotifyCheckpointComplete publishes the files pending for checkpoint id
// and earlier ones, then fsyncs the folder. It is called from the
// checkpoint coordinator's goroutine (also after Close); calling it again
// does nothing. A file that cannot be published stays pending, for a later
// notification or a restore.
func (s *sink) NotifyCheckpointComplete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []pendingFile
	for _, p := range s.pending {
		if p.Checkpoint <= id {
			due = append(due, p)
		}
	}
	if err := s.recordPublishing(due); err != nil {
		return err // nothing published: the files stay pending
	}
	var errs []error
	keep := s.pending[:0]
	published := false
	for _, p := range s.pending {
		if p.Checkpoint > id {
			keep = append(keep, p)
			continue
		}
		if err := s.publish(p); err != nil {
			errs = append(errs, err)
			keep = append(keep, p)
			continue
		}
		published = true
	}
	s.pending = keep
	if published {
		errs = append(errs, s.syncDirs(due, func(p pendingFile) string { return p.Final }))
	}
	if s.sweep != "" {
		// A checkpoint of this attempt counts: the attempt whose
		// checkpoint it restored no longer owns the task, and what it
		// wrote after that checkpoint is of no use.
		sweep := s.sweep
		s.sweep = ""
		if err := s.deleteHidden("", func(tag string) bool { return tag == sweep }); err != nil {
			s.cfg.log.Warn(s.ctx.Logger(), "%v", err)
		}
	}
	if err := errors.Join(errs...); err != nil || s.committer == nil {
		return err
	}
	return s.deliverReports(id)
}

// publish renames a pending file to its final name. One already published
// (no longer there under its hidden name while its final name is) is left
// alone. The caller holds mu.
func (s *sink) publish(p pendingFile) error {
	hidden, final := filepath.Join(s.dir, p.Hidden), filepath.Join(s.dir, p.Final)
	if s.cfg.single {
		final = s.cfg.path
	}
	err := os.Rename(hidden, final)
	if err == nil || !errors.Is(err, iofs.ErrNotExist) {
		if err != nil {
			return fmt.Errorf("table %s: cannot publish %s: %w", s.cfg.table, final, err)
		}
		return nil
	}
	if _, serr := os.Lstat(final); serr != nil {
		// Neither name is there: published, then moved away or deleted.
		s.cfg.log.Warn(s.ctx.Logger(), "table %s: %s of checkpoint %d is gone (published and moved away?)", s.cfg.table, final, p.Checkpoint)
	}
	return nil
}

// RestoreState publishes the pending files of the state (its checkpoint is
// complete), deletes every other hidden file of this subtask — what the
// failed attempt wrote after the checkpoint; in a task run, see sweep — and
// numbers new part files after all of them. A single-file sink goes on
// appending to its file, truncated back to its length at the checkpoint.
func (s *sink) RestoreState(data []byte) error {
	if !s.exactlyOnce || len(data) == 0 {
		return nil
	}
	var st sinkState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("table %s: the checkpointed state of the sink is not readable: %v", s.cfg.table, err)
	}
	if st.Subtask != s.ctx.Subtask {
		return fmt.Errorf("table %s: sink subtask %d was given the checkpointed state of subtask %d", s.cfg.table, s.ctx.Subtask, st.Subtask)
	}
	if st.Attempt != "" && !isTag(st.Attempt) {
		return fmt.Errorf("table %s: the checkpointed state of the sink names the attempt %q, not one a task run writes", s.cfg.table, st.Attempt)
	}
	for _, p := range st.Pending {
		if !s.ownHidden(p.Hidden) || !s.isName(p.Final) {
			return fmt.Errorf("table %s: the checkpointed state of the sink names %q → %q, not a file of subtask %d",
				s.cfg.table, p.Hidden, p.Final, s.ctx.Subtask)
		}
	}
	if st.InProgress != "" && (!s.cfg.single || !s.ownHidden(st.InProgress) || st.Size < 0) {
		return fmt.Errorf("table %s: the checkpointed state of the sink names the file in progress %q, not one of this sink", s.cfg.table, st.InProgress)
	}

	s.mu.Lock()
	errs := []error{s.recordPublishing(st.Pending)}
	if errs[0] == nil {
		for _, p := range st.Pending {
			if err := s.publish(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if s.tag == "" {
		if err := s.deleteHidden(st.InProgress, func(string) bool { return true }); err != nil {
			return err
		}
	} else {
		// The attempt that took the checkpoint may still run — as a zombie,
		// or as the owner if this attempt is the zombie: its files are
		// deleted once a checkpoint of this attempt counts (sweep).
		if err := s.deleteHidden("", func(tag string) bool { return tag == "" || tag == s.tag }); err != nil {
			return err
		}
		if st.Attempt != s.tag {
			s.mu.Lock()
			s.sweep = st.Attempt
			s.mu.Unlock()
		}
	}
	s.n = max(s.n, st.Next)
	if s.committer != nil {
		// The partitions written before are committed in this run.
		for rel := range st.Partitions {
			if !s.isName(rel) {
				return fmt.Errorf("table %s: the checkpointed state of the sink names the partition %q, not a folder of the sink", s.cfg.table, rel)
			}
		}
		now := time.Now()
		for rel := range st.Partitions {
			if err := s.register(&part{rel: rel, opened: now}); err != nil {
				return err
			}
		}
		s.mu.Lock()
		err := s.committer.report(s.ctx.Subtask, report{wm: st.Watermark})
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if st.InProgress != "" {
		return s.resume(st.InProgress, st.Size)
	}
	return nil
}

// deleteHidden deletes every hidden file of this subtask but keep (in
// partition folders too) whose attempt tag ("" for none) is one of, and
// fsyncs the folders.
func (s *sink) deleteHidden(keep string, of func(tag string) bool) error {
	dirs := map[string]bool{s.dir: true}
	err := filepath.WalkDir(s.dir, func(p string, e iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != s.dir && s.committer == nil {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(s.dir, p)
		rel = filepath.ToSlash(rel)
		tag, ok := s.hiddenTag(rel)
		if !ok || rel == keep || !of(tag) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("cannot delete %s of an attempt that failed: %w", rel, err)
		}
		dirs[filepath.Dir(p)] = true
		return nil
	})
	for dir := range dirs {
		if err == nil {
			err = syncDir(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	return nil
}

// resume reopens the in-progress file of a single-file sink, truncated to
// size.
func (s *sink) resume(name string, size int64) error {
	path := filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("table %s: cannot resume writing %s: %w", s.cfg.table, s.cfg.path, err)
	}
	fail := func(err error) error {
		f.Close()
		return fmt.Errorf("table %s: cannot resume writing %s: %w", s.cfg.table, s.cfg.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st.Size() < size {
		return fail(fmt.Errorf("%s holds %d bytes, fewer than the %d of the checkpoint", name, st.Size(), size))
	}
	if err := f.Truncate(size); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(size, 0); err != nil {
		return fail(err)
	}
	s.open[""] = &part{f: f, w: s.writer(f), tmp: path, final: s.cfg.path, size: size, opened: time.Now()}
	return nil
}

// ownHidden reports whether name is a hidden file of this subtask: in
// progress, complete or pending.
// With PARTITIONED BY, name may be in a partition folder (dt=1/.part-…).
func (s *sink) ownHidden(name string) bool {
	_, ok := s.hiddenTag(name)
	return ok
}

// hiddenTag reports whether name is a hidden file of this subtask, and
// returns the attempt tag it carries ("" for none): .part-<s>-<n>.<ext>,
// then .<tag> or nothing, then .inprogress or .pending-<checkpoint> (a
// single file: .<name>, then the same).
func (s *sink) hiddenTag(name string) (string, bool) {
	if !s.isName(name) {
		return "", false
	}
	name = path.Base(name)
	var prefix string
	if s.cfg.single {
		prefix = "." + filepath.Base(s.cfg.path)
	} else {
		prefix = ".part-" + strconv.Itoa(s.ctx.Subtask) + "-"
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return "", false
	}
	if !s.cfg.single {
		// <n>.<ext>
		num, after, ok := strings.Cut(rest, ".")
		if _, err := strconv.Atoi(num); err != nil || !ok {
			return "", false
		}
		_, rest, _ = strings.Cut(after, ".")
		rest = "." + rest
	}
	switch i := strings.LastIndex(rest, ".pending-"); {
	case strings.HasSuffix(rest, ".inprogress"):
		rest = strings.TrimSuffix(rest, ".inprogress")
	case i >= 0:
		rest = rest[:i]
	default:
		return "", false
	}
	tag, ok := strings.CutPrefix(rest, ".")
	switch {
	case rest == "":
		return "", true
	case ok && isTag(tag):
		return tag, true
	}
	return "", false
}

// isTag reports whether tag can be an attempt's tag (see connectors.AttemptTag).
func isTag(tag string) bool { return tag != "" && connectors.AttemptTag(tag) == tag }

// isName reports whether name is a file name of the sink: plain, or with
// PARTITIONED BY in folders below the sink's (a/b/name, no . or ..).
func (s *sink) isName(name string) bool {
	if s.cfg.partCols == nil {
		return isPlainName(name)
	}
	for _, seg := range strings.Split(name, "/") {
		if !isPlainName(seg) {
			return false
		}
	}
	return true
}

// isPlainName reports whether name is a file name without a folder.
func isPlainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && !strings.ContainsRune(name, 0)
}

// discard drops what no checkpoint covers when the job stops: in-progress
// and complete files not yet pre-committed (a restored job writes their
// rows again). A single file in progress is kept, since a checkpoint may
// resume it.
func (s *sink) discard() {
	for rel, p := range s.open {
		p.f.Close()
		if !s.cfg.single {
			os.Remove(p.tmp)
			delete(s.open, rel)
		}
	}
	for _, c := range s.closed {
		os.Remove(filepath.Join(s.dir, c.Hidden))
	}
	s.closed = nil
}
