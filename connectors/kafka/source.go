package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
)

// pollWait bounds how long Poll waits for a partition reader (the runtime
// asks for about 100 ms at most).
const pollWait = 50 * time.Millisecond

// maxReadFailures bounds the failed fetches in a row of one partition
// before the job fails.
const maxReadFailures = 10

// partState is one partition a source subtask reads: one watermark
// partition. Only the subtask's goroutine touches it.
type partState struct {
	topicPart
	id     int   // watermark partition
	next   int64 // offset of the next record to emit; kafka.FirstOffset: the earliest
	stop   int64 // bounded: the offset reading ends before; -1: unbounded
	leader string
	done   bool   // bounded, and read to its stop
	lag    string // its name in the lag metrics: topic/partition
}

// record is one record of a fetch; value points into the fetch's arena.
type record struct {
	offset int64
	value  []byte
	null   bool
	key    []byte // upsert-kafka only
}

// fetched is what a partition reader hands the subtask: records in offset
// order, the offset to read after them, and whether the partition is done.
type fetched struct {
	ps   *partState
	recs []record
	next int64
	end  bool
	err  error         // fails the job
	buf  *fetchBuffers // on the last hand-over of a fetch: its buffers, free once decoded
	// The fetch's high watermark and log start: once the hand-over is
	// emitted, the partition's lag (lag: set them).
	hw, logStart int64
	lag          bool
}

// source is a subtask of a kafka source. Each of its partitions has a
// reader goroutine that fetches records and hands them over one small
// channel (its backpressure), or to the decode workers' pool (decode.go);
// Poll emits one decoded hand-over per call, in the subtask's goroutine,
// and keeps each partition's position.
type source struct {
	cfg      *config
	ctx      *runtime.Context
	stop     context.CancelFunc
	runCtx   context.Context
	workers  []*worker                          // decoding state, one per worker
	pool     *decodepool.Pool[fetched, decoded] // nil: one worker, decoding in Poll
	batches  *decodepool.Batches
	out      *runtime.Batch // the batch the last Poll returned
	parts    []*partState   // in the order taken
	known    map[topicPart]*partState
	ids      map[topicPart]int
	live     int // partitions not done
	opened   bool
	started  []int
	ended    []int
	restored map[topicPart]partPos
	fetched  chan fetched
	found    chan []partitionInfo // discovery's latest listing
	readers  sync.WaitGroup
	timer    *time.Timer
	bad      int

	// free are fetch buffers decoded and ready for another fetch (a
	// free list: a sync.Pool loses them at every GC, and GC is frequent
	// while fetches stream in).
	free chan *fetchBuffers

	commitMu sync.Mutex
	pending  map[topicPart]int64 // offsets of the last snapshot, to commit
}

// Open lists the partitions, works out where each of the subtask's share
// starts (and, bounded, stops), and starts their readers.
func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.runCtx, s.stop = context.WithCancel(ctx.Ctx())
	s.fetched = make(chan fetched, 2)
	s.found = make(chan []partitionInfo, 1)
	s.known = map[topicPart]*partState{}
	s.ids = map[topicPart]int{}
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	s.free = make(chan *fetchBuffers, 8)

	all, err := s.cfg.listPartitions(s.runCtx)
	if err != nil {
		return err
	}
	var mine []partitionInfo
	for _, p := range all {
		if s.mine(p.topicPart) {
			mine = append(mine, p)
		}
	}
	if err := s.openDecoding(); err != nil {
		return err
	}
	if err := s.take(mine, true); err != nil {
		if s.pool != nil {
			s.pool.Close() // no reader started
		}
		return err
	}
	s.opened = true
	if s.cfg.bounded == "" && s.cfg.discovery > 0 {
		s.readers.Add(1)
		ctx.Go(func(context.Context) error { s.discover(); return nil })
	}
	return nil
}

// mine reports whether the subtask reads tp: its share at its
// parallelism or, as a task of a job several processes share, partition
// number Task.ID of every topic (the topics are co-partitioned).
func (s *source) mine(tp topicPart) bool {
	if tk := s.ctx.Task; tk != nil {
		return tp.part == tk.ID
	}
	return s.cfg.owner(tp, s.ctx.Parallelism) == s.ctx.Subtask
}

