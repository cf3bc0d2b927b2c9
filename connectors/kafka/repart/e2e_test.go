package repart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// TestExactlyOnceThroughKilledAndZombieProducers: two producer tasks write
// a known multiset through the repartition topic; one is killed mid-way
// and restored as a new attempt, the other loses its task (its checkpoints
// stop counting) but goes on writing while its successor restores; one
// consumer is stopped and restored too. The consumers publish every row
// once, each at the task of its key, their watermarks advance and they
// end once every producer's end is committed.
func TestExactlyOnceThroughKilledAndZombieProducers(t *testing.T) {
	const parts, rows = 2, 4000
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-1-repartition", parts)
	root := t.TempDir()
	pub := newPublished()
	interval := 40 * time.Millisecond
	prod := func() *runtime.Graph { return producerGraph(cfg, rows, 10, time.Millisecond) }

	c0 := runTask(t, consumerGraph(cfg, pub), 0, parts, "c0-a", root, nil, 0, interval)
	c1 := runTask(t, consumerGraph(cfg, pub), 1, parts, "c1-a", root, nil, 0, interval)
	p0 := runTask(t, prod(), 0, parts, "p0-a", root, nil, 0, interval)
	p1 := runTask(t, prod(), 1, parts, "p1-a", root, nil, 0, interval)

	// Producer 1 is killed; its next attempt restores its last checkpoint
	// that counted.
	waitCounted(t, p1, 2)
	p1.cancel()
	wait(t, p1)
	p1b := runTask(t, prod(), 1, parts, "p1-b", root, p1, p1.fence(), interval)

	// Producer 0 loses its task: it goes on until its next checkpoint fails
	// to count, while its successor has restored.
	waitCounted(t, p0, 3)
	from := p0.fence()
	p0b := runTask(t, prod(), 0, parts, "p0-b", root, p0, from, interval)
	if err := wait(t, p0); err == nil || !strings.Contains(err.Error(), "fenced") {
		t.Fatalf("the zombie attempt ended with %v, want its fenced checkpoint", err)
	}

	// Consumer 1 stops mid-way and restores.
	waitCounted(t, c1, 2)
	c1.cancel()
	wait(t, c1)
	c1b := runTask(t, consumerGraph(cfg, pub), 1, parts, "c1-b", root, c1, c1.fence(), interval)

	for _, a := range []*attempt{p0b, p1b, c0, c1b} {
		if err := wait(t, a); err != nil {
			t.Fatalf("attempt %s: %v", a.name, err)
		}
	}
	want := wantRows(parts, rows)
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for task := range parts {
		got := slices.Clone(pub.rows[task])
		slices.Sort(got)
		if !slices.Equal(got, want[task]) {
			t.Errorf("task %d published %d rows, want %d; %s", task, len(got), len(want[task]), diff(got, want[task]))
		}
		wms := pub.wms[task]
		if len(wms) < 2 || wms[len(wms)-1] != runtime.MaxWatermark || wms[0] >= base+rows {
			t.Errorf("task %d: watermarks %v: want some before the end, then the end", task, short(wms))
		}
	}
}

// diff names a few rows missing or duplicated.
func diff(got, want []string) string {
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	var missing, extra []string
	for r, n := range count {
		switch {
		case n > 0 && len(missing) < 3:
			missing = append(missing, r)
		case n < 0 && len(extra) < 3:
			extra = append(extra, r)
		}
	}
	return fmt.Sprintf("missing e.g. %v, duplicated or foreign e.g. %v", missing, extra)
}

func short(wms []int64) string {
	if len(wms) > 6 {
		return fmt.Sprint(wms[:3], " … ", wms[len(wms)-3:], " (", len(wms), ")")
	}
	return fmt.Sprint(wms)
}

