package repart

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors/kafka/group"
	"github.com/sluicehq/sluice/runtime"
)

const (
	// recordBytes is the size past which a DATA record is closed.
	recordBytes = 64 << 10
	// requestBytes bounds one produce request; a partition that has
	// gathered more is written at once.
	requestBytes = 512 << 10
	// wmEvery is the shortest time between two WATERMARK records.
	wmEvery = 100 * time.Millisecond
	// writeAttempts is how often a produce request of rows is tried.
	writeAttempts = 5
	callTimeout   = 30 * time.Second
)

var (
	// commitAttempts is how often a COMMIT is tried at once (waits double
	// from 50 ms up to 2 s: about 15 s in all, as the end of a job has no
	// later checkpoint); commitRetryEvery how often commits that failed
	// are tried again while the task runs.
	commitAttempts   = 10
	commitRetryEvery = time.Second
)

// sink writes a task's rows to the partitions of their keys (see the
// package doc).
type sink struct {
	runtime.Base
	cfg     Config
	ctx     *runtime.Context
	cl      *kafka.Client
	tr      *kafka.Transport
	task    int
	attempt string
	label   int64
	parts   []*outPart
	key     []byte
	wm      int64
	wmDirty bool
	wmAt    time.Time // when the last WATERMARK was written
	timerAt int64
	written *metrics.Counter // bytes

	// mu guards what the coordinator's goroutine shares with the
	// subtask's: the commits.
	mu        sync.Mutex
	prev      int64          // the last checkpoint that counted
	snaps     map[int64]bool // checkpoints snapshotted since prev
	final     bool           // the final snapshot (after Finish) is taken
	unwritten []commitRec    // commits that count whose records are not written yet

	stop chan struct{} // closed by Close: stops retryCommits
}

// outPart is what the sink gathers for one partition.
type outPart struct {
	open      *runtime.Batch // rows for the next DATA record
	openBytes int
	recs      [][]byte // records waiting for a flush, in order
	bytes     int
	seq       uint64
}

// NewSink returns the factory of a repartition sink's subtasks (for
// runtime.NodeSpec.NewOperator).
func NewSink(cfg Config) func() runtime.Operator {
	return func() runtime.Operator { return &sink{cfg: cfg} }
}

var (
	_ runtime.BarrierHandler     = (*sink)(nil)
	_ runtime.Snapshotter        = (*sink)(nil)
	_ runtime.CheckpointListener = (*sink)(nil)
	_ runtime.IdleListener       = (*sink)(nil)
	_ runtime.ProcessingTimer    = (*sink)(nil)
)

// Open checks that the sink runs as a task and connects.
func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	if err := s.cfg.check(ctx, "sink"); err != nil {
		return err
	}
	s.task, s.attempt = ctx.Task.ID, ctx.Task.Attempt
	s.cl, s.tr = s.cfg.Client()
	s.parts = make([]*outPart, s.cfg.Partitions)
	for p := range s.parts {
		s.parts[p] = &outPart{open: runtime.NewBatch(s.cfg.Schema)}
	}
	s.wm = runtime.MinWatermark
	s.stop = make(chan struct{})
	stop := s.stop
	ctx.Go(func(gctx context.Context) error { s.retryCommits(gctx, stop); return nil })
	s.written = ctx.JobMetrics().GetOrCreateCounter(fmt.Sprintf(`sluice_repartition_written_bytes_total{job=%q,operator=%q,topic=%q,task="%d"}`, ctx.Job, ctx.Operator, s.cfg.Topic, s.task))
	return nil
}

// check verifies the configuration against the run the end opens in.
func (c *Config) check(ctx *runtime.Context, end string) error {
	if ctx.Task == nil {
		return fmt.Errorf("repartition %s of %s (topic %q) runs only as a task of a job that several processes share (--cluster kafka)", end, c.Table, c.Topic)
	}
	if c.Partitions < 1 || c.Partitions != ctx.Task.Count {
		return fmt.Errorf("repartition %s of %s: topic %q has %d partitions, the job %d tasks", end, c.Table, c.Topic, c.Partitions, ctx.Task.Count)
	}
	if c.Client == nil || c.Schema == nil {
		return fmt.Errorf("repartition %s of %s: no client or schema", end, c.Table)
	}
	return nil
}

