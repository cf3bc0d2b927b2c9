package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/minio/minio-go/v7"

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
	emitted bool
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
	s.wait = !s.free
	if s.free {
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

// chunksOf returns chunks of rows from..to, each of size rows, after skip
// chunks nobody reads (the restored position).
func chunksOf(skip, from, to, size int) [][][]runtime.Value {
	out := make([][][]runtime.Value, skip)
	for i := from; i < to; i += size {
		out = append(out, rows(i, min(i+size, to)))
	}
	return out
}

// taskRun is one attempt of task 3 of 4 delivering the source's rows into
// table name, checkpointing into its own folder, restored from restore
// (nil: none), with confirm as its CheckpointOptions.Confirm.
func taskRun(ctx context.Context, name string, opts map[string]string, attempt string, source *stepSource,
	restore *runtime.Checkpoint, ckDir string, confirm func(int64, bool) error) error {
	f, _ := connectors.Lookup("delivery")
	newOp, _, err := f.(connectors.Sink).NewSink(connectorsTable(name, opts))
	if err != nil {
		return err
	}
	g := runtime.NewGraph("shared")
	src := g.AddSource("rows", schema, 1, func() runtime.Source { return source }, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("lake", schema, 1, 1, newOp), runtime.Forward)
	return runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet(),
		Task:        &runtime.TaskInfo{ID: 3, Count: 4, Attempt: attempt},
		Checkpoints: &runtime.CheckpointOptions{Dir: ckDir, Interval: 3 * time.Millisecond, Restore: restore, Confirm: confirm}})
}

var errRefused = errors.New("the consumer group refused the commit (generation fenced)")

// chunkBodies are the objects a run delivering chunks one per checkpoint
// writes, sorted.
func chunkBodies(chunks [][][]runtime.Value) []string {
	var out []string
	for _, c := range chunks {
		if len(c) == 0 {
			continue
		}
		b := rttest.NewBatch(schema, c...)
		var body []byte
		for i := range b.Len() {
			body = append(format.AppendJSON(body, b, i), '\n')
		}
		out = append(out, string(body))
	}
	slices.Sort(out)
	return out
}

// visibleBodies returns the bodies of the objects under firehose/ but
// .staging, sorted.
func visibleBodies(t *testing.T, cl *minio.Client) []string {
	t.Helper()
	var out []string
	for k, data := range bucket(t, cl, "firehose/") {
		if !strings.Contains(k, stagingDir+"/") {
			out = append(out, string(data))
		}
	}
	slices.Sort(out)
	return out
}