// TestSourceRestoreMidReleaseLosesAndRepeatsNothing: the producers commit
// everything at their end (one large release per producer); a consumer
// that checkpoints while passing it on is stopped and restored from its
// last checkpoint, and publishes every row once.
func TestSourceRestoreMidReleaseLosesAndRepeatsNothing(t *testing.T) {
	const parts, rows = 2, 20000
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-2-repartition", parts)
	root := t.TempDir()
	for p := range parts {
		a := runTask(t, producerGraph(cfg, rows, 500, 0), p, parts, fmt.Sprint("p", p), root, nil, 0, 0)
		if err := wait(t, a); err != nil {
			t.Fatal(err)
		}
	}
	pub := newPublished()
	pub.slow = 15 * time.Millisecond
	want := wantRows(parts, rows)
	c := runTask(t, consumerGraph(cfg, pub), 0, parts, "c0-a", root, nil, 0, 10*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for pub.count(0) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	waitCounted(t, c, c.countedSoFar()+1)
	c.cancel()
	wait(t, c)
	if n := pub.count(0); n == 0 || n >= len(want[0]) {
		t.Fatalf("the consumer published %d of %d rows before it stopped: not mid-way", n, len(want[0]))
	}
	cb := runTask(t, consumerGraph(cfg, pub), 0, parts, "c0-b", root, c, c.fence(), 10*time.Millisecond)
	if err := wait(t, cb); err != nil {
		t.Fatal(err)
	}
	pub.mu.Lock()
	got := slices.Clone(pub.rows[0])
	pub.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want[0]) {
		t.Fatalf("published %d rows, want %d; %s", len(got), len(want[0]), diff(got, want[0]))
	}
}

// TestRestoreWritesTheCommitItsOwnerDidNot: a producer dies after its
// checkpoint counted and before it wrote the COMMIT; its next attempt
// writes it again when it restores, so the consumer gets every row once
// (without it, the consumer would wait for that commit forever).
func TestRestoreWritesTheCommitItsOwnerDidNot(t *testing.T) {
	const rows = 3000
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-6-repartition", 1)
	root := t.TempDir()
	pub := newPublished()
	interval := 30 * time.Millisecond
	var died int64
	dieBeforeCommit := func(a *attempt, cp *runtime.CheckpointOptions) {
		cp.BeforeCommit = func(id int64) {
			if id >= 2 && died == 0 {
				died = id
				a.cancel() // the COMMIT cannot be written any more
			}
		}
	}
	c := runTask(t, consumerGraph(cfg, pub), 0, 1, "c", root, nil, 0, interval)
	p := runTask(t, producerGraph(cfg, rows, 10, time.Millisecond), 0, 1, "p-a", root, nil, 0, interval, dieBeforeCommit)
	wait(t, p)
	if died == 0 {
		t.Fatal("the producer ended before its second checkpoint")
	}
	if last := p.fence(); last != died {
		t.Fatalf("the last checkpoint that counted is %d, the producer died at %d", last, died)
	}
	pb := runTask(t, producerGraph(cfg, rows, 10, time.Millisecond), 0, 1, "p-b", root, p, died, interval)
	for _, a := range []*attempt{pb, c} {
		if err := wait(t, a); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
	}
	want := wantRows(1, rows)[0]
	pub.mu.Lock()
	got := slices.Clone(pub.rows[0])
	pub.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("published %d rows, want %d; %s", len(got), len(want), diff(got, want))
	}
}

