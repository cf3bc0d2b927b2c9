package runtime

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// EndCheckpoint is the id operators see in SnapshotState after Finish, and
// in NotifyCheckpointComplete once the checkpoint that records the end of a
// bounded job is complete: it covers everything.
const EndCheckpoint int64 = math.MaxInt64

// coordinator runs the checkpoints of one run: it triggers them (a barrier
// into every source), collects the state each subtask snapshots at the
// barrier — writing it out as it arrives, off the subtasks' goroutines —,
// completes a checkpoint once every subtask has reported, tells the
// CheckpointListeners, and keeps the last few. One checkpoint is in flight
// at a time. It owns one goroutine (run), stopped by stop.
type coordinator struct {
	opt       CheckpointOptions
	g         *Graph
	job       string
	total     int // node instances that must report
	barriers  chan Barrier
	listeners []CheckpointListener
	cancel    context.CancelCauseFunc // stops the run after a savepoint
	logf      func(string, ...any)

	mu      sync.Mutex
	queue   []report
	wake    chan struct{}
	nextID  int64
	cur     *inflight
	final   map[[2]int][]byte // state of subtasks that have finished
	stopReq bool              // a savepoint was asked for: stop after it
	nowReq  bool              // a checkpoint was asked for (Now) while one was in flight
	stopped bool              // that savepoint is complete: no more checkpoints

	quit chan struct{}
	done chan struct{}

	duration  *metrics.Histogram
	gauges    *checkpointGauges
	events    *jobEvents
	completed *metrics.Counter
	failed    *metrics.Counter
}

// checkpointGauges are the values of a job's checkpoint gauges, and its
// latest checkpoints (Checkpoints), shared by every run of the job in a
// metrics set (see liveValue).
type checkpointGauges struct {
	mu     sync.Mutex
	size   float64
	lastID float64
	hist   []CheckpointRecord // oldest first, at most checkpointHistory
}

// restoreFigures are the size and load time of the checkpoint a job's
// latest run was restored from, shared by every run of the job in a
// metrics set (see liveValue).
type restoreFigures struct {
	mu             sync.Mutex
	bytes, seconds float64
}

// restoreGauges returns the restore figures of job in set, registering
// their gauges the first time.
func restoreGauges(set *metrics.Set, job string) *restoreFigures {
	labels := `{job=` + strconv.Quote(job) + `}`
	return liveValue(set, "restore"+labels, func() *restoreFigures {
		v := &restoreFigures{}
		set.GetOrCreateGauge("sluice_checkpoint_restore_bytes"+labels, func() float64 { v.mu.Lock(); defer v.mu.Unlock(); return v.bytes })
		set.GetOrCreateGauge("sluice_checkpoint_restore_seconds"+labels, func() float64 { v.mu.Lock(); defer v.mu.Unlock(); return v.seconds })
		return v
	})
}

func (v *restoreFigures) set(c *Checkpoint) {
	v.mu.Lock()
	v.bytes, v.seconds = float64(c.Bytes), c.LoadTime.Seconds()
	v.mu.Unlock()
}

// report is a subtask's state for checkpoint id, or (final) after it
// finished.
type report struct {
	id      int64
	node    NodeID
	subtask int
	data    []byte
	final   bool
	align   time.Duration // how long the subtask's barrier took to align
}

type inflight struct {
	id        int64
	savepoint bool
	started   time.Time
	w         *checkpointWriter
	acked     map[[2]int]bool
	align     time.Duration // the longest alignment of a subtask so far
}

