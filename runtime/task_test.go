package runtime

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// TestTaskRunIsOneSubtaskNamedByItsTask: a run with Options.Task runs one
// subtask of each operator, which its Context and metrics call subtask
// Task.ID of Task.Count; a graph with more subtasks is refused.
func TestTaskRunIsOneSubtaskNamedByItsTask(t *testing.T) {
	g := NewGraph("job")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 20} }, NoWatermarks)
	c, newC := newCollector()
	sink := g.AddOperator("sink", ckSchema, 1, 1, newC)
	g.Connect(src, sink, Forward)
	set := metrics.NewSet()
	if err := Run(context.Background(), g, Options{Task: &TaskInfo{ID: 3, Count: 4, Attempt: "a1"}, Metrics: set}); err != nil {
		t.Fatal(err)
	}
	// countSource reads ids subtask, subtask+parallelism, …: task 3 of 4.
	var ids []string
	for _, r := range c.sorted() {
		ids = append(ids, strings.Split(r, ",")[1])
	}
	slices.Sort(ids)
	if want := []string{"11", "15", "19", "3", "7"}; !slices.Equal(ids, want) {
		t.Errorf("task 3 of 4 read ids %v, want %v", ids, want)
	}
	var sb strings.Builder
	set.WritePrometheus(&sb)
	if !strings.Contains(sb.String(), `sluice_operator_rows_in_total{job="job",operator="sink",operator_id="1",subtask="3"} 5`) {
		t.Errorf("metrics do not name subtask 3:\n%s", sb.String())
	}

	g2 := NewGraph("job")
	s2 := g2.AddSource("src", ckSchema, 2, func() Source { return &countSource{n: 20} }, NoWatermarks)
	_, newC2 := newCollector()
	g2.Connect(s2, g2.AddOperator("sink", ckSchema, 2, 1, newC2), Forward)
	if err := Run(context.Background(), g2, Options{Task: &TaskInfo{ID: 0, Count: 4}}); err == nil || !strings.Contains(err.Error(), "parallelism 2") {
		t.Errorf("a task graph at parallelism 2: %v, want an error", err)
	}
}

// notified records the checkpoints a listener is told of.
type notified struct {
	Base
	mu  *sync.Mutex
	ids *[]int64
}

func (n *notified) ProcessBatch(int, *Batch, Output) error { return nil }
func (n *notified) NotifyCheckpointComplete(id int64) error {
	n.mu.Lock()
	*n.ids = append(*n.ids, id)
	n.mu.Unlock()
	return nil
}

// TestRefusedConfirmTellsNoListenerAndStopsTheRun: a checkpoint that Confirm
// refuses does not count: the listeners never hear of it and the run stops
// with the refusal.
func TestRefusedConfirmTellsNoListenerAndStopsTheRun(t *testing.T) {
	g := NewGraph("job")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 1 << 40, sleep: time.Millisecond} }, NoWatermarks)
	var mu sync.Mutex
	var ids []int64
	sink := g.AddOperator("sink", ckSchema, 1, 1, func() Operator { return &notified{mu: &mu, ids: &ids} })
	g.Connect(src, sink, Forward)
	refused := errors.New("generation 4 has ended")
	var confirmed []int64
	err := Run(context.Background(), g, Options{Task: &TaskInfo{ID: 0, Count: 1}, Checkpoints: &CheckpointOptions{
		Store: DirStore(t.TempDir()), Interval: 20 * time.Millisecond,
		Confirm: func(id int64, finished bool) error {
			if id >= 3 {
				return refused
			}
			confirmed = append(confirmed, id)
			return nil
		}}})
	if !errors.Is(err, refused) {
		t.Fatalf("run = %v, want the refusal", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(confirmed, []int64{1, 2}) || !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("confirmed %v, listeners told %v; want 1 and 2 both", confirmed, ids)
	}
}

// wmSource delivers rows and a watermark of its own: 10 per poll, then
// idle for a while, then active again, then ends.
type wmSource struct {
	polls int
	b     *Batch
}

func (s *wmSource) Open(*Context) error { s.b = NewBatch(ckSchema); return nil }
func (s *wmSource) Poll(context.Context) (*Batch, int, error) {
	s.polls++
	if s.polls > 40 {
		return nil, 0, io.EOF
	}
	time.Sleep(time.Millisecond)
	s.b.Reset()
	s.b.AppendValues(IntValue(1), IntValue(int64(s.polls)), TimeValue(1_000_000)) // far ahead: not what drives the watermark
	return s.b, 0, nil
}
func (s *wmSource) Watermark() (int64, bool) {
	switch {
	case s.polls < 10:
		return int64(10 * s.polls), false
	case s.polls < 20:
		return 90, true
	}
	return int64(10 * s.polls), false
}
func (s *wmSource) Close() error { return nil }

