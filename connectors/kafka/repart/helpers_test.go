package repart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors/kafka/group"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// base is the event time of the test rows.
const base = int64(1_790_000_000_000)

// startCluster starts a one-broker in-process Kafka and returns its
// address.
func startCluster(t testing.TB) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// testConfig is a repartition topic of parts partitions on addr, keyed by
// the user column.
func testConfig(t testing.TB, addr, topic string, parts int) Config {
	cfg := Config{Table: "repartition 1 (test)", Topic: topic, Partitions: parts, Schema: schema, KeyCols: []int{0},
		Client: func() (*kafka.Client, *kafka.Transport) {
			tr := &kafka.Transport{}
			return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}, tr
		}}
	if err := EnsureTopic(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// genRow is row i of producer task p: users u0…u6, a unique number, event
// time base+i.
func genRow(p, i int) []runtime.Value {
	return []runtime.Value{runtime.StringValue(fmt.Sprint("u", i%7)), runtime.IntValue(int64(p*1_000_000 + i)),
		runtime.FloatValue(float64(i) / 4), runtime.TimeValue(base + int64(i))}
}

// genSource emits rows 0…rows-1 of its task, per poll a batch of per rows
// after a pause of every; its position (the next row) is checkpointed.
type genSource struct {
	rows, per int
	every     time.Duration
	hold      time.Duration // stays open, idle, this long after its rows
	slowTask  int           // with slowEvery set, this task pauses that long instead of every
	slowEvery time.Duration
	opened    time.Time
	task      int
	next      int
	b         *runtime.Batch
}

func newGen(rows, per int, every time.Duration) func() runtime.Source {
	return func() runtime.Source { return &genSource{rows: rows, per: per, every: every} }
}

func (g *genSource) Open(ctx *runtime.Context) error {
	g.task = ctx.Subtask
	g.b = runtime.NewBatch(schema)
	g.opened = time.Now()
	return nil
}

func (g *genSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if g.next >= g.rows {
		if time.Since(g.opened) < g.hold {
			return nil, 0, nil
		}
		return nil, 0, io.EOF
	}
	switch {
	case g.slowEvery > 0 && g.task == g.slowTask:
		time.Sleep(g.slowEvery)
	case g.every > 0:
		time.Sleep(g.every)
	}
	g.b.Reset()
	for ; g.next < g.rows && g.b.N < g.per; g.next++ {
		g.b.AppendValues(genRow(g.task, g.next)...)
	}
	return g.b, 0, nil
}

func (g *genSource) Close() error { return nil }

func (g *genSource) SnapshotPosition() ([]byte, error) { return fmt.Append(nil, g.next), nil }

func (g *genSource) RestorePositions(ps [][]byte) error {
	if len(ps) != 1 {
		return fmt.Errorf("%d positions", len(ps))
	}
	_, err := fmt.Sscan(string(ps[0]), &g.next)
	return err
}

// published gathers what the consumer tasks' sinks publish: rows once a
// checkpoint that covers them counts, as an exactly-once sink would.
type published struct {
	mu   sync.Mutex
	rows map[int][]string // per task
	wms  map[int][]int64  // per task: every watermark seen, by any attempt
	slow time.Duration    // how long a sink takes per batch
}

func newPublished() *published {
	return &published{rows: map[int][]string{}, wms: map[int][]int64{}}
}

// publishSink stages rows per checkpoint and publishes them when it
// completes.
type publishSink struct {
	runtime.Base
	pub     *published
	task    int
	pending []string
	mu      sync.Mutex
	staged  map[int64][]string
}

// count is how many rows task has published.
func (p *published) count(task int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.rows[task])
}

func (p *published) newSink() runtime.Operator {
	return &publishSink{pub: p, staged: map[int64][]string{}}
}

func (s *publishSink) Open(ctx *runtime.Context) error { s.task = ctx.Subtask; return nil }

func (s *publishSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	if s.pub.slow > 0 {
		time.Sleep(s.pub.slow)
	}
	s.pending = append(s.pending, rttest.Strings(b)...)
	return nil
}

func (s *publishSink) ProcessWatermark(wm int64, _ runtime.Output) error {
	s.pub.mu.Lock()
	s.pub.wms[s.task] = append(s.pub.wms[s.task], wm)
	s.pub.mu.Unlock()
	return nil
}

func (s *publishSink) SnapshotState(id int64) ([]byte, error) {
	s.mu.Lock()
	s.staged[id] = s.pending
	s.mu.Unlock()
	s.pending = nil
	return nil, nil
}

