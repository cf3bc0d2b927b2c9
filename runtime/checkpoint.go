package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// Checkpoints on disk.
//
// A checkpoint is a folder inside the checkpoint directory, chk-<id> (a
// savepoint: savepoint-<id>), holding:
//
//	state.bin      the state of every operator and source subtask, back to
//	               back, each blob covered by a CRC32C in the manifest
//	_manifest.json the plan it was taken from and where each blob lies:
//	               its operator, subtask, offset, length and CRC32C; the
//	               manifest carries a CRC32C of itself
//
// The state file is written and fsync'd as the subtasks' snapshots arrive;
// the manifest is written last, to a temporary name, fsync'd and renamed
// into place, and the folder fsync'd: a checkpoint is complete exactly when
// its manifest exists. A folder without one is a checkpoint that never
// completed (the job failed or stopped first); it is skipped and removed.
// A manifest that does not match its checksum, or whose blobs do not name
// an operator and subtask of its plan once each, makes the checkpoint
// corrupt, as does a blob that does not match its CRC.

const (
	manifestName  = "_manifest.json"
	stateName     = "state.bin"
	manifestV2    = 2 // 1 had no checksum of its own
	checkpointPfx = "chk-"
	savepointPfx  = "savepoint-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CheckpointOptions turn on checkpoints for a run.
type CheckpointOptions struct {
	// Dir is the folder of the job's checkpoints (created if missing).
	Dir string
	// Store, when set, keeps the checkpoints instead of Dir (an S3
	// bucket: see package runtime/cks3).
	Store CheckpointStore
	// Interval between checkpoints; 0 takes none but savepoints and the
	// one that records the end of a bounded job.
	Interval time.Duration
	// Retain is how many complete checkpoints are kept (default 3);
	// savepoints are never removed.
	Retain int
	// Restore, when set, is the checkpoint or savepoint the run starts
	// from (see LatestCheckpoint and LoadCheckpoint).
	Restore *Checkpoint
	// AllowNonRestoredState lets a run start from a checkpoint whose plan
	// differs: operators that do not match start empty.
	AllowNonRestoredState bool
	// AllowDuplicates lets a run start from a checkpoint older than the
	// newest one an exactly-once sink has published (or from none while
	// it has published some): that output is published again. Without
	// it such a run fails with a *RestoreError (see PublishLog).
	AllowDuplicates bool
	// StopWithSavepoint, when it delivers a value, makes the run take a
	// savepoint and stop once it is complete; Run then returns
	// ErrStoppedWithSavepoint.
	StopWithSavepoint <-chan struct{}
	// Now, when it delivers a value, makes the run take a checkpoint at
	// once (after the one in flight, if any), besides those of Interval:
	// a task of a shared job checkpoints when the group takes it away.
	Now <-chan struct{}
	// Log receives one line per notable event (a skipped checkpoint, a
	// restore); nil discards them.
	Log func(format string, args ...any)
	// BeforeCommit, when set, is called once a checkpoint's manifest is
	// durable and before the CheckpointListeners are told (fault-injection
	// tests crash the process there).
	BeforeCommit func(id int64)
	// Confirm, when set, decides whether a checkpoint whose manifest is
	// durable counts: it is called before the CheckpointListeners are
	// told (finished: the checkpoint records the end of the job). A task
	// of a shared job commits there, fenced by its consumer group's
	// generation. An error means the checkpoint does not count: the
	// listeners are not told (exactly-once sinks publish nothing of it)
	// and the run stops with that error.
	Confirm func(id int64, finished bool) error
}

// ErrStoppedWithSavepoint is returned by Run when it stopped after taking a
// savepoint on request; errors.As with *SavepointError gives its path.
var ErrStoppedWithSavepoint = errors.New("stopped with a savepoint")

// SavepointError reports where the savepoint of a stopped run is.
type SavepointError struct{ Path string }

func (e *SavepointError) Error() string { return "stopped with a savepoint at " + e.Path }
func (e *SavepointError) Unwrap() error { return ErrStoppedWithSavepoint }

// RestoreError is the error of a run whose operators could not restore the
// checkpoint it started from, or whose sinks have published more than it
// covers (see PublishLog); Err, an *OperatorError, says which and why.
// Checkpoint and Path are zero for a run that started without one.
// Restarting from the same checkpoint would fail the same way, so
// RunWithRestarts stops with it.
type RestoreError struct {
	Checkpoint int64
	Path       string
	Err        error
}

func (e *RestoreError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("the job cannot start without a checkpoint: %v", e.Err)
	}
	return fmt.Sprintf("checkpoint %d (%s) cannot be restored: %v", e.Checkpoint, e.Path, e.Err)
}

