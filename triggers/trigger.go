package triggers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Config configures a Trigger.
type Config struct {
	// Name names the trigger in errors, metrics and its positions file.
	Name string
	// Source is the stream read; Queue, when set instead, the queue
	// polled (ON QUEUE, see QueueSource).
	Source  Source
	Queue   *QueueSource
	Invoker Invoker
	// BatchSize is the most records per invocation (default 100; 10 on a
	// queue);
	// BatchWindow how long a batch waits to fill once it has a record (0:
	// invoke with what one read returns).
	BatchSize   int
	BatchWindow time.Duration
	// StartingPosition is where a partition without a position starts:
	// TrimHorizon (default) or Latest: the records that arrive from the
	// trigger's first start on (that time is kept with the positions, so
	// a restart skips none of them).
	StartingPosition string
	// MaxRetryAttempts is how often a failed batch is retried before it
	// goes to OnFailure (-1: until it succeeds).
	MaxRetryAttempts int
	// MaxRecordAge, when set, skips records that arrived longer ago
	// (checked before every invocation, retries included): they go to
	// OnFailure as Lambda's MaximumRecordAgeInSeconds sends them, with
	// the condition RecordAgeExceeded.
	MaxRecordAge time.Duration
	// BisectOnError splits a failing batch in two before retrying.
	BisectOnError bool
	// ReportBatchItemFailures reads the function's answer as
	// {"batchItemFailures":[…]}.
	ReportBatchItemFailures bool
	// OnFailure receives the record of each batch given up on (nil: it is
	// logged and dropped).
	OnFailure Destination
	// Concurrency bounds the invocations in flight over all partitions (0:
	// one per partition; on a queue, the number of pollers too, default 5).
	Concurrency int
	// Timeout bounds one invocation (0: 1 minute; on a queue, its
	// visibility timeout up to 1 minute). A queue whose visibility timeout
	// is shorter is refused at start, as Lambda does.
	Timeout time.Duration
	// PositionsDir keeps the positions file <Name>.positions ("": positions
	// live in memory: a restarted trigger starts over).
	PositionsDir string
	// Region is the awsRegion of the events (default us-east-1).
	Region string
	// RetryBackoff is the first pause before a retry, doubled up to
	// MaxBackoff (defaults 100ms and 10s).
	RetryBackoff, MaxBackoff time.Duration
	// PollInterval is how often the partitions are listed again, for new
	// shards (default 5s).
	PollInterval time.Duration
	// Metrics receives the trigger's metrics (nil: metrics.NewSet, not
	// registered).
	Metrics *metrics.Set
	// Logf receives warnings (nil: discarded).
	Logf func(format string, args ...any)
}

// Trigger is a running event source mapping.
type Trigger struct {
	c   Config
	pos *positions
	// latestFrom: see positions.latestFrom.
	latestFrom int64
	sem        chan struct{}
	m          *triggerMetrics

	mu      sync.Mutex
	started map[string]bool
	ended   map[string]bool
}

type triggerMetrics struct {
	invocations, errors, throttles, retries, failed, records, bisects *metrics.Counter
	batch                                                             *metrics.Histogram
	set                                                               *metrics.Set
	labels                                                            string
	ageMu                                                             sync.Mutex
	age                                                               map[string]int64 // ms, by partition
	// lastError and lastErrorAt are the latest failure (under ageMu).
	lastError   string
	lastErrorAt time.Time
	// visible and inFlight are a queue's message counts (ON QUEUE).
	visible, inFlight atomic.Int64
}

