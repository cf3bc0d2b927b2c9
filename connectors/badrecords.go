package connectors

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/runtime"
)

// Bad-record handling, shared by the sources that decode records (file,
// store, kafka): one reporter per source table, one behaviour.
//
// A bad record — one that cannot be decoded, or whose event time is not
// sane (see EventTime) — is skipped and counted, unless
// 'format.fail-on-error' is true (then the job fails naming the record's
// place). The first FullReports bad records of a table are logged in full
// at once (place and reason); later ones at most once per second, with the
// count of those not logged. With 'errors.path' every bad record is also
// appended there as a JSON line (its place, "error" and "record").
// Summary, and Summaries for every table of the process, tell how many
// were skipped and where they are, for the end of a job and its status line.

// FullReports is how many bad records of a table are logged in full before
// the log is rate-limited.
const FullReports = 10

// MaxRecordExcerpt bounds a record copied to errors.path; a longer one is
// cut and marked "truncated":true.
const MaxRecordExcerpt = 64 << 10

// DefaultMaxFuture is the default of 'scan.watermark.max-future'.
const DefaultMaxFuture = 24 * time.Hour

// Where is the place of a record in its source: a file and line, a store
// stream, shard and sequence number, a queue and message id (a message a
// queue sink could not send has no id yet), or a Kafka topic, partition and
// offset.
type Where struct {
	File string
	Line int64

	Stream, Shard, Sequence string

	Queue, MessageID string

	Topic     string
	Partition int
	Offset    int64
}

// String is how logs and errors name the place.
func (w Where) String() string {
	switch {
	case w.File != "":
		return fmt.Sprintf("%s:%d", w.File, w.Line)
	case w.Stream != "":
		return fmt.Sprintf("stream %s shard %s sequence number %s", w.Stream, w.Shard, w.Sequence)
	case w.Queue != "" && w.MessageID == "":
		return fmt.Sprintf("queue %s (a message not sent)", w.Queue)
	case w.Queue != "":
		return fmt.Sprintf("queue %s message %s", w.Queue, w.MessageID)
	default:
		return fmt.Sprintf("kafka topic %q partition %d offset %d", w.Topic, w.Partition, w.Offset)
	}
}

// group and pos split the place for the summary: "in.jsonl lines 3, 9".
func (w Where) group() (in, unit, pos string) {
	switch {
	case w.File != "":
		return w.File, "line", strconv.FormatInt(w.Line, 10)
	case w.Stream != "":
		return fmt.Sprintf("stream %s shard %s", w.Stream, w.Shard), "sequence number", w.Sequence
	case w.Queue != "" && w.MessageID == "":
		return "queue " + w.Queue + " (messages not sent)", "", ""
	case w.Queue != "":
		return "queue " + w.Queue, "message", w.MessageID
	default:
		return fmt.Sprintf("topic %s partition %d", w.Topic, w.Partition), "offset", strconv.FormatInt(w.Offset, 10)
	}
}

func (w Where) appendJSON(b []byte) []byte {
	switch {
	case w.File != "":
		b = append(b, `{"file":`...)
		b = jsontext.AppendString(b, w.File)
		b = fmt.Appendf(b, `,"line":%d`, w.Line)
	case w.Stream != "":
		b = append(b, `{"stream":`...)
		b = jsontext.AppendString(b, w.Stream)
		b = append(b, `,"shard":`...)
		b = jsontext.AppendString(b, w.Shard)
		b = append(b, `,"sequenceNumber":`...)
		b = jsontext.AppendString(b, w.Sequence)
	case w.Queue != "":
		b = append(b, `{"queue":`...)
		b = jsontext.AppendString(b, w.Queue)
		b = append(b, `,"messageId":`...)
		b = jsontext.AppendString(b, w.MessageID)
	default:
		b = append(b, `{"topic":`...)
		b = jsontext.AppendString(b, w.Topic)
		b = fmt.Appendf(b, `,"partition":%d,"offset":%d`, w.Partition, w.Offset)
	}
	return b
}

