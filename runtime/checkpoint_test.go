package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

var ckSchema = NewSchema(Field{Name: "k", Type: BigInt}, Field{Name: "id", Type: BigInt}, Field{Name: "ts", Type: Timestamp})

// countSource emits rows id = subtask, subtask+p, … below n, 64 per batch,
// sleeping between batches; its position is the next id.
type countSource struct {
	n, next, p int64
	sleep      time.Duration
	restored   map[int]int64
	sub        int
	b          *Batch
}

func (s *countSource) RestorePositions(all [][]byte) error {
	s.restored = map[int]int64{}
	for _, d := range all {
		s.restored[int(binary.LittleEndian.Uint64(d))] = int64(binary.LittleEndian.Uint64(d[8:]))
	}
	return nil
}
func (s *countSource) SnapshotPosition() ([]byte, error) {
	d := binary.LittleEndian.AppendUint64(nil, uint64(s.sub))
	return binary.LittleEndian.AppendUint64(d, uint64(s.next)), nil
}
func (s *countSource) Open(ctx *Context) error {
	s.sub, s.p = ctx.Subtask, int64(ctx.Parallelism)
	s.next = int64(ctx.Subtask)
	if v, ok := s.restored[ctx.Subtask]; ok {
		s.next = v
	}
	s.b = NewBatch(ckSchema)
	return nil
}
func (s *countSource) Poll(ctx context.Context) (*Batch, int, error) {
	if s.next >= s.n {
		return nil, 0, io.EOF
	}
	time.Sleep(s.sleep)
	s.b.Reset()
	for i := 0; i < 64 && s.next < s.n; i++ {
		s.b.AppendValues(IntValue(s.next%7), IntValue(s.next), TimeValue(s.next))
		s.next += s.p
	}
	return s.b, 0, nil
}
func (s *countSource) Close() error { return nil }

// countOp counts rows per key in state and emits the counts at Finish.
type countOp struct {
	Base
	counts map[int64]int64
}

func (o *countOp) Open(*Context) error { o.counts = map[int64]int64{}; return nil }
func (o *countOp) ProcessBatch(_ int, b *Batch, _ Output) error {
	for i := 0; i < b.Len(); i++ {
		o.counts[b.Cols[0].I64[b.Row(i)]]++
	}
	return nil
}
func (o *countOp) Finish(out Output) error {
	b := NewBatch(ckSchema)
	for k, n := range o.counts {
		b.AppendValues(IntValue(k), IntValue(n), TimeValue(0))
	}
	return out.Emit(b)
}
func (o *countOp) SnapshotState(int64) ([]byte, error) {
	var d []byte
	for k, n := range o.counts {
		d = binary.LittleEndian.AppendUint64(d, uint64(k))
		d = binary.LittleEndian.AppendUint64(d, uint64(n))
	}
	return d, nil
}
func (o *countOp) RestoreState(d []byte) error {
	for ; len(d) >= 16; d = d[16:] {
		o.counts[int64(binary.LittleEndian.Uint64(d))] = int64(binary.LittleEndian.Uint64(d[8:]))
	}
	return nil
}

// failOnce fails the first time it sees row id at, once a checkpoint has
// completed.
type failOnce struct {
	Base
	at        int64
	armed     *atomic.Bool
	completed *atomic.Int64
}

func (f *failOnce) ProcessBatch(_ int, b *Batch, out Output) error {
	for i := 0; i < b.Len(); i++ {
		if b.Cols[1].I64[b.Row(i)] >= f.at && f.completed.Load() > 0 && f.armed.CompareAndSwap(true, false) {
			return errors.New("injected failure")
		}
	}
	return out.Emit(b)
}

// txSink is an exactly-once sink in memory: rows go to a pending group at
// a checkpoint and are published when it completes. A group is published
// at most once (as a file rename would be): groups are named by the run,
// subtask and checkpoint that made them.
type txSink struct {
	Base
	mu        *sync.Mutex
	committed *map[string][]string // group → rows
	completed *atomic.Int64
	run       int64
	sub       int
	own       sync.Mutex
	buf       []string
	pending   map[int64][]string
}

var runSeq atomic.Int64