// TestTwoAttemptsOfATaskDeliverOnlyTheOwners: two attempts of task 3 run at
// once: the owner (B), restored from the checkpoint that counted —
// pre-committed by a first attempt that died before publishing it — whose
// checkpoints count, and a zombie (A), restored from the same checkpoint
// or from B's first, whose Confirm fails at once or only after B has
// finished. Whichever restores first, and while the other has
// objects staged and pending, the bucket ends with exactly the
// checkpoint's objects and B's, byte for byte, nothing of A's visible, and
// nothing of B's or the first attempt's left staged.
func TestTwoAttemptsOfATaskDeliverOnlyTheOwners(t *testing.T) {
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
	ownerFirst    order = iota // B restores, pre-commits; A restores beside B's pending objects
	zombieFirst                // A restores, pre-commits; B restores beside A's objects
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
	opts, cl := fakeS3(t)
	const table = "clicks"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// The first attempt: its first checkpoint with rows published, the
	// next counts but its notification never comes (the process dies).
	ckDir := t.TempDir()
	first := chunksOf(0, 0, 20, 10)
	var covered atomic.Int32
	var counted int64
	err := taskRun(ctx, table, opts, "5e1f", &stepSource{chunks: first, hold: true, covered: &covered}, nil, ckDir, func(id int64, _ bool) error {
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
	if got, want := visibleBodies(t, cl), chunkBodies(first[:1]); !slices.Equal(got, want) {
		t.Fatalf("first run delivered %q, want %q", got, want)
	}

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
	owner := chunksOf(2, 200, 240, 5)
	runA := func() {
		defer wg.Done()
		defer aOnce.Do(func() { close(aConfirming) })
		src := &stepSource{chunks: chunksOf(2, 100, 160, 2), hold: true, free: true, covered: &aCovered}
		aErr = taskRun(ctx, table, opts, "a771", src, aFrom, t.TempDir(), func(int64, bool) error {
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
		bErr = taskRun(ctx, table, opts, "b0b5", &stepSource{chunks: owner, covered: &bCovered}, ck, bCkDir, func(int64, bool) error {
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
						// restored and staged beside B's pending objects.
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
		t.Fatalf("pre-committed objects: zombie %v, owner %v; want both", aWrote, bWrote)
	}
	if !errors.Is(aErr, errRefused) {
		t.Fatalf("zombie: %v, want its commit refused", aErr)
	}
	if got, want := visibleBodies(t, cl), chunkBodies(append(first, owner...)); !slices.Equal(got, want) {
		t.Fatalf("visible objects (ids)\n%v\nwant the checkpoint's and the owner's\n%v", bodyIDs(got), bodyIDs(want))
	}
	staging := "firehose/" + stagingDir + "/" + table + "/"
	for k := range bucket(t, cl, staging) {
		if k != staging+"commits-3" && !strings.HasPrefix(k, staging+"3-a771/") {
			t.Errorf("staged object %s left: only the zombie's may stay", k)
		}
	}
	var rec commitRecord
	must(t, json.Unmarshal(bucket(t, cl, staging+"commits-3")[staging+"commits-3"], &rec))
	if rec.Last <= ck.ID {
		t.Fatalf("commit record %+v, want the owner's checkpoints after %d", rec, ck.ID)
	}
}

// TestTaskRunNeedsAnAttempt: a task run without an attempt name would
// share its staging folder with the task's other attempts: an error at
// open.
func TestTaskRunNeedsAnAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := taskRun(ctx, "clicks", map[string]string{"destination": "file://" + t.TempDir()}, "",
		&stepSource{chunks: chunksOf(0, 0, 5, 5)}, nil, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "attempt") {
		t.Fatalf("task run without an attempt: %v", err)
	}
}

// TestTaskRestoreSweepsTheWritersStagingOnceItsCheckpointCounts: a restore
// in a task run publishes what the checkpoint lists and removes the
// untagged staging folder at once; the folder of the attempt that took the
// checkpoint — which may still be the owner, if the restoring attempt is a
// zombie — only once a checkpoint of the restoring attempt counts; another
// attempt's and another task's never. A state naming an object outside
// the writer's folder is refused.
func TestTaskRestoreSweepsTheWritersStagingOnceItsCheckpointCounts(t *testing.T) {
	dir := t.TempDir()
	store := &fileStore{root: dir}
	ctx := context.Background()
	put := func(key string) { must(t, store.stage(ctx, key, []byte("x\n"))) }
	base := stagingDir + "/t/3"
	all := []string{base + "-w1/listed", base + "-w1/after", base + "/untagged", base + "-b7/other",
		stagingDir + "/t/2-w1/other-task", "out/listed.json"}
	for _, k := range all[:5] {
		put(k)
	}
	there := func() []string {
		var out []string
		for _, k := range all {
			if data, _ := store.get(ctx, k); data != nil {
				out = append(out, k)
			}
		}
		return out
	}

	f, _ := connectors.Lookup("delivery")
	newOp, _, err := f.(connectors.Sink).NewSink(connectorsTable("t", map[string]string{"destination": "file://" + dir}))
	must(t, err)
	open := func(attempt string) *sink {
		op := newOp().(*sink)
		rc := rttest.NewContext("delivery", 3, 4)
		rc.Checkpointing = true
		rc.Task = &runtime.TaskInfo{ID: 3, Count: 4, Attempt: attempt}
		must(t, op.Open(rc))
		t.Cleanup(func() { op.Close() })
		return op
	}
	state, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "w1",
		Pending: []stagedObject{{Staged: base + "-w1/listed", Final: "out/listed.json", Checkpoint: 2}}})
	op := open("c9")
	must(t, op.RestoreState(state))
	want := []string{base + "-w1/after", base + "-b7/other", stagingDir + "/t/2-w1/other-task", "out/listed.json"}
	if got := there(); !slices.Equal(got, want) {
		t.Fatalf("after the restore %v, want %v", got, want)
	}
	feed(t, op, rows(0, 2))
	_, err = op.SnapshotState(3)
	must(t, err)
	must(t, op.NotifyCheckpointComplete(3))
	if got := there(); !slices.Equal(got, want[1:]) {
		t.Fatalf("once checkpoint 3 counts %v, want %v", got, want[1:])
	}

	foreign, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "w1",
		Pending: []stagedObject{{Staged: base + "-b7/other", Final: "out/other.json", Checkpoint: 2}}})
	if err := open("d1").RestoreState(foreign); err == nil {
		t.Fatal("a state naming another attempt's object was taken")
	}
	if data, _ := store.get(ctx, "out/other.json"); data != nil || !bytes.Equal(must2(store.get(ctx, base+"-b7/other")), []byte("x\n")) {
		t.Fatal("another attempt's object was published or removed")
	}
}

func must2(data []byte, _ error) []byte { return data }

// TestTaskCommitRecordNeverGoesBack: the commit record is the task's,
// shared by its attempts: an attempt that read it before another moved it
// on does not write it back when its restore publishes an older
// checkpoint, nor when it is allowed duplicates (ForgetPublished).
func TestTaskCommitRecordNeverGoesBack(t *testing.T) {
	dir := t.TempDir()
	opts := map[string]string{"destination": "file://" + dir}
	f, _ := connectors.Lookup("delivery")
	newOp, _, err := f.(connectors.Sink).NewSink(connectorsTable("t", opts))
	must(t, err)
	open := func(attempt string) *sink {
		op := newOp().(*sink)
		rc := rttest.NewContext("delivery", 3, 4)
		rc.Checkpointing = true
		rc.Task = &runtime.TaskInfo{ID: 3, Count: 4, Attempt: attempt}
		must(t, op.Open(rc))
		t.Cleanup(func() { op.Close() })
		return op
	}
	zombie, owner := open("a1"), open("b2")
	feed(t, owner, rows(0, 5))
	_, err = owner.SnapshotState(5)
	must(t, err)
	must(t, owner.NotifyCheckpointComplete(5))

	staged := stagingDir + "/t/3-w1/old"
	must(t, (&fileStore{root: dir}).stage(context.Background(), staged, []byte("x\n")))
	st, _ := json.Marshal(sinkState{Table: "t", Subtask: 3, Attempt: "w1",
		Pending: []stagedObject{{Staged: staged, Final: "out/old.json", Checkpoint: 2}}})
	must(t, zombie.RestoreState(st))
	must(t, zombie.ForgetPublished(1))
	if _, ok := objects(t, dir)["out/old.json"]; !ok {
		t.Fatal("the restored checkpoint's object is not published")
	}
	if last, _, err := open("c3").LastPublished(); err != nil || last != 5 {
		t.Fatalf("LastPublished: %d %v, want the owner's checkpoint 5", last, err)
	}
}

// bodyIDs returns the ids of the rows of each body.
func bodyIDs(bodies []string) [][]string {
	var out [][]string
	for _, b := range bodies {
		out = append(out, idsOf(lines([]byte(b))))
	}
	return out
}
