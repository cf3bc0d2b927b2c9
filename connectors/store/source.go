package store

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// pollWait bounds how long Poll waits for a shard reader (the runtime asks
// for about 100 ms at most, so that timers and barriers are not held up).
const pollWait = 50 * time.Millisecond

// shardState is one shard a source subtask reads: one watermark partition,
// the shard's index in the lineage.
type shardState struct {
	id       string
	part     int
	startup  string // iterator type of the first read, when after is ""
	after    string // sequence number of the last record emitted (or restored)
	done     bool   // read to its end: its last records have been emitted
	children []client.ChildShard
}

// fetch is what a shard reader hands the subtask: one GetRecords answer.
type fetch struct {
	sh       *shardState
	recs     []client.Record
	end      bool // the shard has nothing more for this job
	children []client.ChildShard
	err      error // the shard cannot be read: fails the job
}

// source is a subtask of a store source. Each of its shards has a reader
// goroutine that long-polls GetRecords and hands the answers over a small
// channel (its backpressure), or to the decode workers' pool (decode.go);
// Poll emits one decoded answer per call, in the subtask's goroutine, and
// keeps each shard's position: the sequence number of the last record
// emitted.
type source struct {
	cfg      *config
	runs     *lineages
	lin      *lineage
	ctx      *runtime.Context
	run      context.Context // cancelled when the job stops or the source closes
	stopRun  context.CancelFunc
	workers  []*worker                        // decoding state, one per worker
	pool     *decodepool.Pool[fetch, decoded] // nil: one worker, decoding in Poll
	batches  *decodepool.Batches
	out      *runtime.Batch // the batch the last Poll returned
	shards   []*shardState
	ended    []string // shards this subtask read to their end
	opened   bool     // Open has returned: new shards are reported as started
	started  []int    // partitions started since the last PartitionChanges
	stopped  []int    // partitions ended since the last PartitionChanges
	restored *position
	fetched  chan fetch
	readers  sync.WaitGroup
	timer    *time.Timer
	bad      int
}

// Open joins the run's lineage (the first subtask lists the shards) and
// starts readers for the subtask's share of the shards ready to be read.
func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.run, s.stopRun = context.WithCancel(ctx.Ctx())
	s.fetched = make(chan fetch, 2)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	if s.runs == nil {
		s.runs = &lineages{}
	}
	s.lin = s.runs.join(s.cfg, ctx)
	if err := s.lin.open(s.run, s.restored); err != nil {
		return err
	}
	s.openDecoding()
	s.takeShards()
	s.opened = true
	return nil
}

// takeShards starts reading the shards the lineage has newly given the
// subtask.
func (s *source) takeShards() {
	for _, n := range s.lin.take(s.ctx.Subtask) {
		sh := &shardState{id: n.ID, part: n.Index, startup: n.startup, after: n.after}
		s.shards = append(s.shards, sh)
		if s.opened {
			s.started = append(s.started, sh.part)
		}
		s.readers.Add(1)
		read := s.read
		if s.cfg.efo != nil {
			read = s.readEFO
		}
		s.ctx.Go(func(context.Context) error { read(sh); return nil })
	}
}

// endShards reports the shards read to their end to the lineage and drops
// them: their partitions stop holding back the watermark once idle. It runs
// at the start of a Poll, so the last batch of a parent has been emitted
// before a child is read.
func (s *source) endShards() {
	kept := s.shards[:0]
	for _, sh := range s.shards {
		if sh.done {
			s.lin.end(s.ctx.Subtask, sh.id, sh.children)
			s.ended = append(s.ended, sh.id)
			s.stopped = append(s.stopped, sh.part)
			continue
		}
		kept = append(kept, sh)
	}
	clear(s.shards[len(kept):])
	s.shards = kept
	s.takeShards()
}

// PartitionChanges reports the shards taken since the last call (children
// of split or merged shards: they hold back the watermark until they
// deliver) and those read to their end (they stop holding it back).
func (s *source) PartitionChanges() (started, ended []int) {
	started, ended = s.started, s.stopped
	s.started, s.stopped = nil, nil
	return started, ended
}

// Partitions are the watermark partitions of the shards the subtask reads
// from the start: their indexes in the lineage.
func (s *source) Partitions() []int {
	parts := make([]int, len(s.shards))
	for i, sh := range s.shards {
		parts[i] = sh.part
	}
	return parts
}

// Poll emits the next answer of a shard reader, decoded, waiting up to
// pollWait for one. A bounded source ends (io.EOF) when it has no shard
// left.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.batches.Put(s.out) // no longer borrowed
	s.out = nil
	s.endShards()
	if len(s.shards) == 0 && s.cfg.bounded {
		return nil, 0, io.EOF
	}
	var d decoded
	var ok bool
	var err error
	if s.pool != nil {
		d, ok, err = s.pool.Next(ctx, s.timer, pollWait)
	} else {
		var f fetch
		if f, ok, err = connectors.Receive(ctx, s.fetched, s.timer, pollWait); ok {
			d = s.decodeChunk(s.workers[0], f)
		}
	}
	if !ok {
		return nil, 0, err
	}
	b, part, err := s.emit(d)
	if s.bad > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(s.bad)
	}
	s.bad = 0
	if ferr := s.cfg.bad.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, 0, err
	}
	return b, part, nil
}