func newCoordinator(opt CheckpointOptions, g *Graph, set *metrics.Set, cancel context.CancelCauseFunc) (*coordinator, error) {
	if opt.Retain <= 0 {
		opt.Retain = 3
	}
	if opt.Store == nil {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("checkpoint dir: %w", err)
		}
	}
	c := &coordinator{opt: opt, g: g, job: g.Name, barriers: make(chan Barrier), cancel: cancel,
		wake: make(chan struct{}, 1), final: map[[2]int][]byte{}, quit: make(chan struct{}), done: make(chan struct{}),
		logf: opt.Log}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	for _, spec := range g.Nodes {
		c.total += spec.Parallelism
	}
	// Ids go on after every checkpoint and savepoint in the folder, and
	// after the one restored; partial checkpoints are removed.
	var maxID int64
	if opt.Restore != nil {
		maxID = opt.Restore.ID
	}
	store := opt.storeOf()
	listing, err := listStore(store)
	if err != nil {
		return nil, err
	}
	for _, pfx := range []string{checkpointPfx, savepointPfx} {
		for _, id := range listing.ids(pfx) {
			maxID = max(maxID, id)
			if folder := pfx + formatID(id); !listing[folder] {
				ctx, cancel := ckCtx()
				store.Delete(ctx, folder+"/")
				cancel()
			}
		}
	}
	c.nextID = maxID + 1
	labels := `{job=` + strconv.Quote(g.Name) + `}`
	c.duration = set.GetOrCreateHistogram("sluice_checkpoint_duration_seconds" + labels)
	c.gauges = liveValue(set, checkpointKey(g.Name), func() *checkpointGauges {
		v := &checkpointGauges{}
		set.GetOrCreateGauge("sluice_checkpoint_size_bytes"+labels, func() float64 { v.mu.Lock(); defer v.mu.Unlock(); return v.size })
		set.GetOrCreateGauge("sluice_checkpoint_last_completed_id"+labels, func() float64 { v.mu.Lock(); defer v.mu.Unlock(); return v.lastID })
		return v
	})
	// Nor does a restarted run reuse the id of a checkpoint an earlier
	// run abandoned: the history (Checkpoints) names each once.
	c.gauges.mu.Lock()
	if n := len(c.gauges.hist); n > 0 {
		c.nextID = max(c.nextID, c.gauges.hist[n-1].ID+1)
	}
	c.gauges.mu.Unlock()
	c.events = jobEventsOf(set, g.Name)
	c.completed = set.GetOrCreateCounter("sluice_checkpoints_completed_total" + labels)
	c.failed = set.GetOrCreateCounter("sluice_checkpoints_failed_total" + labels)
	return c, nil
}

// put queues a report; safe from any goroutine.
func (c *coordinator) put(r report) {
	c.mu.Lock()
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *coordinator) ack(id int64, node NodeID, subtask int, data []byte, align time.Duration) {
	c.put(report{id: id, node: node, subtask: subtask, data: data, align: align})
}

func (c *coordinator) finished(node NodeID, subtask int, data []byte) {
	c.put(report{node: node, subtask: subtask, data: data, final: true})
}

// run triggers checkpoints every Interval and on savepoint requests, and
// handles reports, until stop.
func (c *coordinator) run() {
	defer close(c.done)
	var tick <-chan time.Time
	if c.opt.Interval > 0 {
		t := time.NewTicker(c.opt.Interval)
		defer t.Stop()
		tick = t.C
	}
	savepoint := c.opt.StopWithSavepoint
	for {
		select {
		case <-c.quit:
			c.drain()
			return
		case <-c.wake:
			c.drain()
		case <-tick:
			c.drain()
			if c.cur == nil && !c.stopped {
				c.trigger(false)
			}
		case <-c.opt.Now:
			c.drain()
			if c.cur == nil && !c.stopped && !c.stopReq {
				c.trigger(false)
			} else {
				c.nowReq = true
			}
		case <-savepoint:
			savepoint = nil // one is enough
			c.drain()
			c.stopReq = true
			if c.cur == nil || !c.cur.savepoint {
				c.pendingSavepoint()
			}
		}
	}
}

// pendingSavepoint takes the savepoint now, or after the checkpoint in
// flight (drain triggers it when that completes).
func (c *coordinator) pendingSavepoint() {
	if c.cur == nil {
		c.trigger(true)
	}
}

// trigger starts checkpoint nextID: the barrier goes to every source.
func (c *coordinator) trigger(savepoint bool) {
	id := c.nextID
	c.nextID++
	now := time.Now()
	c.gauges.begin(id, savepoint, now)
	w, err := newCheckpointWriter(&c.opt, id, savepoint, c.job, c.g)
	if err != nil {
		c.logf("checkpoint %d not taken: %v", id, err)
		c.fail(id, 0, err)
		return
	}
	c.cur = &inflight{id: id, savepoint: savepoint, started: now, w: w, acked: map[[2]int]bool{}}
	// Subtasks that have finished report their final state.
	for k, data := range c.final {
		if c.cur != nil {
			c.record(k, data, 0)
		}
	}
	if c.cur == nil {
		return
	}
	if len(c.cur.acked) == c.total {
		c.complete(false)
		return
	}
	select {
	case c.barriers <- Barrier{ID: id, Savepoint: savepoint}:
	case <-c.quit:
	}
}

// record adds one subtask's state to the checkpoint in flight.
func (c *coordinator) record(k [2]int, data []byte, align time.Duration) {
	cur := c.cur
	if cur.acked[k] {
		return
	}
	cur.acked[k] = true
	cur.align = max(cur.align, align)
	if err := cur.w.add(NodeID(k[0]), k[1], data); err != nil {
		c.logf("checkpoint %d failed: %v", cur.id, err)
		c.fail(cur.id, cur.align, err)
		cur.w.abort()
		c.cur = nil
	}
}