func (e *RestoreError) Unwrap() error { return e.Err }

// PublishLog is implemented by exactly-once sinks that keep, with their
// output and durably, a record of the checkpoints whose output they have
// published (written before the output is published). The runtime asks
// every subtask after Open and before RestoreState: a run that starts from
// an older checkpoint than the newest one published, or from none (also a
// run without checkpoints), would publish that output again, so it fails
// with a *RestoreError unless CheckpointOptions.AllowDuplicates (without
// checkpoints, Options.AllowDuplicates). ForgetPublished is called in
// checkpointed runs only.
type PublishLog interface {
	// LastPublished returns the newest checkpoint whose output the subtask
	// has published (EndCheckpoint: the one that recorded the end of the
	// job; 0: none) and where the record is kept, for messages.
	LastPublished() (id int64, record string, err error)
	// ForgetPublished records that the run goes on from checkpoint id (0:
	// from the start) with duplicates allowed: LastPublished returns id
	// until something newer is published.
	ForgetPublished(id int64) error
}

// PublishedAheadError is why a run would publish output again: the
// subtask's sink has published checkpoint Published (EndCheckpoint: the end
// of the job), newer than Restored (0: the run starts without a
// checkpoint). Record is where the sink keeps its record.
type PublishedAheadError struct {
	Published, Restored int64
	Record              string
}

func (e *PublishedAheadError) Error() string {
	return e.facts() + " would publish those rows again. " +
		"Start from a checkpoint that covers them (--from-savepoint PATH; in Go, sluice.FromSavepoint), or accept duplicate output (--allow-duplicates; in Go, sluice.AllowDuplicates())"
}

func (e *PublishedAheadError) facts() string {
	what := fmt.Sprintf("checkpoint %d", e.Published)
	if e.Published == EndCheckpoint {
		what = "the end of the job"
	}
	from := fmt.Sprintf("restoring checkpoint %d", e.Restored)
	if e.Restored == 0 {
		from = "starting without a checkpoint"
	}
	return fmt.Sprintf("its output already holds what %s published (recorded in %s); %s", what, e.Record, from)
}

// dupPolicy is a run's answer to output that its exactly-once sinks have
// already published: allow it to be published again (with a warning to
// logf) or refuse to start.
type dupPolicy struct {
	allow bool
	logf  func(format string, args ...any)
}

// checkPublished asks node n's sink whether it has published output newer
// than the checkpoint the run starts from (in a run without checkpoints:
// any), which the run would publish again.
func (t *task) checkPublished(n *node) error {
	pl, ok := n.op.(PublishLog)
	if !ok {
		return nil
	}
	var from int64
	restoreErr := func(err error) error {
		re := &RestoreError{Err: wrap(n, err)}
		if r := t.restored; r != nil {
			re.Checkpoint, re.Path = r.ID, r.Path
		}
		return re
	}
	if r := t.restored; r != nil {
		from = r.ID
		if r.Finished {
			from = EndCheckpoint
		}
	}
	last, record, err := pl.LastPublished()
	if err != nil {
		return restoreErr(err)
	}
	if last <= from {
		return nil
	}
	ahead := &PublishedAheadError{Published: last, Restored: from, Record: record}
	if !t.dupes.allow {
		return restoreErr(ahead)
	}
	if logf := t.dupes.logf; logf != nil {
		logf("warning: operator %q (subtask %d): %s publishes those rows again (--allow-duplicates)", n.spec.Name, n.ctx.Subtask, ahead.facts())
	}
	if t.coord == nil {
		// Without checkpoints the sink publishes outside its record, which
		// keeps guarding what the checkpointed run published.
		return nil
	}
	if err := pl.ForgetPublished(from); err != nil {
		return restoreErr(err)
	}
	return nil
}