// New checks c and returns its trigger, with the positions it had.
func New(c Config) (*Trigger, error) {
	if c.Name == "" || (c.Source == nil) == (c.Queue == nil) || c.Invoker == nil {
		return nil, errors.New("triggers: a trigger needs a name, a source (a stream or a queue) and an invoker")
	}
	if c.Queue != nil {
		return newQueueTrigger(c)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.StartingPosition == "" {
		c.StartingPosition = TrimHorizon
	}
	if c.StartingPosition != TrimHorizon && c.StartingPosition != Latest {
		return nil, fmt.Errorf("trigger %s: starting position %q: want %s or %s", c.Name, c.StartingPosition, TrimHorizon, Latest)
	}
	if c.MaxRetryAttempts < -1 {
		return nil, fmt.Errorf("trigger %s: max retry attempts %d: want -1 (no limit) or more", c.Name, c.MaxRetryAttempts)
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Minute
	}
	c.defaults()
	path := ""
	if c.PositionsDir != "" {
		// Made if missing, as a store's data folder is.
		if err := os.MkdirAll(c.PositionsDir, 0o755); err != nil {
			return nil, fmt.Errorf("trigger %s: positions.dir: %w", c.Name, err)
		}
		path = filepath.Join(c.PositionsDir, c.Name+".positions")
	}
	pos, err := loadPositions(path, c.Source.Name())
	if err != nil {
		return nil, fmt.Errorf("trigger %s: %w", c.Name, err)
	}
	t := &Trigger{c: c, pos: pos, started: map[string]bool{}, ended: map[string]bool{}}
	if c.StartingPosition == Latest {
		if t.latestFrom, err = pos.setLatestFrom(c.Source.Name(), time.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("trigger %s: %w", c.Name, err)
		}
	}
	if c.Concurrency > 0 {
		t.sem = make(chan struct{}, c.Concurrency)
	}
	t.m = newMetrics(c.Metrics, c.Name)
	return t, nil
}

// defaults fills the settings streams and queues share.
func (c *Config) defaults() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 5 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

func newMetrics(set *metrics.Set, name string) *triggerMetrics {
	l := fmt.Sprintf(`{trigger=%q}`, name)
	m := &triggerMetrics{set: set, labels: l, age: map[string]int64{},
		invocations: set.GetOrCreateCounter("sluice_trigger_invocations_total" + l),
		errors:      set.GetOrCreateCounter("sluice_trigger_errors_total" + l),
		throttles:   set.GetOrCreateCounter("sluice_trigger_throttles_total" + l),
		retries:     set.GetOrCreateCounter("sluice_trigger_retries_total" + l),
		failed:      set.GetOrCreateCounter("sluice_trigger_failed_batches_total" + l),
		records:     set.GetOrCreateCounter("sluice_trigger_records_total" + l),
		bisects:     set.GetOrCreateCounter("sluice_trigger_bisects_total" + l),
		batch:       set.GetOrCreateHistogram("sluice_trigger_batch_size" + l),
	}
	return m
}

// setAge records the iterator age of partition id (label "shard") or of
// a queue (label "queue"): how long ago its last record done arrived, or
// the oldest message of its last batch was sent.
func (m *triggerMetrics) setAge(label, id string, ms int64) {
	m.ageMu.Lock()
	_, known := m.age[id]
	m.age[id] = ms
	m.ageMu.Unlock()
	if !known {
		pl := fmt.Sprintf(`{trigger=%s,%s=%q}`, m.labels[len(`{trigger=`):len(m.labels)-1], label, id)
		m.set.GetOrCreateGauge("sluice_trigger_iterator_age_milliseconds"+pl, func() float64 {
			m.ageMu.Lock()
			defer m.ageMu.Unlock()
			return float64(m.age[id])
		})
	}
}

// Position returns the sequence number last done in partition id ("" for
// none, "SHARD_END" for a partition read to its end).
func (t *Trigger) Position(id string) string { return t.pos.get(id) }

// Run reads and invokes until ctx ends (it then returns nil) or the
// trigger fails for good (e.g. its stream is gone).
func (t *Trigger) Run(ctx context.Context) error {
	if t.c.Queue != nil {
		return t.runQueue(ctx)
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	finished := make(chan string, 16)
	tick := time.NewTicker(t.c.PollInterval)
	defer tick.Stop()
	listFails := 0
	backoff := t.c.RetryBackoff
	for {
		parts, err := t.c.Source.Partitions(ctx)
		if err != nil && ctx.Err() == nil {
			// The stream may not exist yet (a job's sink creates it): try
			// again soon, and give up after a while.
			listFails++
			if listFails >= 20 {
				return fmt.Errorf("trigger %s: %w", t.c.Name, err)
			}
			if listFails%5 == 0 {
				t.c.Logf("trigger %s: listing the shards of %s: %v (retrying)", t.c.Name, t.c.Source.Name(), err)
			}
			if !sleep(ctx, backoff) {
				continue
			}
			backoff = min(2*backoff, t.c.MaxBackoff)
			continue
		}
		listFails, backoff = 0, t.c.RetryBackoff
		t.mu.Lock()
		listed := map[string]bool{}
		for _, p := range parts {
			listed[p.ID] = true
		}
		for _, p := range parts {
			if t.started[p.ID] || !t.parentsDone(p, listed) {
				continue
			}
			t.started[p.ID] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := t.runPartition(ctx, p)
				if err != nil && ctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
					cancel()
					return
				}
				if err == nil {
					select {
					case finished <- p.ID:
					case <-ctx.Done():
					}
				}
			}()
		}
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			wg.Wait()
			select {
			case err := <-errc:
				return err
			default:
				return nil
			}
		case id := <-finished:
			t.mu.Lock()
			t.ended[id] = true
			t.mu.Unlock()
		case <-tick.C:
		}
	}
}

// parentsDone reports whether p's parents still listed are read to their
// end (a parent no longer listed has expired from the stream); t.mu is
// held.
func (t *Trigger) parentsDone(p Partition, listed map[string]bool) bool {
	for _, id := range p.Parents {
		if listed[id] && !t.ended[id] && t.pos.get(id) != shardEnd {
			return false
		}
	}
	return true
}

