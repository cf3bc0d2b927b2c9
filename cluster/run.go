package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors/kafka/group"
	"github.com/sluicehq/sluice/runtime"
)

// Options configure a process's share of a job.
type Options struct {
	// Store is the checkpoint storage: an S3 bucket, or a folder. Its
	// Location("") goes to the other members.
	Store runtime.CheckpointStore
	// SharedFolder says that Store, a folder, is on storage every process
	// reaches (a network file system, mounted at the same path). A folder
	// that is not is refused while the group has other members: state
	// could not follow its task to another machine.
	SharedFolder bool
	// Interval between a task's checkpoints (default 10 s): rows reach
	// the tasks downstream of a repartition once a checkpoint of the
	// task upstream counts.
	Interval time.Duration
	// SessionTimeout and RebalanceTimeout of the consumer group (defaults
	// 10 s and 30 s): a process that dies loses its tasks after
	// SessionTimeout.
	SessionTimeout, RebalanceTimeout time.Duration
	// RestartAttempts is how many times in a row a task may fail before
	// the process gives up (default 3); a checkpoint that counts resets
	// the count.
	RestartAttempts int
	// BufferRows is runtime.Options.BufferRows of each task.
	BufferRows int
	// Metrics receives the process's figures: sluice_cluster_* (the
	// caller registers it). Each task's run has a metrics set of its own,
	// registered while the task runs here.
	Metrics *metrics.Set
	// Logger and Log as in runtime.Options and CheckpointOptions.
	Logger *slog.Logger
	Log    func(format string, args ...any)
	// OnTask, when set, is told when a task starts here (its graph and
	// metrics set); the function it returns is told when the task stops.
	OnTask func(task int, name string, g *runtime.Graph, set *metrics.Set) (stopped func(error))
	// ClientID of the group member (default "sluice").
	ClientID string
}

// commitMeta is what a task's commit says about its checkpoint: the
// metadata of the offsets committed for partition t of each input topic.
type commitMeta struct {
	V        int    `json:"v"`
	Attempt  string `json:"attempt"`
	CK       int64  `json:"ck"`
	Finished bool   `json:"finished,omitempty"`
}

func (m commitMeta) folder(task int) string {
	return taskPrefix(task) + m.Attempt + "/" + runtime.CheckpointFolder(m.CK)
}

func parseMeta(s string) (commitMeta, bool) {
	var m commitMeta
	if s == "" || json.Unmarshal([]byte(s), &m) != nil || m.V != 1 || m.Attempt == "" || m.CK <= 0 {
		return commitMeta{}, false
	}
	return m, true
}

func taskPrefix(task int) string { return fmt.Sprintf("task-%04d/", task) }

// taskRun is one run of a task on this process.
type taskRun struct {
	id      int
	attempt string
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // set before done is closed
	ended   bool  // the run read all its input (a bounded job)

	now     chan struct{} // takes a checkpoint at once (CheckpointOptions.Now)
	running atomic.Bool   // the run has started (restored, past its delay)

	mu      sync.Mutex
	offsets map[string]int64 // topic → next offset, of the latest snapshot
	last    commitMeta       // the newest checkpoint of the task that counts
	from    commitMeta       // the checkpoint the run started from
}

// controller is a process's membership and its task runs.
type controller struct {
	job *Job
	opt Options
	m   *group.Member
	log func(format string, args ...any)

	mu      sync.Mutex
	gen     group.Gen // ID -1 between generations
	changed chan struct{}
	runs    map[int]*taskRun // tasks owned now
	// stopping are runs of tasks that moved away, cancelled, which a new
	// run of the task must wait for (loop's goroutine only).
	stopping map[int]*taskRun
	failed   map[int]int // failures in a row per task

	settled   bool // a first generation has started its tasks
	endedRuns chan *taskRun
	fatal     chan error    // from the peers' second look (checkPeersLater)
	quit      chan struct{} // closed when the loop has returned

	rebalances   *metrics.Counter
	restores     *metrics.Counter
	restoreSecs  *metrics.Histogram
	restoreBytes *metrics.Counter
	ownedN       float64
	genN         float64
}

// ErrLost is why a task's run stops when its process no longer owns it.
var ErrLost = errors.New("the task moved to another process")