// id is the watermark partition of tp: the partition number for a single
// topic, else a number the subtask gives it.
func (s *source) id(tp topicPart) int {
	if s.cfg.pattern == nil && len(s.cfg.topics) == 1 {
		return tp.part
	}
	id, ok := s.ids[tp]
	if !ok {
		id = len(s.ids)
		s.ids[tp] = id
	}
	return id
}

// take starts reading partitions: at the job's start (atStart) from the
// startup mode or the restored position, later (discovered) from their
// earliest offset.
func (s *source) take(parts []partitionInfo, atStart bool) error {
	if len(parts) == 0 {
		return nil
	}
	states := make([]*partState, len(parts))
	for i, p := range parts {
		states[i] = &partState{topicPart: p.topicPart, id: s.id(p.topicPart), next: kafka.FirstOffset, stop: -1, leader: p.leader,
			lag: fmt.Sprintf("%s/%d", p.topic, p.part)}
	}
	if atStart {
		if err := s.startOffsets(states); err != nil {
			return err
		}
	}
	for _, ps := range states {
		s.known[ps.topicPart] = ps
		s.parts = append(s.parts, ps)
		if ps.stop >= 0 && ps.next >= ps.stop {
			ps.done = true
			continue
		}
		s.live++
		if s.opened {
			s.started = append(s.started, ps.id)
		}
		s.readers.Add(1)
		from, to := ps.next, ps.stop
		s.ctx.Go(func(context.Context) error { s.read(ps, from, to); return nil })
	}
	return nil
}