// BadRecordOptions are the options of a source that uses BadRecords and
// EventTime; fields names the place keys of its errors.path lines.
func BadRecordOptions(fields, place string) []Option {
	return []Option{
		{Key: "errors.path", DefaultDoc: "absent (log)", Use: SourceOnly, Doc: "append every bad record as a `{" + fields +
			`,"error","record"}` + "` JSON line (the first 10 are logged in full either way, later ones at most once a second)"},
		{Key: "format.fail-on-error", Type: Bool, Default: "false", Use: SourceOnly, Doc: "fail the job on the first bad record, naming " + place},
		maxFutureOption,
	}
}

// maxFutureOption is 'scan.watermark.max-future', read by NewEventTime.
var maxFutureOption = Option{Key: "scan.watermark.max-future", Type: Duration, Default: "1 d", Values: []string{"off"}, Min: "0", Use: SourceOnly,
	Doc: "an event time further ahead of the wall clock (or outside the years 0001–9999) makes the row a bad record: " +
		"it is neither emitted nor moves the watermark; `off`: only the years bound it (for synthetic data dated in the future)"}

// BadRecords reports the bad records of one source table. It is shared by
// the table's subtasks and safe for concurrent use. Lines for errors.path
// are buffered by Report and written by Flush (in one append).
type BadRecords struct {
	table       string
	errorsPath  string
	failOnError bool
	limit       *Limiter

	mu    sync.Mutex
	count int64
	first []Where // the first FullReports places
	buf   []byte  // lines for errors.path not yet written
}

// NewBadRecords reads the options 'errors.path' and 'format.fail-on-error'
// of table t.
func NewBadRecords(t Table) (*BadRecords, error) {
	r := &BadRecords{table: t.Name, limit: NewLimiter(time.Second)}
	var err error
	if r.failOnError, err = t.Bool("format.fail-on-error", false); err != nil {
		return nil, err
	}
	if v, ok := t.Options["errors.path"]; ok {
		if r.errorsPath, err = errorsPath(v); err != nil {
			return nil, fmt.Errorf("table %s: option %q: %v", t.Name, "errors.path", err)
		}
	}
	registerBadRecords(r)
	return r, nil
}

// LocalPath makes the path p of a connector option absolute and clean. Only
// local paths are allowed: a file:// prefix is dropped, other schemes are
// refused.
func LocalPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	p = strings.TrimPrefix(p, "file://")
	switch {
	case p == "":
		return "", errors.New("empty path")
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("path %q holds a NUL byte", p)
	case strings.Contains(p, "://"):
		return "", fmt.Errorf("path %q: only local paths are supported", p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("path %q: %v", p, err)
	}
	return filepath.Clean(abs), nil
}

// errorsPath checks the value of 'errors.path': a local file (absent, or a
// regular file) in a folder that exists.
func errorsPath(v string) (string, error) {
	abs, err := LocalPath(v)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err == nil && !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", abs)
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return "", fmt.Errorf("folder %s does not exist", filepath.Dir(abs))
	}
	return abs, nil
}

// FailOnError reports whether a bad record fails the job.
func (r *BadRecords) FailOnError() bool { return r.failOnError }

// ErrorsPath is the file bad records are appended to ("" for none).
func (r *BadRecords) ErrorsPath() string { return r.errorsPath }

// Report handles one bad record at w: with 'format.fail-on-error' it
// returns the error that fails the job (naming w); otherwise it counts,
// logs it through log (the reporting subtask's, runtime.Context.Logger)
// and buffers it for errors.path, and returns nil. rec is the record as
// read (copied).
func (r *BadRecords) Report(log *slog.Logger, w Where, err error, rec []byte) error {
	if r.failOnError {
		return fmt.Errorf("table %s: %s: %w", r.table, w, err)
	}
	r.mu.Lock()
	r.count++
	full := len(r.first) < FullReports
	if full {
		r.first = append(r.first, w)
	}
	if r.errorsPath != "" {
		b := w.appendJSON(r.buf)
		b = append(b, `,"error":`...)
		b = jsontext.AppendString(b, err.Error())
		b = append(b, `,"record":`...)
		if len(rec) > MaxRecordExcerpt {
			b = jsontext.AppendString(b, string(rec[:MaxRecordExcerpt]))
			b = append(b, `,"truncated":true`...)
		} else {
			b = jsontext.AppendString(b, string(rec))
		}
		r.buf = append(b, "}\n"...)
	}
	r.mu.Unlock()
	if full {
		log.Warn(fmt.Sprintf("table %s: %s: %v (skipped)", r.table, w, err))
	} else {
		r.limit.Warn(log, "table %s: %s: %v (skipped)", r.table, w, err)
	}
	return nil
}