// Run takes part in job j (Split, then Resolve) until ctx ends, the job
// ends (bounded: every task has read its input and its end counts), or a
// task keeps failing.
func Run(ctx context.Context, j *Job, opt Options) error {
	if j.Partitions <= 0 {
		return errors.New("cluster: Resolve the job before running it")
	}
	if opt.Store == nil {
		return errors.New("cluster: a shared job needs checkpoint storage (--checkpoint-dir)")
	}
	if opt.Interval <= 0 {
		opt.Interval = 10 * time.Second
	}
	if opt.RestartAttempts <= 0 {
		opt.RestartAttempts = 3
	}
	c := &controller{job: j, opt: opt, log: opt.Log, gen: group.Gen{ID: -1}, changed: make(chan struct{}),
		runs: map[int]*taskRun{}, failed: map[int]int{}, endedRuns: make(chan *taskRun, 16), quit: make(chan struct{}), fatal: make(chan error, 1)}
	if c.log == nil {
		c.log = func(string, ...any) {}
	}
	c.metrics()
	in := j.Inputs[0]
	loc := opt.Store.Location("")
	if opt.SharedFolder {
		loc = group.SharedFolder + loc
	}
	meta := group.Meta{Checkpoint: loc, Fingerprint: j.Fingerprint}
	m, err := group.Join(ctx, group.Config{Brokers: in.Brokers, GroupID: j.GroupID, Topics: j.Topics, Meta: meta,
		SessionTimeout: opt.SessionTimeout, RebalanceTimeout: opt.RebalanceTimeout, ClientID: opt.ClientID,
		TLS: in.TLS, SASL: in.SASL, Logger: opt.Logger})
	if err != nil {
		return err
	}
	c.m = m
	err = c.loop(ctx, meta)
	close(c.quit)
	c.stopAll()
	if cerr := m.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	return err
}

func (c *controller) metrics() {
	set := c.opt.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	labels := `{job=` + strconv.Quote(c.job.Name) + `,group=` + strconv.Quote(c.job.GroupID) + `}`
	set.GetOrCreateGauge("sluice_cluster_owned_partitions"+labels, func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.ownedN
	})
	set.GetOrCreateGauge("sluice_cluster_generation"+labels, func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.genN
	})
	c.rebalances = set.GetOrCreateCounter("sluice_cluster_rebalances_total" + labels)
	c.restores = set.GetOrCreateCounter("sluice_cluster_task_restores_total" + labels)
	c.restoreSecs = set.GetOrCreateHistogram("sluice_cluster_task_restore_seconds" + labels)
	c.restoreBytes = set.GetOrCreateCounter("sluice_cluster_task_restore_bytes_total" + labels)
}

// loop follows the group's changes and the task runs until the job ends.
func (c *controller) loop(ctx context.Context, self group.Meta) error {
	var check <-chan time.Time
	// A bounded job's process looks four times a second, once its own tasks
	// have ended, whether every task has.
	watch := func() {
		if check == nil && c.job.Bounded && c.allLocalEnded() {
			t := time.NewTicker(250 * time.Millisecond)
			check = t.C
			go func() { <-c.quit; t.Stop() }()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ch, ok := <-c.m.Changes():
			if !ok {
				return nil
			}
			if ch.Err != nil {
				return ch.Err
			}
			if ch.Revoked != nil {
				c.checkpointAll(ctx)
				c.revoked()
				ch.Ack()
				continue
			}
			if err := c.assigned(ctx, ch, self); err != nil {
				return err
			}
			watch()
		case r := <-c.endedRuns:
			if err := c.runEnded(ctx, r); err != nil {
				return err
			}
			watch()
		case <-check:
			if done, err := c.jobDone(ctx); err != nil || done {
				return err
			}
		case err := <-c.fatal:
			return err
		}
	}
}