// startOffsets sets where the partitions start and stop: restored ones
// from their position, others by the startup and bounded modes.
func (s *source) startOffsets(states []*partState) error {
	c := s.cfg
	var need []*partState // partitions without a restored position
	for _, ps := range states {
		if p, ok := s.restored[ps.topicPart]; ok {
			ps.next, ps.stop = p.Next, p.Stop
			continue
		}
		need = append(need, ps)
	}
	if len(need) == 0 {
		return nil
	}
	if s.restored != nil {
		// Partitions the checkpoint does not know appeared since: they
		// are read from their start, as discovered ones are. A bounded
		// restored job reads them to their current end.
		if c.bounded == "" {
			return nil
		}
	}
	byTopic := func(ts func(*partState) int64) map[string][]kafka.OffsetRequest {
		m := map[string][]kafka.OffsetRequest{}
		for _, ps := range need {
			m[ps.topic] = append(m[ps.topic], kafka.OffsetRequest{Partition: ps.part, Timestamp: ts(ps)})
		}
		return m
	}
	list := func(ctx context.Context, cl *kafka.Client, ts int64) (map[topicPart]int64, error) {
		res, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: byTopic(func(*partState) int64 { return ts })})
		if err != nil {
			return nil, err
		}
		out := map[topicPart]int64{}
		for topic, parts := range res.Topics {
			for _, p := range parts {
				if p.Error != nil {
					return nil, fmt.Errorf("kafka topic %q partition %d: %w", topic, p.Partition, p.Error)
				}
				off := int64(-1)
				switch ts {
				case kafka.FirstOffset:
					off = p.FirstOffset
				case kafka.LastOffset:
					off = p.LastOffset
				default: // the first record at or after ts; -1: none
					for o := range p.Offsets {
						off = o
					}
				}
				out[topicPart{topic, p.Partition}] = off
			}
		}
		return out, nil
	}
	err := c.call(s.runCtx, func(ctx context.Context, cl *kafka.Client) error {
		end, err := list(ctx, cl, kafka.LastOffset)
		if err != nil {
			return err
		}
		var committed map[topicPart]int64
		if c.group != "" && (c.startup == startGroup || c.startup == startSpecific) && s.restored == nil {
			if committed, err = s.committed(ctx, cl, need); err != nil {
				return err
			}
		}
		var atTime map[topicPart]int64
		switch {
		case s.restored != nil:
		case c.startup == startLatest:
		case c.startup == startTime:
			if atTime, err = list(ctx, cl, c.startTs); err != nil {
				return err
			}
		}
		var boundAt map[topicPart]int64
		if c.bounded == startTime {
			if boundAt, err = list(ctx, cl, c.boundTs); err != nil {
				return err
			}
		}
		for _, ps := range need {
			tp := ps.topicPart
			switch {
			case s.restored != nil:
				ps.next = kafka.FirstOffset
			case c.startup == startLatest:
				ps.next = end[tp]
			case c.startup == startTime:
				if ps.next = atTime[tp]; ps.next < 0 {
					ps.next = end[tp]
				}
			case c.startup == startSpecific && c.specific[int32(tp.part)] >= 0 && hasKey(c.specific, int32(tp.part)):
				ps.next = c.specific[int32(tp.part)]
			case committed != nil:
				if o, ok := committed[tp]; ok && o >= 0 {
					ps.next = o
				} else if c.resetLate {
					ps.next = end[tp]
				}
			}
			switch c.bounded {
			case startLatest:
				ps.stop = end[tp]
			case startTime:
				if ps.stop = boundAt[tp]; ps.stop < 0 {
					ps.stop = end[tp]
				}
			}
			if ps.stop >= 0 && ps.next == kafka.FirstOffset {
				// Bounded: the earliest offset is needed to see whether
				// there is anything to read.
				first, err := list(ctx, cl, kafka.FirstOffset)
				if err != nil {
					return err
				}
				for _, q := range need {
					if q.next == kafka.FirstOffset {
						q.next = first[q.topicPart]
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return c.brokerError("cannot find where to start reading", err)
	}
	return nil
}

func hasKey[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// committed fetches the group's committed offsets of the partitions (-1:
// none).
func (s *source) committed(ctx context.Context, cl *kafka.Client, parts []*partState) (map[topicPart]int64, error) {
	req := &kafka.OffsetFetchRequest{GroupID: s.cfg.group, Topics: map[string][]int{}}
	for _, ps := range parts {
		req.Topics[ps.topic] = append(req.Topics[ps.topic], ps.part)
	}
	res, err := cl.OffsetFetch(ctx, req)
	if err == nil && errors.Is(res.Error, kafka.GroupIdNotFound) {
		return map[topicPart]int64{}, nil // a group that never committed
	}
	if err != nil {
		return nil, fmt.Errorf("group %q: cannot fetch the committed offsets: %w", s.cfg.group, err)
	}
	if res.Error != nil {
		return nil, fmt.Errorf("group %q: cannot fetch the committed offsets: %w", s.cfg.group, res.Error)
	}
	out := map[topicPart]int64{}
	for topic, parts := range res.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return nil, fmt.Errorf("group %q topic %q partition %d: %w", s.cfg.group, topic, p.Partition, p.Error)
			}
			out[topicPart{topic, p.Partition}] = p.CommittedOffset
		}
	}
	return out, nil
}

// Partitions are the watermark partitions the subtask reads from the start.
func (s *source) Partitions() []int {
	var out []int
	for _, ps := range s.parts {
		if !ps.done {
			out = append(out, ps.id)
		}
	}
	return out
}

// PartitionChanges reports partitions discovered since the last call and
// those read to their bounded end.
func (s *source) PartitionChanges() (started, ended []int) {
	started, ended = s.started, s.ended
	s.started, s.ended = nil, nil
	return started, ended
}

// Poll emits the next hand-over of a partition reader, decoded, waiting up
// to pollWait for one. A bounded subtask ends (io.EOF) once every partition
// is done.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.batches.Put(s.out) // no longer borrowed
	s.out = nil
	select {
	case parts := <-s.found:
		if err := s.discovered(parts); err != nil {
			return nil, 0, err
		}
	default:
	}
	if s.cfg.bounded != "" && s.live == 0 {
		return nil, 0, io.EOF
	}
	var d decoded
	var ok bool
	var err error
	if s.pool != nil {
		d, ok, err = s.pool.Next(ctx, s.timer, pollWait)
	} else {
		var f fetched
		if f, ok, err = connectors.Receive(ctx, s.fetched, s.timer, pollWait); ok {
			d = s.decodeChunk(s.workers[0], f)
		}
	}
	if !ok {
		return nil, 0, err
	}
	f := d.f
	b, part, err := s.emit(d)
	if s.bad > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(s.bad)
	}
	s.bad = 0
	if ferr := s.cfg.bad.Flush(); err == nil {
		err = ferr
	}
	if f.buf != nil {
		// Emitted (rows and bad records copied what they keep): the
		// buffers serve another fetch.
		select {
		case s.free <- f.buf:
		default:
		}
	}
	if err != nil {
		return nil, 0, err
	}
	return b, part, nil
}