// manifest is _manifest.json.
type manifest struct {
	Version   int            `json:"version"`
	ID        int64          `json:"id"`
	Job       string         `json:"job"`
	Time      time.Time      `json:"time"`
	Savepoint bool           `json:"savepoint,omitempty"`
	Finished  bool           `json:"finished,omitempty"` // the job had ended: every source read to its end
	Nodes     []manifestNode `json:"nodes"`
	State     []blobRef      `json:"state"`
	Size      int64          `json:"size"` // of state.bin
	// Checksum is the CRC32C (hex) of the manifest encoded as JSON with
	// Checksum empty.
	Checksum string `json:"checksum"`
}

// checksum returns the CRC32C of m without its Checksum, in hex.
func (m manifest) checksum() (string, error) {
	m.Checksum = ""
	data, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08x", crc32.Checksum(data, castagnoli)), nil
}

type manifestNode struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	Source      bool   `json:"source,omitempty"`
}

type blobRef struct {
	Node     int    `json:"node"`
	Operator string `json:"operator"`
	Subtask  int    `json:"subtask"`
	Offset   int64  `json:"offset"`
	Length   int64  `json:"length"`
	CRC      uint32 `json:"crc"`
}

// Checkpoint is a complete checkpoint or savepoint, loaded and verified.
type Checkpoint struct {
	ID        int64
	Path      string
	Savepoint bool
	Finished  bool
	Time      time.Time
	// Bytes is the size of its state, and LoadTime how long reading and
	// verifying it took (sluice_checkpoint_restore_bytes and _seconds).
	Bytes    int64
	LoadTime time.Duration
	nodes    []manifestNode
	blobs    map[[2]int][]byte // (node, subtask) → state
	mapping  map[NodeID]int    // the job's operator → the checkpoint's (set by match)
}

// LoadCheckpoint reads and verifies the checkpoint or savepoint folder at
// path: its manifest, and every state blob against its checksum.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	return timedLoad(func() (*Checkpoint, error) { return loadCheckpoint(path) })
}

// timedLoad runs load and records its time and the state's size in the
// checkpoint it returns.
func timedLoad(load func() (*Checkpoint, error)) (*Checkpoint, error) {
	start := time.Now()
	c, err := load()
	if err != nil {
		return nil, err
	}
	c.LoadTime = time.Since(start)
	c.Bytes = 0
	for _, b := range c.blobs {
		c.Bytes += int64(len(b))
	}
	return c, nil
}

func loadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(path, manifestName))
	if err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, serr) // no such folder
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint %s is not complete: it has no %s", path, manifestName)
		}
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return decodeCheckpoint(path, data, func() ([]byte, error) { return os.ReadFile(filepath.Join(path, stateName)) })
}

// decodeCheckpoint verifies the manifest data of the checkpoint at path and
// the state that readState returns against it.
func decodeCheckpoint(path string, data []byte, readState func() ([]byte, error)) (*Checkpoint, error) {
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("checkpoint %s: manifest is not readable: %v", path, err)
	}
	if m.Version != manifestV2 {
		return nil, fmt.Errorf("checkpoint %s: manifest version %d (this build reads %d)", path, m.Version, manifestV2)
	}
	if sum, err := m.checksum(); err != nil || sum != m.Checksum {
		return nil, fmt.Errorf("checkpoint %s: manifest is corrupt: its checksum is %q, its content sums to %s", path, m.Checksum, sum)
	}
	if err := m.checkBlobs(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: manifest is corrupt: %v", path, err)
	}
	state, err := readState()
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if int64(len(state)) != m.Size {
		return nil, fmt.Errorf("checkpoint %s: %s has %d bytes, the manifest says %d", path, stateName, len(state), m.Size)
	}
	c := &Checkpoint{ID: m.ID, Path: path, Savepoint: m.Savepoint, Finished: m.Finished, Time: m.Time, nodes: m.Nodes, blobs: map[[2]int][]byte{}}
	for _, b := range m.State {
		if b.Offset < 0 || b.Length < 0 || b.Offset+b.Length > m.Size {
			return nil, fmt.Errorf("checkpoint %s: state of node %d subtask %d lies outside %s", path, b.Node, b.Subtask, stateName)
		}
		blob := state[b.Offset : b.Offset+b.Length : b.Offset+b.Length]
		if crc32.Checksum(blob, castagnoli) != b.CRC {
			return nil, fmt.Errorf("checkpoint %s: state of operator %q subtask %d is corrupt (checksum mismatch at offset %d of %s)", path, b.Operator, b.Subtask, b.Offset, stateName)
		}
		c.blobs[[2]int{b.Node, b.Subtask}] = blob
	}
	return c, nil
}

