package queue

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// pollWait bounds how long Poll waits for a poller (the runtime asks for
// about 100 ms at most, so that timers and barriers are not held up).
const pollWait = 50 * time.Millisecond

// received is what a poller hands the subtask: one ReceiveMessage answer.
type received struct {
	msgs []client.Message
	at   int64 // when the answer came (ms)
	err  error // the queue cannot be read: fails the job
}

// held is a message the subtask has received and not yet deleted: its id,
// its receipt handle, and until when it stays hidden (ms).
type held struct {
	id, receipt string
	until       int64
}

// source is a subtask of a queue source. Its pollers (goroutines) receive
// messages and hand each answer over an unbuffered channel (a poller that
// waits for Poll keeps its answer's messages hidden: hand);
// Poll decodes one answer per call in the subtask's goroutine. The messages
// it emits are held (delivery.go) until they may be deleted.
type source struct {
	cfg  *config
	runs *runs
	run  *run // shared with the other subtasks of the run
	ctx  *runtime.Context
	url  string

	live     context.Context // the keeper and deleter: cancelled by Close
	stopLive context.CancelFunc
	poll     context.Context // the pollers: cancelled by Close or a bounded end
	stopPoll context.CancelFunc
	pollers  sync.WaitGroup
	helpers  sync.WaitGroup // the deleter
	keeper   sync.WaitGroup
	// lingering: Close left the keeper running, for the held messages of
	// a bounded source that ended, until the checkpoint recording the
	// end deletes them (NotifyCheckpointComplete stops it) or the job stops.
	lingering atomic.Bool
	recv      chan received
	deletes   chan []*held
	timer     *time.Timer

	dec      format.Decoder
	evTime   connectors.EventTime
	batch    *runtime.Batch // the batch the last Poll returned
	lastMsg  atomic.Int64   // when a poller last received a message, or the start (ms)
	ending   bool           // bounded: the pollers are stopped, what they received is drained
	ended    bool           // bounded: Poll returned io.EOF
	emitted  []*held        // without checkpoints: emitted by the last Poll, deleted at the next
	restored map[string]int64
	bad      int

	// Delivery state, guarded by mu: Poll and OnBarrier (the subtask's
	// goroutine), the keeper and NotifyCheckpointComplete (the
	// coordinator's) share it.
	mu     sync.Mutex
	open   []*held  // emitted since the last barrier
	sealed []sealed // emitted before a barrier whose checkpoint has not completed
	// deleting are the messages of completed checkpoints being deleted,
	// by deletion.
	deleting map[int][]*held
	deletion int
}

// sealed are the messages emitted before the barrier of checkpoint id.
type sealed struct {
	id   int64
	msgs []*held
}

// Open finds the queue and starts the pollers, the visibility keeper and
// the deleter.
func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	var err error
	if s.url, err = s.cfg.queueURL(ctx.Ctx(), false); err != nil {
		return err
	}
	if s.runs == nil {
		s.runs = &runs{}
	}
	s.run = s.runs.join(ctx)
	s.run.load(s.restored, s.retention(ctx.Ctx()))
	// The batch and decoder take metadata columns as nullable (a NOT NULL
	// one is filled after decoding).
	body := s.bodySchema()
	switch s.cfg.format {
	case "csv":
		if s.dec, err = format.NewCSVDecoder(s.cfg.schema, s.cfg.csv); err != nil {
			return connectors.OptionErrorf(s.cfg.table, "csv.field-delimiter", "%v", err)
		}
	case "raw":
		s.dec = format.RawDecoder{}
	default:
		s.dec = format.NewJSONDecoder(body)
	}
	s.evTime = s.cfg.eventTime
	s.deleting = map[int][]*held{}
	s.batch = runtime.NewBatch(body)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	s.recv = make(chan received) // a poller holds its answer until Poll takes it, extending its visibility
	s.deletes = make(chan []*held, 16)
	s.live, s.stopLive = context.WithCancel(ctx.Ctx())
	s.poll, s.stopPoll = context.WithCancel(s.live)
	s.lastMsg.Store(time.Now().UnixMilli())
	for range s.cfg.pollers {
		s.pollers.Add(1)
		ctx.Go(func(context.Context) error { s.receive(); return nil })
	}
	s.helpers.Add(1)
	s.keeper.Add(1)
	ctx.Go(func(context.Context) error { s.keep(); return nil })
	ctx.Go(func(context.Context) error { s.deleter(); return nil })
	return nil
}

