package delivery

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// Error output types (!{firehose:error-output-type}) and codes.
const (
	errTypeConversion   = "format-conversion-failed"
	errTypeProcessing   = "processing-failed"
	errTypeDelivery     = "delivery-failed"
	errTypeHTTPDelivery = "http-endpoint-failed"
)

// buffer holds the rows of one partition (or, when errType is set, the
// error records of one error prefix) until they are delivered.
type buffer struct {
	mapKey  string          // its key in sink.bufs
	key     string          // the evaluated prefix
	errType string          // "" for rows; the output type of error records
	data    []byte          // records, each followed by '\n'
	ends    []int           // where each record ends in data (its '\n')
	vals    []parquet.Value // Parquet: the rows' values, row after row
	arrival int64           // processing time of the first record (ms)
	seq     uint64          // opening order, for evicting the oldest
}

func (b *buffer) add(rec []byte) {
	b.data = append(b.data, rec...)
	b.ends = append(b.ends, len(b.data))
	b.data = append(b.data, '\n')
}

// stagedObject is an object written under a staging key and not yet
// published: the checkpoint that pre-committed it (0: none yet), and what it
// holds, counted when it is published.
type stagedObject struct {
	Staged     string `json:"staged"`
	Final      string `json:"final"`
	Checkpoint int64  `json:"checkpoint"`
	Errors     bool   `json:"errors,omitempty"` // on the error destination
	Records    int    `json:"records"`
	Bytes      int    `json:"bytes"`
}

// sink is a subtask of a delivery sink. The runtime calls it from the
// subtask's goroutine, except NotifyCheckpointComplete (see commit.go).
type sink struct {
	runtime.Base
	cfg  *config
	ctx  *runtime.Context
	rctx context.Context // done when the job stops

	enc      *encoder
	store    objectStore // nil for HTTP
	errStore objectStore // nil for HTTP without error-destination
	http     *httpSender

	bufs    map[string]*buffer
	free    []*buffer // delivered buffers kept for reuse
	seq     uint64
	key     []byte
	rec     []byte
	row     parquet.Row
	closing bool

	exactlyOnce bool
	// tag is the attempt of a task run (see connectors.AttemptTag), "" otherwise;
	// stageDir, this subtask's staging folder, carries it.
	tag       string
	stageDir  string         // this subtask's staging folder
	uncovered []stagedObject // staged since the last checkpoint (subtask goroutine only)
	// mu guards pending, the objects pre-committed by a checkpoint: the
	// subtask's goroutine adds to it, the coordinator's publishes from it.
	mu      sync.Mutex
	pending []stagedObject
	// last is the newest checkpoint in the commit record (see commit.go),
	// recordErr why it could not be read; both guarded by mu.
	last      int64
	recordErr error
	// sweep, in a task run restored from another attempt's checkpoint, is
	// that attempt's staging folder, removed at the first notification
	// (guarded by mu).
	sweep string

	m sinkMetrics
}

// sinkMetrics are the connector's counters in the job's metrics set.
type sinkMetrics struct {
	records, bytes, objects, retries *metrics.Counter
	table                            string
	set                              *metrics.Set
}

func newMetrics(set *metrics.Set, table string) sinkMetrics {
	l := `{table=` + strconv.Quote(table) + `}`
	return sinkMetrics{
		table:   table,
		set:     set,
		records: set.GetOrCreateCounter("sluice_delivery_records_total" + l),
		bytes:   set.GetOrCreateCounter("sluice_delivery_bytes_total" + l),
		objects: set.GetOrCreateCounter("sluice_delivery_objects_total" + l),
		retries: set.GetOrCreateCounter("sluice_delivery_retries_total" + l),
	}
}

func (m sinkMetrics) errors(typ string) *metrics.Counter {
	return m.set.GetOrCreateCounter(`sluice_delivery_errors_total{table=` + strconv.Quote(m.table) + `,type=` + strconv.Quote(typ) + `}`)
}

