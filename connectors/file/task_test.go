package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// stepSource emits one chunk of rows per checkpoint: a chunk, then nothing
// until the next barrier has passed (SnapshotPosition), so a checkpoint
// covers at most one chunk (none when its barrier came first). Its position
// is the number of chunks emitted. After the last chunk it ends, or with
// hold waits until the run stops. covered, when set, counts the barriers
// that follow rows. A free source does not wait for barriers: it emits a
// chunk every millisecond.
type stepSource struct {
	chunks  [][][]runtime.Value
	hold    bool
	free    bool
	covered *atomic.Int32
	pos     int
	wait    bool
	emitted bool // free: a chunk was emitted since the last barrier
	out     *runtime.Batch
}

func (s *stepSource) Open(*runtime.Context) error {
	s.out = runtime.NewBatch(schema)
	return nil
}

func (s *stepSource) Poll(context.Context) (*runtime.Batch, int, error) {
	if s.wait || s.pos >= len(s.chunks) {
		if !s.wait && !s.hold {
			return nil, 0, io.EOF
		}
		time.Sleep(time.Millisecond)
		return nil, 0, nil
	}
	s.out.Reset()
	for _, r := range s.chunks[s.pos] {
		s.out.AppendValues(r...)
	}
	s.pos++
	s.wait = true
	if s.free {
		s.wait = false
		s.emitted = true
		time.Sleep(time.Millisecond)
	}
	return s.out, 0, nil
}

func (s *stepSource) SnapshotPosition() ([]byte, error) {
	if (s.wait || s.emitted) && s.covered != nil {
		s.covered.Add(1)
	}
	s.wait, s.emitted = false, false
	return []byte(strconv.Itoa(s.pos)), nil
}

func (s *stepSource) RestorePositions(ps [][]byte) error {
	for _, p := range ps {
		n, err := strconv.Atoi(string(p))
		if err != nil {
			return err
		}
		s.pos = n
	}
	return nil
}

func (s *stepSource) Close() error {
	if s.out != nil {
		s.out.Release()
		s.out = nil
	}
	return nil
}

// taskRun is one attempt of task 3 of 4 writing the chunks into a file sink
// at dir, checkpointing into its own folder, restored from restore (nil:
// none), with confirm as its CheckpointOptions.Confirm. It returns the
// run's error. covered (may be nil) is set once a checkpoint covers rows.
// Part files roll at 512 bytes, a few rows.
func taskRun(ctx context.Context, dir, attempt string, source *stepSource,
	restore *runtime.Checkpoint, ckDir string, confirm func(int64, bool) error) error {
	opts := map[string]string{"path": dir, "sink.rolling-policy.file-size": "512b"}
	if filepath.Ext(dir) != "" {
		delete(opts, "sink.rolling-policy.file-size") // one file does not roll
	}
	newSink, _, err := factory{}.NewSink(table(opts))
	if err != nil {
		return err
	}
	g := runtime.NewGraph("shared")
	src := g.AddSource("rows", schema, 1, func() runtime.Source { return source }, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("file", schema, 1, 1, newSink), runtime.Forward)
	return runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet(), Logger: lineLogger(&bytes.Buffer{}),
		Task:        &runtime.TaskInfo{ID: 3, Count: 4, Attempt: attempt},
		Checkpoints: &runtime.CheckpointOptions{Dir: ckDir, Interval: 3 * time.Millisecond, Restore: restore, Confirm: confirm}})
}

// chunksOf returns chunks of rows from..to, each of size rows, after skip
// chunks nobody reads (the restored position).
func chunksOf(skip, from, to, size int) [][][]runtime.Value {
	out := make([][][]runtime.Value, skip)
	for i := from; i < to; i += size {
		out = append(out, rows(i, min(i+size, to)))
	}
	return out
}

// jsonBytes is what the sink writes for rows, in order.
func jsonBytes(rs [][]runtime.Value) []byte {
	b := rttest.NewBatch(schema, rs...)
	var out []byte
	for i := range b.Len() {
		out = append(format.AppendJSON(out, b, i), '\n')
	}
	return out
}