// Flush appends the buffered lines to errors.path in one write (O_APPEND:
// lines of several processes do not interleave). Sources call it at the
// end of each Poll and in Close.
func (r *BadRecords) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return nil
	}
	f, err := os.OpenFile(r.errorsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("table %s: option %q: %w", r.table, "errors.path", err)
	}
	_, err = f.Write(r.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	r.buf = r.buf[:0]
	if err != nil {
		return fmt.Errorf("table %s: cannot write to %s: %w", r.table, r.errorsPath, err)
	}
	return nil
}

// Count is the number of bad records skipped so far.
func (r *BadRecords) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Summary tells how many bad records were skipped and where: "table t: 3
// bad records skipped (in.jsonl lines 19, 102, 154)"; past FullReports, the
// places of the first ones and where the others went. "" when none.
func (r *BadRecords) Summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == 0 {
		return ""
	}
	noun := "records"
	if r.count == 1 {
		noun = "record"
	}
	s := fmt.Sprintf("table %s: %d bad %s skipped (%s)", r.table, r.count, noun, places(r.first))
	if r.count > int64(len(r.first)) {
		if r.errorsPath != "" {
			s += fmt.Sprintf("; the first %d were logged above, all %d are in %s", len(r.first), r.count, r.errorsPath)
		} else {
			s += fmt.Sprintf("; the first %d were logged above, the other %d at most once a second "+
				"(set 'errors.path' to keep every one)", len(r.first), r.count-int64(len(r.first)))
		}
	} else if r.errorsPath != "" {
		s += "; in " + r.errorsPath
	}
	return s
}

// places writes "in.jsonl lines 3, 9; b.jsonl line 2", keeping the order
// of first appearance.
func places(ws []Where) string {
	var order []string
	units := map[string]string{}
	pos := map[string][]string{}
	for _, w := range ws {
		in, unit, p := w.group()
		if _, ok := pos[in]; !ok {
			order = append(order, in)
			units[in] = unit
		}
		if p != "" {
			pos[in] = append(pos[in], p)
		}
	}
	parts := make([]string, len(order))
	for i, in := range order {
		if len(pos[in]) == 0 { // a place without positions
			parts[i] = in
			continue
		}
		unit := units[in]
		if len(pos[in]) > 1 {
			unit += "s"
		}
		parts[i] = fmt.Sprintf("%s %s %s", in, unit, strings.Join(pos[in], ", "))
	}
	return strings.Join(parts, "; ")
}

// The reporters of the process, by table name (a later one of the same
// name replaces the earlier), for Summaries.
var (
	reportersMu sync.Mutex
	reporters   = map[string]*BadRecords{}
	reportOrder []string
)

func registerBadRecords(r *BadRecords) {
	reportersMu.Lock()
	defer reportersMu.Unlock()
	if _, ok := reporters[r.table]; !ok {
		reportOrder = append(reportOrder, r.table)
	}
	reporters[r.table] = r
}

