package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Options configure a job run.
type Options struct {
	// Parallelism is the default number of subtasks per operator
	// (default: GOMAXPROCS).
	Parallelism int
	// BufferRows bounds each input lane of a subtask, in rows
	// (default: 4 × DefaultBatchRows). A full lane blocks its producer.
	BufferRows int
	// Metrics receives the job's metrics; nil for a private set, which is
	// registered for /metrics (metrics.RegisterSet) while the job runs. A
	// set given here is the caller's to register.
	Metrics *metrics.Set
	// Barriers, when set, triggers checkpoints: each barrier received is
	// injected into every source subtask after its current batch, and
	// travels with the data; operators implementing BarrierHandler see it
	// once it has arrived on all their inputs (aligned).
	Barriers <-chan Barrier
	// Checkpoints, when set, makes the run take checkpoints (and restore
	// one): see CheckpointOptions. Barriers must then be nil.
	Checkpoints *CheckpointOptions
	// AllowDuplicates, in a run without Checkpoints, lets it start while
	// an exactly-once sink's output already holds what an earlier
	// checkpointed run published (see PublishLog): the run's rows are
	// published beside it. Without it such a run fails with a
	// *RestoreError. With Checkpoints, CheckpointOptions.AllowDuplicates
	// decides.
	AllowDuplicates bool
	// Log receives the warnings of a run without Checkpoints (with them,
	// CheckpointOptions.Log); nil discards them.
	Log func(format string, args ...any)
	// Logger is the job's base logger: operators and sources log through
	// Context.Logger, which adds the attributes job, operator and subtask.
	// Nil: lines on standard error (NewLineHandler).
	Logger *slog.Logger
	// StopTimeout is how long Run waits, once the job has stopped, for the
	// goroutines its operators started with Context.Go (default
	// DefaultStopTimeout, 30 s). Those still running then — they ignore
	// the cancellation of their context — are left running, and Run's
	// error includes a *StuckGoroutinesError naming their subtasks.
	StopTimeout time.Duration
	// Task, when set, makes the run one task of a job that several
	// processes share (see TaskInfo): every node runs one subtask, which
	// its Context, metrics and logs call subtask Task.ID of Task.Count.
	Task *TaskInfo
}

// TaskInfo names the task a run is, in a job whose input partitions several
// processes share (sluice run --cluster kafka): task ID of Count reads
// partition ID of each input topic, and holds the keyed state of the rows
// those partitions carry. Each run of a task — by a new owner, after a
// restart — is a new Attempt.
type TaskInfo struct {
	ID, Count int
	// Attempt names this run of the task uniquely: its checkpoints and
	// what it writes to repartition topics carry it.
	Attempt string
	// Offsets, when set, is told the read position of each input
	// partition a source's snapshot holds (the offset of the next record
	// to read), for the commit that confirms the checkpoint.
	Offsets func(topic string, partition int, next int64)
}

// OperatorError is the error a job fails with when one of its operators
// fails.
type OperatorError struct {
	Operator string
	Subtask  int
	Err      error
}

func (e *OperatorError) Error() string {
	return fmt.Sprintf("operator %q (subtask %d): %v", e.Operator, e.Subtask, e.Err)
}

func (e *OperatorError) Unwrap() error { return e.Err }

// node is one operator (or source) instance inside a subtask.
type node struct {
	spec     *NodeSpec
	op       Operator
	ctx      *Context
	out      Output    // port 0
	children []*node   // fused downstream nodes, for control propagation
	writers  []*writer // edges leaving the subtask, for control propagation
	metrics  *OperatorMetrics
	wm       int64
	restore  []byte // state to restore after Open (a run restored from a checkpoint)
	index    int    // the instance's index among the node's (Context.Subtask differs in a task run)
	opened   bool   // Open succeeded: the operator's state may be sized
}

// task is one goroutine: a source or an input-driven root with its fused
// chain of downstream operators.
type task struct {
	root     *node
	source   Source
	subtask  int
	inbox    *inbox
	tracker  *watermarkTracker
	barriers chan Barrier  // sources: injected checkpoint barriers
	ended    chan struct{} // closed when the task's run returns
	timers   timerQueue
	nodes    []*node
	coord    *coordinator // nil without checkpoints
	restored *Checkpoint  // the checkpoint the run starts from, if any
	// dupes says whether the run may publish again what exactly-once sinks
	// have published, and where the warning goes (see checkPublished).
	dupes dupPolicy
	align *metrics.Histogram
	// clock: busy, backpressured and idle time. Allocated on its own:
	// the metrics that point to it must not keep the task (and through
	// it the metrics set) alive.
	clock *taskClock
	// sizers are the task's opened operators that estimate their state
	// (StateSizer); see sizeState.
	sizers    []*node
	sizeNext  time.Time   // when the next estimate is due
	sizeDirty bool        // the task has worked since the last estimate
	sizeTimer *time.Timer // wakes an idle task for an estimate that is due
	// alignment is how long the barrier being handled took to align (0
	// at a source), reported with the subtask's checkpoint state.
	alignment time.Duration
}

