package queue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
)

// sink is a subtask of a queue sink. Each row becomes one message, its
// body the row in the table's format. Messages gather into batches of at
// most 10 entries and 256 KiB, one being filled per lane; a full batch goes
// to its lane's sender goroutine, which sends one SendMessageBatch at a
// time, so 'sink.requests.max-inflight' lanes send at once. On a FIFO
// queue a message's lane is chosen by its group id, so the messages of a
// group are sent in order; on a standard queue, batches go to the lanes in
// turn.
//
// Entries the queue fails on its side are sent again (with backoff; 12
// tries in a row that send nothing fail the job); entries it refuses as
// the sender's fault (too big, an invalid id) are bad records: logged,
// counted, appended to 'errors.path' — or, with 'format.fail-on-error',
// the job fails. (A batch the queue failed in part is sent again without
// the entries it took, so on a FIFO queue such a retry can put a message
// after a later one of its group.) At a checkpoint barrier and at the end of input the sink
// sends what it holds and waits until every batch is sent: at-least-once
// (a retried batch, or a restore, may send a message twice; on a FIFO
// queue the deduplication id drops repeats within five minutes).
type sink struct {
	runtime.Base
	cfg     *config
	ctx     *runtime.Context
	url     string
	run     context.Context // cancelled when the job stops or the sink closes
	stopRun context.CancelFunc
	csv     *format.CSVEncoder
	lanes   []*lane
	senders sync.WaitGroup
	next    int // standard queues: the lane being filled
	scratch []byte
	bad     atomic.Int64 // bad records not yet counted in the metrics

	mu          sync.Mutex // guards what follows; cond signals changes
	cond        *sync.Cond
	outstanding int // batches handed to senders and not yet sent
	err         error
}

// lane is one sender: the batch being filled (the subtask's) and the
// channel of full ones.
type lane struct {
	fill  []client.SendEntry
	bytes int
	ch    chan []client.SendEntry
}

// errCheckInterval: a sink with no rows coming still reports a failed
// send this soon.
const errCheckInterval = time.Second

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.run, s.stopRun = context.WithCancel(ctx.Ctx())
	s.cond = sync.NewCond(&s.mu)
	var err error
	if s.url, err = s.cfg.queueURL(s.run, s.cfg.dedupCol < 0); err != nil {
		return err
	}
	if s.cfg.fifo && s.cfg.dedupCol < 0 {
		attrs, err := s.cfg.sqs.Attributes(s.run, s.url, "ContentBasedDeduplication")
		if err != nil {
			return connectors.Errorf(s.cfg.table, "queue %s on %s: %w", s.cfg.queue, s.cfg.where, err)
		}
		if attrs["ContentBasedDeduplication"] != "true" {
			return connectors.OptionErrorf(s.cfg.table, "sink.message-deduplication-id",
				"FIFO queue %s has no content-based deduplication: name the column of each message's deduplication id", s.cfg.queue)
		}
	}
	if s.csv, err = format.NewCSVEncoder(s.cfg.csv); err != nil {
		return connectors.OptionErrorf(s.cfg.table, "csv.field-delimiter", "%v", err)
	}
	s.next = ctx.Subtask % s.cfg.inflight
	for range s.cfg.inflight {
		l := &lane{ch: make(chan []client.SendEntry, 2)}
		s.lanes = append(s.lanes, l)
		s.senders.Add(1)
		ctx.Go(func(context.Context) error { s.sender(l); return nil })
	}
	ctx.RegisterProcessingTimer(ctx.Now() + errCheckInterval.Milliseconds())
	return nil
}