// discovered starts reading the subtask's partitions that are new in a
// listing.
func (s *source) discovered(parts []partitionInfo) error {
	var fresh []partitionInfo
	for _, p := range parts {
		if _, ok := s.known[p.topicPart]; !ok && s.mine(p.topicPart) {
			fresh = append(fresh, p)
		}
	}
	return s.take(fresh, false)
}

// badRecord handles a record that could not be decoded or has no sane
// event time: it fails the job when asked to, and otherwise counts it and
// reports it.
func (s *source) badRecord(ps *partState, r record, err error) error {
	where := connectors.Where{Topic: ps.topic, Partition: ps.part, Offset: r.offset}
	if err := s.cfg.bad.Report(s.ctx.Logger(), where, err, r.value); err != nil {
		return err
	}
	s.bad++
	return nil
}

// read is the reader goroutine of one partition: it fetches from offset
// next on (kafka.FirstOffset: the earliest) until stop (-1: never) and hands
// the records to the subtask in chunks of at most a batch (an empty
// partition read from its earliest offset keeps asking for it, so that
// records below a later log start are not skipped). Failed fetches
// are retried with backoff; after maxReadFailures in a row, or an error
// that retrying cannot mend, the job fails.
func (s *source) read(ps *partState, next, stop int64) {
	defer s.readers.Done()
	ctx := s.runCtx
	// ps belongs to the subtask: only its identity and its fixed fields
	// (topic, partition, leader) are used here.
	tp, leader := ps.topicPart, ps.leader
	lagName := fmt.Sprintf("%s/%d", tp.topic, tp.part)
	tr := s.cfg.transport()
	defer tr.CloseIdleConnections()
	cl := s.cfg.client(tr)
	fail := func(err error) {
		s.send(ctx, fetched{ps: ps, err: connectors.Errorf(s.cfg.table, "kafka %s on %s: %w", tp, leader, err)})
	}
	failures := 0
	backoff := minBackoff
	retry := func(err error) bool {
		failures++
		if failures >= maxReadFailures || ctx.Err() != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("%d fetches failed in a row, the last: %w", failures, err))
			}
			return false
		}
		s.cfg.log.Warn(s.ctx.Logger(), "table %s: kafka %s on %s: %v (retrying)", s.cfg.table, tp, leader, err)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	var buf *fetchBuffers
	for ctx.Err() == nil {
		if stop >= 0 && next >= stop {
			s.send(ctx, fetched{ps: ps, next: next, end: true}) // its emission sets the lag to 0
			return
		}
		fctx, cancel := context.WithTimeout(ctx, fetchWait+callTimeout)
		res, err := cl.Fetch(fctx, &kafka.FetchRequest{Topic: tp.topic, Partition: tp.part, Offset: next,
			MinBytes: 1, MaxBytes: fetchBytes, MaxWait: fetchWait})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			cancel()
			if errors.Is(err, kafka.OffsetOutOfRange) {
				s.cfg.log.Warn(s.ctx.Logger(), "table %s: kafka %s: offset %d is no longer in the log: reading on from the earliest offset", s.cfg.table, tp, next)
				next = kafka.FirstOffset
			}
			if !retry(err) {
				return
			}
			continue
		}
		failures, backoff = 0, minBackoff
		if buf == nil {
			select {
			case buf = <-s.free:
			default:
				// As large as a fetch can be: growing it record by
				// record would copy it over and over.
				buf = &fetchBuffers{arena: make([]byte, 0, fetchBytes), recs: make([]record, 0, 8192)}
			}
		}
		recs, arena := buf.recs[:0], buf.arena[:0]
		end := false
		for {
			r, err := res.Records.ReadRecord()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					cancel()
					fail(fmt.Errorf("cannot read a fetched record after offset %d: %w", next, err))
					return
				}
				break
			}
			if r.Offset < next && next >= 0 {
				continue
			}
			if stop >= 0 && r.Offset >= stop {
				end = true
				break
			}
			rec := record{offset: r.Offset, null: r.Value == nil}
			if r.Value != nil {
				start, n := len(arena), r.Value.Len()
				arena = slices.Grow(arena, n)[:start+n] // no zeroing: ReadFull fills it
				if _, err := io.ReadFull(r.Value, arena[start:]); err != nil {
					cancel()
					fail(fmt.Errorf("cannot read record %d: %w", r.Offset, err))
					return
				}
				rec.value = arena[start:len(arena):len(arena)]
			}
			if s.cfg.upsert && r.Key != nil {
				start, n := len(arena), r.Key.Len()
				arena = slices.Grow(arena, n)[:start+n]
				if _, err := io.ReadFull(r.Key, arena[start:]); err != nil {
					cancel()
					fail(fmt.Errorf("cannot read the key of record %d: %w", r.Offset, err))
					return
				}
				rec.key = arena[start:len(arena):len(arena)]
			}
			recs = append(recs, rec)
			if next < 0 || r.Offset >= next {
				next = r.Offset + 1
			}
		}
		cancel()
		if end {
			next = stop
		}
		hw, logStart := res.HighWatermark, res.LogStartOffset
		if len(recs) == 0 {
			// Nothing new (or nothing the job wants): the lag as it is.
			s.ctx.SetPartitionLag(lagName, -1, offsetLag(next, stop, hw, logStart))
		}
		// Keep what the buffers grew to, for the fetches to come.
		buf.recs, buf.arena = recs, arena
		// Hand the records over a batch at a time; the last hand-over
		// gives the buffers back once the subtask has emitted it (the
		// hand-overs are emitted in order), for a later fetch to reuse.
		for len(recs) > 0 {
			n := min(len(recs), runtime.DefaultBatchRows)
			f := fetched{ps: ps, recs: recs[:n], hw: hw, logStart: logStart, lag: true}
			recs = recs[n:]
			if len(recs) == 0 {
				f.next, f.end = next, end || stop >= 0 && next >= stop
				f.buf, buf = buf, nil
			} else {
				f.next = f.recs[n-1].offset + 1
			}
			// Once emitted, what is left after these records is the
			// partition's lag (emit).
			if !s.send(ctx, f) {
				return
			}
			if f.end {
				return
			}
		}
	}
}