// TestIdleProducerDoesNotHoldBackTheWatermark: one producer task has no
// rows for a while (idle); the consumers' watermark follows the other
// producer's instead of waiting for the idle one's end.
func TestIdleProducerDoesNotHoldBackTheWatermark(t *testing.T) {
	const parts = 2
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-8-repartition", parts)
	root := t.TempDir()
	pub := newPublished()
	interval := 30 * time.Millisecond
	wm := runtime.WatermarkStrategy{TimeColumn: 3, IdleTimeout: 50 * time.Millisecond}
	busy := runtime.NewGraph("producer")
	src := busy.AddSource("gen", schema, 1, newGen(2000, 10, time.Millisecond), wm)
	busy.Connect(src, busy.AddOperator("repartition", schema, 1, 1, NewSink(cfg)), runtime.Forward)
	idle := runtime.NewGraph("producer")
	src = idle.AddSource("gen", schema, 1, func() runtime.Source { return &genSource{hold: time.Second} }, wm)
	idle.Connect(src, idle.AddOperator("repartition", schema, 1, 1, NewSink(cfg)), runtime.Forward)
	all := []*attempt{
		runTask(t, consumerGraph(cfg, pub), 0, parts, "c0", root, nil, 0, interval),
		runTask(t, consumerGraph(cfg, pub), 1, parts, "c1", root, nil, 0, interval),
		runTask(t, busy, 0, parts, "p0", root, nil, 0, interval),
		runTask(t, idle, 1, parts, "p1", root, nil, 0, interval),
	}
	for _, a := range all {
		if err := wait(t, a); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for task := range parts {
		moved := false
		for _, w := range pub.wms[task] {
			moved = moved || w > base && w < runtime.MaxWatermark
		}
		if !moved {
			t.Errorf("task %d: watermarks %s: none from the busy producer while the other was idle", task, short(pub.wms[task]))
		}
	}
}

// TestTaskWithBothEndsEnds: each task runs both halves of the repartition
// (its rows into the topic, its partition out of it), as a job's task
// does; the bounded job ends — each sink commits its end at the first
// checkpoint after it finished, while its task's source still waits for
// the other producers — with every row once.
func TestTaskWithBothEndsEnds(t *testing.T) {
	const parts, rows = 2, 3000
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-9-repartition", parts)
	pub := newPublished()
	runBothEnds(t, cfg, pub, rows, false)
	checkPublished(t, pub, wantRows(parts, rows))
}

// TestTaskRestoredAfterItsSinkFinished: task 0's rows are all written and
// its sink has finished while its source still waits for task 1; task 0
// is killed then and restored from its last checkpoint that counted
// (which holds its sink's end): every row arrives once.
func TestTaskRestoredAfterItsSinkFinished(t *testing.T) {
	const parts, rows = 2, 3000
	addr := startCluster(t)
	cfg := testConfig(t, addr, "job-10-repartition", parts)
	pub := newPublished()
	runBothEnds(t, cfg, pub, rows, true)
	checkPublished(t, pub, wantRows(parts, rows))
}

// bothEnds is a task's graph with both halves of the repartition; the
// rows of task 0 come at once, those of task 1 over about two seconds.
func bothEnds(cfg Config, pub *published, rows int) *runtime.Graph {
	g := runtime.NewGraph("both")
	src := g.AddSource("gen", schema, 1, func() runtime.Source {
		return &genSource{rows: rows, per: 50, every: time.Millisecond, slowTask: 1, slowEvery: 30 * time.Millisecond}
	}, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("repartition", schema, 1, 1, NewSink(cfg)), runtime.Forward)
	in := g.AddSource("repartitioned", schema, 1, NewSource(cfg), runtime.NoWatermarks)
	g.Connect(in, g.AddOperator("publish", schema, 1, 1, pub.newSink), runtime.Forward)
	return g
}

func runBothEnds(t *testing.T, cfg Config, pub *published, rows int, kill bool) {
	root := t.TempDir()
	interval := 30 * time.Millisecond
	var all []*attempt
	for task := range cfg.Partitions {
		all = append(all, runTask(t, bothEnds(cfg, pub, rows), task, cfg.Partitions, fmt.Sprint("t", task), root, nil, 0, interval))
	}
	if kill {
		// Task 0 wrote its rows within ~60 ms: after 8 checkpoints its
		// sink has finished, and task 1 goes on for most of a second.
		a := all[0]
		waitCounted(t, a, 8)
		a.cancel()
		wait(t, a)
		select {
		case err := <-all[1].done:
			t.Fatalf("task 1 ended (%v) before task 0 was killed", err)
		default:
		}
		all[0] = runTask(t, bothEnds(cfg, pub, rows), 0, cfg.Partitions, "t0-b", root, a, a.fence(), interval)
	}
	for _, a := range all {
		if err := wait(t, a); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
	}
}

// checkPublished compares what each task published with want.
func checkPublished(t *testing.T, pub *published, want map[int][]string) {
	t.Helper()
	pub.mu.Lock()
	defer pub.mu.Unlock()
	for task := range want {
		got := slices.Clone(pub.rows[task])
		slices.Sort(got)
		if !slices.Equal(got, want[task]) {
			t.Errorf("task %d published %d rows, want %d; %s", task, len(got), len(want[task]), diff(got, want[task]))
		}
	}
}
