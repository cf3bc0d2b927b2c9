package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Output receives the rows an operator emits. The batch is borrowed for the
// duration of the call (see Batch).
type Output interface {
	Emit(b *Batch) error
}

// Operator processes the rows of one subtask. The runtime calls its methods
// from the subtask's goroutine only, so an operator needs no locks for its
// own state.
//
// Watermarks are forwarded downstream by the runtime after ProcessWatermark
// returns; an operator only emits what the watermark fires.
type Operator interface {
	// Open prepares the operator; ctx stays valid until Close.
	Open(ctx *Context) error
	// ProcessBatch handles rows that arrived on the given input (0 for
	// single-input operators, 0 or 1 for joins).
	ProcessBatch(input int, b *Batch, out Output) error
	// ProcessWatermark is called when the operator's combined input
	// watermark advances to wm.
	ProcessWatermark(wm int64, out Output) error
	// Finish is called once when every input has ended, after the final
	// watermark, to flush what is left.
	Finish(out Output) error
	// Close releases resources; it is called once, also after a failure.
	Close() error
}

// ProcessingTimer is implemented by operators that register
// processing-time timers with Context.RegisterProcessingTimer.
type ProcessingTimer interface {
	OnProcessingTime(now int64, out Output) error
}

// InputEnder is implemented by operators with several inputs that act when
// one input has ended (every upstream subtask feeding it has ended) while
// others go on, such as a join that holds back one input until the other,
// bounded, has been read. EndInput is called once per input from the
// subtask's goroutine, before the watermark that input's end releases;
// Finish still follows once every input has ended.
type InputEnder interface {
	EndInput(input int, out Output) error
}

// StateSizer is implemented by operators that can estimate the memory
// their state takes. The runtime asks from the subtask's own goroutine,
// between batches (never concurrently with the operator's other methods):
// while the job runs at most every StateSizeInterval — less often when an
// estimate takes long, so that sizing costs at most 1% of the subtask's
// time — and once more when the job ends (after Finish, or once
// the job was stopped, before Close). The answer goes to the subtask's
// metrics (sluice_operator_state_bytes, OperatorStats.StateBytes,
// SubtaskStats.StateBytes). An estimate may walk the whole state.
type StateSizer interface {
	StateBytes() int
}

// BarrierHandler is implemented by operators that take part in checkpoints:
// it is called when a barrier has been received on every input, before it is
// forwarded.
type BarrierHandler interface {
	OnBarrier(b Barrier, out Output) error
}

// Base implements Operator with no-ops, for embedding.
type Base struct{}

func (Base) Open(*Context) error                  { return nil }
func (Base) ProcessWatermark(int64, Output) error { return nil }
func (Base) Finish(Output) error                  { return nil }
func (Base) Close() error                         { return nil }

// OutputSchemaer is implemented by operators whose output columns differ
// from their input's.
type OutputSchemaer interface {
	OutputSchema() *Schema
}

// Source produces the rows of one source subtask. The runtime calls Poll in
// a loop from the subtask's goroutine, and between calls injects watermarks,
// barriers and timers.
type Source interface {
	// Open prepares subtask ctx.Subtask of ctx.Parallelism; a parallel
	// source picks its share of partitions from these.
	Open(ctx *Context) error
	// Poll returns the next batch and the partition it came from. It
	// returns (nil, 0, nil) when no row is available now; it should not
	// block for longer than about 100 ms, and must return when ctx is done.
	// A bounded source returns io.EOF when it has no more rows. The batch is
	// borrowed until the next call to Poll.
	Poll(ctx context.Context) (b *Batch, partition int, err error)
	Close() error
}

// PartitionedSource is implemented by sources that know, once open, which
// partitions they read. The watermark then waits for each of them (until
// it has been idle for the idle timeout) instead of only for those that
// have delivered rows.
type PartitionedSource interface {
	Partitions() []int
}

// DynamicPartitions is implemented by sources whose partitions come and go
// while they run, such as the shards of a stream that is split or merged.
// PartitionChanges is called after every Poll: partitions started since the
// last call hold back the watermark (until their first rows, or the idle
// timeout) like those of PartitionedSource; partitions ended deliver no more
// rows and stop holding it back at once. A subtask of such a source with no
// partition left (or none to begin with) is idle: it holds back nothing
// until it starts one.
type DynamicPartitions interface {
	PartitionChanges() (started, ended []int)
}

// WatermarkSource is implemented by sources that know the watermark of
// what they deliver instead of deriving it from event times (a source
// reading a repartition topic passes on the watermarks its producers
// wrote). The runtime asks after every Poll, instead of following
// NodeSpec.Watermarks: wm is the source subtask's watermark (MinWatermark:
// none yet; it is never taken back), idle that the subtask holds back
// nothing now.
type WatermarkSource interface {
	Watermark() (wm int64, idle bool)
}

// IdleListener is implemented by operators that act when their input goes
// idle (every input lane idle: no upstream subtask holds back the
// watermark) and active again, such as a sink that passes the state on to
// another job. OnIdle is called from the subtask's goroutine at each
// change.
type IdleListener interface {
	OnIdle(idle bool, out Output) error
}

// Snapshotter is implemented by operators whose state must survive a
// failure. SnapshotState is called from the subtask's goroutine once a
// checkpoint's barrier has arrived on every input, before the barrier is
// forwarded (and once more after Finish, for the checkpoint that records
// the end of the job). It returns the state as bytes that the operator no
// longer touches: the operator goes on changing its state as soon as the
// call returns, while the runtime writes the bytes out asynchronously.
// RestoreState is called after Open and before any input, with the bytes
// this subtask's SnapshotState returned (the parallelism of a restored job
// is that of the checkpoint). A nil or empty snapshot is valid and means
// "no state".
type Snapshotter interface {
	SnapshotState(checkpointID int64) ([]byte, error)
	RestoreState(data []byte) error
}