func (s *publishSink) RestoreState([]byte) error { return nil }

func (s *publishSink) NotifyCheckpointComplete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ck, rows := range s.staged {
		if ck <= id {
			s.pub.mu.Lock()
			s.pub.rows[s.task] = append(s.pub.rows[s.task], rows...)
			s.pub.mu.Unlock()
			delete(s.staged, ck)
		}
	}
	return nil
}

// attempt is one run of a task, with checkpoints in a folder of its own;
// Confirm records the checkpoints that count, and fails once fenced.
type attempt struct {
	name    string
	dir     string
	mu      sync.Mutex
	counted []int64
	fenced  bool
	done    chan error
	cancel  context.CancelFunc
}

func (a *attempt) confirm(id int64, finished bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fenced {
		return errors.New("fenced: the task has a new owner")
	}
	if finished {
		id = runtime.EndCheckpoint
	}
	a.counted = append(a.counted, id)
	return nil
}

// fence makes every later checkpoint fail to count, and returns the last
// one that counted (0: none).
func (a *attempt) fence() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fenced = true
	if len(a.counted) == 0 {
		return 0
	}
	return a.counted[len(a.counted)-1]
}

func (a *attempt) countedSoFar() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.counted)
}

// runTask starts a run of g as task id of count, attempt name, restoring
// checkpoint from of attempt prev (nil: fresh); hooks may change its
// checkpoint options.
func runTask(t *testing.T, g *runtime.Graph, id, count int, name string, root string, prev *attempt, from int64, interval time.Duration, hooks ...func(*attempt, *runtime.CheckpointOptions)) *attempt {
	t.Helper()
	a := &attempt{name: name, dir: filepath.Join(root, name), done: make(chan error, 1)}
	cp := &runtime.CheckpointOptions{Dir: a.dir, Interval: interval, Retain: 1000, Confirm: a.confirm}
	if prev != nil && from > 0 {
		ck, err := runtime.LoadCheckpoint(filepath.Join(prev.dir, fmt.Sprintf("chk-%06d", from)))
		if err != nil {
			t.Fatal(err)
		}
		cp.Restore = ck
	}
	for _, h := range hooks {
		h(a, cp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.done <- runtime.Run(ctx, g, runtime.Options{Task: &runtime.TaskInfo{ID: id, Count: count, Attempt: name}, Checkpoints: cp})
	}()
	return a
}

// waitCounted waits until a has at least n counted checkpoints.
func waitCounted(t *testing.T, a *attempt, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.countedSoFar() < n {
		if time.Now().After(deadline) {
			t.Fatalf("attempt %s: fewer than %d checkpoints counted in 10 s", a.name, n)
		}
		select {
		case err := <-a.done:
			t.Fatalf("attempt %s ended before %d checkpoints counted: %v", a.name, n, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func wait(t *testing.T, a *attempt) error {
	t.Helper()
	select {
	case err := <-a.done:
		return err
	case <-time.After(20 * time.Second):
		a.cancel()
		t.Fatalf("attempt %s did not end in 20 s", a.name)
		return nil
	}
}

// producerGraph: generated rows into the repartition sink.
func producerGraph(cfg Config, rows, per int, every time.Duration) *runtime.Graph {
	g := runtime.NewGraph("producer")
	src := g.AddSource("gen", schema, 1, newGen(rows, per, every), runtime.WatermarkStrategy{TimeColumn: 3})
	snk := g.AddOperator("repartition", schema, 1, 1, NewSink(cfg))
	g.Connect(src, snk, runtime.Forward)
	return g
}

// consumerGraph: the repartition source into a publishing sink.
func consumerGraph(cfg Config, pub *published) *runtime.Graph {
	g := runtime.NewGraph("consumer")
	src := g.AddSource("repartitioned", schema, 1, NewSource(cfg), runtime.NoWatermarks)
	snk := g.AddOperator("publish", schema, 1, 1, pub.newSink)
	g.Connect(src, snk, runtime.Forward)
	return g
}

// wantRows is every row the producers write, by the task that owns it.
func wantRows(parts, rows int) map[int][]string {
	want := map[int][]string{}
	key := runtime.NewBatch(schema)
	for p := range parts {
		for i := range rows {
			v := genRow(p, i)
			key.Reset()
			key.AppendValues(v...)
			dst := group.PartitionFor(appendKey(nil, key, 0, []int{0}), parts)
			want[dst] = append(want[dst], rttest.Format(v))
		}
	}
	for _, w := range want {
		slices.Sort(w)
	}
	return want
}