// fetchBuffers are what a fetch's records are copied into (arena) and
// listed in (recs); a source recycles them once they are decoded.
type fetchBuffers struct {
	arena []byte
	recs  []record
}

// offsetLag is how many records of a partition are left to read after a
// fetch: from next (kafka.FirstOffset: the earliest, the log start) to the
// high watermark, or to stop (-1: none) when that comes first.
func offsetLag(next, stop, highWatermark, logStart int64) int64 {
	end := highWatermark
	if stop >= 0 {
		end = min(end, stop)
	}
	if next < 0 {
		next = max(logStart, 0)
	}
	return max(end-next, 0)
}

// send hands f to the subtask (through the decode workers, when they
// decode); false when the source is stopping.
func (s *source) send(ctx context.Context, f fetched) bool {
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

// sleep waits d; false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// discover lists the partitions every discovery interval and hands the
// listing to the subtask (replacing one not yet taken). A failed listing
// is reported and tried again at the next interval.
func (s *source) discover() {
	defer s.readers.Done()
	ctx := s.runCtx
	for sleep(ctx, s.cfg.discovery) {
		parts, err := s.cfg.listPartitions(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.log.Warn(s.ctx.Logger(), "%v (looking for new partitions again in %v)", err, s.cfg.discovery)
			}
			continue
		}
		select {
		case <-s.found:
		default:
		}
		s.found <- parts
	}
}

// Close stops the readers and waits for them, and releases the batch.
func (s *source) Close() error {
	if s.stop != nil {
		s.stop()
	}
	s.readers.Wait()
	if s.pool != nil {
		s.pool.Close()
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.batches != nil {
		s.batches.Put(s.out)
		s.out = nil
		s.batches.Close()
	}
	err := s.cfg.bad.Flush()
	s.cfg.log.WarnFlush(s.ctx.Logger(), "warnings")
	return err
}
