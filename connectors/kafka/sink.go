package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// sink is a subtask of a kafka sink. It encodes rows into records in the
// subtask's goroutine and buffers them per partition; a flush writes one
// produce request per partition, all at once, and waits for the brokers'
// acknowledgement. It flushes when 'sink.buffer-flush.max-rows' rows are
// buffered, on a processing-time timer after 'sink.buffer-flush.interval',
// at checkpoint barriers and at the end of input (at-least-once).
type sink struct {
	runtime.Base
	cfg     *config
	ctx     *runtime.Context
	tr      *kafka.Transport
	cl      *kafka.Client
	parts   []partitionInfo // the topic's partitions, by number
	ids     []int           // 0 … len(parts)-1, for the hash partitioner
	csv     *format.CSVEncoder
	keyB    *runtime.Batch // one row of the key columns
	buf     map[int]*pending
	rows    int
	next    int // round-robin
	timerAt int64
	scratch []byte
}

var _ runtime.BarrierHandler = (*sink)(nil)

// Open lists the topic's partitions (failing at once on unreachable
// brokers or an unknown topic).
func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.tr = s.cfg.transport()
	s.cl = s.cfg.client(s.tr)
	parts, err := s.cfg.listPartitions(s.done())
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return connectors.Errorf(s.cfg.table, "kafka topic %q on %s has no partitions", s.cfg.topics[0], s.cfg.where())
	}
	s.parts = parts
	s.ids = make([]int, len(parts))
	for i := range s.ids {
		s.ids[i] = i
	}
	if s.csv, err = format.NewCSVEncoder(s.cfg.csv); err != nil {
		return connectors.OptionErrorf(s.cfg.table, "csv.field-delimiter", "%v", err)
	}
	if len(s.cfg.keyCols) > 0 {
		fields := make([]runtime.Field, len(s.cfg.keyCols))
		for i, c := range s.cfg.keyCols {
			fields[i] = s.cfg.schema.Fields[c]
		}
		s.keyB = runtime.NewBatch(runtime.NewSchema(fields...))
	}
	s.buf = map[int]*pending{}
	s.next = ctx.Subtask
	return nil
}

// encode appends row r of b to dst in format f (cols: the batch's columns
// to write, all for nil).
func (s *sink) encode(dst []byte, f string, b *runtime.Batch, r int) []byte {
	switch f {
	case "csv":
		return s.csv.Append(dst, b, r)
	case "raw":
		v := &b.Cols[0]
		if v.IsNull(r) {
			return dst
		}
		if v.Type == runtime.Varchar {
			return append(dst, v.Str[r]...)
		}
		return append(dst, v.Value(r).String()...)
	}
	return format.AppendJSON(dst, b, r)
}

// pending are the encoded records buffered for one partition: keys and
// values in one arena.
type pending struct {
	data []byte
	recs []span
}

// span locates one record's key and value in the arena (start -1: NULL).
type span struct {
	ks, ke, vs, ve int
	at             time.Time
}

// ProcessBatch encodes and buffers the rows, flushing when the buffer is
// full.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	n := b.Len()
	now := time.Now()
	for i := range n {
		r := b.Row(i)
		kind := b.Kind(r)
		if s.cfg.upsert && kind == runtime.UpdateBefore {
			continue // the +U that follows replaces it
		}
		sp := span{ks: -1, vs: -1, at: now}
		s.scratch = s.scratch[:0]
		hasKey := false
		if s.keyB != nil {
			s.keyB.Reset()
			for k, c := range s.cfg.keyCols {
				s.keyB.Cols[k].AppendFrom(&b.Cols[c], r)
			}
			s.keyB.N = 1
			if !(s.cfg.keyFormat == "raw" && s.keyB.Cols[0].IsNull(0)) {
				s.scratch = s.encode(s.scratch, s.cfg.keyFormat, s.keyB, 0)
				hasKey = true
			}
		}
		var p int
		if hasKey {
			p = s.partition(s.scratch)
		} else {
			p = s.partition(nil)
		}
		pb := s.buf[p]
		if pb == nil {
			pb = &pending{}
			s.buf[p] = pb
		}
		if hasKey {
			sp.ks = len(pb.data)
			pb.data = append(pb.data, s.scratch...)
			sp.ke = len(pb.data)
		}
		if !(s.cfg.format == "raw" && b.Cols[0].IsNull(r)) && !(s.cfg.upsert && kind == runtime.Delete) {
			sp.vs = len(pb.data)
			pb.data = s.encode(pb.data, s.cfg.format, b, r)
			sp.ve = len(pb.data)
		}
		pb.recs = append(pb.recs, sp)
		s.rows++
		if s.rows >= s.cfg.flushRows {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	if s.rows > 0 && s.timerAt == 0 {
		s.timerAt = time.Now().Add(s.cfg.flushEvery).UnixMilli()
		s.ctx.RegisterProcessingTimer(s.timerAt)
	}
	return nil
}

// partition picks the partition of a record with key (nil: none).
func (s *sink) partition(key []byte) int {
	n := len(s.parts)
	switch {
	case s.cfg.partitioner == "fixed":
		return s.ctx.Subtask % n
	case s.cfg.partitioner == "default" && key != nil:
		return kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: key}, s.ids...)
	}
	p := s.next % n
	s.next++
	return p
}