// runPartition reads partition p in order until it ends (nil) or ctx ends.
func (t *Trigger) runPartition(ctx context.Context, p Partition) error {
	after := t.pos.get(p.ID)
	if after == shardEnd {
		return nil
	}
	t.m.setAge("shard", p.ID, 0)
	// A shard that follows one this trigger read starts at its beginning;
	// at LATEST, a shard starts at what arrived since the trigger first
	// ran.
	from := From{Start: t.c.StartingPosition}
	if from.Start == Latest {
		from.Start, from.Timestamp = AtTimestamp, time.UnixMilli(t.latestFrom)
	}
	for _, id := range p.Parents {
		if t.pos.get(id) == shardEnd {
			from.Start = TrimHorizon
		}
	}
	var r Reader
	backoff := t.c.RetryBackoff
	open := func() error {
		for {
			var err error
			from.After = after
			r, err = t.c.Source.Open(ctx, p, from)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.c.Logf("trigger %s: %v (retrying)", t.c.Name, err)
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, t.c.MaxBackoff)
		}
	}
	if err := open(); err != nil {
		return err
	}
	var batch []Record
	ended := false
	for !ended {
		batch = batch[:0]
		var deadline time.Time
		for len(batch) < t.c.BatchSize {
			wait := 2 * time.Second // idle: a long poll
			if len(batch) > 0 {
				wait = time.Until(deadline)
				if wait <= 0 {
					break
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			asked := time.Now()
			recs, end, err := r.Next(ctx, t.c.BatchSize-len(batch), wait)
			if err == nil && len(recs) == 0 && !end && len(batch) == 0 && time.Since(asked) < wait/2 {
				// An empty answer at once (a server without long polls):
				// pause before asking again.
				if !sleep(ctx, 200*time.Millisecond) {
					return ctx.Err()
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				t.c.Logf("trigger %s: reading %s shard %s: %v (retrying)", t.c.Name, t.c.Source.Name(), p.ID, err)
				if !sleep(ctx, backoff) {
					return ctx.Err()
				}
				backoff = min(2*backoff, t.c.MaxBackoff)
				// Read again after what the batch holds.
				if len(batch) > 0 {
					after = batch[len(batch)-1].SequenceNumber
				}
				if err := open(); err != nil {
					return err
				}
				continue
			}
			backoff = t.c.RetryBackoff
			if len(batch) == 0 && len(recs) > 0 {
				deadline = time.Now().Add(t.c.BatchWindow)
			}
			batch = append(batch, recs...)
			if end {
				ended = true
				break
			}
			if len(batch) > 0 && t.c.BatchWindow <= 0 {
				break
			}
		}
		if len(batch) > 0 {
			if err := t.deliver(ctx, p.ID, batch); err != nil {
				return err
			}
			after = batch[len(batch)-1].SequenceNumber
		}
	}
	return t.pos.set(t.c.Source.Name(), p.ID, shardEnd)
}

// deliver invokes the function with batch until every record is done or
// given up on (sent to OnFailure), recording the position after each part.
// It fails only when ctx ends or a position cannot be written.
func (t *Trigger) deliver(ctx context.Context, shard string, batch []Record) error {
	t.m.batch.Update(float64(len(batch)))
	queue := [][]Record{batch}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		attempts, invokes := 0, 0
		backoff := t.c.RetryBackoff
		for {
			if old := t.tooOld(b); old > 0 {
				if err := t.giveUp(ctx, shard, b[:old], invokes, errRecordAge); err != nil {
					return err
				}
				if err := t.done(shard, b[:old]); err != nil {
					return err
				}
				if b = b[old:]; len(b) == 0 {
					b = nil // done above
					break
				}
			}
			failedFrom, err := t.invoke(ctx, shard, b)
			invokes++
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil && failedFrom < 0 {
				t.m.records.Add(len(b))
				break
			}
			if isThrottle(err) {
				t.m.throttles.Inc()
				if !sleep(ctx, backoff) {
					return ctx.Err()
				}
				backoff = min(2*backoff, t.c.MaxBackoff)
				continue
			}
			t.m.errors.Inc()
			if err == nil && failedFrom > 0 {
				// The records before the first failure are done.
				t.m.records.Add(failedFrom)
				if err := t.done(shard, b[:failedFrom]); err != nil {
					return err
				}
				b = b[failedFrom:]
				err = errorf("the function reported %s as failed", b[0].SequenceNumber)
			} else if err == nil {
				err = errorf("the function reported %s as failed", b[0].SequenceNumber)
			}
			t.m.noteError(err)
			if t.c.BisectOnError && len(b) > 1 {
				t.m.bisects.Inc()
				h := len(b) / 2
				queue = append([][]Record{b[:h], b[h:]}, queue...)
				b = nil
				break
			}
			attempts++
			if t.c.MaxRetryAttempts >= 0 && attempts > t.c.MaxRetryAttempts {
				if err := t.giveUp(ctx, shard, b, invokes, err); err != nil {
					return err
				}
				break
			}
			t.m.retries.Inc()
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, t.c.MaxBackoff)
		}
		if b != nil {
			if err := t.done(shard, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// done records that the records of b are done.
func (t *Trigger) done(shard string, b []Record) error {
	last := b[len(b)-1]
	t.m.setAge("shard", shard, max(0, time.Since(last.Arrival).Milliseconds()))
	return t.pos.set(t.c.Source.Name(), shard, last.SequenceNumber)
}

// invoke calls the function once with b: the index of the first record it
// reported failed (-1: none), or the invocation's error.
func (t *Trigger) invoke(ctx context.Context, shard string, b []Record) (int, error) {
	answer, err := t.call(ctx, appendEvent(nil, t.c.Source.ARN(), t.c.Region, shard, b))
	if err != nil || !t.c.ReportBatchItemFailures {
		return -1, err
	}
	i, err := itemFailures(answer, b)
	if err != nil {
		return -1, err
	}
	return i, nil
}

// call invokes the function once with event, within Concurrency and
// Timeout, and returns its answer.
func (t *Trigger) call(ctx context.Context, event []byte) ([]byte, error) {
	if t.sem != nil {
		select {
		case t.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-t.sem }()
	}
	ictx, cancel := context.WithTimeout(ctx, t.c.Timeout)
	defer cancel()
	t.m.invocations.Inc()
	answer, err := t.c.Invoker.Invoke(ictx, event)
	if err != nil {
		if ctx.Err() == nil && ictx.Err() != nil {
			err = &FunctionError{Msg: fmt.Sprintf("the invocation timed out after %v", t.c.Timeout)}
		}
		return nil, err
	}
	return answer, nil
}

// giveUp sends the failure record of b to OnFailure, retrying until it is
// sent or ctx ends.
// errRecordAge is why records older than MaxRecordAge are given up on.
var errRecordAge = errors.New("the records are older than max-record-age")

// tooOld returns how many records at the start of b arrived longer than
// MaxRecordAge ago (a shard's records arrive in order).
func (t *Trigger) tooOld(b []Record) int {
	if t.c.MaxRecordAge <= 0 {
		return 0
	}
	limit := time.Now().Add(-t.c.MaxRecordAge)
	n := 0
	for n < len(b) && b[n].Arrival.Before(limit) {
		n++
	}
	return n
}

func (t *Trigger) giveUp(ctx context.Context, shard string, b []Record, invokes int, cause error) error {
	t.m.failed.Inc()
	var f Failure
	f.RequestContext.RequestID = newID()
	f.RequestContext.FunctionARN = "arn:aws:lambda:" + t.c.Region + ":000000000000:function:" + t.c.Name
	f.RequestContext.Condition = "RetryAttemptsExhausted"
	if errors.Is(cause, errRecordAge) {
		f.RequestContext.Condition = "RecordAgeExceeded"
	}
	f.RequestContext.ApproximateInvokeCount = invokes
	var fe *FunctionError
	if errors.As(cause, &fe) {
		f.ResponseContext.StatusCode = fe.StatusCode
	}
	f.ResponseContext.FunctionError = "Unhandled"
	f.ResponseContext.ErrorMessage = cause.Error()
	f.Version = "1.0"
	f.Timestamp = time.Now().UTC().Format(isoMillis)
	f.KinesisBatchInfo = BatchInfo{ShardID: shard, StartSequenceNumber: b[0].SequenceNumber, EndSequenceNumber: b[len(b)-1].SequenceNumber,
		ApproximateArrivalOfFirstRecord: b[0].Arrival.UTC().Format(isoMillis), ApproximateArrivalOfLastRecord: b[len(b)-1].Arrival.UTC().Format(isoMillis),
		BatchSize: len(b), StreamARN: t.c.Source.ARN()}
	data, _ := json.Marshal(f) // plain fields always marshal
	if t.c.OnFailure == nil {
		t.c.Logf("trigger %s: gave up on shard %s records %s to %s (%d): %v", t.c.Name, shard, b[0].SequenceNumber, b[len(b)-1].SequenceNumber, len(b), cause)
		return nil
	}
	backoff := t.c.RetryBackoff
	for {
		err := t.c.OnFailure.Send(ctx, shard, data)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.c.Logf("trigger %s: sending a failure record to the on-failure destination: %v (retrying)", t.c.Name, err)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, t.c.MaxBackoff)
	}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