var publishedPart = regexp.MustCompile(`^part-3-(\d+)\.json$`)

// publishedBytes returns the published part files of task 3 in dir,
// concatenated in part order; any other visible file fails the test.
func publishedBytes(t *testing.T, dir string) []byte {
	t.Helper()
	type part struct {
		n    int
		name string
	}
	var parts []part
	for _, name := range names(t, dir) {
		if strings.HasPrefix(name, ".") {
			continue
		}
		m := publishedPart.FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("published file %s is not a part of task 3", name)
		}
		n, _ := strconv.Atoi(m[1])
		parts = append(parts, part{n, name})
	}
	slices.SortFunc(parts, func(a, b part) int { return a.n - b.n })
	var out []byte
	for _, p := range parts {
		data, err := os.ReadFile(filepath.Join(dir, p.name))
		must(t, err)
		out = append(out, data...)
	}
	return out
}

var errRefused = errors.New("the consumer group refused the commit (generation fenced)")

// firstRun is attempt "5e1f" of task 3: it publishes its first checkpoint
// with rows (rows 0–9) and pre-commits the next (rows 10–19), which counts
// but whose notification never comes (the process dies). It returns that
// checkpoint.
func firstRun(t *testing.T, dir string) *runtime.Checkpoint {
	t.Helper()
	ckDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var covered atomic.Int32
	var counted int64
	err := taskRun(ctx, dir, "5e1f", &stepSource{chunks: chunksOf(0, 0, 20, 10), hold: true, covered: &covered}, nil, ckDir, func(id int64, _ bool) error {
		if covered.Load() >= 2 {
			counted = id
			return errRefused
		}
		return nil
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("first run: %v, want it stopped at its second checkpoint with rows", err)
	}
	ck, _, err := runtime.LatestCheckpoint(ckDir)
	must(t, err)
	if ck == nil || ck.ID != counted {
		t.Fatalf("first run's latest checkpoint %+v, want %d", ck, counted)
	}
	if got, want := publishedBytes(t, dir), jsonBytes(rows(0, 10)); !bytes.Equal(got, want) {
		t.Fatalf("first run published\n%s\nwant\n%s", got, want)
	}
	return ck
}

// TestTwoAttemptsOfATaskPublishOnlyTheOwners: two attempts of task 3 run
// at once: the owner (B), restored from the checkpoint that counted, whose
// checkpoints count, and a zombie (A), restored from the same checkpoint
// or from B's first, whose Confirm fails — at once, or only after B has
// finished. Whichever restores first, and while the other has files in
// progress and pending, the folder ends with exactly the checkpoint's rows
// and B's, byte for byte, in part order, nothing of A's published, and no
// hidden file of B's or of the first attempt left.
func TestTwoAttemptsOfATaskPublishOnlyTheOwners(t *testing.T) {
	for _, o := range orders {
		for _, blocking := range []bool{false, true} {
			name := o.name + map[bool]string{false: ", zombie refused at once", true: ", zombie refused after the owner finished"}[blocking]
			t.Run(name, func(t *testing.T) { twoAttempts(t, o.order, blocking) })
		}
	}
}

// order is which of the two attempts restores first, and from which
// checkpoint.
type order int

const (
	ownerFirst    order = iota // B restores, pre-commits; A restores beside B's pending files
	zombieFirst                // A restores, pre-commits; B restores beside A's files
	zombieOnOwner              // B's first checkpoint counts; A restores it while B's second is pending
)

var orders = []struct {
	order order
	name  string
}{
	{ownerFirst, "owner restores first"},
	{zombieFirst, "zombie restores first"},
	{zombieOnOwner, "zombie restores the owner's checkpoint"},
}

func twoAttempts(t *testing.T, o order, blocking bool) {
	dir := t.TempDir()
	ck := firstRun(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	aConfirming := make(chan struct{}) // A has restored, written and pre-committed
	bConfirming := make(chan struct{}) // B has restored, written and pre-committed
	bCounted := make(chan struct{})    // zombieOnOwner: B's first checkpoint with rows counts
	bDone := make(chan struct{})
	var aOnce, bOnce, bOnce2 sync.Once
	var aWrote, bWrote bool
	var aCovered, bCovered atomic.Int32
	var aErr, bErr error
	var wg sync.WaitGroup
	aFrom := ck // the checkpoint A restores
	bCkDir := t.TempDir()

	runA := func() {
		defer wg.Done()
		defer aOnce.Do(func() { close(aConfirming) })
		aErr = taskRun(ctx, dir, "a771", &stepSource{chunks: chunksOf(2, 100, 160, 2), hold: true, free: true, covered: &aCovered}, aFrom, t.TempDir(), func(int64, bool) error {
			if aCovered.Load() == 0 && o != zombieOnOwner {
				// A restored the checkpoint that counted: it was the owner
				// until it wrote (nothing of it to publish yet). Restored
				// from B's, it never was.
				return nil
			}
			aOnce.Do(func() { aWrote = aCovered.Load() > 0; close(aConfirming) })
			if blocking {
				select {
				case <-bDone:
				case <-ctx.Done():
				}
			}
			return errRefused
		})
	}
	runB := func() {
		defer wg.Done()
		defer close(bDone)
		defer bOnce.Do(func() { close(bConfirming) })
		defer bOnce2.Do(func() { close(bCounted) })
		bErr = taskRun(ctx, dir, "b0b5", &stepSource{chunks: chunksOf(2, 200, 240, 5), covered: &bCovered}, ck, bCkDir, func(int64, bool) error {
			n := bCovered.Load()
			if o == zombieOnOwner && n == 1 {
				bOnce2.Do(func() {
					var err error
					aFrom, _, err = runtime.LatestCheckpoint(bCkDir)
					if err != nil || aFrom == nil {
						t.Errorf("the owner's checkpoint: %v %v", aFrom, err)
						aFrom = ck
					}
					close(bCounted)
				})
				return nil
			}
			if n > 0 && (o != zombieOnOwner || n > 1) {
				bOnce.Do(func() {
					bWrote = true
					close(bConfirming)
					if o != zombieFirst {
						// This checkpoint of B counts only once A has
						// restored and written beside B's pending files.
						select {
						case <-aConfirming:
						case <-ctx.Done():
						}
					}
				})
			}
			return nil
		})
	}
	wg.Add(2)
	switch o {
	case zombieFirst:
		go runA()
		<-aConfirming
		go runB()
	case ownerFirst:
		go runB()
		<-bConfirming
		go runA()
	case zombieOnOwner:
		go runB()
		<-bCounted
		go runA()
	}
	wg.Wait()

	must(t, bErr)
	if !aWrote && o != zombieOnOwner || !bWrote {
		t.Fatalf("pre-committed files: zombie %v, owner %v; want both", aWrote, bWrote)
	}
	if !errors.Is(aErr, errRefused) {
		t.Fatalf("zombie: %v, want its commit refused", aErr)
	}
	want := jsonBytes(append(rows(0, 20), rows(200, 240)...))
	if got := publishedBytes(t, dir); !bytes.Equal(got, want) {
		t.Fatalf("published\n%s\nwant the checkpoint's rows and the owner's\n%s", got, want)
	}
	for _, h := range hiddenFiles(t, dir) {
		if !strings.Contains(h, ".a771.") {
			t.Errorf("hidden file %s left: only the zombie's may stay", h)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, ".sluice-commits-3"))
	must(t, err)
	var rec commitRecord
	must(t, json.Unmarshal(data, &rec))
	if rec.Last <= ck.ID {
		t.Fatalf("commit record %s, want the owner's checkpoints after %d", data, ck.ID)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) > 0 {
		t.Fatalf("temporary records left: %v", m)
	}
}

// TestTaskRunRefusesOneFile: a task of a shared job writes its own files,
// so a sink path naming one file is an error at open naming 'path'.
func TestTaskRunRefusesOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := taskRun(ctx, path, "a1", &stepSource{chunks: chunksOf(0, 0, 10, 10)}, nil, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), `option "path"`) || !strings.Contains(err.Error(), "give a folder") {
		t.Fatalf("one-file sink in a task run: %v, want an error naming 'path'", err)
	}
	if _, serr := os.Stat(path); !os.IsNotExist(serr) {
		t.Fatalf("the file was written: %v", serr)
	}
}