// ProcessBatch encodes the rows into messages and hands full batches to
// the senders (waiting while a lane holds two: backpressure).
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	if err := s.check(); err != nil {
		return err
	}
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		s.scratch = s.encode(s.scratch[:0], b, i)
		e := client.SendEntry{MessageBody: string(s.scratch), DelaySeconds: int(s.cfg.delay / time.Second)}
		var reason string
		if s.cfg.groupCol >= 0 {
			e.MessageGroupId = text(b, s.cfg.groupCol, r)
			if e.MessageGroupId == "" {
				reason = fmt.Sprintf("column %s (the group id) is NULL or empty", s.cfg.schema.Fields[s.cfg.groupCol].Name)
			}
		}
		if s.cfg.dedupCol >= 0 {
			e.MessageDeduplicationId = text(b, s.cfg.dedupCol, r)
			if e.MessageDeduplicationId == "" {
				reason = fmt.Sprintf("column %s (the deduplication id) is NULL or empty", s.cfg.schema.Fields[s.cfg.dedupCol].Name)
			}
		}
		if len(e.MessageBody) > maxBatchBytes {
			reason = fmt.Sprintf("the body is %d bytes, over the queue's limit of %d", len(e.MessageBody), maxBatchBytes)
		}
		if reason != "" {
			if err := s.reject(e.MessageBody, reason); err != nil {
				return err
			}
			continue
		}
		if err := s.add(e); err != nil {
			return err
		}
	}
	return s.flushBad()
}

// encode appends row i of b in the table's format.
func (s *sink) encode(dst []byte, b *runtime.Batch, i int) []byte {
	switch s.cfg.format {
	case "csv":
		return s.csv.Append(dst, b, i)
	case "raw":
		v := &b.Cols[0]
		if r := b.Row(i); !v.IsNull(r) {
			return append(dst, v.Str[r]...)
		}
		return dst
	}
	return format.AppendJSON(dst, b, i)
}

// text is the text of column c at row r ("" for NULL).
func text(b *runtime.Batch, c, r int) string {
	v := &b.Cols[c]
	if v.IsNull(r) {
		return ""
	}
	if v.Type == runtime.Varchar {
		return v.Str[r]
	}
	return v.Value(r).String()
}

// add puts e in its lane's batch, handing the batch over first when e
// would not fit.
func (s *sink) add(e client.SendEntry) error {
	li := s.next
	if s.cfg.fifo {
		li = laneOf(e.MessageGroupId, len(s.lanes))
	}
	l := s.lanes[li]
	if len(l.fill) == maxBatch || l.bytes+len(e.MessageBody) > maxBatchBytes {
		if err := s.handOver(l); err != nil {
			return err
		}
		if !s.cfg.fifo {
			s.next = (s.next + 1) % len(s.lanes)
			l = s.lanes[s.next]
		}
	}
	e.Id = strconv.Itoa(len(l.fill))
	l.fill = append(l.fill, e)
	l.bytes += len(e.MessageBody)
	return nil
}

// handOver gives the lane's batch to its sender.
func (s *sink) handOver(l *lane) error {
	if len(l.fill) == 0 {
		return nil
	}
	s.mu.Lock()
	s.outstanding++
	s.mu.Unlock()
	select {
	case l.ch <- l.fill:
	case <-s.run.Done():
		return connectors.Errorf(s.cfg.table, "queue %s: the sink is stopping", s.cfg.queue)
	}
	l.fill, l.bytes = make([]client.SendEntry, 0, maxBatch), 0
	return nil
}

// laneOf picks a lane by a hash of the group id (FNV-1a).
func laneOf(key string, n int) int {
	if n == 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % uint32(n))
}