// rowBytes estimates what row r of b takes in a DATA record.
func rowBytes(b *runtime.Batch, r int) int {
	n := 1
	for c := range b.Cols {
		v := &b.Cols[c]
		if v.Type.Physical() == runtime.PhysString {
			n += len(v.Str[r]) + 2
		} else {
			n += 9
		}
	}
	return n
}

// ProcessBatch gathers each row for the partition of its key.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	for i := range b.Len() {
		r := b.Row(i)
		p := 0
		if s.cfg.KeyCols != nil {
			s.key = appendKey(s.key[:0], b, r, s.cfg.KeyCols)
			p = group.PartitionFor(s.key, s.cfg.Partitions)
		}
		op := s.parts[p]
		op.open.AppendRow(b, r)
		op.openBytes += rowBytes(b, r)
		if op.openBytes >= recordBytes {
			s.closeData(p)
			if op.bytes >= requestBytes {
				if err := s.write(p, op.recs); err != nil {
					return err
				}
				op.recs, op.bytes = op.recs[:0], 0
			}
		}
	}
	return nil
}

// header returns the header of the next record of kind k to partition p.
func (s *sink) header(k kind, p int) header {
	op := s.parts[p]
	h := header{kind: k, producer: s.task, attempt: s.attempt, label: s.label, seq: op.seq}
	op.seq++
	return h
}

// closeData turns the rows gathered for partition p into a DATA record.
func (s *sink) closeData(p int) {
	op := s.parts[p]
	if op.open.N == 0 {
		return
	}
	rec := appendHeader(make([]byte, 0, op.openBytes+64), s.header(kData, p))
	rec = appendRows(rec, op.open)
	op.open.Reset()
	op.openBytes = 0
	op.recs = append(op.recs, rec)
	op.bytes += len(rec)
}

// control appends a record of kind k to every partition, after the rows
// gathered so far.
func (s *sink) control(k kind) {
	for p, op := range s.parts {
		s.closeData(p)
		h := s.header(k, p)
		h.wm = s.wm
		rec := appendHeader(nil, h)
		op.recs = append(op.recs, rec)
		op.bytes += len(rec)
	}
}

// ProcessWatermark passes the watermark on, at most every wmEvery.
func (s *sink) ProcessWatermark(wm int64, _ runtime.Output) error {
	s.wm = wm
	s.wmDirty = true
	now := time.Now()
	if now.Sub(s.wmAt) >= wmEvery {
		s.writeWatermark(now)
		return nil
	}
	if s.timerAt == 0 {
		s.timerAt = s.wmAt.Add(wmEvery).UnixMilli()
		s.ctx.RegisterProcessingTimer(s.timerAt)
	}
	return nil
}

func (s *sink) writeWatermark(now time.Time) {
	if !s.wmDirty {
		return
	}
	s.control(kWatermark)
	s.wmDirty, s.wmAt = false, now
}

// OnProcessingTime writes the watermark held back.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	if s.timerAt == 0 || now < s.timerAt {
		return nil
	}
	s.timerAt = 0
	s.writeWatermark(time.Now())
	return nil
}

// OnIdle tells every partition that the task holds back nothing, or does
// again.
func (s *sink) OnIdle(idle bool, _ runtime.Output) error {
	s.writeWatermark(time.Now())
	if idle {
		s.control(kIdle)
	} else {
		s.control(kActive)
	}
	return nil
}

// OnBarrier writes everything gathered and waits for the brokers; what
// follows belongs to the segment of the barrier's checkpoint.
func (s *sink) OnBarrier(b runtime.Barrier, _ runtime.Output) error {
	s.writeWatermark(time.Now())
	if err := s.flush(); err != nil {
		return err
	}
	s.label = b.ID
	return nil
}