// fail counts checkpoint id as failed and records why, in its history and
// in the job's errors.
func (c *coordinator) fail(id int64, align time.Duration, err error) {
	c.failed.Inc()
	c.gauges.end(id, 0, align, err.Error())
	c.events.checkpointFailed(id, err)
}

// drain handles the queued reports.
func (c *coordinator) drain() {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	for _, r := range q {
		k := [2]int{int(r.node), r.subtask}
		if r.final {
			c.final[k] = r.data
		}
		if c.cur == nil || !r.final && r.id != c.cur.id {
			continue
		}
		c.record(k, r.data, r.align)
		if c.cur != nil && len(c.cur.acked) == c.total {
			c.complete(false)
		}
	}
	if c.cur == nil && c.stopReq {
		c.trigger(true)
	}
	if c.cur == nil && c.nowReq && !c.stopped {
		c.nowReq = false
		c.trigger(false)
	}
}

// complete writes the manifest of the checkpoint in flight, tells the
// listeners and removes old checkpoints.
func (c *coordinator) complete(finished bool) {
	cur := c.cur
	c.cur = nil
	if err := cur.w.commit(finished); err != nil {
		c.logf("checkpoint %d failed: %v", cur.id, err)
		c.fail(cur.id, cur.align, err)
		cur.w.abort()
		return
	}
	if c.opt.Confirm != nil {
		if err := c.opt.Confirm(cur.id, finished); err != nil {
			err = fmt.Errorf("checkpoint %d does not count: %w", cur.id, err)
			c.logf("%v", err)
			c.fail(cur.id, cur.align, err)
			c.stopped = true
			c.cancel(err)
			return
		}
	}
	c.duration.UpdateDuration(cur.started)
	c.completed.Inc()
	c.gauges.end(cur.id, cur.w.size, cur.align, "")
	if c.opt.BeforeCommit != nil {
		c.opt.BeforeCommit(cur.id)
	}
	notify := cur.id
	if finished {
		notify = EndCheckpoint
	}
	for _, l := range c.listeners {
		if err := l.NotifyCheckpointComplete(notify); err != nil {
			c.logf("checkpoint %d: commit: %v (retried when the job is restored)", cur.id, err)
		}
	}
	if !cur.savepoint {
		c.retain()
	}
	if cur.savepoint && c.stopReq {
		c.stopReq, c.stopped = false, true
		c.cancel(&SavepointError{Path: cur.w.dir})
	}
}

// retain removes complete checkpoints beyond the newest Retain.
func (c *coordinator) retain() {
	store := c.opt.storeOf()
	listing, err := listStore(store)
	if err != nil {
		return
	}
	var ids []int64
	for _, id := range listing.ids(checkpointPfx) {
		if listing[ckFolder(id, false)] {
			ids = append(ids, id)
		}
	}
	ctx, cancel := ckCtx()
	defer cancel()
	for i := 0; i < len(ids)-c.opt.Retain; i++ {
		store.Delete(ctx, ckFolder(ids[i], false)+"/")
	}
}

// stop ends the coordinator's goroutine. When the run ended normally
// (cause is nil: every task finished), it first takes the checkpoint that
// records the end of the job and lets the listeners publish; otherwise a
// checkpoint in flight is abandoned, and recorded as failed with the cause.
func (c *coordinator) stop(cause error) {
	close(c.quit)
	<-c.done
	if c.cur != nil {
		c.cur.w.abort()
		if cause != nil {
			c.gauges.end(c.cur.id, 0, c.cur.align, "abandoned: the job stopped: "+cause.Error())
		} else {
			c.gauges.end(c.cur.id, 0, c.cur.align, "abandoned: the job ended")
		}
		c.cur = nil
	}
	if cause != nil {
		return
	}
	id := c.nextID
	c.nextID++
	now := time.Now()
	c.gauges.begin(id, false, now)
	w, err := newCheckpointWriter(&c.opt, id, false, c.job, c.g)
	if err != nil {
		c.logf("final checkpoint not taken: %v", err)
		c.fail(id, 0, err)
		return
	}
	c.cur = &inflight{id: id, started: now, w: w, acked: map[[2]int]bool{}}
	for k, data := range c.final {
		if c.cur != nil {
			c.record(k, data, 0)
		}
	}
	if c.cur != nil {
		c.complete(true)
	}
}