// flush hands every partial batch over and waits until all are sent.
func (s *sink) flush() error {
	for _, l := range s.lanes {
		if err := s.handOver(l); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for s.outstanding > 0 && s.err == nil && s.run.Err() == nil {
		s.cond.Wait()
	}
	err := s.err
	stopped := s.outstanding > 0
	s.mu.Unlock()
	if err == nil && stopped {
		err = connectors.Errorf(s.cfg.table, "queue %s: the sink is stopping", s.cfg.queue)
	}
	if err != nil {
		return err
	}
	return s.flushBad()
}

// check returns the error of a failed send, if any.
func (s *sink) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// OnBarrier sends what the checkpoint covers before it is taken.
func (s *sink) OnBarrier(runtime.Barrier, runtime.Output) error { return s.flush() }

// Finish sends what is left at the end of input.
func (s *sink) Finish(runtime.Output) error { return s.flush() }

// OnProcessingTime reports a failed send while no rows come.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	s.ctx.RegisterProcessingTimer(now + errCheckInterval.Milliseconds())
	if err := s.check(); err != nil {
		return err
	}
	return s.flushBad()
}

// reject reports a message that cannot be sent as a bad record.
func (s *sink) reject(body, reason string) error {
	err := s.cfg.bad.Report(s.ctx.Logger(), connectors.Where{Queue: s.cfg.queue}, fmt.Errorf("%s", reason), []byte(body))
	if err == nil {
		s.bad.Add(1)
	}
	return err
}

// flushBad counts the bad records in the metrics and writes them to
// 'errors.path' (the subtask's goroutine).
func (s *sink) flushBad() error {
	if n := s.bad.Swap(0); n > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(int(n))
	}
	return s.cfg.bad.Flush()
}

// sender is the goroutine of a lane: it sends the lane's batches one at a
// time until the sink closes.
func (s *sink) sender(l *lane) {
	defer s.senders.Done()
	for {
		select {
		case batch := <-l.ch:
			err := s.send(batch)
			s.mu.Lock()
			s.outstanding--
			if err != nil && s.err == nil {
				s.err = err
			}
			s.cond.Broadcast()
			s.mu.Unlock()
		case <-s.run.Done():
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
			return
		}
	}
}

// send sends one batch, retrying what the queue failed on its side.
func (s *sink) send(entries []client.SendEntry) error {
	backoff := minBackoff
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(s.run, backoff); err != nil {
				return connectors.Errorf(s.cfg.table, "queue %s: stopped with %d messages not sent: %v", s.cfg.queue, len(entries), last)
			}
			backoff = min(2*backoff, maxBackoff)
		}
		out, err := s.cfg.sqs.SendBatch(s.run, s.url, entries)
		if err != nil {
			if !retryable(err) {
				return connectors.Errorf(s.cfg.table, "queue %s on %s: cannot send: %w", s.cfg.queue, s.cfg.where, err)
			}
			last = err
			continue
		}
		if len(out.Failed) == 0 {
			return nil
		}
		byID := make(map[string]client.SendEntry, len(entries))
		for _, e := range entries {
			byID[e.Id] = e
		}
		var again []client.SendEntry
		for _, f := range out.Failed {
			e, ok := byID[f.Id]
			if !ok {
				continue
			}
			if f.SenderFault {
				err := s.cfg.bad.Report(s.ctx.Logger(), connectors.Where{Queue: s.cfg.queue}, fmt.Errorf("refused: %s: %s", f.Code, f.Message), []byte(e.MessageBody))
				if err != nil {
					return err
				}
				s.bad.Add(1)
				continue
			}
			last = fmt.Errorf("%s: %s", f.Code, f.Message)
			again = append(again, e)
		}
		if len(again) == 0 {
			return nil
		}
		if len(again) < len(entries) { // progress: start counting again
			attempt, backoff = 0, minBackoff
		}
		for i := range again {
			again[i].Id = strconv.Itoa(i)
		}
		entries = again
	}
	return connectors.Errorf(s.cfg.table, "queue %s: %d messages not sent after %d tries in a row that sent nothing: %v", s.cfg.queue, len(entries), maxAttempts, last)
}

// Close stops the senders (what they hold unsent is dropped: the job
// failed or was cancelled).
func (s *sink) Close() error {
	if s.stopRun != nil {
		s.stopRun()
	}
	s.senders.Wait()
	return nil
}