// idleSeen records what OnIdle tells.
type idleSeen struct {
	Base
	mu  *sync.Mutex
	got *[]bool
}

func (o *idleSeen) ProcessBatch(int, *Batch, Output) error { return nil }
func (o *idleSeen) OnIdle(idle bool, _ Output) error {
	o.mu.Lock()
	*o.got = append(*o.got, idle)
	o.mu.Unlock()
	return nil
}

// TestWatermarkSourceDrivesTheWatermarkAndIdleReachesOperators: a source
// with a watermark of its own sets the job's (not its rows' times), and
// its idle spells reach downstream operators, across an exchange too.
func TestWatermarkSourceDrivesTheWatermarkAndIdleReachesOperators(t *testing.T) {
	g := NewGraph("job")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &wmSource{} }, WatermarkStrategy{TimeColumn: 2})
	c, newC := newCollector()
	fused := g.AddOperator("collect", ckSchema, 1, 1, newC)
	g.Connect(src, fused, Forward)
	var mu sync.Mutex
	var got []bool
	remote := g.AddOperator("idle", ckSchema, 2, 1, func() Operator { return &idleSeen{mu: &mu, got: &got} })
	g.Connect(src, remote, Rebalance)
	if err := Run(context.Background(), g, Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	wms := slices.Clone(*c.wms)
	c.mu.Unlock()
	if len(wms) < 3 || wms[0] != 10 || wms[len(wms)-1] != MaxWatermark || slices.Contains(wms, 1_000_000-1) {
		t.Errorf("watermarks %v: want the source's own (10, 20, …), then the end", wms)
	}
	for i := 1; i < len(wms); i++ {
		if wms[i] <= wms[i-1] {
			t.Errorf("watermarks %v go back", wms)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Both subtasks of the remote operator hear idle, then active.
	trues := 0
	for _, g := range got {
		if g {
			trues++
		}
	}
	if len(got) != 4 || trues != 2 || !got[0] {
		t.Errorf("OnIdle calls %v: want idle then active at each of 2 subtasks", got)
	}
}

// TestSubStoreKeepsCheckpointsUnderItsPrefix: checkpoints written through
// a sub-store land under its prefix, in a folder and in a bucket, and load
// back from there.
func TestSubStoreKeepsCheckpointsUnderItsPrefix(t *testing.T) {
	bucket, _ := fakeBucket(t, "jobs")
	for name, base := range map[string]CheckpointStore{"folder": DirStore(t.TempDir()), "bucket": bucket} {
		t.Run(name, func(t *testing.T) {
			sub := SubStore(SubStore(base, "task-0003"), "a1/")
			j := newCkJob(300, 1, -1)
			if err := Run(context.Background(), j.g, Options{Parallelism: 1, Checkpoints: &CheckpointOptions{Store: sub}}); err != nil {
				t.Fatal(err)
			}
			names, err := base.List(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == 0 {
				t.Fatal("nothing written")
			}
			for _, n := range names {
				if !strings.HasPrefix(n, "task-0003") {
					t.Errorf("%s is outside the sub-store's prefix", n)
				}
			}
			c, _, err := LatestCheckpointIn(sub)
			if err != nil || c == nil {
				t.Fatalf("latest in the sub-store: %v, %v", c, err)
			}
			again, err := LoadCheckpointFrom(sub, CheckpointFolder(c.ID))
			if err != nil || again.ID != c.ID || !again.Finished {
				t.Fatalf("load %s: %v, %+v", CheckpointFolder(c.ID), err, again)
			}
		})
	}
}

// TestCheckpointNow: a value on CheckpointOptions.Now takes a checkpoint at
// once, without an interval.
func TestCheckpointNow(t *testing.T) {
	g := NewGraph("job")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 1 << 40, sleep: time.Millisecond} }, NoWatermarks)
	var mu sync.Mutex
	var ids []int64
	g.Connect(src, g.AddOperator("sink", ckSchema, 1, 1, func() Operator { return &notified{mu: &mu, ids: &ids} }), Forward)
	now := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, g, Options{Checkpoints: &CheckpointOptions{Store: DirStore(t.TempDir()), Now: now}})
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ids) }
	for want := 1; want <= 2; want++ {
		now <- struct{}{}
		deadline := time.Now().Add(10 * time.Second)
		for count() < want {
			if time.Now().After(deadline) {
				t.Fatalf("checkpoint %d not taken", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancel()
	<-done
}