// Finish writes the last watermark and END to every partition.
func (s *sink) Finish(runtime.Output) error {
	s.writeWatermark(time.Now())
	s.control(kEnd)
	return s.flush()
}

// flush writes what every partition has gathered, the partitions in
// parallel.
func (s *sink) flush() error {
	errs := make([]error, len(s.parts))
	var wg sync.WaitGroup
	for p, op := range s.parts {
		s.closeData(p)
		if len(op.recs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = s.write(p, op.recs)
		}()
	}
	wg.Wait()
	for _, op := range s.parts {
		clear(op.recs)
		op.recs, op.bytes = op.recs[:0], 0
	}
	return errors.Join(errs...)
}

// write produces recs to partition p in order, in requests of at most
// about requestBytes, and waits for every broker to have them.
func (s *sink) write(p int, recs [][]byte) error {
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+len(recs[n]) <= requestBytes) {
			size += len(recs[n])
			n++
		}
		if err := s.produce(p, recs[:n], writeAttempts); err != nil {
			return fmt.Errorf("repartition %s: kafka topic %q partition %d: cannot write %d records: %w", s.cfg.Table, s.cfg.Topic, p, n, err)
		}
		s.written.Add(size)
		recs = recs[n:]
	}
	return nil
}

// produce sends one request, trying up to attempts times what may mend (a
// record written twice is dropped downstream by its sequence number).
func (s *sink) produce(p int, recs [][]byte, attempts int) error {
	krecs := make([]kafka.Record, len(recs))
	now := time.Now()
	for i, r := range recs {
		krecs[i] = kafka.Record{Time: now, Value: kafka.NewBytes(r)}
	}
	backoff := 50 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx.Ctx(), callTimeout)
		var res *kafka.ProduceResponse
		res, err = s.cl.Produce(ctx, &kafka.ProduceRequest{Topic: s.cfg.Topic, Partition: p,
			RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(krecs...)})
		cancel()
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			for i, e := range res.RecordErrors {
				err = fmt.Errorf("record %d of the request: %w", i, e)
				break
			}
		}
		if err == nil {
			return nil
		}
		// A broker's answer says whether trying again may help; a lost
		// connection or a timeout may.
		var ke kafka.Error
		permanent := errors.As(err, &ke) && !ke.Temporary()
		if permanent || attempt >= attempts || s.ctx.Ctx().Err() != nil {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, 2*time.Second)
		// Records are read once: build them again.
		for i, r := range recs {
			krecs[i] = kafka.Record{Time: now, Value: kafka.NewBytes(r)}
		}
	}
}

// sinkState is what a sink checkpoints: its attempt, the checkpoint, the
// commit before it and the commits that counted but whose records may not
// be written.
type sinkState struct {
	attempt   string
	n, prev   int64
	unwritten []commitRec
}

const stateVersion = 1

func (st sinkState) encode() []byte {
	b := []byte{stateVersion}
	b = binary.AppendUvarint(b, uint64(len(st.attempt)))
	b = append(b, st.attempt...)
	b = binary.AppendUvarint(b, uint64(st.n))
	b = binary.AppendUvarint(b, uint64(st.prev))
	b = binary.AppendUvarint(b, uint64(len(st.unwritten)))
	for _, c := range st.unwritten {
		b = binary.AppendUvarint(b, uint64(len(c.attempt)))
		b = append(b, c.attempt...)
		b = binary.AppendUvarint(b, uint64(c.n))
		b = binary.AppendUvarint(b, uint64(c.m))
	}
	return b
}

func decodeSinkState(data []byte) (sinkState, error) {
	var st sinkState
	r := &reader{b: data}
	if v := r.byte1("version"); r.err == nil && v != stateVersion {
		return st, fmt.Errorf("unknown state version %d", v)
	}
	st.attempt = string(r.bytes(r.uvarint("attempt length"), "attempt"))
	st.n = r.nonNeg("checkpoint")
	st.prev = r.nonNeg("previous commit")
	k := r.uvarint("commit count")
	for i := uint64(0); i < k && r.err == nil; i++ {
		var c commitRec
		c.attempt = string(r.bytes(r.uvarint("attempt length"), "attempt"))
		c.n = r.nonNeg("checkpoint")
		c.m = r.nonNeg("previous commit")
		st.unwritten = append(st.unwritten, c)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes too many", len(r.b))
	}
	return st, r.err
}

