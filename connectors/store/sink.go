package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// sink is a subtask of a store sink. Records go to one of
// 'sink.requests.max-inflight' lanes by the shard their partition key maps
// to (the stream's open shards, listed at Open and every
// shardRefreshInterval; all lanes are flushed before the map changes), so
// that each shard receives the subtask's records in order. Each
// lane has a sender goroutine that sends, one PutRecords at a time (at most
// 500 records and 5 MiB each), everything that has gathered in the lane
// while its previous request was in flight — group commit on the producer
// side: a busy lane sends big requests, an idle one sends each batch at
// once. The records of a key stay in order; lanes run concurrently.
//
// ProcessBatch returns once the rows are in their lanes (it waits when a
// lane holds more than maxLaneBytes: backpressure). At a checkpoint barrier
// and at the end of input, the sink waits until every lane has been
// written: what a checkpoint covers is in the store (at-least-once: a
// retried request may write a record twice). A failed lane fails the job
// at the next batch, barrier or timer tick.
type sink struct {
	runtime.Base
	cfg *config
	ctx *runtime.Context
	// run is cancelled when the job stops or the sink closes: API calls
	// and the senders give up then.
	run     context.Context
	stopRun context.CancelFunc

	prefix  string // of round-robin keys: the subtask
	rr      uint64 // next round-robin key
	lanes   []*sinkLane
	senders sync.WaitGroup

	starts    []kstore.HashKey // starting hash keys of the open shards, sorted
	refreshed int64            // when starts was listed (ms)
}

// shardRefreshInterval is how often a sink lists the stream's shards again
// to follow splits and merges.
const shardRefreshInterval = 30 * time.Second

// sinkLane is one lane: records appended by the subtask, taken by its
// sender. Fields below mu are guarded by it.
type sinkLane struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when the sender takes or finishes
	wake    chan struct{}
	buf     []byte // the JSON of the pending records, back to back
	ends    []int  // end offset in buf of each pending record
	keys    []string
	busy    bool  // the sender is writing what it took
	err     error // the lane failed
	stopped bool
}

// maxLaneBytes bounds the bytes waiting in a lane before ProcessBatch
// waits for its sender.
const maxLaneBytes = 4 * kstore.MaxPutRecordsBytes

// errCheckInterval: a sink with no rows coming still reports a failed
// lane this soon.
const errCheckInterval = time.Second

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.run, s.stopRun = context.WithCancel(ctx.Ctx())
	s.prefix = strconv.Itoa(ctx.Subtask) + "-"
	if err := s.cfg.ensureStream(s.run); err != nil {
		return err
	}
	starts, err := s.listShards()
	if err != nil {
		return err
	}
	s.starts, s.refreshed = starts, ctx.Now()
	for range s.cfg.inflight {
		l := &sinkLane{wake: make(chan struct{}, 1)}
		l.cond = sync.NewCond(&l.mu)
		s.lanes = append(s.lanes, l)
		s.senders.Add(1)
		ctx.Go(func(context.Context) error { s.send(l); return nil })
	}
	ctx.RegisterProcessingTimer(ctx.Now() + errCheckInterval.Milliseconds())
	return nil
}

// ProcessBatch encodes the present rows into their lanes and wakes their
// senders.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	var scratch []byte
	for i := 0; i < b.Len(); i++ {
		key := s.key(b, i)
		scratch = format.AppendJSON(scratch[:0], b, i)
		if len(scratch) > kstore.MaxRecordBytes {
			return connectors.Errorf(s.cfg.table, "a row encodes to %d bytes of JSON, over the store's record limit of %d", len(scratch), kstore.MaxRecordBytes)
		}
		l := s.lanes[s.laneOf(key)]
		l.mu.Lock()
		for len(l.buf) >= maxLaneBytes && l.err == nil && !l.stopped {
			l.cond.Wait()
		}
		if l.err != nil || l.stopped {
			err := l.err
			l.mu.Unlock()
			return s.failed(err)
		}
		l.buf = append(l.buf, scratch...)
		l.ends = append(l.ends, len(l.buf))
		l.keys = append(l.keys, key)
		l.mu.Unlock()
		l.notify()
	}
	return s.check()
}

