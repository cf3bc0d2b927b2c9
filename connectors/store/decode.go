package store

import (
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
)

// Decoding. A shard keeps one reader (polling or EFO), but the records of
// its answers are decoded by 'scan.decode.parallelism' workers (a
// decodepool: default GOMAXPROCS; 1 decodes in Poll, in the subtask's
// goroutine). A worker decodes an answer into a batch of its own and notes
// its bad records; Poll takes the decoded answers in the order the readers
// handed them over and only then reports the bad records and advances the
// shard's position, so a snapshot between Polls covers exactly the rows
// emitted.

// worker is the decoding state of one worker: its own decoder (it keeps
// scratch buffers) and copy of the event-time check.
type worker struct {
	dec    *format.JSONDecoder
	evTime connectors.EventTime
}

// openDecoding makes the workers' state and, with more than one worker,
// starts the pool.
func (s *source) openDecoding() {
	n := decodepool.Workers(int64(s.cfg.decoders))
	s.workers = make([]*worker, decodepool.States(n))
	for i := range s.workers {
		s.workers[i] = &worker{dec: format.NewJSONDecoder(s.cfg.schema), evTime: s.cfg.eventTime}
	}
	inflight := n + min(n, 4) // chunks decoding, and a few ready: memory stays bounded on many cores
	s.batches = decodepool.NewBatches(s.cfg.schema, inflight+1)
	if n > 1 {
		s.pool = decodepool.New(n, inflight, func(w int, f fetch) decoded { return s.decodeChunk(s.workers[w], f) },
			decodepool.Spawn(s.ctx))
	}
}

// decoded is one answer decoded: its rows (nil when none) and its bad
// records, for Poll to emit.
type decoded struct {
	f     fetch
	batch *runtime.Batch
	bad   []decodepool.Bad
}

// decodeChunk decodes the records of one answer into a batch (a worker's,
// or Poll's with one worker). It touches neither the shard nor the
// subtask's state.
func (s *source) decodeChunk(w *worker, f fetch) decoded {
	d := decoded{f: f}
	if f.err != nil || len(f.recs) == 0 {
		return d
	}
	w.evTime.Refresh(time.Now())
	b := s.batches.Get()
	for i, r := range f.recs {
		err := w.dec.Decode(r.Data, b)
		if err == nil {
			err = w.evTime.CheckLast(b)
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

// emit reports a decoded answer's bad records, advances its shard's
// position past its records, and returns its rows. The batch stays the
// subtask's until the next Poll (s.out).
func (s *source) emit(d decoded) (*runtime.Batch, int, error) {
	f := d.f
	if f.err != nil {
		return nil, 0, f.err
	}
	sh := f.sh
	if f.end {
		sh.done, sh.children = true, f.children
	}
	for _, bad := range d.bad {
		r := f.recs[bad.I]
		where := connectors.Where{Stream: s.cfg.stream, Shard: sh.id, Sequence: r.SequenceNumber}
		if err := s.cfg.bad.Report(s.ctx.Logger(), where, bad.Err, r.Data); err != nil {
			s.batches.Put(d.batch)
			return nil, 0, err
		}
		s.bad++
	}
	if n := len(f.recs); n > 0 {
		sh.after = f.recs[n-1].SequenceNumber
	}
	if d.batch == nil {
		return nil, 0, nil
	}
	s.out = d.batch
	return d.batch, sh.part, nil
}