// OnProcessingTime flushes what the interval has gathered.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	if s.timerAt == 0 || now < s.timerAt {
		return nil
	}
	return s.flush()
}

// OnBarrier writes everything buffered and waits for the acknowledgement,
// so that the checkpoint covers every row before it.
func (s *sink) OnBarrier(runtime.Barrier, runtime.Output) error { return s.flush() }

// Finish writes what is left.
func (s *sink) Finish(runtime.Output) error { return s.flush() }

// flush writes the buffered records, one request per partition in
// parallel, and waits for all of them.
func (s *sink) flush() error {
	s.timerAt = 0
	if s.rows == 0 {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.parts))
	for p, pb := range s.buf {
		if len(pb.recs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = s.write(p, pb)
		}()
	}
	wg.Wait()
	for _, pb := range s.buf {
		pb.data, pb.recs = pb.data[:0], pb.recs[:0]
	}
	s.rows = 0
	return errors.Join(errs...)
}

// write produces the records of partition p, retrying transient errors.
func (s *sink) write(p int, pb *pending) error {
	info := s.parts[p]
	backoff := minBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = s.produce(p, pb); err == nil {
			return nil
		}
		var ke kafka.Error
		temporary := errors.As(err, &ke) && ke.Temporary() || errors.Is(err, context.DeadlineExceeded)
		if !temporary || attempt >= writeAttempts {
			break
		}
		if !sleep(s.done(), backoff) {
			return connectors.Errorf(s.cfg.table, "kafka topic %q partition %d on broker %s: job stopping: %w", info.topic, p, info.leader, err)
		}
		backoff *= 2
	}
	return connectors.Errorf(s.cfg.table, "kafka topic %q partition %d on broker %s: cannot write %d records: %w", info.topic, p, info.leader, len(pb.recs), err)
}

// produce sends one produce request with the records of partition p and
// waits for its answer.
func (s *sink) produce(p int, pb *pending) error {
	recs := make([]kafka.Record, len(pb.recs))
	for i, sp := range pb.recs {
		recs[i].Time = sp.at
		if sp.ks >= 0 {
			recs[i].Key = kafka.NewBytes(pb.data[sp.ks:sp.ke])
		}
		if sp.vs >= 0 {
			recs[i].Value = kafka.NewBytes(pb.data[sp.vs:sp.ve])
		}
	}
	ctx, cancel := context.WithTimeout(s.done(), callTimeout)
	defer cancel()
	res, err := s.cl.Produce(ctx, &kafka.ProduceRequest{Topic: s.parts[p].topic, Partition: p,
		RequiredAcks: s.cfg.acks, Records: kafka.NewRecordReader(recs...)})
	if err != nil {
		return err
	}
	if res != nil && res.Error != nil {
		return res.Error
	}
	if res != nil {
		for i, e := range res.RecordErrors {
			return fmt.Errorf("record %d of the request: %w", i, e)
		}
	}
	return nil
}

// done is a context that ends when the job stops: writes in flight give up.
func (s *sink) done() context.Context { return s.ctx.Ctx() }

// Close releases the connections; what is still buffered was not
// acknowledged by any checkpoint and is written again by a restored job.
func (s *sink) Close() error {
	if s.keyB != nil {
		s.keyB.Release()
		s.keyB = nil
	}
	if s.tr != nil {
		s.tr.CloseIdleConnections()
	}
	return nil
}