// checkBlobs verifies that every blob belongs to an operator of the plan,
// under its name, to one of its subtasks, once, and that no two blobs
// share bytes.
func (m *manifest) checkBlobs() error {
	nodes := map[int]manifestNode{}
	for _, n := range m.Nodes {
		nodes[n.ID] = n
	}
	seen := map[[2]int]bool{}
	refs := slices.Clone(m.State)
	for _, b := range refs {
		n, ok := nodes[b.Node]
		switch {
		case !ok:
			return fmt.Errorf("state at offset %d belongs to node %d, which the plan does not have", b.Offset, b.Node)
		case n.Name != b.Operator:
			return fmt.Errorf("state at offset %d belongs to node %d, named %q in the plan and %q in the blob", b.Offset, b.Node, n.Name, b.Operator)
		case b.Subtask < 0 || b.Subtask >= n.Parallelism:
			return fmt.Errorf("state at offset %d belongs to subtask %d of operator %q, which runs %d", b.Offset, b.Subtask, n.Name, n.Parallelism)
		case seen[[2]int{b.Node, b.Subtask}]:
			return fmt.Errorf("operator %q subtask %d has state twice", n.Name, b.Subtask)
		}
		seen[[2]int{b.Node, b.Subtask}] = true
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Offset < refs[j].Offset })
	for i := 1; i < len(refs); i++ {
		if refs[i].Offset < refs[i-1].Offset+refs[i-1].Length {
			return fmt.Errorf("the state of operator %q subtask %d and of operator %q subtask %d overlap at offset %d",
				refs[i-1].Operator, refs[i-1].Subtask, refs[i].Operator, refs[i].Subtask, refs[i].Offset)
		}
	}
	return nil
}

// LatestCheckpoint returns the newest complete checkpoint or savepoint in
// dir that verifies, or nil when there is none. Checkpoints and savepoints
// share one sequence of ids, so the newest is the state the job last
// published from: after a stop with a savepoint, the same command goes on
// from it. Newer folders that are partial or corrupt are skipped, each
// with a warning.
func LatestCheckpoint(dir string) (c *Checkpoint, warnings []string, err error) {
	return LatestCheckpointIn(dirStore(dir))
}

func formatID(id int64) string { return fmt.Sprintf("%06d", id) }

// blob returns the state of (node, subtask), nil when it has none.
func (c *Checkpoint) blob(node NodeID, subtask int) []byte {
	id, ok := c.mapping[node]
	if !ok {
		return nil
	}
	return c.blobs[[2]int{id, subtask}]
}