func (s *txSink) Open(ctx *Context) error {
	s.pending, s.run, s.sub = map[int64][]string{}, runSeq.Add(1), ctx.Subtask
	return nil
}
func (s *txSink) ProcessBatch(_ int, b *Batch, _ Output) error {
	s.own.Lock()
	defer s.own.Unlock()
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		s.buf = append(s.buf, fmt.Sprint(b.Cols[0].I64[r], "/", b.Cols[1].I64[r]))
	}
	return nil
}
func (s *txSink) group(ck int64) string { return fmt.Sprint(s.run, "-", s.sub, "-", ck) }
func (s *txSink) SnapshotState(id int64) ([]byte, error) {
	s.own.Lock()
	defer s.own.Unlock()
	s.pending[id] = append(s.pending[id], s.buf...)
	s.buf = nil
	var groups []string
	for ck, rows := range s.pending {
		groups = append(groups, s.group(ck)+"="+strings.Join(rows, ","))
	}
	return []byte(strings.Join(groups, ";")), nil
}
func (s *txSink) publish(group string, rows []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, done := (*s.committed)[group]; !done {
		(*s.committed)[group] = rows
	}
}
func (s *txSink) NotifyCheckpointComplete(id int64) error {
	s.own.Lock()
	defer s.own.Unlock()
	s.completed.Add(1)
	for ck, rows := range s.pending {
		if ck <= id {
			s.publish(s.group(ck), rows)
			delete(s.pending, ck)
		}
	}
	return nil
}
func (s *txSink) RestoreState(d []byte) error {
	if len(d) == 0 {
		return nil
	}
	for _, g := range strings.Split(string(d), ";") {
		name, rows, _ := strings.Cut(g, "=")
		var list []string
		if rows != "" {
			list = strings.Split(rows, ",")
		}
		s.publish(name, list)
	}
	return nil
}

type ckJob struct {
	g                   *Graph
	rows, totals        *map[string][]string
	mu                  *sync.Mutex
	armed               *atomic.Bool
	completed           *atomic.Int64
	totalRows, parallel int
}

func newCkJob(n int64, par int, failAt int64) *ckJob {
	j := &ckJob{rows: &map[string][]string{}, totals: &map[string][]string{}, mu: new(sync.Mutex), armed: new(atomic.Bool), completed: new(atomic.Int64), totalRows: int(n), parallel: par}
	j.armed.Store(failAt >= 0)
	g := NewGraph("ck")
	src := g.AddSource("src", ckSchema, par, func() Source { return &countSource{n: n, sleep: 3 * time.Millisecond} }, WatermarkStrategy{TimeColumn: 2})
	fail := g.AddOperator("fail", ckSchema, par, 1, func() Operator { return &failOnce{at: failAt, armed: j.armed, completed: j.completed} })
	g.Connect(src, fail, Forward)
	g.Connect(fail, g.AddOperator("rows", ckSchema, par, 1, func() Operator {
		return &txSink{mu: j.mu, committed: j.rows, completed: j.completed}
	}), Rebalance)
	cnt := g.AddOperator("count", ckSchema, par, 1, func() Operator { return &countOp{} })
	g.Connect(src, cnt, Keyed, 0)
	g.Connect(cnt, g.AddOperator("totals", ckSchema, 1, 1, func() Operator {
		return &txSink{mu: j.mu, committed: j.totals, completed: new(atomic.Int64)}
	}), Global)
	j.g = g
	return j
}

// check: every row committed exactly once, and the per-key totals exact.
func (j *ckJob) check(t *testing.T) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	got := flatten(*j.rows)
	var want []string
	counts := map[int64]int64{}
	for i := range int64(j.totalRows) {
		want = append(want, fmt.Sprint(i%7, "/", i))
		counts[i%7]++
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		dup, miss := 0, 0
		seen := map[string]int{}
		for _, g := range got {
			seen[g]++
		}
		for _, w := range want {
			switch seen[w] {
			case 0:
				miss++
			case 1:
			default:
				dup++
			}
		}
		t.Fatalf("%d rows committed, want %d: %d missing, %d more than once", len(got), len(want), miss, dup)
	}
	var wantTotals []string
	for k, n := range counts {
		wantTotals = append(wantTotals, fmt.Sprint(k, "/", n))
	}
	sort.Strings(wantTotals)
	gotTotals := flatten(*j.totals)
	if !slices.Equal(gotTotals, wantTotals) {
		t.Fatalf("totals %v, want %v", gotTotals, wantTotals)
	}
}