// Summaries returns the Summary of every source table of the process that
// skipped bad records, in the order the tables were planned. A command
// running one job prints them when the job ends, and in its status line.
func Summaries() []string {
	reportersMu.Lock()
	rs := make([]*BadRecords, 0, len(reportOrder))
	for _, name := range reportOrder {
		rs = append(rs, reporters[name])
	}
	reportersMu.Unlock()
	var out []string
	for _, r := range rs {
		if s := r.Summary(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// EventTime checks the event time of decoded rows: a time outside the
// years 0001-9999 (runtime.MinEventTime, runtime.MaxEventTime) or further
// than 'scan.watermark.max-future' ahead of the wall clock is not a
// watermark driver but a bad record. History replays are in the past, so
// the wall clock bounds them. Each source subtask keeps its own copy.
type EventTime struct {
	col       int // -1: the table has no event time
	name      string
	maxFuture time.Duration
	hi        int64
	now       int64
}

// NewEventTime reads 'scan.watermark.max-future' of table t: a duration,
// or off (only the years 0001-9999 bound the event time).
func NewEventTime(t Table) (EventTime, error) {
	e := EventTime{col: t.TimeColumn, maxFuture: DefaultMaxFuture}
	if v, ok := t.Options[maxFutureOption.Key]; ok {
		if _, off := word(maxFutureOption, v); off {
			e.maxFuture = -1
		} else if d, err := ParseValue(maxFutureOption, t, v); err != nil {
			return EventTime{}, err
		} else {
			e.maxFuture = d.(time.Duration)
		}
	}
	if e.col >= 0 && t.Schema != nil && e.col < len(t.Schema.Fields) {
		e.name = t.Schema.Fields[e.col].Name
	} else {
		e.col = -1
	}
	e.Refresh(time.Now())
	return e, nil
}

// Refresh moves the upper bound to now + max-future; sources call it once
// per Poll.
func (e *EventTime) Refresh(now time.Time) {
	e.now = now.UnixMilli()
	e.hi = runtime.MaxEventTime
	if ms := e.maxFuture.Milliseconds(); e.maxFuture >= 0 && e.now < runtime.MaxEventTime-ms {
		e.hi = e.now + ms
	}
}

// CheckLast checks the last row appended to b (by a decoder). When its
// event time is not sane it removes the row from b and returns the reason.
func (e *EventTime) CheckLast(b *runtime.Batch) error {
	if b.N == 0 {
		return nil
	}
	err := e.check(b, b.N-1)
	if err != nil {
		dropLast(b)
	}
	return err
}

// check returns why the event time of physical row r of b is not sane, or nil.
func (e *EventTime) check(b *runtime.Batch, r int) error {
	if e.col < 0 {
		return nil
	}
	v := &b.Cols[e.col]
	if v.IsNull(r) {
		return nil
	}
	ts := v.I64[r]
	switch {
	case ts < runtime.MinEventTime || ts > runtime.MaxEventTime:
		return fmt.Errorf("column %q: event time %d ms is outside the years 0001-9999", e.name, ts)
	case ts > e.hi:
		return fmt.Errorf("column %q: event time %s is more than %v ahead of the wall clock %s (option 'scan.watermark.max-future')",
			e.name, runtime.FormatTimestamp(ts), e.maxFuture, runtime.FormatTimestamp(e.now))
	}
	return nil
}

// CheckSince checks the rows appended to b from physical row n on (by a
// decoder of a record that may give several rows, such as an update's -U
// and +U). When the event time of one is not sane it removes them all and
// returns the reason.
func (e *EventTime) CheckSince(b *runtime.Batch, n int) error {
	if e.col < 0 {
		return nil
	}
	if v := &b.Cols[e.col]; n == b.N-1 && v.Null == nil && v.I64[n] >= runtime.MinEventTime && v.I64[n] <= e.hi {
		return nil // one row, sane (e.hi <= runtime.MaxEventTime): what a decoder mostly appends
	}
	return e.checkSince(b, n)
}

func (e *EventTime) checkSince(b *runtime.Batch, n int) error {
	for r := n; r < b.N; r++ {
		if err := e.check(b, r); err != nil {
			for b.N > n {
				dropLast(b)
			}
			return err
		}
	}
	return nil
}

// dropLast removes the last physical row of b (which has no selection).
func dropLast(b *runtime.Batch) {
	n := b.N - 1
	for c := range b.Cols {
		v := &b.Cols[c]
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.F64 = v.F64[:n]
		case runtime.PhysString:
			v.Str[n] = ""
			v.Str = v.Str[:n]
		default:
			v.I64 = v.I64[:n]
		}
		if len(v.Null) > n {
			v.Null = v.Null[:n]
		}
	}
	if len(b.Kinds) > n {
		b.Kinds = b.Kinds[:n]
	}
	b.N = n
}