func newID() string { return uuid.NewString() }

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.rctx = ctx.Ctx()
	if tk := ctx.Task; tk != nil {
		if tk.Attempt == "" {
			return connectors.Errorf(s.cfg.table, "task %d of %d has no attempt name: two attempts of it would stage objects in one folder", tk.ID, tk.Count)
		}
		s.tag = connectors.AttemptTag(tk.Attempt)
	}
	s.m = newMetrics(ctx.JobMetrics(), s.cfg.table)
	s.bufs = make(map[string]*buffer)
	var err error
	if s.enc, err = newEncoder(s.cfg); err != nil {
		return err
	}
	if s.cfg.dest.kind == "http" {
		s.http = &httpSender{url: s.cfg.dest.url, accessKey: s.cfg.accessKey, gzip: s.cfg.compression == "gzip",
			client: &http.Client{}, enc: &encoder{cfg: s.cfg}}
	} else if s.store, err = newStore(s.cfg.dest); err != nil {
		return connectors.Errorf(s.cfg.table, "%v", err)
	}
	s.errStore = s.store
	if s.cfg.errDestSet {
		if s.errStore, err = newStore(s.cfg.errDest); err != nil {
			return connectors.Errorf(s.cfg.table, "%v", err)
		}
	}
	s.exactlyOnce = ctx.Checkpointing && s.http == nil
	s.stageDir = s.stageDirOf(s.tag)
	if s.http == nil {
		// Also without checkpoints: such a run would publish again what
		// an earlier checkpointed run has published.
		s.readRecord()
	}
	return nil
}

// ProcessBatch partitions the rows of b into buffers, sending the rows that
// cannot be converted or partitioned to the error output, and delivers the
// buffers that reach the size hint.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	now := time.Now().UnixMilli()
	parquetOut := s.cfg.format == "parquet"
	for i, n := 0, b.Len(); i < n; i++ {
		r := b.Row(i)
		ms := now
		if tc := s.cfg.timeCol; tc >= 0 {
			if b.Cols[tc].IsNull(r) {
				if err := s.rejectRow(b, i, now, errTypeProcessing, "DynamicPartitioning.MetadataExtractionFailed",
					"column "+b.Schema.Fields[tc].Name+" (prefix.time) is NULL"); err != nil {
					return err
				}
				continue
			}
			ms = b.Cols[tc].I64[r]
		}
		var err error
		if s.key, err = s.cfg.prefix.eval(s.key[:0], b, r, ms, ""); err != nil {
			if err := s.rejectRow(b, i, now, errTypeProcessing, "DynamicPartitioning.MetadataExtractionFailed", err.Error()); err != nil {
				return err
			}
			continue
		}
		if parquetOut {
			if s.row, err = s.enc.parquetRow(s.row, b, r); err != nil {
				if err := s.rejectRow(b, i, now, errTypeConversion, "DataFormatConversion.InvalidSchema", err.Error()); err != nil {
					return err
				}
				continue
			}
		}
		buf := s.bufs[string(s.key)]
		if buf == nil {
			if buf, err = s.open(string(s.key), "", now); err != nil {
				return err
			}
		}
		s.rec = s.enc.appendRecord(s.rec[:0], b, i)
		buf.add(s.rec)
		if parquetOut {
			buf.vals = append(buf.vals, s.row...)
		}
		if len(buf.data) >= s.cfg.bufferBytes {
			if err := s.deliver(buf); err != nil {
				return err
			}
		}
	}
	if s.cfg.interval == 0 {
		return s.flushAll()
	}
	return nil
}

// open starts the buffer of key, first delivering the oldest buffer when
// max-open-partitions are open, and asks for a timer at its interval.
func (s *sink) open(key, errType string, now int64) (*buffer, error) {
	if len(s.bufs) >= s.cfg.maxOpen {
		var oldest *buffer
		for _, b := range s.bufs {
			if oldest == nil || b.seq < oldest.seq {
				oldest = b
			}
		}
		if err := s.deliver(oldest); err != nil {
			return nil, err
		}
	}
	s.seq++
	var buf *buffer
	if n := len(s.free); n > 0 {
		buf, s.free = s.free[n-1], s.free[:n-1]
	} else {
		buf = &buffer{}
	}
	buf.mapKey, buf.key, buf.errType, buf.arrival, buf.seq = key, key, errType, now, s.seq
	if errType != "" {
		buf.key = key[1:]
	}
	s.bufs[key] = buf
	if s.cfg.interval > 0 {
		s.ctx.RegisterProcessingTimer(now + s.cfg.interval.Milliseconds())
	}
	return buf, nil
}