// read is the reader goroutine of one shard: it long-polls GetRecords from
// the shard's position and hands every non-empty answer, and the shard's
// end, to the subtask. Transient failures are retried with backoff; others
// go to the subtask, which fails the job.
func (s *source) read(sh *shardState) {
	defer s.readers.Done()
	r := s.newShardReader(sh)
	ctx := r.ctx
	it := ""
	for ctx.Err() == nil {
		if it == "" {
			in := client.GetShardIteratorInput{StreamName: s.cfg.stream, ShardId: sh.id, ShardIteratorType: r.startup}
			if r.startup == client.AtTimestamp {
				ts := time.UnixMilli(s.lin.startTs)
				in.Timestamp = &ts
			}
			if r.last != "" { // restored, or an expired iterator: go on after the last record
				in.ShardIteratorType, in.StartingSequenceNumber = client.AfterSequenceNumber, r.last
			}
			var err error
			if it, err = s.cfg.client.GetShardIterator(ctx, in); err != nil {
				if !r.retry("cannot get an iterator", err) {
					return
				}
				continue
			}
		}
		asked := time.Now()
		out, err := s.cfg.client.GetRecordsWait(ctx, it, s.cfg.limit, s.cfg.longPoll)
		if err != nil {
			var e *kstore.Error
			if errors.As(err, &e) && e.Code == kstore.ErrExpiredIterator {
				it = ""
				continue
			}
			if !r.retry("cannot read", err) {
				return
			}
			continue
		}
		it = out.NextShardIterator
		// NextShardIterator is empty once a closed shard has been read to its end.
		if !r.deliver(out.Records, out.NextShardIterator == "", out.ChildShards, out.MillisBehindLatest) {
			return
		}
		if len(out.Records) == 0 && time.Since(asked) < s.cfg.longPoll/2 || s.cfg.longPoll == 0 && len(out.Records) == 0 {
			// The server did not hold the call: poll at a gentle rate.
			if sleep(ctx, pollInterval) != nil {
				return
			}
		}
	}
}

// shardReader is what the reader goroutines of a shard — polling (read)
// and enhanced fan-out (readEFO) — share: the reader's own copy of the
// shard's position, retries with backoff, and handing records to the
// subtask.
type shardReader struct {
	s       *source
	sh      *shardState
	ctx     context.Context
	startup string // iterator type of the first read, when last is ""
	last    string // sequence number to read after
	backoff time.Duration
}

func (s *source) newShardReader(sh *shardState) *shardReader {
	return &shardReader{s: s, sh: sh, ctx: s.run, startup: sh.startup, last: sh.after, backoff: minBackoff}
}

// retry waits before the next try after a transient failure err and
// reports true; other failures go to the subtask (false), as does a
// stopping job.
func (r *shardReader) retry(what string, err error) bool {
	s, ctx := r.s, r.ctx
	if ctx.Err() != nil {
		return false
	}
	if !retryable(err) {
		s.send(ctx, fetch{err: connectors.Errorf(s.cfg.table, "stream %s shard %s on %s: %s: %w", s.cfg.stream, r.sh.id, s.cfg.where(), what, err)})
		return false
	}
	s.cfg.log.Warn(s.ctx.Logger(), "table %s: stream %s shard %s: %s: %v (retrying)", s.cfg.table, s.cfg.stream, r.sh.id, what, err)
	if sleep(ctx, r.backoff) != nil {
		return false
	}
	r.backoff = min(2*r.backoff, maxBackoff)
	return true
}

// deliver hands what one read found to the subtask: the records, and with
// end, the shard's end and the children that follow it; a bounded read
// ends the shard at the first record that arrived after its bound, or at
// an empty answer once the bound has settled. It reports false when the
// reader is done: the shard has ended, or the job is stopping.
func (r *shardReader) deliver(recs []client.Record, end bool, children []client.ChildShard, millisBehind int64) bool {
	s, ctx := r.s, r.ctx
	r.backoff = minBackoff
	f := fetch{sh: r.sh, recs: recs}
	if end {
		f.end, f.children = true, children
	}
	if s.cfg.bounded {
		for i, rec := range f.recs {
			if arrivalMillis(rec) > s.lin.bound {
				f.recs, f.end, f.children = f.recs[:i], true, nil
				break
			}
		}
		if len(recs) == 0 && time.Now().UnixMilli() >= s.lin.bound+boundedSettle.Milliseconds() {
			f.end = true
		}
	}
	if len(f.recs) > 0 {
		r.last = f.recs[len(f.recs)-1].SequenceNumber
	}
	if (len(f.recs) > 0 || f.end) && !s.send(ctx, f) {
		return false
	}
	// Once the subtask has taken the answer's records: how far the
	// shard's newest record is ahead of them.
	s.ctx.SetPartitionLag(r.sh.id, millisBehind, -1)
	return !f.end
}

// send hands f to the subtask (through the decode workers, when they
// decode); false when the job is stopping.
func (s *source) send(ctx context.Context, f fetch) bool {
	if s.pool != nil {
		return s.pool.Submit(ctx, f)
	}
	select {
	case s.fetched <- f:
		return true
	case <-ctx.Done():
		return false
	}
}

// arrivalMillis is a record's arrival time in epoch milliseconds.
func arrivalMillis(r client.Record) int64 {
	return int64(math.Round(r.ApproximateArrivalTimestamp * 1000))
}

// Close stops the shard readers and waits for them, and releases the batch.
func (s *source) Close() error {
	if s.stopRun != nil {
		s.stopRun()
	}
	s.readers.Wait()
	if s.pool != nil {
		s.pool.Close()
	}
	if s.batches != nil {
		s.batches.Put(s.out)
		s.out = nil
		s.batches.Close()
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cfg.http.CloseIdleConnections()
	s.cfg.log.WarnFlush(s.ctx.Logger(), "warnings")
	return nil
}