func (l *sinkLane) notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// failed is the error a subtask returns for a failed or stopped lane.
func (s *sink) failed(err error) error {
	if err != nil {
		return err
	}
	return connectors.Errorf(s.cfg.table, "stream %s: the sink is stopping", s.cfg.stream)
}

// check returns the error of a failed lane, if any.
func (s *sink) check() error {
	for _, l := range s.lanes {
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// flush waits until every lane has written what it holds.
func (s *sink) flush() error {
	for _, l := range s.lanes {
		l.notify()
		l.mu.Lock()
		for (len(l.ends) > 0 || l.busy) && l.err == nil && !l.stopped {
			l.cond.Wait()
		}
		err, stopped := l.err, l.stopped && (len(l.ends) > 0 || l.busy)
		l.mu.Unlock()
		if err != nil {
			return err
		}
		if stopped {
			return s.failed(nil)
		}
	}
	return nil
}

// OnBarrier makes what the checkpoint covers durable before it is taken.
func (s *sink) OnBarrier(runtime.Barrier, runtime.Output) error { return s.flush() }

// Finish writes what is left at the end of input.
func (s *sink) Finish(runtime.Output) error { return s.flush() }

// OnProcessingTime reports a failed lane while no rows come, and follows
// resharding.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	s.ctx.RegisterProcessingTimer(now + errCheckInterval.Milliseconds())
	if err := s.check(); err != nil {
		return err
	}
	if now-s.refreshed < shardRefreshInterval.Milliseconds() {
		return nil
	}
	s.refreshed = now
	starts, err := s.listShards()
	if err != nil {
		if retryable(err) {
			return nil // next time
		}
		return err
	}
	if slices.Equal(starts, s.starts) {
		return nil
	}
	// Records in flight keep their order: write them before keys move.
	if err := s.flush(); err != nil {
		return err
	}
	s.starts = starts
	return nil
}

// listShards returns the sorted starting hash keys of the open shards.
func (s *sink) listShards() ([]kstore.HashKey, error) {
	all, err := s.cfg.client.ListShards(s.run, s.cfg.stream)
	if err != nil {
		return nil, s.cfg.listError(s.run, err)
	}
	var starts []kstore.HashKey
	for _, sh := range all {
		if !sh.Open() {
			continue
		}
		h, err := kstore.ParseHashKey(sh.HashKeyRange.StartingHashKey)
		if err != nil {
			return nil, connectors.Errorf(s.cfg.table, "stream %s: shard %s: %v", s.cfg.stream, sh.ShardId, err)
		}
		starts = append(starts, h)
	}
	slices.SortFunc(starts, kstore.HashKey.Cmp)
	return starts, nil
}

// laneOf picks the lane of a partition key: by the shard it maps to.
func (s *sink) laneOf(key string) int {
	if len(s.lanes) == 1 {
		return 0
	}
	if len(s.starts) == 0 {
		return laneOf(key, len(s.lanes))
	}
	h := kstore.HashKeyOf(key)
	i, _ := slices.BinarySearchFunc(s.starts, h, kstore.HashKey.Cmp)
	if i == len(s.starts) || s.starts[i] != h {
		i-- // the shard whose range starts below h
	}
	return max(i, 0) % len(s.lanes)
}

// send is the sender goroutine of a lane: it takes everything pending and
// writes it in order, in requests of at most MaxPutRecords records and
// MaxPutRecordsBytes, until the sink closes.
func (s *sink) send(l *sinkLane) {
	defer s.senders.Done()
	var (
		buf     []byte
		ends    []int
		keys    []string
		entries []client.PutRecordsEntry
	)
	for {
		select {
		case <-l.wake:
		case <-s.run.Done():
			l.mu.Lock()
			l.stopped = true
			l.cond.Broadcast()
			l.mu.Unlock()
			return
		}
		for {
			l.mu.Lock()
			if len(l.ends) == 0 || l.err != nil {
				l.mu.Unlock()
				break
			}
			// Swap buffers: the subtask fills the other one meanwhile.
			buf, l.buf = l.buf, buf[:0]
			ends, l.ends = l.ends, ends[:0]
			keys, l.keys = l.keys, keys[:0]
			l.busy = true
			l.cond.Broadcast()
			l.mu.Unlock()

			var err error
			start, size := 0, 0
			for i, end := range ends {
				n := end - start + len(keys[i])
				if len(entries) == kstore.MaxPutRecords || size+n > kstore.MaxPutRecordsBytes {
					if err = s.put(entries); err != nil {
						break
					}
					clear(entries)
					entries, size = entries[:0], 0
				}
				entries = append(entries, client.PutRecordsEntry{Data: buf[start:end], PartitionKey: keys[i]})
				size += n
				start = end
			}
			if err == nil && len(entries) > 0 {
				err = s.put(entries)
			}
			clear(entries)
			clear(keys)
			entries = entries[:0]

			l.mu.Lock()
			l.busy = false
			if err != nil && l.err == nil {
				l.err = err
			}
			l.cond.Broadcast()
			l.mu.Unlock()
		}
	}
}

// laneOf picks a lane by a hash of the key (FNV-1a), when the shards are
// not known.
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

// key returns the partition key of row i: the partition-key column's text,
// or a round-robin key.
func (s *sink) key(b *runtime.Batch, i int) string {
	if s.cfg.keyCol >= 0 {
		v := &b.Cols[s.cfg.keyCol]
		if r := b.Row(i); !v.IsNull(r) {
			k := v.Value(r).String()
			if len(k) > kstore.MaxPartitionKeyChars {
				k = truncate(k, kstore.MaxPartitionKeyChars)
			}
			if k != "" {
				return k
			}
		}
	}
	s.rr++
	return s.prefix + strconv.FormatUint(s.rr, 10)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *sink) put(entries []client.PutRecordsEntry) error {
	backoff := minBackoff
	var last error
	// attempt counts the tries since the last one that wrote a record.
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(s.run, backoff); err != nil {
				return connectors.Errorf(s.cfg.table, "stream %s: stopped with %d records not written: %w", s.cfg.stream, len(entries), last)
			}
			backoff = min(2*backoff, maxBackoff)
		}
		out, err := s.cfg.client.PutRecords(s.run, s.cfg.stream, entries)
		if err != nil {
			if !retryable(err) {
				return connectors.Errorf(s.cfg.table, "stream %s: %w", s.cfg.stream, err)
			}
			last = err
			continue
		}
		if out.FailedRecordCount == 0 {
			return nil
		}
		if len(out.Records) != len(entries) {
			return connectors.Errorf(s.cfg.table, "stream %s: PutRecords answered %d results for %d records", s.cfg.stream, len(out.Records), len(entries))
		}
		failed := entries[:0]
		for i, r := range out.Records {
			if r.ErrorCode == "" {
				continue
			}
			e := &kstore.Error{Code: r.ErrorCode, Message: r.ErrorMessage}
			if !retryable(e) {
				return connectors.Errorf(s.cfg.table, "stream %s: record with partition key %q: %w", s.cfg.stream, entries[i].PartitionKey, e)
			}
			last = e
			failed = append(failed, entries[i])
		}
		if len(failed) < len(entries) { // progress: start counting again
			attempt, backoff = 0, minBackoff
		}
		entries = failed
		if len(entries) == 0 {
			return nil
		}
	}
	return connectors.Errorf(s.cfg.table, "stream %s: %d records not written after %d tries in a row that wrote nothing: %w", s.cfg.stream, len(entries), maxAttempts, last)
}

// retryable decides, for the whole connector, whether an API call or a
// record that failed with err is tried again: throttling, internal failures
// and transport errors are; the store's refusals of the request are not.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *kstore.Error
	if !errors.As(err, &e) {
		return true // transport: connection refused, reset, timeout
	}
	switch e.Code {
	case kstore.ErrLimitExceeded, "ProvisionedThroughputExceededException", "InternalFailure",
		"ServiceUnavailable", "ThrottlingException", kstore.ErrExpiredIterator:
		return true
	}
	return len(e.Code) > 4 && e.Code[:4] == "HTTP" && e.Code >= "HTTP5"
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the senders (what they hold unwritten is dropped: the job
// failed or was cancelled) and drops idle connections.
func (s *sink) Close() error {
	if s.stopRun != nil {
		s.stopRun()
	}
	s.senders.Wait()
	s.cfg.http.CloseIdleConnections()
	return nil
}