// taskSink returns the sink of task 3 of 4, attempt attempt, with
// checkpoints, opened.
func taskSink(t *testing.T, opts map[string]string, attempt string) (*sink, error) {
	t.Helper()
	newSink, _, err := connector(t).NewSink(table(opts))
	must(t, err)
	op := newSink().(*sink)
	ctx := rttest.NewContext("file", 3, 4)
	ctx.Checkpointing = true
	ctx.Task = &runtime.TaskInfo{ID: 3, Count: 4, Attempt: attempt}
	return op, op.Open(ctx)
}

// TestTaskRestoreSweepsTheWritersFilesOnceItsCheckpointCounts: a restore
// in a task run publishes the checkpoint's pending files and deletes
// untagged hidden files at once; the files of the attempt that took the
// checkpoint — which may still be the owner, if the restoring attempt is a
// zombie — only once a checkpoint of the restoring attempt counts; another
// attempt's and another task's never.
func TestTaskRestoreSweepsTheWritersFilesOnceItsCheckpointCounts(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{
		".part-3-0.json.w1.pending-2",    // listed in the checkpoint
		".part-3-1.json.w1.inprogress",   // the writer's, after the checkpoint
		".part-3-2.json.w1.pending-3",    // the writer's, a later checkpoint
		".part-3-3.json.inprogress",      // untagged
		".part-3-4.json.b7.inprogress",   // another attempt's
		".part-3-5.json.b7.pending-3",    // another attempt's
		".part-2-0.json.w1.inprogress",   // another task's
		".part-3-6.json.w1.x.inprogress", // not a name the sink writes
	} {
		writeFile(t, filepath.Join(dir, n), "{}\n")
	}
	st, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "w1", Next: 1,
		Pending: []pendingFile{{Hidden: ".part-3-0.json.w1.pending-2", Final: "part-3-0.json", Checkpoint: 2}}})
	op, err := taskSink(t, map[string]string{"path": dir}, "c9")
	must(t, err)
	defer op.Close()
	must(t, op.RestoreState(st))
	others := []string{".part-2-0.json.w1.inprogress", ".part-3-4.json.b7.inprogress", ".part-3-5.json.b7.pending-3",
		".part-3-6.json.w1.x.inprogress"}
	writers := []string{".part-3-1.json.w1.inprogress", ".part-3-2.json.w1.pending-3"}
	want := append(slices.Concat(others, writers), "part-3-0.json")
	slices.Sort(want)
	if got := outputNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files after the restore %v, want %v", got, want)
	}
	// New parts are numbered after every name, and carry the attempt.
	feed(t, op, 0, 3)
	snapshot(t, op, 3)
	if !slices.Contains(names(t, dir), ".part-3-7.json.c9.pending-3") {
		t.Fatalf("files %v: want .part-3-7.json.c9.pending-3", names(t, dir))
	}
	must(t, op.NotifyCheckpointComplete(3))
	want = append(slices.Clone(others), "part-3-0.json", "part-3-7.json")
	slices.Sort(want)
	if got := outputNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files once checkpoint 3 counts %v, want %v", got, want)
	}
	bad, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "../x"})
	again, err := taskSink(t, map[string]string{"path": dir}, "d1")
	must(t, err)
	defer again.Close()
	if err := again.RestoreState(bad); err == nil {
		t.Fatal("a state naming an attempt no run writes was taken")
	}
}