// TestRestartFromCheckpoint: an operator fails part-way, after checkpoints
// have completed; the job restarts in-process from the latest one and the
// committed output is every row exactly once, with exact keyed state.
func TestRestartFromCheckpoint(t *testing.T) {
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			j := newCkJob(12000, par, 4000)
			dir := t.TempDir()
			var logs []string
			err := RunWithRestarts(context.Background(), j.g, Options{Parallelism: par,
				Checkpoints: &CheckpointOptions{Dir: dir, Interval: 15 * time.Millisecond}},
				RestartOptions{Attempts: 3, MinBackoff: time.Millisecond, Log: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
			if err != nil {
				t.Fatal(err)
			}
			if j.armed.Load() {
				t.Fatal("the failure was never injected")
			}
			if !slices.ContainsFunc(logs, func(l string) bool { return strings.Contains(l, "restoring checkpoint") }) {
				t.Fatalf("no restore from a checkpoint: %q", logs)
			}
			j.check(t)
			// The last 3 checkpoints are kept, the last one records the end.
			ids, _ := listCheckpoints(dir, checkpointPfx)
			if len(ids) != 3 {
				t.Fatalf("checkpoints kept: %v", ids)
			}
			last, _, err := LatestCheckpoint(dir)
			if err != nil || last == nil || !last.Finished {
				t.Fatalf("latest checkpoint %+v, %v: want the finished one", last, err)
			}
		})
	}
}

// TestStopWithSavepointAndResume: a savepoint stops the job; a run from it
// finishes the job; everything is committed exactly once.
func TestStopWithSavepointAndResume(t *testing.T) {
	j := newCkJob(6000, 2, -1)
	dir := t.TempDir()
	stop := make(chan struct{})
	go func() {
		time.Sleep(60 * time.Millisecond)
		close(stop)
	}()
	err := Run(context.Background(), j.g, Options{Parallelism: 2, Checkpoints: &CheckpointOptions{Dir: dir, Interval: time.Hour, StopWithSavepoint: stop}})
	var se *SavepointError
	if !errors.As(err, &se) {
		t.Fatalf("Run: %v, want a stop with a savepoint", err)
	}
	sp, err := LoadCheckpoint(se.Path)
	if err != nil || !sp.Savepoint {
		t.Fatalf("savepoint %s: %+v %v", se.Path, sp, err)
	}
	j.mu.Lock()
	mid := len(flatten(*j.rows))
	j.mu.Unlock()
	if mid == 0 || mid >= 6000 {
		t.Fatalf("%d rows committed at the savepoint: want some, not all", mid)
	}
	if err := Run(context.Background(), j.g, Options{Parallelism: 2, Checkpoints: &CheckpointOptions{Dir: dir, Restore: sp}}); err != nil {
		t.Fatal(err)
	}
	j.check(t)
}

