package kafka

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
)

// Decoding. A partition keeps one reader, but the records of its
// hand-overs are decoded by 'scan.decode.parallelism' workers (a
// decodepool: default GOMAXPROCS; 1 decodes in Poll, in the subtask's
// goroutine). A worker decodes a hand-over into a batch of its own and
// notes its bad records; Poll takes the decoded hand-overs in the order the
// readers handed them over and only then reports the bad records, advances
// the partition's position and recycles the fetch's buffers, so a
// snapshot between Polls covers exactly the rows emitted.

// worker is the decoding state of one worker: its own decoders (they keep
// scratch buffers) and copy of the event-time check.
type worker struct {
	dec    format.Decoder
	keyDec *keyDecoder // upsert-kafka: of tombstones
	evTime connectors.EventTime
}

func (s *source) newWorker() (*worker, error) {
	w := &worker{evTime: s.cfg.eventTime}
	switch s.cfg.format {
	case "csv":
		d, err := format.NewCSVDecoder(s.cfg.schema, s.cfg.csv)
		if err != nil {
			return nil, connectors.OptionErrorf(s.cfg.table, "csv.field-delimiter", "%v", err)
		}
		w.dec = d
	case "raw":
		w.dec = format.RawDecoder{}
	case "changelog-json":
		w.dec = format.NewChangelogJSONDecoder(s.cfg.schema)
	case "debezium-json":
		w.dec = format.NewDebeziumJSONDecoder(s.cfg.schema, s.cfg.dbz)
	default:
		w.dec = format.NewJSONDecoder(s.cfg.schema)
	}
	if s.cfg.upsert {
		w.keyDec = newKeyDecoder(s.cfg)
	}
	return w, nil
}

// openDecoding makes the workers' state and, with more than one worker,
// starts the pool.
func (s *source) openDecoding() error {
	n := decodepool.Workers(int64(s.cfg.decoders))
	s.workers = make([]*worker, decodepool.States(n))
	for i := range s.workers {
		w, err := s.newWorker()
		if err != nil {
			return err
		}
		s.workers[i] = w
	}
	if n == 1 {
		s.batches = decodepool.NewBatches(s.cfg.schema, 2)
		return nil
	}
	// A fetch is up to fetchBytes, in hand-overs of a batch: the readers
	// may have two fetches' records in flight, so that they fetch the next
	// while the workers decode the last.
	s.batches = decodepool.NewBatches(s.cfg.schema, decodeAhead+1)
	s.pool = decodepool.New(n, decodeAhead, func(w int, f fetched) decoded { return s.decodeChunk(s.workers[w], f) },
		decodepool.Spawn(s.ctx))
	s.pool.LimitWeight(2*fetchBytes, fetchedBytes)
	return nil
}

// decodeAhead bounds the hand-overs in flight to the decode workers (and
// LimitWeight their bytes to two fetches).
const decodeAhead = 128

// fetchedBytes is the weight of a hand-over: the bytes of its records.
func fetchedBytes(f fetched) int64 {
	var n int
	for _, r := range f.recs {
		n += len(r.value) + len(r.key)
	}
	return int64(n)
}

// decoded is one hand-over decoded: its rows (nil when none) and its bad
// records, for Poll to emit.
type decoded struct {
	f     fetched
	batch *runtime.Batch
	bad   []decodepool.Bad
}

// decodeChunk decodes the records of one hand-over into a batch (a
// worker's, or Poll's with one worker). It touches neither the partition
// nor the subtask's state.
func (s *source) decodeChunk(w *worker, f fetched) decoded {
	d := decoded{f: f}
	if f.err != nil || len(f.recs) == 0 {
		return d
	}
	w.evTime.Refresh(time.Now())
	b := s.batches.Get()
	for i, r := range f.recs {
		var err error
		if s.cfg.upsert {
			err = w.decodeUpsert(r, b)
		} else if r.null {
			err = errors.New("the record has no value")
			switch s.cfg.format {
			case "raw":
				b.Cols[0].AppendNull()
				b.N++
				err = nil
			case "debezium-json":
				err = nil // a tombstone, written after a delete for compaction
			}
		} else {
			n := b.N
			err = w.dec.Decode(r.value, b)
			if err == nil {
				err = w.evTime.CheckSince(b, n)
			}
		}
		if err != nil {
			d.bad = append(d.bad, decodepool.Bad{I: i, Err: err})
		}
	}
	if b.N == 0 {
		s.batches.Put(b)
		return d
	}
	d.batch = b
	return d
}

// decodeUpsert appends the row of an upsert-kafka record to b: +U of its
// value, or -D of its key for a tombstone.
func (w *worker) decodeUpsert(r record, b *runtime.Batch) error {
	n := b.N
	if r.null {
		if r.key == nil {
			return errors.New("a record without a value (a delete) must have a key")
		}
		if err := w.keyDec.appendDelete(r.key, b); err != nil {
			return fmt.Errorf("the key of a delete: %w", err)
		}
		return nil
	}
	if err := w.dec.Decode(r.value, b); err != nil {
		return err
	}
	if err := w.evTime.CheckSince(b, n); err != nil {
		return err
	}
	b.SetKind(n, runtime.UpdateAfter)
	return nil
}

// emit reports a decoded hand-over's bad records, advances its partition's
// position past its records, and returns its rows. The batch stays the
// subtask's until the next Poll (s.out).
func (s *source) emit(d decoded) (*runtime.Batch, int, error) {
	f := d.f
	if f.err != nil {
		return nil, 0, f.err
	}
	ps := f.ps
	for _, bad := range d.bad {
		if err := s.badRecord(ps, f.recs[bad.I], bad.Err); err != nil {
			s.batches.Put(d.batch)
			return nil, 0, err
		}
	}
	if n := len(f.recs); n > 0 {
		ps.next = f.recs[n-1].offset + 1
	}
	ps.next = max(ps.next, f.next)
	switch {
	case f.end:
		s.ctx.SetPartitionLag(ps.lag, -1, 0)
	case f.lag:
		// What is left after the records emitted (at most once per
		// hand-over of up to a batch).
		s.ctx.SetPartitionLag(ps.lag, -1, offsetLag(f.next, ps.stop, f.hw, f.logStart))
	}
	if f.end && !ps.done {
		ps.done = true
		s.live--
		s.ended = append(s.ended, ps.id)
	}
	if d.batch == nil {
		return nil, 0, nil
	}
	s.out = d.batch
	return d.batch, ps.id, nil
}
