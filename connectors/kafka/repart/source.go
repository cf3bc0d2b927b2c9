package repart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

const (
	pollWait   = 50 * time.Millisecond
	fetchWait  = 200 * time.Millisecond
	fetchBytes = 4 << 20
	// maxReadFailures is how many fetches in a row may fail before the
	// source gives up.
	maxReadFailures = 10
)

// rec is one fetched record.
type rec struct {
	offset int64
	value  []byte
}

// fetched is what the reader hands the subtask: records, or why it stopped.
type fetched struct {
	recs []rec
	err  error
}

// source reads partition ctx.Task.ID of the topic and passes on what the
// producers' commits release (see the package doc).
type source struct {
	cfg     Config
	ctx     *runtime.Context
	part    int
	r       *releaser
	cur     *release // being passed on
	curDone int      // items of cur passed on
	skip    *progress
	next    int64 // the offset after the last record taken
	queued  []rec
	fetched chan fetched
	stop    chan struct{}
	timer   *time.Timer
	batch   *runtime.Batch
	limit   int64
	gauge   *metrics.Gauge
	pos     *position // restored
	closed  bool
}

// position is a source's checkpointed position.
type position struct {
	Offset   int64     `json:"offset"`
	Released []int64   `json:"released"`
	Last     []string  `json:"last"` // the attempt of each producer's last release
	WM       []int64   `json:"wm"`
	Idle     []bool    `json:"idle"`
	Ended    []bool    `json:"ended"`
	Progress *progress `json:"progress,omitempty"`
}

// progress is how far the release under way had been passed on.
type progress struct {
	P       int    `json:"p"`
	Attempt string `json:"attempt"`
	N       int64  `json:"n"`
	Done    int    `json:"done"`
}

// NewSource returns the factory of a repartition source's subtasks (for
// runtime.NodeSpec.NewSource).
func NewSource(cfg Config) func() runtime.Source {
	return func() runtime.Source { return &source{cfg: cfg} }
}

var (
	_ runtime.WatermarkSource    = (*source)(nil)
	_ runtime.CheckpointedSource = (*source)(nil)
)

// Open starts reading the task's partition, from the restored position or
// the start.
func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	if err := s.cfg.check(ctx, "source"); err != nil {
		return err
	}
	s.part = ctx.Task.ID
	s.r = newReleaser(s.cfg.Partitions)
	s.limit = s.cfg.MaxBuffered
	if s.limit <= 0 {
		s.limit = DefaultMaxBuffered
	}
	if p := s.pos; p != nil {
		if len(p.Released) != s.cfg.Partitions || len(p.Last) != s.cfg.Partitions || len(p.WM) != s.cfg.Partitions || len(p.Idle) != s.cfg.Partitions || len(p.Ended) != s.cfg.Partitions {
			return fmt.Errorf("repartition %s: the checkpoint has %d producers, the job %d tasks", s.cfg.Table, len(p.Released), s.cfg.Partitions)
		}
		if pr := p.Progress; pr != nil && (pr.P < 0 || pr.P >= s.cfg.Partitions || pr.Done < 0) {
			return fmt.Errorf("repartition %s: bad checkpointed progress %+v", s.cfg.Table, *pr)
		}
		for i := range s.r.prods {
			pr := &s.r.prods[i]
			pr.released, pr.last, pr.wm, pr.idle, pr.ended = p.Released[i], p.Last[i], p.WM[i], p.Idle[i], p.Ended[i]
		}
		s.next, s.skip = p.Offset, p.Progress
	}
	s.batch = runtime.NewBatch(s.cfg.Schema)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	s.fetched = make(chan fetched, 4)
	s.stop = make(chan struct{})
	s.gauge = ctx.JobMetrics().GetOrCreateGauge(fmt.Sprintf(`sluice_repartition_buffered_bytes{job=%q,operator=%q,topic=%q,task="%d"}`, ctx.Job, ctx.Operator, s.cfg.Topic, s.part), nil)
	from, stop := s.next, s.stop
	ctx.Go(func(gctx context.Context) error { return s.read(gctx, from, stop) })
	return nil
}

// where names a record in errors.
func (s *source) where(offset int64) string {
	return fmt.Sprintf("repartition %s: kafka topic %q partition %d offset %d", s.cfg.Table, s.cfg.Topic, s.part, offset)
}

// Poll passes on what has been released, reading records until some is.
func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	s.batch.Reset()
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if s.cur != nil {
			if err := s.pass(); err != nil {
				return nil, 0, err
			}
			// Rows, or a mark that may move the watermark: the
			// runtime asks for it after each Poll.
			return s.batch, 0, nil
		}
		if rel := s.r.next(); rel != nil {
			s.cur, s.curDone = rel, 0
			if sk := s.skip; sk != nil && sk.P == rel.p && sk.N == rel.n && sk.Attempt == rel.attempt {
				s.curDone = min(sk.Done, len(rel.items))
				s.skip = nil
			}
			s.gauge.Set(float64(s.r.bytes))
			continue
		}
		if s.r.ended() {
			return nil, 0, io.EOF
		}
		if len(s.queued) == 0 {
			f, ok, err := connectors.Receive(ctx, s.fetched, s.timer, pollWait)
			if !ok {
				return nil, 0, err
			}
			if f.err != nil {
				return nil, 0, f.err
			}
			s.queued = f.recs
		}
		// Take the records up to the first commit (so that releases
		// happen in the order the commits were read).
		for len(s.queued) > 0 {
			rc := s.queued[0]
			s.queued = s.queued[1:]
			h, body, err := decodeHeader(rc.value)
			if err == nil {
				err = s.r.add(h, body, rc.offset)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", s.where(rc.offset), err)
			}
			s.next = rc.offset + 1
			if s.r.bytes > s.limit {
				s.gauge.Set(float64(s.r.bytes))
				return nil, 0, fmt.Errorf("%s: %d bytes wait for commits, more than %d: the upstream tasks' commits lag (a shorter --checkpoint-interval keeps less waiting)", s.where(rc.offset), s.r.bytes, s.limit)
			}
			if h.kind == kCommit {
				break
			}
		}
		s.gauge.Set(float64(s.r.bytes))
	}
}