// CheckpointListener is implemented by operators — exactly-once sinks —
// and sources (a Kafka source commits its offsets to the consumer group)
// that act once a checkpoint is complete, i.e. its manifest is durable.
// NotifyCheckpointComplete is called from the checkpoint coordinator's
// goroutine, not the subtask's, so it must synchronise with the operator;
// it covers every checkpoint up to id (a notification may be skipped when a
// later one completes first). An error is reported, not fatal: the commit
// is retried when the job is restored from that checkpoint.
type CheckpointListener interface {
	NotifyCheckpointComplete(id int64) error
}

// CheckpointedSource is implemented by sources whose read position is
// part of checkpoints, so that a restored job goes on exactly where the
// checkpoint was taken. SnapshotPosition is called from the subtask's
// goroutine between two Polls, at a barrier: the position it returns must
// cover exactly the rows returned by Poll so far. RestorePositions is
// called before Open with the positions every subtask of the restored
// checkpoint saved — all of them, since the parallelism may have changed —
// and each subtask takes its share.
type CheckpointedSource interface {
	SnapshotPosition() ([]byte, error)
	RestorePositions(positions [][]byte) error
}

// Context is what the runtime gives an operator or source subtask.
type Context struct {
	Job         string
	Operator    string
	Subtask     int
	Parallelism int
	Metrics     *OperatorMetrics
	// Checkpointing is set when the job takes checkpoints: an
	// exactly-once sink then publishes output only when a checkpoint that
	// covers it completes (CheckpointListener), also at the end of input.
	Checkpointing bool
	// Task is set in a run that is one task of a job several processes
	// share (Options.Task); Subtask and Parallelism are then its ID and
	// Count.
	Task *TaskInfo

	task    *task
	node    *node
	sideOut []Output
	ctx     context.Context
	group   *group
	log     *slog.Logger
	set     *metrics.Set
}

// JobMetrics is the job's metrics set (Options.Metrics, or the run's own),
// for the counters an operator or connector keeps besides Metrics: they
// are the job's, not the process's, and go with it. Outside a job, a set
// that is not registered for /metrics.
func (c *Context) JobMetrics() *metrics.Set {
	if c == nil || c.set == nil {
		return looseMetrics()
	}
	return c.set
}

var looseMetrics = sync.OnceValue(metrics.NewSet)

// Ctx returns a context.Context cancelled when the job stops: when it is
// cancelled or fails, and at its normal end once every operator and source
// is closed. Network calls and goroutines of the subtask take it, so they
// give up when the job stops. Outside a job it is never cancelled.
func (c *Context) Ctx() context.Context {
	if c == nil || c.ctx == nil {
		return context.Background()
	}
	return c.ctx
}

// Done is Ctx().Done(): closed when the job is stopping (cancelled or
// failed). An operator that blocks on something outside the job — a network
// call, a channel — must give up when it is closed.
func (c *Context) Done() <-chan struct{} { return c.Ctx().Done() }

// Go runs f on a goroutine of the job's group: f's ctx (Ctx) is cancelled
// when the job stops, and Run waits for f to return, so f must return once
// ctx is done; if it is still running Options.StopTimeout (default 30 s)
// after the job stopped, Run returns without it (left running) and fails
// with a *StuckGoroutinesError naming the operator and subtask. An error f
// returns — other than context.Canceled once the job is stopping —
// or a panic fails the job like an error of the operator, naming it and
// the subtask. Pollers, flushers and senders that live as long as the
// subtask start here; one that Close must stop needs its own signal (or
// waits for Close to return: ctx is cancelled only after Close at a normal
// end). Outside a job (a Context built by hand), f runs on a goroutine of
// its own and its error is logged.
func (c *Context) Go(f func(ctx context.Context) error) {
	if c.group == nil {
		go func() {
			if err := runGuarded(c.Ctx(), f); err != nil {
				c.Logger().Error(err.Error())
			}
		}()
		return
	}
	c.group.start(c, f)
}

// SetLogger makes a Context built outside a job (rttest.NewContext) log
// through base, with the attributes job, operator and subtask (Logger
// returns it from then on).
func (c *Context) SetLogger(base *slog.Logger) {
	c.log = subtaskLogger(base, c.Job, c.Operator, c.Subtask)
}

// Logger returns the subtask's logger: the job's (Options.Logger) with the
// attributes job, operator and subtask. On a nil Context (a source closed
// without having been opened) it is the default logger.
func (c *Context) Logger() *slog.Logger {
	if c == nil {
		return DefaultLogger()
	}
	if c.log != nil {
		return c.log
	}
	return subtaskLogger(DefaultLogger(), c.Job, c.Operator, c.Subtask)
}

// SideOutput returns the output for port (1 and up), or nil when nothing is
// connected to it.
func (c *Context) SideOutput(port int) Output {
	if port < len(c.sideOut) {
		return c.sideOut[port]
	}
	return nil
}

// RegisterProcessingTimer asks for OnProcessingTime to be called once the
// wall clock reaches at (milliseconds since the epoch). Timers at the same
// instant are coalesced.
func (c *Context) RegisterProcessingTimer(at int64) {
	if c.task != nil {
		c.task.timers.add(at, c.node)
	}
}

// Now returns the processing time in milliseconds.
func (c *Context) Now() int64 { return time.Now().UnixMilli() }

// CurrentWatermark returns the last watermark the operator has seen.
func (c *Context) CurrentWatermark() int64 {
	if c.node != nil {
		return c.node.wm
	}
	return MinWatermark
}