// retention is the queue's message retention period: how long an id of
// the delivered set is worth keeping (position.go).
func (s *source) retention(ctx context.Context) time.Duration {
	attrs, err := s.cfg.sqs.Attributes(ctx, s.url, "MessageRetentionPeriod")
	if err == nil {
		if secs, err := strconv.Atoi(attrs["MessageRetentionPeriod"]); err == nil && secs > 0 {
			return time.Duration(secs) * time.Second
		}
	}
	return 14 * 24 * time.Hour // SQS's longest
}

// receive is a poller: it long-polls ReceiveMessage and hands every answer
// with messages to the subtask. Transient failures are retried with
// backoff; others go to the subtask, which fails the job.
func (s *source) receive() {
	defer s.pollers.Done()
	ctx := s.poll
	backoff := minBackoff
	in := client.ReceiveInput{Max: s.cfg.max, Wait: s.cfg.wait, VisibilityTimeout: s.cfg.vis}
	for ctx.Err() == nil {
		msgs, err := s.cfg.sqs.Receive(ctx, s.url, in)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !retryable(err) {
				s.hand(received{err: connectors.Errorf(s.cfg.table, "queue %s on %s: cannot receive: %w", s.cfg.queue, s.cfg.where, err)})
				return
			}
			hint := ""
			if e := (*kstore.Error)(nil); errors.As(err, &e) && e.Code == "OverLimit" {
				hint = "; messages stay in flight until the checkpoint after them completes: a shorter checkpoint interval keeps fewer"
			}
			s.cfg.log.Warn(s.ctx.Logger(), "table %s: queue %s: cannot receive: %v (retrying%s)", s.cfg.table, s.cfg.queue, err, hint)
			if sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		if len(msgs) == 0 {
			if s.cfg.wait == 0 && sleep(ctx, 200*time.Millisecond) != nil {
				return
			}
			continue
		}
		now := time.Now().UnixMilli()
		s.lastMsg.Store(now)
		if !s.hand(received{msgs: msgs, at: now}) {
			return
		}
	}
}

// hand gives r to the subtask; false when the pollers are stopping. While
// the subtask does not take it (backpressure), the visibility timeout of
// its messages is extended when half of it has passed, as the keeper does
// for the messages emitted.
func (s *source) hand(r received) bool {
	every := s.cfg.vis / 2
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case s.recv <- r:
			return true
		case <-s.poll.Done():
			return false
		case <-t.C:
			receipts := make([]string, 0, maxBatch)
			for _, m := range r.msgs {
				receipts = append(receipts, m.ReceiptHandle)
			}
			if _, err := s.cfg.sqs.ChangeVisibility(s.poll, s.url, receipts, s.cfg.vis); err == nil {
				r.at = time.Now().UnixMilli()
			}
			t.Reset(every)
		}
	}
}

// Poll emits the rows of the next answer of a poller, waiting up to
// pollWait for one. A bounded source ends (io.EOF) once the queue has had
// nothing for the subtask for 'scan.bounded.idle'.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if len(s.emitted) > 0 { // without checkpoints: the last batch has been emitted
		if !s.toDeleter(ctx, s.emitted) {
			return nil, 0, ctx.Err()
		}
		s.emitted = nil
	}
	s.batch.Reset()
	r, ok, err := connectors.Receive(ctx, s.recv, s.timer, pollWait)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		if s.cfg.bounded && s.idle() {
			return nil, 0, s.end()
		}
		return nil, 0, nil
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	if err := s.decode(r); err != nil {
		return nil, 0, err
	}
	if s.bad > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(s.bad)
	}
	s.bad = 0
	if err := s.cfg.bad.Flush(); err != nil {
		return nil, 0, err
	}
	if s.batch.N == 0 {
		return nil, 0, nil
	}
	return s.batch, 0, nil
}

// idle reports whether a bounded source has seen the queue empty long
// enough: no answer waiting, none with messages for 'scan.bounded.idle'.
// The first time, it stops the pollers and drains what they received
// meanwhile (ending becomes true); io.EOF comes once that is emitted.
func (s *source) idle() bool {
	if s.ending {
		return len(s.recv) == 0
	}
	if len(s.recv) > 0 || time.Now().UnixMilli()-s.lastMsg.Load() < s.cfg.idle.Milliseconds() {
		return false
	}
	s.stopPoll()
	s.pollers.Wait()
	s.ending = true
	return len(s.recv) == 0
}

// end ends a bounded source: without checkpoints, what it emitted is
// deleted now (with them, the checkpoint that records the end deletes it).
func (s *source) end() error {
	s.ended = true
	if !s.ctx.Checkpointing {
		s.deleteNow(s.emitted)
		s.emitted = nil
	}
	return io.EOF
}