// match pairs the job's operators with the checkpoint's: by name, the n-th
// operator of a name with the n-th of that name in the checkpoint (so that
// adding an unrelated INSERT to a job file does not disturb the others).
// Every operator of either side must have its pair, with the same
// parallelism and kind; allow turns a mismatch into an operator that
// starts empty (and state of the checkpoint that is left over is dropped).
func (c *Checkpoint) match(g *Graph, allow bool, logf func(string, ...any)) error {
	key := func(name string, seen map[string]int) string {
		seen[name]++
		return fmt.Sprintf("%s#%d", name, seen[name])
	}
	saved := map[string]manifestNode{}
	seen := map[string]int{}
	for _, n := range c.nodes {
		saved[key(n.Name, seen)] = n
	}
	c.mapping = map[NodeID]int{}
	used := map[int]bool{}
	seen = map[string]int{}
	var problems []string
	for _, spec := range g.Nodes {
		k := key(spec.Name, seen)
		m, ok := saved[k]
		var why string
		switch {
		case !ok:
			why = fmt.Sprintf("operator %q is new: the checkpoint has no operator of that name (or not so many)", spec.Name)
		case m.Parallelism != spec.Parallelism:
			why = fmt.Sprintf("operator %q runs with parallelism %d, the checkpoint was taken at %d", spec.Name, spec.Parallelism, m.Parallelism)
		case m.Source != (spec.NewSource != nil):
			why = fmt.Sprintf("operator %q changed between source and operator", spec.Name)
		}
		if why != "" {
			problems = append(problems, why)
			continue
		}
		c.mapping[spec.ID] = m.ID
		used[m.ID] = true
	}
	for _, n := range c.nodes {
		if !used[n.ID] && c.hasState(n.ID) {
			problems = append(problems, fmt.Sprintf("the checkpoint has state of operator %q, which the job no longer has", n.Name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if !allow {
		return fmt.Errorf("checkpoint %s does not match the job: %s (pass --allow-non-restored-state, in Go sluice.AllowNonRestoredState(), to start such operators empty and drop state left over)", c.Path, problems[0])
	}
	for _, p := range problems {
		if logf != nil {
			logf("checkpoint %d: %s; it starts without state", c.ID, p)
		}
	}
	return nil
}

// hasState reports whether the checkpoint holds state of node id.
func (c *Checkpoint) hasState(id int) bool {
	for k := range c.blobs {
		if k[0] == id {
			return true
		}
	}
	return false
}

// checkpointWriter writes one checkpoint folder: on disk, or (st set) into
// a CheckpointStore.
type checkpointWriter struct {
	dir   string // where, for messages
	st    *storeWriter
	f     *os.File
	m     manifest
	size  int64
	seen  map[[2]int]bool
	names map[NodeID]string
}

func newCheckpointWriter(opt *CheckpointOptions, id int64, savepoint bool, job string, g *Graph) (*checkpointWriter, error) {
	m := manifest{Version: manifestV2, ID: id, Job: job, Time: time.Now().UTC(), Savepoint: savepoint}
	if opt.Store != nil {
		folder := ckFolder(id, savepoint)
		ctx, cancel := ckCtx()
		err := opt.Store.Delete(ctx, folder+"/")
		cancel()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %d: %w", id, err)
		}
		w := &checkpointWriter{dir: opt.Store.Location(folder), st: &storeWriter{s: opt.Store, folder: folder},
			seen: map[[2]int]bool{}, names: map[NodeID]string{}, m: m}
		w.addNodes(g)
		return w, nil
	}
	dir := filepath.Join(opt.Dir, ckFolder(id, savepoint))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", id, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, stateName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %d: %w", id, err)
	}
	w := &checkpointWriter{dir: dir, f: f, seen: map[[2]int]bool{}, names: map[NodeID]string{}, m: m}
	w.addNodes(g)
	return w, nil
}

func (w *checkpointWriter) addNodes(g *Graph) {
	for _, spec := range g.Nodes {
		w.m.Nodes = append(w.m.Nodes, manifestNode{ID: int(spec.ID), Name: spec.Name, Parallelism: spec.Parallelism, Source: spec.NewSource != nil})
		w.names[spec.ID] = spec.Name
	}
}

// add appends the state of (node, subtask).
func (w *checkpointWriter) add(node NodeID, subtask int, data []byte) error {
	k := [2]int{int(node), subtask}
	if w.seen[k] {
		return nil
	}
	w.seen[k] = true
	if len(data) == 0 {
		return nil
	}
	if w.st != nil {
		w.st.buf.Write(data)
	} else if _, err := w.f.Write(data); err != nil {
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	w.m.State = append(w.m.State, blobRef{Node: int(node), Operator: w.names[node], Subtask: subtask, Offset: w.size, Length: int64(len(data)),
		CRC: crc32.Checksum(data, castagnoli)})
	w.size += int64(len(data))
	return nil
}

// commit makes the checkpoint complete: state fsync'd, then the manifest
// renamed into place and the folder fsync'd.
func (w *checkpointWriter) commit(finished bool) error {
	w.m.Size, w.m.Finished = w.size, finished
	sum, err := w.m.checksum()
	if err != nil {
		if w.f != nil {
			w.f.Close()
		}
		return err
	}
	w.m.Checksum = sum
	if w.st != nil {
		return w.st.commitStore(&w.m)
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	data, err := json.MarshalIndent(w.m, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(w.dir, manifestName+".tmp")
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, manifestName)); err != nil {
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	if err := atomicfile.SyncDir(w.dir); err != nil {
		return fmt.Errorf("checkpoint %d: %w", w.m.ID, err)
	}
	return atomicfile.SyncDir(filepath.Dir(w.dir))
}

// abort removes a checkpoint that will not complete.
func (w *checkpointWriter) abort() {
	if w.st != nil {
		w.st.abort()
		return
	}
	w.f.Close()
	os.RemoveAll(w.dir)
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