// pass passes on the items of the release under way: rows up to a batch,
// stopping before a mark when it has rows, or after one mark.
func (s *source) pass() error {
	rel := s.cur
	for s.curDone < len(rel.items) {
		it := rel.items[s.curDone]
		if it.kind == kData {
			if s.batch.N >= runtime.DefaultBatchRows {
				return nil
			}
			if err := decodeRows(it.body, s.batch); err != nil {
				return fmt.Errorf("%s: %w", s.where(it.offset), err)
			}
			s.curDone++
			continue
		}
		if s.batch.N > 0 {
			return nil
		}
		s.r.apply(rel.p, it)
		s.curDone++
		return nil
	}
	s.cur = nil
	return nil
}

// Watermark is the least watermark of the producers that hold it back.
func (s *source) Watermark() (int64, bool) { return s.r.watermark() }

// SnapshotPosition records the earliest record still needed and the
// producers' marks, as of the rows passed on so far.
func (s *source) SnapshotPosition() ([]byte, error) {
	n := len(s.r.prods)
	p := position{Offset: s.next, Released: make([]int64, n), Last: make([]string, n), WM: make([]int64, n), Idle: make([]bool, n), Ended: make([]bool, n)}
	if o := s.r.minOffset(); o >= 0 && o < p.Offset {
		p.Offset = o
	}
	for i, pr := range s.r.prods {
		p.Released[i], p.Last[i], p.WM[i], p.Idle[i], p.Ended[i] = pr.released, pr.last, pr.wm, pr.idle, pr.ended
	}
	if c := s.cur; c != nil {
		p.Released[c.p], p.Last[c.p] = c.prevReleased, c.prevLast
		p.Offset = min(p.Offset, c.offset)
		for _, it := range c.items {
			p.Offset = min(p.Offset, it.offset)
		}
		p.Progress = &progress{P: c.p, Attempt: c.attempt, N: c.n, Done: s.curDone}
	} else if s.skip != nil {
		p.Progress = s.skip // restored, not reached again yet
	}
	return json.Marshal(p)
}

// RestorePositions takes the position of the restored task.
func (s *source) RestorePositions(positions [][]byte) error {
	switch len(positions) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("repartition %s: %d positions to restore, a task has one", s.cfg.Table, len(positions))
	}
	p := new(position)
	if err := json.Unmarshal(positions[0], p); err != nil {
		return fmt.Errorf("repartition %s: bad checkpointed position: %w", s.cfg.Table, err)
	}
	if p.Offset < 0 {
		return fmt.Errorf("repartition %s: bad checkpointed offset %d", s.cfg.Table, p.Offset)
	}
	s.pos = p
	return nil
}

// read fetches the partition from offset next on and hands the records to
// the subtask.
func (s *source) read(ctx context.Context, next int64, stop <-chan struct{}) error {
	cl, tr := s.cfg.Client()
	defer tr.CloseIdleConnections()
	failures := 0
	backoff := 50 * time.Millisecond
	send := func(f fetched) bool {
		select {
		case s.fetched <- f:
			return true
		case <-ctx.Done():
		case <-stop:
		}
		return false
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		default:
		}
		fctx, cancel := context.WithTimeout(ctx, fetchWait+callTimeout)
		res, err := cl.Fetch(fctx, &kafka.FetchRequest{Topic: s.cfg.Topic, Partition: s.part, Offset: next,
			MinBytes: 1, MaxBytes: fetchBytes, MaxWait: fetchWait})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		var recs []rec
		if err == nil {
			for {
				r, rerr := res.Records.ReadRecord()
				if rerr != nil {
					if !errors.Is(rerr, io.EOF) {
						err = fmt.Errorf("cannot read a fetched record after offset %d: %w", next, rerr)
					}
					break
				}
				if r.Offset < next {
					continue
				}
				var v []byte
				if r.Value != nil {
					if v, rerr = io.ReadAll(r.Value); rerr != nil {
						err = fmt.Errorf("cannot read record %d: %w", r.Offset, rerr)
						break
					}
				}
				recs = append(recs, rec{offset: r.Offset, value: v})
				next = r.Offset + 1
			}
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				send(fetched{err: fmt.Errorf("repartition %s: kafka topic %q partition %d: the records from offset %d on, which the task still needs, are no longer in the topic (its retention is too short): %w", s.cfg.Table, s.cfg.Topic, s.part, next, err)})
				return nil
			}
			failures++
			if failures >= maxReadFailures {
				send(fetched{err: fmt.Errorf("repartition %s: kafka topic %q partition %d: %d fetches failed in a row, the last: %w", s.cfg.Table, s.cfg.Topic, s.part, failures, err)})
				return nil
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		failures, backoff = 0, 50*time.Millisecond
		for len(recs) > 0 {
			n := min(len(recs), 1024)
			if !send(fetched{recs: recs[:n]}) {
				return nil
			}
			recs = recs[n:]
		}
	}
}

// Close stops the reader.
func (s *source) Close() error {
	if s.stop != nil && !s.closed {
		close(s.stop)
		s.closed = true
	}
	if s.batch != nil {
		s.batch.Release()
		s.batch = nil
	}
	return nil
}