// checkpointAll takes a checkpoint of every running task and waits (a few
// seconds at most) until each counts or fails, while the generation that
// ends still accepts the commits: a task that moves then resumes elsewhere
// where it was, with nothing to read again (as Kafka Streams commits when
// its partitions are revoked).
func (c *controller) checkpointAll(ctx context.Context) {
	c.mu.Lock()
	type pending struct {
		r      *taskRun
		before int64
	}
	var wait []pending
	for _, r := range c.runs {
		select {
		case <-r.done:
			continue
		default:
		}
		if !r.running.Load() {
			continue // not started: nothing to checkpoint
		}
		r.mu.Lock()
		before := r.last.CK
		if r.last.Attempt != r.attempt {
			before = 0 // no checkpoint of this run counts yet
		}
		r.mu.Unlock()
		select {
		case r.now <- struct{}{}:
		default:
		}
		wait = append(wait, pending{r, before})
	}
	c.mu.Unlock()
	if len(wait) == 0 {
		return
	}
	limit := 5 * time.Second
	if rt := c.opt.RebalanceTimeout; rt > 0 && rt/4 < limit {
		limit = rt / 4
	}
	t0 := time.Now()
	deadline := t0.Add(limit)
	for _, p := range wait {
		for time.Now().Before(deadline) && ctx.Err() == nil {
			p.r.mu.Lock()
			counted := p.r.last.Attempt == p.r.attempt && p.r.last.CK > p.before
			p.r.mu.Unlock()
			if counted {
				break
			}
			select {
			case <-p.r.done:
			case <-time.After(5 * time.Millisecond):
				continue
			}
			break
		}
	}
	c.log("checkpointed %d tasks for the rebalance in %v", len(wait), time.Since(t0).Round(time.Millisecond))
}

// revoked: the generation ended. The runs go on; their checkpoints wait
// for the next generation to count (or the runs stop if their task moves).
func (c *controller) revoked() {
	c.mu.Lock()
	c.gen = group.Gen{ID: -1}
	c.genN = -1
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.rebalances.Inc()
}

// assigned starts the runs of the tasks this process now owns and stops
// those of tasks it lost, or whose newest counted checkpoint is not the
// run's own (another process had the task meanwhile).
func (c *controller) assigned(ctx context.Context, ch *group.Change, self group.Meta) error {
	if ch.PeersErr == nil {
		if err := group.CheckPeers(ch.MemberID, self, ch.Peers); err != nil {
			return err
		}
	}
	c.checkPeersLater(ch.Gen, self)
	tasks := slices.Clone(ch.Assigned[c.job.Topics[0]])
	slices.Sort(tasks)
	committed, err := c.committed(ctx, tasks)
	if err != nil {
		return err
	}
	c.mu.Lock()
	var stop []*taskRun
	for id, r := range c.runs {
		r.mu.Lock()
		same := r.last == committed[id]
		r.mu.Unlock()
		if !slices.Contains(tasks, id) || !same {
			stop = append(stop, r)
			delete(c.runs, id)
		}
	}
	c.gen = ch.Gen
	c.genN = float64(ch.Gen.ID)
	c.ownedN = float64(len(tasks))
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	// The first generation a process sees starts its tasks after a
	// heartbeat interval: processes started together then land in one
	// generation instead of the first one starting every task and handing
	// most over at once (brokers delay a group's first rebalance for the
	// same reason: group.initial.rebalance.delay.ms).
	var settle time.Duration
	if !c.settled {
		c.settled = true
		settle = c.heartbeat()
	}
	prev := map[int]*taskRun{}
	for _, r := range stop {
		r.cancel()
		prev[r.id] = r
	}
	for id, r := range c.stopping {
		prev[id] = r // stopped in an earlier generation, maybe not yet done
	}
	c.log("generation %d: this process runs tasks %v of %d", ch.Gen.ID, tasks, c.job.Partitions)
	for _, id := range tasks {
		c.mu.Lock()
		_, running := c.runs[id]
		c.mu.Unlock()
		if !running {
			c.start(ctx, id, committed[id], prev[id], settle)
			delete(prev, id)
		}
	}
	c.stopping = prev // the runs of tasks that moved away, until they are done
	return nil
}

// heartbeat is the group's heartbeat interval: a third of the session
// timeout.
func (c *controller) heartbeat() time.Duration {
	if c.opt.SessionTimeout > 0 {
		return c.opt.SessionTimeout / 3
	}
	return 10 * time.Second / 3
}