// TestCheckpointPlanMismatch: a checkpoint of another plan is refused,
// naming the operator, unless non-restored state is allowed.
func TestCheckpointPlanMismatch(t *testing.T) {
	j := newCkJob(2000, 1, -1)
	dir := t.TempDir()
	if err := Run(context.Background(), j.g, Options{Parallelism: 1, Checkpoints: &CheckpointOptions{Dir: dir, Interval: 5 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	last, _, _ := LatestCheckpoint(dir)
	other := newCkJob(2000, 2, -1) // every operator at parallelism 2
	err := Run(context.Background(), other.g, Options{Parallelism: 2, Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Restore: last}})
	if err == nil || !strings.Contains(err.Error(), `operator "src" runs with parallelism 2`) {
		t.Fatalf("mismatch: %v", err)
	}
}

// TestCorruptCheckpointSkipped: the newest checkpoint with a damaged state
// file is skipped for the previous complete one, with a warning.
func TestCorruptCheckpointSkipped(t *testing.T) {
	j := newCkJob(3000, 1, -1)
	dir := t.TempDir()
	stop := make(chan struct{})
	close(stop)
	// Several checkpoints, then a savepoint stop, so none is "finished".
	err := Run(context.Background(), j.g, Options{Parallelism: 1, Checkpoints: &CheckpointOptions{Dir: dir, Interval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := listCheckpoints(dir, checkpointPfx)
	if len(ids) < 2 {
		t.Fatalf("checkpoints %v", ids)
	}
	newest := filepath.Join(dir, checkpointPfx+formatID(ids[len(ids)-1]))
	data, _ := os.ReadFile(filepath.Join(newest, stateName))
	if len(data) == 0 {
		t.Fatal("empty state")
	}
	data[len(data)/2] ^= 0x40
	os.WriteFile(filepath.Join(newest, stateName), data, 0o644)
	// And a partial one (no manifest) newer still.
	os.MkdirAll(filepath.Join(dir, checkpointPfx+formatID(ids[len(ids)-1]+1)), 0o755)
	c, warnings, err := LatestCheckpoint(dir)
	if err != nil || c == nil || c.ID != ids[len(ids)-2] {
		t.Fatalf("latest %+v, %v; want checkpoint %d", c, err, ids[len(ids)-2])
	}
	if len(warnings) != 2 || !strings.Contains(warnings[1], "corrupt") || !strings.Contains(warnings[0], "not complete") {
		t.Fatalf("warnings %q", warnings)
	}
}

func flatten(groups map[string][]string) []string {
	var out []string
	for _, rows := range groups {
		out = append(out, rows...)
	}
	sort.Strings(out)
	return out
}

// TestCheckpointMetrics: a checkpointed run reports its checkpoints'
// count, duration, size, last id and alignment times; restarts are
// counted.
func TestCheckpointMetrics(t *testing.T) {
	j := newCkJob(4000, 2, 1000)
	set := metrics.NewSet()
	err := RunWithRestarts(context.Background(), j.g, Options{Parallelism: 2, Metrics: set,
		Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond}}, RestartOptions{Attempts: 2, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	set.WritePrometheus(&b)
	metrics.WritePrometheus(&b, false)
	text := b.String()
	value := func(prefix string) float64 {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, prefix) {
				var v float64
				fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
				return v
			}
		}
		t.Fatalf("no series %s in:\n%s", prefix, text)
		return 0
	}
	if n := value(`sluice_checkpoints_completed_total{job="ck"}`); n < 2 {
		t.Fatalf("%v checkpoints completed", n)
	}
	if id := value(`sluice_checkpoint_last_completed_id{job="ck"}`); id < 2 {
		t.Fatalf("last completed id %v", id)
	}
	value(`sluice_checkpoint_size_bytes{job="ck"}`)
	value(`sluice_checkpoint_duration_seconds_bucket{job="ck"`)
	value(`sluice_checkpoint_alignment_seconds_bucket{job="ck",operator="count"`)
	if r := value(`sluice_job_restarts_total{job="ck"}`); r < 1 {
		t.Fatalf("restarts %v", r)
	}
}

// runKeys reports 100 × its run number as its state keys, and fails in its
// first run once a checkpoint has completed.
type runKeys struct {
	Base
	runs      *atomic.Int64
	run       int64
	ctx       *Context
	completed atomic.Bool
}

func (o *runKeys) Open(ctx *Context) error { o.ctx, o.run = ctx, o.runs.Add(1); return nil }
func (o *runKeys) ProcessBatch(_ int, b *Batch, out Output) error {
	o.ctx.Metrics.SetStateKeys(int(100 * o.run))
	if o.run == 1 && o.completed.Load() {
		return errors.New("injected failure")
	}
	return out.Emit(b)
}
func (o *runKeys) NotifyCheckpointComplete(int64) error { o.completed.Store(true); return nil }

// TestGaugesFollowTheRunAfterARestart: after an in-process restart, the
// checkpoint and operator gauges read the new run's values, not the first
// run's, and the restart is counted in the job's own metrics set.
func TestGaugesFollowTheRunAfterARestart(t *testing.T) {
	g := NewGraph("gauges")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 3000, sleep: 2 * time.Millisecond} }, WatermarkStrategy{TimeColumn: 2})
	runs := new(atomic.Int64)
	g.Connect(src, g.AddOperator("keys", ckSchema, 1, 1, func() Operator { return &runKeys{runs: runs} }), Forward)
	set := metrics.NewSet()
	dir := t.TempDir()
	err := RunWithRestarts(context.Background(), g, Options{Parallelism: 1, Metrics: set,
		Checkpoints: &CheckpointOptions{Dir: dir, Interval: 10 * time.Millisecond}}, RestartOptions{Attempts: 2, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 2 {
		t.Fatalf("%d runs, want 2", runs.Load())
	}
	var b strings.Builder
	set.WritePrometheus(&b)
	text := b.String()
	value := func(series string) float64 {
		t.Helper()
		for _, line := range strings.Split(text, "\n") {
			if name, v, ok := strings.Cut(line, " "); ok && name == series {
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
		}
		t.Fatalf("no series %s in the job's set:\n%s", series, text)
		return 0
	}
	ids, _ := listCheckpoints(dir, checkpointPfx)
	if got, want := value(`sluice_checkpoint_last_completed_id{job="gauges"}`), float64(ids[len(ids)-1]); got != want {
		t.Fatalf("last completed id %v, want %v (the second run's last checkpoint)", got, want)
	}
	last, _, _ := LatestCheckpoint(dir)
	st, _ := os.Stat(filepath.Join(last.Path, stateName))
	if got := value(`sluice_checkpoint_size_bytes{job="gauges"}`); got != float64(st.Size()) {
		t.Fatalf("size %v, want %d (the second run's last checkpoint)", got, st.Size())
	}
	if got := value(`sluice_operator_state_keys{job="gauges",operator="keys",operator_id="1",subtask="0"}`); got != 200 {
		t.Fatalf("state keys %v, want 200 (set by the second run)", got)
	}
	if got := value(`sluice_job_restarts_total{job="gauges"}`); got != 1 {
		t.Fatalf("restarts %v, want 1", got)
	}
}

// TestEditedManifestIsCorrupt: a manifest edited by hand — marked
// finished, or pointing a subtask at another subtask's state — fails its
// checksum, and the checkpoint is skipped like one with a damaged state
// file; a manifest whose blobs do not fit its plan is corrupt even with a
// matching checksum.
func TestEditedManifestIsCorrupt(t *testing.T) {
	j := newCkJob(100000, 2, -1)
	dir := t.TempDir()
	stop := make(chan struct{})
	go func() { // stopped once a few checkpoints are complete, long before the end
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if c, _, _ := LatestCheckpoint(dir); c != nil && c.ID >= 3 {
				break
			}
		}
		close(stop)
	}()
	err := Run(context.Background(), j.g, Options{Parallelism: 2, Checkpoints: &CheckpointOptions{Dir: dir, Interval: 5 * time.Millisecond, StopWithSavepoint: stop}})
	if !errors.Is(err, ErrStoppedWithSavepoint) {
		t.Fatal(err)
	}
	ids, _ := listCheckpoints(dir, checkpointPfx)
	if len(ids) < 2 {
		t.Fatalf("checkpoints %v", ids)
	}
	// The savepoint of the stop is newer still: without it the newest
	// checkpoint is the latest state, and its fallback the one before.
	sps, _ := listCheckpoints(dir, savepointPfx)
	for _, id := range sps {
		os.RemoveAll(filepath.Join(dir, savepointPfx+formatID(id)))
	}
	newest := filepath.Join(dir, checkpointPfx+formatID(ids[len(ids)-1]))
	path := filepath.Join(newest, manifestName)
	orig, _ := os.ReadFile(path)
	if _, err := LoadCheckpoint(newest); err != nil {
		t.Fatalf("the untouched checkpoint: %v", err)
	}
	f := func(what string, edit func(m *manifest), resum bool, want string) {
		t.Helper()
		var m manifest
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		edit(&m)
		if resum {
			m.Checksum, _ = m.checksum()
		}
		data, _ := json.MarshalIndent(m, "", " ")
		os.WriteFile(path, data, 0o644)
		defer os.WriteFile(path, orig, 0o644)
		_, err := LoadCheckpoint(newest)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), newest) {
			t.Fatalf("%s: %v, want an error with %q naming the folder", what, err, want)
		}
		c, warnings, err := LatestCheckpoint(dir)
		if err != nil || c == nil || c.ID != ids[len(ids)-2] || len(warnings) != 1 || !strings.Contains(warnings[0], want) {
			t.Fatalf("%s: latest %v %v %q; want the previous checkpoint %d and a warning", what, c != nil, err, warnings, ids[len(ids)-2])
		}
	}
	f("finished", func(m *manifest) { m.Finished = true }, false, "manifest is corrupt: its checksum")
	f("subtask swapped", func(m *manifest) {
		for i := range m.State {
			m.State[i].Subtask = 1 - m.State[i].Subtask
		}
	}, false, "manifest is corrupt: its checksum")
	f("checksum removed", func(m *manifest) { m.Checksum = "" }, false, "manifest is corrupt")
	f("blob twice", func(m *manifest) {
		for i := range m.State {
			if m.State[i].Subtask == 1 {
				m.State[i].Subtask, m.State[i].Offset, m.State[i].Length = 0, 0, m.State[0].Length
				break
			}
		}
	}, true, "has state twice")
	f("subtask out of range", func(m *manifest) { m.State[0].Subtask = 7 }, true, "which runs 2")
	f("operator renamed", func(m *manifest) { m.State[0].Operator = "other" }, true, `and "other" in the blob`)
	f("old version", func(m *manifest) { m.Version = 1 }, true, "manifest version 1")
}

// failRestore is an operator whose checkpointed state never restores.
type failRestore struct {
	Base
	restores *atomic.Int64
}

func (o *failRestore) ProcessBatch(_ int, b *Batch, out Output) error { return out.Emit(b) }
func (o *failRestore) SnapshotState(int64) ([]byte, error)            { return []byte("state"), nil }
func (o *failRestore) RestoreState([]byte) error {
	o.restores.Add(1)
	return errors.New("state of an unknown format")
}

// TestFailingRestoreIsNotRetried: a checkpoint whose state an operator
// refuses stops the job at once with the reason, naming the checkpoint and
// the operator, instead of being restored again at every restart.
func TestFailingRestoreIsNotRetried(t *testing.T) {
	restores := new(atomic.Int64)
	g := NewGraph("badrestore")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 2000, sleep: time.Millisecond} }, WatermarkStrategy{TimeColumn: 2})
	g.Connect(src, g.AddOperator("picky", ckSchema, 1, 1, func() Operator { return &failRestore{restores: restores} }), Forward)
	dir := t.TempDir()
	if err := Run(context.Background(), g, Options{Parallelism: 1, Checkpoints: &CheckpointOptions{Dir: dir, Interval: 5 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	// Start again from a checkpoint before the end.
	ids, _ := listCheckpoints(dir, checkpointPfx)
	c, err := LoadCheckpoint(filepath.Join(dir, checkpointPfx+formatID(ids[0])))
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	err = RunWithRestarts(context.Background(), g, Options{Parallelism: 1, Checkpoints: &CheckpointOptions{Dir: dir, Interval: 5 * time.Millisecond, Restore: c}},
		RestartOptions{Attempts: 10, MinBackoff: time.Millisecond, Log: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	var re *RestoreError
	if !errors.As(err, &re) || re.Checkpoint != c.ID || !strings.Contains(err.Error(), `operator "picky"`) || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("err %v, want a RestoreError of checkpoint %d naming the operator", err, c.ID)
	}
	if n := restores.Load(); n != 1 {
		t.Fatalf("the state was restored %d times, want once; logs %q", n, logs)
	}
}

// TestLoadCheckpointOfAMissingFolder: a mistyped --from-savepoint path is
// reported as missing, not as an incomplete checkpoint; a folder without a
// manifest is incomplete.
func TestLoadCheckpointOfAMissingFolder(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "savepoint-000042")
	if _, err := LoadCheckpoint(missing); err == nil || !errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "not complete") {
		t.Fatalf("a missing folder: %v, want it named as missing", err)
	}
	if _, err := LoadCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "is not complete: it has no _manifest.json") {
		t.Fatalf("a folder without a manifest: %v", err)
	}
}