// OnProcessingTime delivers the buffers open for the buffer interval.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	due := s.cfg.interval.Milliseconds()
	var errs []error
	for _, b := range s.sorted() {
		if b.arrival+due <= now {
			errs = append(errs, s.deliver(b))
		}
	}
	return errors.Join(errs...)
}

// sorted returns the open buffers, oldest first, rows before errors (a
// failed delivery adds error records).
func (s *sink) sorted() []*buffer {
	out := make([]*buffer, 0, len(s.bufs))
	for _, b := range s.bufs {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *buffer) int {
		if (a.errType == "") != (b.errType == "") {
			if a.errType == "" {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return out
}

// maxFree bounds the delivered buffers kept for reuse.
const maxFree = 4

// recycle empties buf and keeps it for reuse.
func (s *sink) recycle(buf *buffer) {
	if len(s.free) >= maxFree || cap(buf.data) > 2*s.cfg.bufferBytes {
		return
	}
	buf.data, buf.ends = buf.data[:0], buf.ends[:0]
	clear(buf.vals)
	buf.vals = buf.vals[:0]
	s.free = append(s.free, buf)
}

// flushAll delivers every open buffer: rows first, then error records
// (including those the deliveries just produced).
func (s *sink) flushAll() error {
	for len(s.bufs) > 0 {
		for _, b := range s.sorted() {
			if err := s.deliver(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// rejectRow sends present row i of b to the error output.
func (s *sink) rejectRow(b *runtime.Batch, i int, now int64, typ, code, msg string) error {
	s.rec = format.AppendJSON(s.rec[:0], b, i)
	return s.reject(s.rec, now, now, 0, typ, code, msg)
}

// reject adds an error record for raw to the error buffer of typ.
func (s *sink) reject(raw []byte, arrival, now int64, attempts int, typ, code, msg string) error {
	if s.errStore == nil {
		return connectors.Errorf(s.cfg.table, "%s: %s (set 'error-destination' to keep such records instead of failing)", code, msg)
	}
	s.m.errors(typ).Inc()
	key, _ := s.cfg.errPrefix.eval(s.key[:0], nil, 0, now, typ)
	s.key = key
	bk := "\x00" + string(key)
	buf := s.bufs[bk]
	if buf == nil {
		var err error
		if buf, err = s.open(bk, typ, now); err != nil {
			return err
		}
	}
	e := buf.data
	e = append(e, `{"attemptsMade":`...)
	e = strconv.AppendInt(e, int64(attempts), 10)
	e = append(e, `,"arrivalTimestamp":`...)
	e = strconv.AppendInt(e, arrival, 10)
	e = append(e, `,"errorCode":`...)
	e = strconv.AppendQuote(e, code)
	e = append(e, `,"errorMessage":`...)
	e = appendJSONText(e, msg)
	e = append(e, `,"attemptEndingTimestamp":`...)
	e = strconv.AppendInt(e, time.Now().UnixMilli(), 10)
	e = append(e, `,"rawData":"`...)
	e = base64.StdEncoding.AppendEncode(e, raw)
	e = append(e, `","deliveryStreamName":`...)
	e = appendJSONText(e, s.cfg.table)
	e = append(e, '}')
	buf.data = e
	buf.ends = append(buf.ends, len(buf.data))
	buf.data = append(buf.data, '\n')
	if len(buf.data) >= s.cfg.bufferBytes {
		return s.deliver(buf)
	}
	return nil
}

// deliver writes buf as an object (or POSTs it), retrying for
// retry.duration; rows that still cannot be delivered go to the error
// output. It fails only when error records cannot be written.
func (s *sink) deliver(buf *buffer) error {
	delete(s.bufs, buf.mapKey)
	defer s.recycle(buf)
	if len(buf.ends) == 0 {
		return nil
	}
	now := time.Now()
	if buf.errType != "" {
		name := buf.key + s.cfg.table + "-" + now.UTC().Format("2006-01-02-15-04-05") + "-" + newID()
		attempts, err := s.write(s.errStore, name, buf.data, true, len(buf.ends))
		if err != nil {
			return connectors.Errorf(s.cfg.table, "cannot write %d error records to %s after %d attempts: %w", len(buf.ends), name, attempts, err)
		}
		return nil
	}
	if s.http != nil {
		attempts, err := s.retry(func(ctx context.Context) error { return s.http.send(ctx, buf, s.cfg.table) })
		if err != nil {
			return s.failBuffer(buf, attempts, errTypeHTTPDelivery, "HttpEndpoint.RequestFailed", err)
		}
		s.m.records.Add(len(buf.ends))
		s.m.bytes.Add(len(buf.data))
		s.m.objects.Inc()
		return nil
	}
	body, err := s.enc.body(buf)
	if err != nil {
		return s.failBuffer(buf, 1, errTypeConversion, "DataFormatConversion.Failed", err)
	}
	name := buf.key + s.cfg.table + "-" + now.UTC().Format("2006-01-02-15-04-05") + "-" + newID() + s.enc.extension()
	attempts, err := s.write(s.store, name, body, false, len(buf.ends))
	if err != nil {
		return s.failBuffer(buf, attempts, errTypeDelivery, "Destination.WriteFailed", err)
	}
	return nil
}

// write puts an object, staged when exactly-once, with retries. Objects
// written directly are counted at once; staged ones when published.
func (s *sink) write(st objectStore, key string, body []byte, isErr bool, records int) (int, error) {
	if !s.exactlyOnce {
		attempts, err := s.retry(func(ctx context.Context) error { return st.put(ctx, key, body) })
		if err == nil && !isErr {
			s.m.records.Add(records)
			s.m.bytes.Add(len(body))
			s.m.objects.Inc()
		}
		return attempts, err
	}
	staged := s.stageDir + "/" + newID()
	attempts, err := s.retry(func(ctx context.Context) error { return st.stage(ctx, staged, body) })
	if err == nil {
		s.uncovered = append(s.uncovered, stagedObject{Staged: staged, Final: key, Errors: isErr,
			Records: records, Bytes: len(body)})
	}
	return attempts, err
}

// failBuffer sends every record of buf to the error output.
func (s *sink) failBuffer(buf *buffer, attempts int, typ, code string, cause error) error {
	now := time.Now().UnixMilli()
	start := 0
	for _, end := range buf.ends {
		if err := s.reject(buf.data[start:end], buf.arrival, now, attempts, typ, code, cause.Error()); err != nil {
			return fmt.Errorf("%w (after delivery failed: %v)", err, cause)
		}
		start = end + 1
	}
	return nil
}

// retry calls f until it succeeds or retry.duration has passed since the
// first attempt, waiting 100 ms, 200 ms, … up to 10 s in between. It gives
// up at once when the job stops or the sink closes. It returns the number
// of attempts made.
func (s *sink) retry(f func(context.Context) error) (int, error) {
	ctx := s.rctx
	deadline := time.Now().Add(s.cfg.retry)
	backoff := minBackoff
	for attempts := 1; ; attempts++ {
		err := f(ctx)
		if err == nil {
			return attempts, nil
		}
		left := time.Until(deadline)
		if left <= 0 || s.closing || ctx.Err() != nil {
			return attempts, err
		}
		s.m.retries.Inc()
		t := time.NewTimer(min(backoff, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempts, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// OnBarrier delivers (or, exactly-once, stages) every buffer, so that the
// checkpoint covers every row before the barrier.
func (s *sink) OnBarrier(runtime.Barrier, runtime.Output) error { return s.flushAll() }

// Finish delivers what is left at the end of input.
func (s *sink) Finish(runtime.Output) error { return s.flushAll() }

// Close releases the encoder. Without checkpoints the rows still buffered
// are delivered (one attempt each) so that a stopping job keeps them; with
// checkpoints, objects staged after the last checkpoint are deleted (a
// restored job writes their rows again) while pre-committed ones stay for
// the coordinator or a restore to publish.
func (s *sink) Close() error {
	if s.enc == nil {
		return nil
	}
	defer s.enc.close()
	s.closing = true
	// The job may be stopping: the last deliveries get a context of their
	// own, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	s.rctx = ctx
	if !s.exactlyOnce {
		return s.flushAll()
	}
	for _, o := range s.uncovered {
		st := s.store
		if o.Errors {
			st = s.errStore
		}
		st.removeStaged(ctx, o.Staged) //nolint:errcheck // best effort: a restore deletes them too
	}
	s.uncovered = nil
	return nil
}

// appendJSONText appends s as a JSON string.
func appendJSONText(dst []byte, s string) []byte { return format.AppendJSONString(dst, s) }