// checkPeersLater looks at the group's members again a heartbeat interval
// into generation gen: a member completing a rebalance shows no metadata
// at first, and would escape the first look.
func (c *controller) checkPeersLater(gen group.Gen, self group.Meta) {
	go func() {
		select {
		case <-time.After(c.heartbeat()):
		case <-c.quit:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		peers, err := c.m.Peers(ctx)
		if err != nil {
			return
		}
		if err := group.CheckPeers(gen.MemberID, self, peers); err != nil {
			select {
			case c.fatal <- err:
			default:
			}
		}
	}()
}

// committed reads what the group's commits say of the tasks' checkpoints.
func (c *controller) committed(ctx context.Context, tasks []int) (map[int]commitMeta, error) {
	out := map[int]commitMeta{}
	if len(tasks) == 0 {
		return out, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := c.m.Committed(cctx, map[string][]int{c.job.Topics[0]: tasks})
	if err != nil {
		return nil, err
	}
	for _, id := range tasks {
		if m, ok := parseMeta(got[c.job.Topics[0]][id].Metadata); ok {
			out[id] = m
		}
	}
	return out, nil
}

// newAttempt names a run of a task uniquely.
func newAttempt() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// start runs task id from the checkpoint from names (none: from the
// start), once the run it replaces (prev, nil if none) has stopped and
// delay has passed. It does not wait: the loop must stay free to
// acknowledge rebalances.
func (c *controller) start(ctx context.Context, id int, from commitMeta, prev *taskRun, delay time.Duration) {
	r := &taskRun{id: id, attempt: newAttempt(), done: make(chan struct{}), offsets: map[string]int64{}, last: from, from: from,
		now: make(chan struct{}, 1)}
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	c.mu.Lock()
	c.runs[id] = r
	c.mu.Unlock()
	go func() {
		err := c.run(rctx, r, prev, delay)
		r.err = err
		r.ended = err == nil
		close(r.done)
		select {
		case c.endedRuns <- r:
		case <-c.quit:
		}
	}()
}

// errUnreadable wraps the error of a checkpoint that a task's last commit
// names and that cannot be read: restarting does not mend it.
var errUnreadable = errors.New("the checkpoint its last commit names cannot be read")

// run restores and runs r, after prev has stopped.
func (c *controller) run(ctx context.Context, r *taskRun, prev *taskRun, delay time.Duration) error {
	if prev != nil {
		select {
		case <-prev.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	id, from := r.id, r.from
	var restore *runtime.Checkpoint
	if from.CK > 0 {
		t0 := time.Now()
		ck, err := runtime.LoadCheckpointFrom(c.opt.Store, from.folder(id))
		if err != nil {
			return fmt.Errorf("task %d: %w: %w", id, errUnreadable, err)
		}
		restore = ck
		c.restores.Inc()
		c.restoreSecs.UpdateDuration(t0)
		c.restoreBytes.Add(int(ck.Bytes))
		c.log("task %d: restored checkpoint %d of attempt %s (%d bytes in %v)", id, from.CK, from.Attempt, ck.Bytes, time.Since(t0).Round(time.Millisecond))
	} else {
		c.log("task %d: starts without a checkpoint (none counts yet)", id)
	}
	g := cloneGraph(c.job.Graph, fmt.Sprintf("%s/task-%d", c.job.Name, id))
	set := metrics.NewSet()
	metrics.RegisterSet(set)
	defer metrics.UnregisterSet(set, true)
	var stopped func(error)
	if c.opt.OnTask != nil {
		stopped = c.opt.OnTask(id, g.Name, g, set)
	}
	task := &runtime.TaskInfo{ID: id, Count: c.job.Partitions, Attempt: r.attempt, Offsets: func(topic string, part int, next int64) {
		if part == id {
			r.mu.Lock()
			r.offsets[topic] = next
			r.mu.Unlock()
		}
	}}
	cp := &runtime.CheckpointOptions{
		Store:    runtime.SubStore(c.opt.Store, taskPrefix(id)+r.attempt+"/"),
		Interval: c.opt.Interval,
		Restore:  restore,
		Retain:   2,
		Log:      c.log,
		Confirm:  func(ck int64, finished bool) error { return c.confirm(ctx, r, ck, finished) },
		Now:      r.now,
	}
	r.running.Store(true)
	err := runtime.Run(ctx, g, runtime.Options{Task: task, Checkpoints: cp, Metrics: set, BufferRows: c.opt.BufferRows,
		Logger: c.opt.Logger, Log: c.log})
	if stopped != nil {
		stopped(err)
	}
	return err
}

// cloneGraph copies g's nodes and edges, for a run of its own.
func cloneGraph(g *runtime.Graph, name string) *runtime.Graph {
	out := runtime.NewGraph(name)
	for _, n := range g.Nodes {
		c := *n
		out.Nodes = append(out.Nodes, &c)
	}
	for _, e := range g.Edges {
		c := *e
		out.Edges = append(out.Edges, &c)
	}
	return out
}

// confirm makes checkpoint ck of run r count: it commits the task's offsets
// in the current generation, with the checkpoint's location as metadata.
// The coordinator refuses it when this process no longer owns the task in
// that generation.
func (c *controller) confirm(ctx context.Context, r *taskRun, ck int64, finished bool) error {
	var gen group.Gen
	for {
		c.mu.Lock()
		cur, changed := c.runs[r.id], c.changed
		gen = c.gen
		c.mu.Unlock()
		if cur != r {
			return ErrLost
		}
		if gen.ID >= 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	meta := commitMeta{V: 1, Attempt: r.attempt, CK: ck, Finished: finished}
	data, _ := json.Marshal(meta)
	r.mu.Lock()
	offsets := map[string]map[int]group.Offset{}
	for _, topic := range c.job.Topics {
		off, ok := r.offsets[topic]
		if !ok {
			off = -1
		}
		offsets[topic] = map[int]group.Offset{r.id: {Offset: off, Metadata: string(data)}}
	}
	r.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.m.CommitMeta(cctx, gen, offsets); err != nil {
		return err
	}
	r.mu.Lock()
	first := r.last.Attempt != r.attempt
	r.last = meta
	r.mu.Unlock()
	c.mu.Lock()
	delete(c.failed, r.id)
	c.mu.Unlock()
	if first && r.from.Attempt != "" {
		// The attempt this run restored from is history now.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c.opt.Store.Delete(dctx, taskPrefix(r.id)+r.from.Attempt+"/")
		}()
	}
	return nil
}

// runEnded handles the end of a task's run: a bounded task that read its
// input is done; one that failed starts again from its newest counted
// checkpoint, unless it keeps failing.
func (c *controller) runEnded(ctx context.Context, r *taskRun) error {
	c.mu.Lock()
	cur := c.runs[r.id]
	c.mu.Unlock()
	if cur != r || ctx.Err() != nil {
		return nil // stopped on purpose
	}
	if r.ended {
		c.log("task %d: read all its input", r.id)
		return nil
	}
	var re *runtime.RestoreError
	if errors.As(r.err, &re) {
		return fmt.Errorf("task %d: %w", r.id, r.err)
	}
	if errors.Is(r.err, errUnreadable) {
		return r.err
	}
	if fenced(r.err) {
		// Its checkpoints no longer count: the group has moved on (this
		// process was paused, or cut off). The next assignment says
		// whether the task is still this process's.
		c.mu.Lock()
		delete(c.runs, r.id)
		c.mu.Unlock()
		c.log("task %d: its checkpoints no longer count (%v); waiting for the group's next assignment", r.id, r.err)
		return nil
	}
	c.mu.Lock()
	c.failed[r.id]++
	n := c.failed[r.id]
	delete(c.runs, r.id)
	c.mu.Unlock()
	if n > c.opt.RestartAttempts {
		return fmt.Errorf("task %d failed %d times in a row, the last: %w", r.id, n, r.err)
	}
	c.log("task %d failed (%v); restarting it from its newest checkpoint that counts", r.id, r.err)
	committed, err := c.committed(ctx, []int{r.id})
	if err != nil {
		return err
	}
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	if gen.ID < 0 {
		// A rebalance is under way: the assignment starts it if it stays.
		return nil
	}
	c.start(ctx, r.id, committed[r.id], nil, time.Duration(n)*200*time.Millisecond)
	return nil
}

// fenced reports whether err is the coordinator refusing a commit of a
// generation that has ended, or of a member it no longer knows.
func fenced(err error) bool {
	for _, e := range []error{kafka.IllegalGeneration, kafka.UnknownMemberId, kafka.RebalanceInProgress, kafka.FencedInstanceID} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, ErrLost)
}

// allLocalEnded reports whether every task run here has read its input.
func (c *controller) allLocalEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.runs {
		select {
		case <-r.done:
			if !r.ended {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// jobDone reports whether every task of a bounded job has ended: its
// newest counted checkpoint records the end.
func (c *controller) jobDone(ctx context.Context) (bool, error) {
	all := make([]int, c.job.Partitions)
	for i := range all {
		all[i] = i
	}
	got, err := c.committed(ctx, all)
	if err != nil {
		return false, err
	}
	for _, id := range all {
		if !got[id].Finished {
			return false, nil
		}
	}
	c.log("every task of the job has ended")
	return true, nil
}

// stopAll stops the task runs and waits for them.
func (c *controller) stopAll() {
	c.mu.Lock()
	runs := c.runs
	c.runs = map[int]*taskRun{}
	c.mu.Unlock()
	for _, r := range runs {
		r.cancel()
	}
	for _, r := range runs {
		<-r.done
	}
}