// TestRestoreMetrics: a run restored from a checkpoint reports the size of
// the state it restored and how long reading it took.
func TestRestoreMetrics(t *testing.T) {
	dir := t.TempDir()
	j := newCkJob(4000, 2, -1) // no failure
	if err := Run(context.Background(), j.g, Options{Parallelism: 2, Metrics: metrics.NewSet(),
		Checkpoints: &CheckpointOptions{Dir: dir, Interval: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	latest, _, err := LatestCheckpoint(dir)
	if err != nil || latest == nil {
		t.Fatalf("latest checkpoint: %v, %v", latest, err)
	}
	if latest.Bytes <= 0 || latest.LoadTime <= 0 {
		t.Fatalf("checkpoint %d: %d bytes read in %v", latest.ID, latest.Bytes, latest.LoadTime)
	}
	set := metrics.NewSet()
	j2 := newCkJob(4000, 2, -1)
	if err := Run(context.Background(), j2.g, Options{Parallelism: 2, Metrics: set,
		Checkpoints: &CheckpointOptions{Dir: dir, Interval: 10 * time.Millisecond, Restore: latest}}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	set.WritePrometheus(&b)
	want := fmt.Sprintf(`sluice_checkpoint_restore_bytes{job="ck"} %d`, latest.Bytes)
	if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), `sluice_checkpoint_restore_seconds{job="ck"} `) {
		t.Fatalf("no %s and restore seconds in:\n%s", want, b.String())
	}
}

// listCheckpoints returns the ids of the folders in dir named prefix<id>,
// ascending.
func listCheckpoints(dir, prefix string) ([]int64, error) {
	l, err := listStore(dirStore(dir))
	if err != nil {
		return nil, err
	}
	return l.ids(prefix), nil
}