// StateSizeInterval is the shortest time between two estimates of an
// operator's state size (StateSizer) while the job runs.
const StateSizeInterval = 2 * time.Second

// stateSizeCost bounds the share of a subtask's time its state estimates
// take: after an estimate that took d, the next waits at least
// stateSizeCost × d. An estimate that walks a large state (1M keys: a few
// milliseconds) then runs less often in proportion.
const stateSizeCost = 100

// Run executes g until its sources end (bounded job) or ctx is cancelled.
// It returns the first operator error, wrapped in *OperatorError, or
// ctx.Err() when cancelled. Every goroutine it started has returned when Run
// returns, unless a goroutine of an operator (Context.Go) ignores the end of
// the job: see Options.StopTimeout. With Options.Metrics, JobEvents tells
// the job's state and failures.
func Run(ctx context.Context, g *Graph, opt Options) error {
	var ev *jobEvents
	if opt.Metrics != nil {
		ev = jobEventsOf(opt.Metrics, g.Name)
		ev.setState(JobRunning)
	}
	err := run(ctx, g, opt)
	ev.ended(ctx, err)
	return err
}

func run(ctx context.Context, g *Graph, opt Options) error {
	if opt.Parallelism <= 0 {
		opt.Parallelism = runtime.GOMAXPROCS(0)
	}
	if opt.BufferRows <= 0 {
		opt.BufferRows = 4 * DefaultBatchRows
	}
	if err := g.validate(opt.Parallelism); err != nil {
		return err
	}
	if tk := opt.Task; tk != nil {
		if tk.Count <= 0 || tk.ID < 0 || tk.ID >= tk.Count {
			return fmt.Errorf("runtime: task %d of %d", tk.ID, tk.Count)
		}
		for _, n := range g.Nodes {
			if n.Parallelism != 1 {
				return fmt.Errorf("runtime: operator %q of a task runs with parallelism %d: a task runs one subtask of each", n.Name, n.Parallelism)
			}
		}
	}
	set := opt.Metrics
	if set == nil {
		set = metrics.NewSet()
		metrics.RegisterSet(set)
		defer func() {
			metrics.UnregisterSet(set, true)
			forgetSet(set)
		}()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var coord *coordinator
	if cp := opt.Checkpoints; cp != nil {
		if opt.Barriers != nil {
			return errors.New("runtime: Options.Barriers and Options.Checkpoints are exclusive")
		}
		if r := cp.Restore; r != nil {
			if err := r.match(g, cp.AllowNonRestoredState, cp.Log); err != nil {
				return err
			}
			restoreGauges(set, g.Name).set(r)
		}
		var err error
		if coord, err = newCoordinator(*cp, g, set, cancel); err != nil {
			return err
		}
		opt.Barriers = coord.barriers
	}
	// Operators, sources and their goroutines (Context.Go) see opCtx: it is
	// cancelled with ctx, and at a normal end once they are all closed.
	opCtx, stopOps := context.WithCancel(ctx)
	defer stopOps()
	grp := newGroup(cancel)
	tasks, err := build(ctx, g, opt, set, opRun{ctx: opCtx, group: grp})
	if err != nil {
		return err
	}
	// endOps waits for the goroutines of the group once the tasks are
	// closed, and returns the first error of one of them.
	endOps := func() error {
		stopOps()
		return grp.wait(opt.StopTimeout)
	}
	if coord != nil {
		for _, t := range tasks {
			t.coord = coord
			if l, ok := t.source.(CheckpointListener); ok {
				coord.listeners = append(coord.listeners, l)
			}
			for _, n := range t.nodes {
				if l, ok := n.op.(CheckpointListener); ok {
					coord.listeners = append(coord.listeners, l)
				}
			}
		}
		if r := opt.Checkpoints.Restore; r != nil && r.Finished {
			// The job had ended: only let its sinks finish publishing.
			err := restoreFinished(tasks)
			if gerr := endOps(); err == nil {
				err = gerr
			}
			return err
		}
		go coord.run()
	}
	var wg sync.WaitGroup
	tasksDone := make(chan struct{})
	fanDone := make(chan struct{})
	if opt.Barriers != nil {
		go func() {
			defer close(fanDone)
			fanOutBarriers(tasksDone, opt.Barriers, tasks)
		}()
	} else {
		close(fanDone)
	}
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t.ended != nil {
				defer close(t.ended)
			}
			if err := t.run(ctx); err != nil && !errors.Is(err, errStopped) {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	close(tasksDone)
	<-fanDone
	if coord != nil {
		coord.stop(context.Cause(ctx))
	}
	for _, t := range tasks {
		t.close()
	}
	gerr := endOps()
	if err := context.Cause(ctx); err != nil {
		if se := (*StuckGoroutinesError)(nil); errors.As(gerr, &se) {
			return errors.Join(err, se)
		}
		return err
	}
	return gerr
}

// opRun is what the contexts of a run's operators share.
type opRun struct {
	ctx   context.Context
	group *group
}

func build(ctx context.Context, g *Graph, opt Options, set *metrics.Set, run opRun) ([]*task, error) {
	base := opt.Logger
	if base == nil {
		base = DefaultLogger()
	}
	// fused[e] is true when edge e is executed as a direct call.
	incoming := make([][]*EdgeSpec, len(g.Nodes))
	for _, e := range g.Edges {
		incoming[e.To] = append(incoming[e.To], e)
	}
	fused := func(e *EdgeSpec) bool {
		return e.Part == Forward && len(incoming[e.To]) == 1
	}
	// Instances.
	inst := make([][]*node, len(g.Nodes))
	for _, spec := range g.Nodes {
		inst[spec.ID] = make([]*node, spec.Parallelism)
		for i := range inst[spec.ID] {
			n := &node{spec: spec, wm: MinWatermark, index: i}
			sub, par := i, spec.Parallelism
			if opt.Task != nil {
				sub, par = opt.Task.ID, opt.Task.Count
			}
			n.metrics = newOperatorMetrics(set, g.Name, spec.Name, int(spec.ID), sub)
			n.ctx = &Context{Job: g.Name, Operator: spec.Name, Subtask: sub, Parallelism: par, Metrics: n.metrics, node: n,
				Checkpointing: opt.Checkpoints != nil, ctx: run.ctx, group: run.group, Task: opt.Task,
				log: subtaskLogger(base, g.Name, spec.Name, sub), set: set}
			if cp := opt.Checkpoints; cp != nil && cp.Restore != nil {
				n.restore = cp.Restore.blob(spec.ID, i)
			}
			if spec.NewOperator != nil {
				n.op = spec.NewOperator()
			}
			inst[spec.ID][i] = n
		}
	}
	// Tasks: one per source instance and per instance of a node with a
	// network input.
	var tasks []*task
	taskOf := make(map[*node]*task)
	isRoot := func(spec *NodeSpec) bool {
		if spec.NewSource != nil {
			return true
		}
		for _, e := range incoming[spec.ID] {
			if !fused(e) {
				return true
			}
		}
		return false
	}
	for _, spec := range g.Nodes {
		if !isRoot(spec) {
			continue
		}
		for i, n := range inst[spec.ID] {
			t := &task{root: n, subtask: i, dupes: dupPolicy{allow: opt.AllowDuplicates, logf: opt.Log}}
			if cp := opt.Checkpoints; cp != nil {
				t.restored = cp.Restore
				t.dupes = dupPolicy{allow: cp.AllowDuplicates, logf: cp.Log}
				t.align = set.GetOrCreateHistogram(fmt.Sprintf(`sluice_checkpoint_alignment_seconds{job=%q,operator=%q,operator_id="%d",subtask="%d"}`, g.Name, spec.Name, spec.ID, n.ctx.Subtask))
			}
			if spec.NewSource != nil {
				t.source = spec.NewSource()
				t.barriers = make(chan Barrier, 16)
				t.ended = make(chan struct{})
			} else {
				t.inbox = newInbox(ctx.Done())
			}
			tasks = append(tasks, t)
			taskOf[n] = t
		}
	}
	// Assign fused nodes to their root's task, in topological order (edges
	// are added after their nodes, so iterate until stable).
	for changed := true; changed; {
		changed = false
		for _, e := range g.Edges {
			if !fused(e) {
				continue
			}
			for i, up := range inst[e.From] {
				if t, ok := taskOf[up]; ok {
					down := inst[e.To][i]
					if _, done := taskOf[down]; !done {
						taskOf[down] = t
						changed = true
					}
				}
			}
		}
	}
	for _, spec := range g.Nodes {
		for _, n := range inst[spec.ID] {
			t := taskOf[n]
			if t == nil {
				return nil, fmt.Errorf("operator %q is not reachable from a source", spec.Name)
			}
			n.ctx.task = t
			t.nodes = append(t.nodes, n)
		}
	}
	// Outputs per (node instance, port).
	type portKey struct {
		n    *node
		port int
	}
	outs := make(map[portKey][]Output)
	for _, e := range g.Edges {
		from, to := g.Nodes[e.From], g.Nodes[e.To]
		schema := from.Schema
		if e.FromPort > 0 {
			schema = from.SideSchemas[e.FromPort-1]
		}
		if fused(e) {
			for i, up := range inst[e.From] {
				down := inst[e.To][i]
				outs[portKey{up, e.FromPort}] = append(outs[portKey{up, e.FromPort}], &opInput{n: down, input: e.ToInput})
				up.children = append(up.children, down)
			}
			continue
		}
		// Lanes: one per upstream instance in each target it can reach.
		targets := make([]*inbox, to.Parallelism)
		for j := range targets {
			targets[j] = taskOf[inst[e.To][j]].inbox
		}
		for i, up := range inst[e.From] {
			w := &writer{part: e.Part, keyCols: e.KeyCols, schema: schema, self: i, targets: targets, lanes: make([]int, len(targets)), metrics: up.metrics}
			for j := range w.lanes {
				w.lanes[j] = -1
			}
			switch e.Part {
			case Forward:
				w.lanes[i] = targets[i].addLane(e.ToInput, opt.BufferRows)
			case Global:
				w.lanes[0] = targets[0].addLane(e.ToInput, opt.BufferRows)
			default:
				for j := range targets {
					w.lanes[j] = targets[j].addLane(e.ToInput, opt.BufferRows)
				}
			}
			outs[portKey{up, e.FromPort}] = append(outs[portKey{up, e.FromPort}], w)
			up.writers = append(up.writers, w)
		}
	}
	for _, spec := range g.Nodes {
		for _, n := range inst[spec.ID] {
			n.out = makeOutput(outs[portKey{n, 0}], n.metrics)
			n.ctx.sideOut = make([]Output, len(spec.SideSchemas)+1)
			for p := 1; p <= len(spec.SideSchemas); p++ {
				if o := outs[portKey{n, p}]; len(o) > 0 {
					n.ctx.sideOut[p] = makeOutput(o, n.metrics)
				}
			}
		}
	}
	for _, t := range tasks {
		if t.inbox != nil {
			t.tracker = newWatermarkTracker(len(t.inbox.lanes))
		}
	}
	return tasks, nil
}

// opInput delivers rows straight into a fused operator.
type opInput struct {
	n     *node
	input int
}

func (o *opInput) Emit(b *Batch) (err error) {
	if b.Len() == 0 {
		return nil
	}
	m := o.n.metrics
	m.RowsIn.Add(b.Len())
	m.BatchesIn.Inc()
	defer recoverInto(o.n, &err)
	if err := o.n.op.ProcessBatch(o.input, b, o.n.out); err != nil {
		// Named after the fused operator that failed, not the task's root.
		return wrap(o.n, err)
	}
	return nil
}

// recoverInto turns a panic in node n's operator into an OperatorError that
// names it. A panic is a bug, but it fails the job, not the process.
func recoverInto(n *node, err *error) {
	if r := recover(); r != nil {
		*err = wrap(n, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
	}
}

type fanout []Output

func (f fanout) Emit(b *Batch) error {
	for _, o := range f {
		if err := o.Emit(b); err != nil {
			return err
		}
	}
	return nil
}

type discard struct{}

func (discard) Emit(*Batch) error { return nil }

// counted counts the rows an operator emits when they stay in the subtask
// (writers count their own).
type counted struct {
	Output
	m *OperatorMetrics
}

func (c counted) Emit(b *Batch) error {
	c.m.RowsOut.Add(b.Len())
	return c.Output.Emit(b)
}

func makeOutput(outs []Output, m *OperatorMetrics) Output {
	var o Output
	switch len(outs) {
	case 0:
		return discard{}
	case 1:
		o = outs[0]
	default:
		// Every consumer gets the rows: they are counted out once.
		for _, x := range outs {
			if w, ok := x.(*writer); ok {
				w.metrics = nil
			}
		}
		o = fanout(outs)
	}
	if _, isWriter := o.(*writer); !isWriter {
		o = counted{o, m}
	}
	return o
}

// --- control propagation through a fused chain ---

func (t *task) watermark(n *node, wm int64) (err error) {
	defer recoverInto(n, &err)
	if wm <= n.wm {
		return nil
	}
	n.wm = wm
	n.metrics.watermark.Store(wm)
	if n.op != nil {
		if err := n.op.ProcessWatermark(wm, n.out); err != nil {
			return wrap(n, err)
		}
	}
	for _, c := range n.children {
		if err := t.watermark(c, wm); err != nil {
			return err
		}
	}
	for _, w := range n.writers {
		if err := w.control(Message{Kind: MsgWatermark, Time: wm}); err != nil {
			return err
		}
	}
	return nil
}

func (t *task) broadcast(n *node, m Message) (err error) {
	if l, ok := n.op.(IdleListener); ok && (m.Kind == MsgIdle || m.Kind == MsgActive) {
		defer recoverInto(n, &err)
		if err := l.OnIdle(m.Kind == MsgIdle, n.out); err != nil {
			return wrap(n, err)
		}
	}
	for _, c := range n.children {
		if err := t.broadcast(c, m); err != nil {
			return err
		}
	}
	for _, w := range n.writers {
		if err := w.control(m); err != nil {
			return err
		}
	}
	return nil
}

func (t *task) barrier(n *node, b Barrier) (err error) {
	defer recoverInto(n, &err)
	if h, ok := n.op.(BarrierHandler); ok {
		if err := h.OnBarrier(b, n.out); err != nil {
			return wrap(n, err)
		}
	}
	if t.coord != nil && n.op != nil {
		var data []byte
		if s, ok := n.op.(Snapshotter); ok {
			if data, err = s.SnapshotState(b.ID); err != nil {
				return wrap(n, fmt.Errorf("checkpoint %d: %w", b.ID, err))
			}
		}
		t.coord.ack(b.ID, n.spec.ID, n.index, data, t.alignment)
	}
	for _, c := range n.children {
		if err := t.barrier(c, b); err != nil {
			return err
		}
	}
	for _, w := range n.writers {
		if err := w.control(Message{Kind: MsgBarrier, Barrier: b}); err != nil {
			return err
		}
	}
	return nil
}

func (t *task) finish(n *node) (err error) {
	defer recoverInto(n, &err)
	if n.op != nil {
		if err := n.op.Finish(n.out); err != nil {
			return wrap(n, err)
		}
	}
	if t.coord != nil {
		// The state this subtask ends with stands for it in every later
		// checkpoint.
		var data []byte
		switch s, ok := n.op.(Snapshotter); {
		case ok:
			if data, err = s.SnapshotState(EndCheckpoint); err != nil {
				return wrap(n, fmt.Errorf("final checkpoint: %w", err))
			}
		case n.op == nil && n == t.root && t.source != nil:
			if data, err = t.position(); err != nil {
				return err
			}
		}
		t.coord.finished(n.spec.ID, n.index, data)
	}
	for _, c := range n.children {
		if err := t.finish(c); err != nil {
			return err
		}
	}
	for _, w := range n.writers {
		if err := w.control(Message{Kind: MsgEnd}); err != nil {
			return err
		}
	}
	return nil
}

func wrap(n *node, err error) error {
	var oe *OperatorError
	if errors.As(err, &oe) || errors.Is(err, errStopped) {
		return err
	}
	return &OperatorError{Operator: n.spec.Name, Subtask: n.ctx.Subtask, Err: err}
}

// --- the task loop ---

func (t *task) run(ctx context.Context) (err error) {
	t.clock = new(taskClock)
	t.clock.start.Store(time.Now().UnixNano())
	for _, n := range t.nodes {
		if n.metrics != nil {
			n.metrics.clock.Store(t.clock)
		}
	}
	defer func() { t.clock.end.Store(time.Now().UnixNano()) }()
	defer func() {
		if r := recover(); r != nil {
			err = wrap(t.root, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	defer t.timers.stop()
	// Open every operator of the chain, downstream first.
	if err := t.open(); err != nil {
		return err
	}
	for _, n := range t.nodes {
		if _, ok := n.op.(StateSizer); ok && n.opened && n.metrics != nil {
			t.sizers = append(t.sizers, n)
		}
	}
	defer func() {
		if t.sizeTimer != nil {
			t.sizeTimer.Stop()
		}
	}()
	if t.source != nil {
		if err := t.source.Open(t.root.ctx); err != nil {
			return wrap(t.root, fmt.Errorf("open: %w", err))
		}
		return t.runSource(ctx)
	}
	return t.runInbox(ctx)
}

// close closes the task's operators and source, after recording the state
// size of each opened operator that estimates its own (StateSizer) in its
// metrics.
func (t *task) close() {
	for _, n := range t.nodes {
		if n.op != nil {
			if s, ok := n.op.(StateSizer); ok && n.opened && n.metrics != nil {
				n.metrics.stateBytes.Store(stateBytes(s))
			}
			n.op.Close()
		}
	}
	if t.source != nil {
		t.source.Close()
	}
	if t.inbox != nil {
		t.inbox.discard()
	}
}

// sizeState records the state size of the task's StateSizers in their
// metrics when an estimate is due (see StateSizeInterval and
// stateSizeCost); otherwise it notes that one is pending, which an idle
// task waits for (sizeDue). Only the task's goroutine calls it, between
// batches: operator state is not safe for concurrent use.
func (t *task) sizeState(now time.Time) {
	if now.Before(t.sizeNext) {
		t.sizeDirty = true
		return
	}
	for _, n := range t.sizers {
		n.metrics.stateBytes.Store(stateBytes(n.op.(StateSizer)))
	}
	t.sizeNext = now.Add(max(StateSizeInterval, stateSizeCost*time.Since(now)))
	t.sizeDirty = false
}

// sizeDue returns a channel that delivers when the pending state estimate
// is due, or nil when none is pending.
func (t *task) sizeDue(now time.Time) <-chan time.Time {
	if !t.sizeDirty {
		return nil
	}
	d := t.sizeNext.Sub(now)
	if t.sizeTimer == nil {
		t.sizeTimer = time.NewTimer(d)
	} else {
		t.sizeTimer.Reset(d)
	}
	return t.sizeTimer.C
}

// stateBytes is s's estimate of its state, 0 when the estimate panics (an
// operator left inconsistent by a failure): sizing is a report, never a
// reason to crash the end of a job.
func stateBytes(s StateSizer) (n int64) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return int64(s.StateBytes())
}

func (t *task) fireTimers() error {
	return t.timers.due(time.Now().UnixMilli(), func(k timerKey) error {
		if pt, ok := k.n.op.(ProcessingTimer); ok {
			if err := pt.OnProcessingTime(k.at, k.n.out); err != nil {
				return wrap(k.n, err)
			}
		}
		return nil
	})
}

// fanOutBarriers copies each barrier to every source task until every task
// has returned. A barrier for a source that has ended is dropped; the
// inputs it fed count as aligned.
func fanOutBarriers(done <-chan struct{}, in <-chan Barrier, tasks []*task) {
	for {
		select {
		case <-done:
			return
		case b, ok := <-in:
			if !ok {
				return
			}
			for _, t := range tasks {
				if t.barriers == nil {
					continue
				}
				select {
				case t.barriers <- b:
				case <-t.ended:
				case <-done:
					return
				}
			}
		}
	}
}

// SourceBarrierHandler is implemented by sources that take part in
// checkpoints: OnBarrier is called between two polls, when the barrier is
// injected, so the source can record its position.
type SourceBarrierHandler interface {
	OnBarrier(b Barrier) error
}

func (t *task) injectBarrier(b Barrier) error {
	if h, ok := t.source.(SourceBarrierHandler); ok {
		if err := h.OnBarrier(b); err != nil {
			return wrap(t.root, err)
		}
	}
	if t.coord != nil {
		data, err := t.position()
		if err != nil {
			return err
		}
		t.coord.ack(b.ID, t.root.spec.ID, t.subtask, data, 0)
	}
	t.alignment = 0
	return t.barrier(t.root, b)
}

// position is the source's checkpointed position (nil if it keeps none).
func (t *task) position() ([]byte, error) {
	cs, ok := t.source.(CheckpointedSource)
	if !ok {
		return nil, nil
	}
	data, err := cs.SnapshotPosition()
	if err != nil {
		return nil, wrap(t.root, fmt.Errorf("checkpoint: %w", err))
	}
	return data, nil
}

// open opens every operator of the chain, downstream first; a restored run
// then gives each its state, and the source its positions (before the
// source opens).
func (t *task) open() error {
	for i := len(t.nodes) - 1; i >= 0; i-- {
		n := t.nodes[i]
		if n.op == nil {
			continue
		}
		if err := n.op.Open(n.ctx); err != nil {
			return wrap(n, fmt.Errorf("open: %w", err))
		}
		n.opened = true
		if err := t.checkPublished(n); err != nil {
			return err
		}
		if t.restored == nil {
			continue
		}
		if s, ok := n.op.(Snapshotter); ok {
			if err := s.RestoreState(n.restore); err != nil {
				return &RestoreError{Checkpoint: t.restored.ID, Path: t.restored.Path, Err: wrap(n, err)}
			}
		}
	}
	if t.source != nil && t.restored != nil {
		if cs, ok := t.source.(CheckpointedSource); ok {
			var all [][]byte
			for i := range t.root.spec.Parallelism {
				if b := t.restored.blob(t.root.spec.ID, i); len(b) > 0 {
					all = append(all, b)
				}
			}
			if err := cs.RestorePositions(all); err != nil {
				return &RestoreError{Checkpoint: t.restored.ID, Path: t.restored.Path, Err: wrap(t.root, err)}
			}
		}
	}
	return nil
}

// restoreFinished handles a run restored from the checkpoint of a job that
// had ended: its operators are opened and restored (exactly-once sinks
// publish what that checkpoint covers), then closed.
func restoreFinished(tasks []*task) error {
	var first error
	for _, t := range tasks {
		src := t.source
		t.source = nil // it had read everything: neither restored nor opened
		if err := t.open(); err != nil && first == nil {
			first = err
		}
		t.close()
		if src != nil {
			src.Close()
		}
	}
	return first
}

// afterSavepoint: a source that has passed on a savepoint's barrier reads
// no more; the run stops once the savepoint is complete.
func (t *task) afterSavepoint(ctx context.Context) error {
	<-ctx.Done()
	return errStopped
}

func (t *task) runSource(ctx context.Context) error {
	root := t.root
	// Poll's context carries the task's clock, for the waits a source
	// reports itself (Waited).
	ctx = context.WithValue(ctx, clockKey{}, t.clock)
	gen := newWMGenerator(root.spec.Watermarks)
	if ps, ok := t.source.(PartitionedSource); ok {
		gen.declare(ps.Partitions(), time.Now().UnixMilli())
	}
	_, gen.dynamic = t.source.(DynamicPartitions)
	explicit, _ := t.source.(WatermarkSource)
	emitted := MinWatermark
	idle := false
	var wait *time.Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return errStopped
		}
		if err := t.fireTimers(); err != nil {
			return err
		}
		select {
		case b := <-t.barriers:
			if err := t.injectBarrier(b); err != nil {
				return err
			}
			if b.Savepoint {
				return t.afterSavepoint(ctx)
			}
		default:
		}
		// A poll that brings no rows waited for them (a long poll, a
		// throttle's sleep, a reader's empty fetch): idle time, as the
		// wait of an operator on its inbox is.
		polled, reported := time.Now(), t.clock.idleSoFar()
		b, part, err := t.source.Poll(ctx)
		end := time.Now()
		if b == nil || b.Len() == 0 {
			// What the source did not report as waiting (Waited).
			t.clock.addIdle(end.Sub(polled) - (t.clock.idleSoFar() - reported))
		}
		if err == io.EOF {
			if err := t.watermark(root, MaxWatermark); err != nil {
				return err
			}
			return t.finish(root)
		}
		if err != nil {
			if ctx.Err() != nil {
				return errStopped
			}
			return wrap(root, err)
		}
		now := end.UnixMilli()
		if dp, ok := t.source.(DynamicPartitions); ok {
			started, ended := dp.PartitionChanges()
			gen.declare(started, now)
			gen.end(ended)
			if len(started) > 0 && idle {
				// A new partition holds back the watermark from now on.
				idle = false
				if err := t.broadcast(root, Message{Kind: MsgActive}); err != nil {
					return err
				}
			}
		}
		if b != nil && b.Len() > 0 {
			root.metrics.RowsIn.Add(b.Len())
			root.metrics.BatchesIn.Inc()
			gen.observe(part, b, now)
			if idle && explicit == nil {
				idle = false
				if err := t.broadcast(root, Message{Kind: MsgActive}); err != nil {
					return err
				}
			}
			if err := root.out.Emit(b); err != nil {
				return wrap(root, err)
			}
		}
		var wm int64
		var advanced, allIdle bool
		if explicit != nil {
			w, idleNow := explicit.Watermark()
			if advanced = w > emitted; advanced {
				emitted = w
			}
			wm, allIdle = emitted, idleNow
			if !allIdle && idle {
				// The source's producers hold back the watermark again.
				idle = false
				if err := t.broadcast(root, Message{Kind: MsgActive}); err != nil {
					return err
				}
			}
		} else {
			wm, advanced, allIdle = gen.current(now)
		}
		if advanced {
			if err := t.watermark(root, wm); err != nil {
				return err
			}
		}
		if allIdle && !idle {
			idle = true
			if err := t.broadcast(root, Message{Kind: MsgIdle}); err != nil {
				return err
			}
		}
		if len(t.sizers) > 0 {
			t.sizeState(time.Now())
		}
		if b == nil {
			// Nothing available: wait a little, or until a timer is due.
			d := 5 * time.Millisecond
			if wait == nil {
				wait = time.NewTimer(d)
			} else {
				wait.Reset(d)
			}
			t0 := time.Now()
			var b Barrier
			var barrier bool
			select {
			case <-ctx.Done():
				return errStopped
			case <-wait.C:
			case <-t.timers.channel(now):
			case b = <-t.barriers:
				barrier = true
			}
			t.clock.addIdle(time.Since(t0))
			if barrier {
				if err := t.injectBarrier(b); err != nil {
					return err
				}
				if b.Savepoint {
					return t.afterSavepoint(ctx)
				}
			}
		}
	}
}

func (t *task) runInbox(ctx context.Context) error {
	ib := t.inbox
	tr := t.tracker
	root := t.root
	lanes := len(ib.lanes)
	if lanes == 0 {
		if err := t.watermark(root, MaxWatermark); err != nil {
			return err
		}
		return t.finish(root)
	}
	ended := 0
	idle := false
	// Barrier alignment.
	var aligning *Barrier
	var alignStart time.Time
	arrived := make([]bool, lanes)
	nArrived := 0
	var buf []pending
	for {
		// Try without waiting first: the clock is read only when the
		// task has nothing to do.
		select {
		case <-ctx.Done():
			return errStopped
		case <-ib.wake:
		default:
			t0 := time.Now()
			select {
			case <-ctx.Done():
				return errStopped
			case <-ib.wake:
			case <-t.timers.channel(t0.UnixMilli()):
			case <-t.sizeDue(t0):
			}
			t.clock.addIdle(time.Since(t0))
		}
		if err := t.fireTimers(); err != nil {
			return err
		}
		buf = ib.take(buf)
		for _, p := range buf {
			l := p.lane
			input := ib.lanes[l].input
			for j, m := range p.msgs {
				switch m.Kind {
				case MsgBatch:
					b := m.Batch
					root.metrics.RowsIn.Add(b.Len())
					root.metrics.BatchesIn.Inc()
					err := root.op.ProcessBatch(input, b, root.out)
					b.Release()
					if err != nil {
						return wrap(root, err)
					}
				case MsgWatermark:
					if m.Time > tr.wm[l] {
						tr.wm[l] = m.Time
					}
					tr.idle[l] = false
					if err := t.advance(tr, &idle); err != nil {
						return err
					}
				case MsgIdle:
					tr.idle[l] = true
					if err := t.advance(tr, &idle); err != nil {
						return err
					}
				case MsgActive:
					tr.idle[l] = false
					if err := t.advance(tr, &idle); err != nil {
						return err
					}
				case MsgEnd:
					tr.ended[l] = true
					ended++
					if err := t.endInput(input); err != nil {
						return err
					}
					if err := t.advance(tr, &idle); err != nil {
						return err
					}
				case MsgBarrier:
					if aligning == nil {
						b := m.Barrier
						aligning = &b
						alignStart = time.Now()
					}
					if !arrived[l] {
						arrived[l] = true
						nArrived++
					}
					ib.setBlocked(l, true)
					ib.unread(l, p.msgs[j+1:])
				}
				if m.Kind == MsgBarrier {
					break
				}
			}
			clear(p.msgs)
		}
		if aligning != nil && nArrived+t.endedNotArrived(arrived) == lanes {
			b := *aligning
			aligning = nil
			for l := range arrived {
				if arrived[l] {
					arrived[l] = false
					ib.setBlocked(l, false)
				}
			}
			nArrived = 0
			t.alignment = time.Since(alignStart)
			if t.align != nil {
				t.align.Update(t.alignment.Seconds())
			}
			if err := t.barrier(root, b); err != nil {
				return err
			}
		}
		if ended == lanes {
			return t.finish(root)
		}
		if len(t.sizers) > 0 {
			t.sizeState(time.Now())
		}
	}
}

// endInput calls the root's EndInput once every lane of input has ended.
func (t *task) endInput(input int) (err error) {
	ie, ok := t.root.op.(InputEnder)
	if !ok {
		return nil
	}
	for l, ln := range t.inbox.lanes {
		if ln.input == input && !t.tracker.ended[l] {
			return nil
		}
	}
	defer recoverInto(t.root, &err)
	if err := ie.EndInput(input, t.root.out); err != nil {
		return wrap(t.root, err)
	}
	return nil
}

func (t *task) endedNotArrived(arrived []bool) int {
	n := 0
	for l, e := range t.tracker.ended {
		if e && !arrived[l] {
			n++
		}
	}
	return n
}

func (t *task) advance(tr *watermarkTracker, idle *bool) error {
	wm, advanced, allIdle := tr.combined()
	if advanced {
		if err := t.watermark(t.root, wm); err != nil {
			return err
		}
	}
	if allIdle != *idle {
		*idle = allIdle
		kind := MsgActive
		if allIdle {
			kind = MsgIdle
		}
		return t.broadcast(t.root, Message{Kind: kind})
	}
	return nil
}