// decode appends the rows of r's messages to the batch and holds every
// message (bad ones included) for deletion. A message the run has already
// delivered (position.go) is deleted at once and dropped.
func (s *source) decode(r received) error {
	s.evTime.Refresh(time.Now())
	chunk := make([]held, len(r.msgs))
	msgs := make([]*held, 0, len(r.msgs))
	var dups []*held
	until := r.at + s.cfg.vis.Milliseconds()
	for i := range r.msgs {
		m := &r.msgs[i]
		h := &chunk[i]
		*h = held{id: m.MessageId, receipt: m.ReceiptHandle, until: until}
		if s.run.isDelivered(m.MessageId) {
			dups = append(dups, h)
			continue
		}
		msgs = append(msgs, h)
		err := s.dec.Decode([]byte(m.Body), s.batch)
		if err == nil {
			s.metadata(m)
			err = s.evTime.CheckLast(s.batch)
		}
		if err != nil {
			where := connectors.Where{Queue: s.cfg.queue, MessageID: m.MessageId}
			if err := s.cfg.bad.Report(s.ctx.Logger(), where, err, []byte(m.Body)); err != nil {
				return err
			}
			s.bad++
		}
	}
	if len(dups) > 0 && !s.toDeleter(s.live, dups) {
		return s.live.Err()
	}
	if !s.ctx.Checkpointing {
		s.emitted = msgs
		return nil
	}
	s.mu.Lock()
	s.open = append(s.open, msgs...)
	s.mu.Unlock()
	return nil
}

// bodySchema is the table's schema with its metadata columns nullable:
// bodies do not hold them.
func (s *source) bodySchema() *runtime.Schema {
	fields := append([]runtime.Field(nil), s.cfg.schema.Fields...)
	changed := false
	for _, c := range []int{s.cfg.metaID, s.cfg.metaSent, s.cfg.metaGrp, s.cfg.metaRecv} {
		if c >= 0 && !fields[c].Nullable {
			fields[c].Nullable, changed = true, true
		}
	}
	if !changed {
		return s.cfg.schema
	}
	return runtime.NewSchema(fields...)
}

// metadata fills the metadata columns of the row just decoded from m.
func (s *source) metadata(m *client.Message) {
	b := s.batch
	r := b.N - 1
	set := func(col int, null bool, f func(v *runtime.Vector)) {
		if col < 0 {
			return
		}
		v := &b.Cols[col]
		if null {
			v.SetNull(r)
			return
		}
		if v.Null != nil {
			v.Null[r] = false
		}
		f(v)
	}
	set(s.cfg.metaID, false, func(v *runtime.Vector) { v.Str[r] = m.MessageId })
	grp, ok := m.Attributes["MessageGroupId"]
	set(s.cfg.metaGrp, !ok, func(v *runtime.Vector) { v.Str[r] = grp })
	sent, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
	set(s.cfg.metaSent, err != nil, func(v *runtime.Vector) { v.I64[r] = sent })
	n, err := strconv.ParseInt(m.Attributes["ApproximateReceiveCount"], 10, 64)
	set(s.cfg.metaRecv, err != nil, func(v *runtime.Vector) { v.I64[r] = n })
}

// Close stops the pollers, the deleter (what it holds is deleted first)
// and the keeper, and releases the batch. Messages still held are left
// hidden until their visibility timeout: a checkpoint that completes later
// deletes them (NotifyCheckpointComplete also works after Close);
// otherwise they are received again. A bounded source that ended with
// checkpoints leaves the keeper running while it holds messages: the job
// may run on (other sources) until the checkpoint that records the end.
func (s *source) Close() error {
	if s.stopLive == nil {
		return nil
	}
	s.stopPoll()
	s.pollers.Wait()
	close(s.deletes) // the deleter deletes what it holds, then returns
	s.helpers.Wait()
	if s.ended && s.ctx.Checkpointing && s.holds() {
		s.lingering.Store(true)
		if s.holds() { // else NotifyCheckpointComplete may have missed lingering
			s.cfg.log.WarnFlush(s.ctx.Logger(), "warnings")
			return s.releaseBatch()
		}
	}
	s.stopLive() // the keeper returns
	s.keeper.Wait()
	s.cfg.log.WarnFlush(s.ctx.Logger(), "warnings")
	return s.releaseBatch()
}

func (s *source) releaseBatch() error {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.batch != nil {
		s.batch.Release()
		s.batch = nil
	}
	return nil
}

// holds reports whether the subtask holds messages not yet deleted.
func (s *source) holds() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open) > 0 || len(s.sealed) > 0
}
