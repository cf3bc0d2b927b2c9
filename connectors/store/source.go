package store

import (
	"context"
	"errors"

	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// shardState is one shard a source subtask reads: one watermark partition,
// the shard's index in the lineage.
type shardState struct {
	id       string
	part     int
	startup  string // iterator type of the first read
	iterator string // "" before the first GetRecords
	lastSeq  string // sequence number of the last record read
	done     bool   // a closed shard read to its end
	children []client.ChildShard
}

// source is a subtask of a store source: it reads the shards the lineage
// gives it, round-robin, and drops each when it has read it to its end.
type source struct {
	cfg    *config
	runs   *lineages
	lin    *lineage
	ctx    *runtime.Context
	stop   *stopper
	dec    *format.JSONDecoder
	batch  *runtime.Batch
	shards []*shardState
	rr     int // next shard to read
	empty  int // shards read in a row that had nothing
	bad    int
}

// Open joins the run's lineage (the first subtask lists the shards) and
// takes the subtask's share of the shards ready to be read.
func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.stop = newStopper(ctx)
	s.dec = format.NewJSONDecoder(s.cfg.schema)
	s.batch = runtime.NewBatch(s.cfg.schema)
	if s.runs == nil {
		s.runs = &lineages{}
	}
	s.lin = s.runs.join(s.cfg, ctx)
	if err := s.lin.open(s.stop.ctx); err != nil {
		return err
	}
	s.takeShards()
	return nil
}

// takeShards adds the shards the lineage has newly given the subtask.
func (s *source) takeShards() {
	for _, n := range s.lin.take(s.ctx.Subtask) {
		s.shards = append(s.shards, &shardState{id: n.id, part: n.idx, startup: n.startup})
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
			continue
		}
		kept = append(kept, sh)
	}
	clear(s.shards[len(kept):])
	s.shards = kept
	s.takeShards()
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

// Poll reads one shard with one GetRecords call. When every shard has come
// back empty in turn, it sleeps idleSleep before returning nothing.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b, part, err := s.poll(ctx)
	if s.bad > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(s.bad)
	}
	s.bad = 0
	if err == nil && b == nil && s.empty >= len(s.shards) {
		s.empty = 0
		if sleep(ctx, idleSleep) != nil {
			return nil, 0, ctx.Err()
		}
	}
	return b, part, err
}

func (s *source) poll(ctx context.Context) (*runtime.Batch, int, error) {
	s.endShards()
	if len(s.shards) == 0 {
		s.empty = 1
		return nil, 0, nil
	}
	i := s.rr % len(s.shards)
	s.rr = i + 1
	sh := s.shards[i]
	if sh.iterator == "" {
		in := client.GetShardIteratorInput{StreamName: s.cfg.stream, ShardId: sh.id, ShardIteratorType: sh.startup}
		if sh.lastSeq != "" { // an expired iterator: go on after the last record read
			in.ShardIteratorType, in.StartingSequenceNumber = client.AfterSequenceNumber, sh.lastSeq
		}
		it, err := s.cfg.client.GetShardIterator(ctx, in)
		if err != nil {
			return nil, 0, s.apiError(sh, "cannot get an iterator", err)
		}
		sh.iterator = it
	}
	out, err := s.cfg.client.GetRecords(ctx, sh.iterator, runtime.DefaultBatchRows)
	if err != nil {
		var e *kstore.Error
		if errors.As(err, &e) && e.Code == kstore.ErrExpiredIterator {
			sh.iterator = ""
			return nil, 0, nil
		}
		return nil, 0, s.apiError(sh, "cannot read", err)
	}
	sh.iterator = out.NextShardIterator
	if out.NextShardIterator == "" { // a closed shard read to its end
		sh.done, sh.children = true, out.ChildShards
	}
	if len(out.Records) == 0 {
		s.empty++
		return nil, 0, nil
	}
	s.empty = 0
	s.batch.Reset()
	for _, r := range out.Records {
		sh.lastSeq = r.SequenceNumber
		if err := s.dec.Decode(r.Data, s.batch); err != nil {
			s.bad++
			s.cfg.log.Printf("table %s: stream %s shard %s record %s: %v (skipped)", s.cfg.table, s.cfg.stream, sh.id, r.SequenceNumber, err)
		}
	}
	if s.batch.N == 0 {
		return nil, 0, nil
	}
	return s.batch, sh.part, nil
}

// apiError decides whether a failed call fails the job: a transient error
// is reported and the shard is tried again at the next turn.
func (s *source) apiError(sh *shardState, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err // the job is stopping
	}
	if retryable(err) {
		s.empty++
		s.cfg.log.Printf("table %s: stream %s shard %s: %s: %v (retrying)", s.cfg.table, s.cfg.stream, sh.id, what, err)
		return nil
	}
	return s.cfg.errorf("stream %s shard %s: %s: %w", s.cfg.stream, sh.id, what, err)
}

// Close stops the subtask's goroutine and releases its batch.
func (s *source) Close() error {
	s.stop.close()
	if s.batch != nil {
		s.batch.Release()
		s.batch = nil
	}
	s.cfg.http.CloseIdleConnections()
	s.cfg.log.Flush("warnings")
	return nil
}