// SnapshotState records the checkpoint's segment chain.
func (s *sink) SnapshotState(id int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == runtime.EndCheckpoint {
		s.final = true
	} else {
		if s.snaps == nil {
			s.snaps = map[int64]bool{}
		}
		s.snaps[id] = true
	}
	st := sinkState{attempt: s.attempt, n: id, prev: s.prev, unwritten: s.unwritten}
	return st.encode(), nil
}

// NotifyCheckpointComplete writes the COMMIT of a checkpoint that counts
// to every partition (after those not written before). A checkpoint the
// sink took no snapshot of, once it has finished, holds its final state:
// it commits the end (checkpoints go on while other parts of the task
// run, and the downstream half of a repartition in the same task waits
// for every producer's end).
func (s *sink) NotifyCheckpointComplete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(0)
	switch {
	case id <= s.prev:
	case s.snaps[id]:
		n = id
	case s.final || id == runtime.EndCheckpoint:
		n = runtime.EndCheckpoint
	}
	if n > s.prev {
		// Chained to the last commit, which may be newer than the one
		// the snapshot saw (the final snapshot can be taken while a
		// checkpoint is in flight).
		s.unwritten = append(s.unwritten, commitRec{attempt: s.attempt, n: n, m: s.prev})
		s.prev = n
		for k := range s.snaps {
			if k <= n {
				delete(s.snaps, k)
			}
		}
	}
	return s.writeCommits()
}

// retryCommits tries the commits that failed again every
// commitRetryEvery, until stop or ctx ends.
func (s *sink) retryCommits(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(commitRetryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if len(s.unwritten) > 0 {
			s.writeCommits() // logs a failure
		}
		s.mu.Unlock()
	}
}

// writeCommits writes the unwritten commits in order; those that fail
// stay for the next call.
func (s *sink) writeCommits() error {
	for len(s.unwritten) > 0 {
		c := s.unwritten[0]
		errs := make([]error, len(s.parts))
		var wg sync.WaitGroup
		for p := range s.parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := appendHeader(nil, header{kind: kCommit, producer: s.task, attempt: c.attempt, label: c.n, prev: c.m})
				if err := s.produce(p, [][]byte{rec}, commitAttempts); err != nil {
					errs[p] = fmt.Errorf("partition %d: %w", p, err)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			s.ctx.Logger().Warn(fmt.Sprintf("repartition %s: kafka topic %q: cannot write the commit of checkpoint %d (retried): %v", s.cfg.Table, s.cfg.Topic, c.n, err))
			return fmt.Errorf("repartition %s: kafka topic %q: commit of checkpoint %d: %w", s.cfg.Table, s.cfg.Topic, c.n, err)
		}
		s.unwritten = s.unwritten[1:]
	}
	s.unwritten = nil
	return nil
}

// RestoreState writes again the commits of the restored checkpoint (its
// owner may have died before writing them) and goes on after it.
func (s *sink) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	st, err := decodeSinkState(data)
	if err != nil {
		return fmt.Errorf("repartition %s: %w", s.cfg.Table, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unwritten = append(st.unwritten, commitRec{attempt: st.attempt, n: st.n, m: st.prev})
	if err := s.writeCommits(); err != nil {
		return err
	}
	s.label, s.prev = st.n, st.n
	return nil
}

// Close releases the connections; rows not yet covered by a checkpoint
// are written again by the task's next attempt.
func (s *sink) Close() error {
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	for _, op := range s.parts {
		if op.open != nil {
			op.open.Release()
			op.open = nil
		}
	}
	if s.tr != nil {
		s.tr.CloseIdleConnections()
	}
	return nil
}