// TestAttemptTag: a short lower-case alphanumeric attempt is its own tag;
// anything else is hashed to 12 hex digits, distinct per attempt.
func TestAttemptTag(t *testing.T) {
	for in, want := range map[string]string{"a771": "a771", "0123456789abcdef": "0123456789abcdef"} {
		if got := connectors.AttemptTag(in); got != want {
			t.Errorf("connectors.AttemptTag(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]string{}
	for _, in := range []string{"0123456789abcdef0", "A771", "gen-7/member-2", "", "x.y"} {
		got := connectors.AttemptTag(in)
		if len(got) != 12 || !isTag(got) {
			t.Errorf("connectors.AttemptTag(%q) = %q, want 12 hex digits", in, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("attempts %q and %q share the tag %s", prev, in, got)
		}
		seen[got] = in
	}
}

// TestTaskRunRefusesPartitionCommitsAndNoCheckpoints: a partition's success file needs
// every task's progress, which no one process sees: PARTITIONED BY is an
// error at open in a task run; so are a task without an attempt name and
// one without checkpoints (two attempts would publish the same names).
func TestTaskRunRefusesPartitionCommitsAndNoCheckpoints(t *testing.T) {
	newSink, _, err := connector(t).NewSink(connectors.Table{Name: "t", Schema: schema, TimeColumn: -1,
		Options: map[string]string{"path": t.TempDir()}, PartitionKeys: []string{"name"}})
	must(t, err)
	op := newSink().(*sink)
	ctx := rttest.NewContext("file", 3, 4)
	ctx.Task = &runtime.TaskInfo{ID: 3, Count: 4, Attempt: "a1"}
	if err := op.Open(ctx); err == nil || !strings.Contains(err.Error(), "PARTITIONED BY") {
		t.Fatalf("partitioned sink in a task run: %v", err)
	}
	if _, err := taskSink(t, map[string]string{"path": t.TempDir()}, ""); err == nil || !strings.Contains(err.Error(), "attempt") {
		t.Fatalf("task without an attempt: %v", err)
	}
	ctx = rttest.NewContext("file", 3, 4)
	ctx.Task = &runtime.TaskInfo{ID: 3, Count: 4, Attempt: "a1"}
	plain, _, err := connector(t).NewSink(table(map[string]string{"path": t.TempDir()}))
	must(t, err)
	if err := plain().Open(ctx); err == nil || !strings.Contains(err.Error(), "without checkpoints") {
		t.Fatalf("task without checkpoints: %v", err)
	}
}

// TestTaskCommitRecordNeverGoesBack: the commit record is the task's,
// shared by its attempts: an attempt that read it before another moved it
// on does not write it back when its restore publishes an older
// checkpoint, nor when it is allowed duplicates (ForgetPublished).
func TestTaskCommitRecordNeverGoesBack(t *testing.T) {
	dir := t.TempDir()
	zombie, err := taskSink(t, map[string]string{"path": dir}, "a1")
	must(t, err)
	defer zombie.Close()
	owner, err := taskSink(t, map[string]string{"path": dir}, "b2")
	must(t, err)
	defer owner.Close()
	feed(t, owner, 0, 5)
	snapshot(t, owner, 5)
	must(t, owner.NotifyCheckpointComplete(5))

	writeFile(t, filepath.Join(dir, ".part-3-9.json.w1.pending-2"), "{}\n")
	st, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "w1", Next: 10,
		Pending: []pendingFile{{Hidden: ".part-3-9.json.w1.pending-2", Final: "part-3-9.json", Checkpoint: 2}}})
	must(t, zombie.RestoreState(st))
	must(t, zombie.ForgetPublished(1))
	if !slices.Contains(names(t, dir), "part-3-9.json") {
		t.Fatalf("files %v: the restored checkpoint's file is not published", names(t, dir))
	}
	again, err := taskSink(t, map[string]string{"path": dir}, "c3")
	must(t, err)
	defer again.Close()
	if last, _, err := again.LastPublished(); err != nil || last != 5 {
		t.Fatalf("LastPublished: %d %v, want the owner's checkpoint 5", last, err)
	}
}
