package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// FilePosition is how far a file, or a range of a file split between the
// subtasks, has been read: Offset bytes, which hold Line lines; the next
// record starts at Offset, on line Line+1 (or, with Skip, the rest of a
// line comes first, to be skipped: an over-long one, or the line a range
// begins inside). Done says a bounded source has read the file (range) to
// its end: a restored bounded source does not read it again, even if it
// has grown.
//
// Start and End are 0 for a whole file. A range holds the records that
// start in bytes [Start, End) (End 0: to the end of the file); its reader
// begins at Offset Start-1 with Skip set, so that it starts at the first
// line start at or after Start, and reads on until the line that crosses
// End is complete. The Line of a range counts the lines from byte
// max(Start-1, 0) on.
type FilePosition struct {
	Path   string `json:"path"`
	Start  int64  `json:"start,omitempty"`
	End    int64  `json:"end,omitempty"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
	Skip   bool   `json:"skip,omitempty"`
	Done   bool   `json:"done,omitempty"`
}

// anchor is the byte the range's Line counts from.
func (p FilePosition) anchor() int64 { return max(p.Start-1, 0) }

// whole reports whether p is the position of a whole file.
func (p FilePosition) whole() bool { return p.Start == 0 && p.End == 0 }

// Position is where a source subtask stood at a checkpoint barrier: the
// position of each of its files (partitions), in partition order (a file
// read in ranges: each of its ranges, in file order).
type Position struct {
	Checkpoint int64          `json:"checkpoint"`
	Files      []FilePosition `json:"files"`
}

// Source is a subtask of a file source. It implements runtime.Source,
// runtime.PartitionedSource (one partition per file: its ranges, when split,
// are one partition of the subtask reading them) and
// runtime.SourceBarrierHandler (recording its Position at each barrier).
type Source struct {
	cfg     *config
	listing *listing
	restore map[string][]FilePosition

	ctx     *runtime.Context
	dec     decoder
	csv     *format.CSVDecoder // when the format is CSV
	files   []*fileState       // by partition
	open    []int              // partitions being read, round-robin
	queue   []int              // partitions with data to read, waiting for a slot in open
	rr      int
	batch   *runtime.Batch
	free    [][]byte // read buffers to reuse
	checked time.Time

	bad       int64                // bad records since the last Poll, for the metric
	eventTime connectors.EventTime // this subtask's copy

	mu  sync.Mutex // guards pos, which Position reads from another goroutine
	pos Position
}

// decoder is a decoder of package format: JSON, CSV, changelog-json or
// debezium-json. It appends the rows of one record (a changelog record may
// give none or two) or, on error, leaves the batch unchanged.
type decoder interface {
	Decode(rec []byte, b *runtime.Batch) error
}

// newJSONDecoder returns the decoder of a JSON-based format.
func newJSONDecoder(c *config) decoder {
	switch c.format {
	case "changelog-json":
		return format.NewChangelogJSONDecoder(c.schema)
	case "debezium-json":
		return format.NewDebeziumJSONDecoder(c.schema, c.dbz)
	}
	return format.NewJSONDecoder(c.schema)
}

// fileState is a file this subtask reads: the whole file, or the ranges of
// it dealt to the subtask, read one after the other in file order (so that
// its event times, and the watermark of its partition, move forward as in
// a whole file).
type fileState struct {
	path  string
	spans []FilePosition // the ranges, in order (one, Start and End 0, for a whole file)
	cur   int            // spans[cur] is being read; the fields below are its state
	start int64          // spans[cur].Start
	end   int64          // spans[cur].End (0: to the end of the file)
	base  int64          // lines before spans[cur].anchor() (-1: not counted yet)

	f      *os.File
	buf    []byte
	r, w   int   // buf[r:w] is read but not consumed
	offset int64 // bytes consumed: the file offset of buf[r]
	line   int64 // lines consumed
	eof    bool  // the last read reached the end of the file
	skip   bool  // discarding the rest of an over-long line
	queued bool  // in open or queue
	done   bool  // bounded: read to its end
}

// newFileState returns the state of a file to read from its spans.
func newFileState(spans []FilePosition) *fileState {
	fs := &fileState{path: spans[0].Path, spans: spans}
	fs.load(0)
	for fs.spans[fs.cur].Done && fs.cur+1 < len(fs.spans) {
		fs.load(fs.cur + 1)
	}
	return fs
}

// load makes span i the current one.
func (fs *fileState) load(i int) {
	sp := fs.spans[i]
	fs.cur, fs.start, fs.end, fs.base = i, sp.Start, sp.End, -1
	if sp.Start == 0 {
		fs.base = 0
	}
	fs.offset, fs.line, fs.skip = sp.Offset, sp.Line, sp.Skip
}

// nextSpan records the current span as read to its end and makes the next
// span not yet read the current one (or, when following, the last one,
// which runs to the end of the file) current; false when there is none.
func (fs *fileState) nextSpan(follow bool) bool {
	fs.spans[fs.cur] = fs.current(true)
	for i := fs.cur + 1; i < len(fs.spans); i++ {
		if !fs.spans[i].Done || follow && i == len(fs.spans)-1 {
			fs.load(i)
			return true
		}
	}
	return false
}

// current is the position of the current span.
func (fs *fileState) current(done bool) FilePosition {
	sp := fs.spans[fs.cur]
	sp.Offset, sp.Line, sp.Skip, sp.Done = fs.offset, fs.line, fs.skip, done
	return sp
}

// positions appends the position of each span of fs to dst.
func (fs *fileState) positions(dst []FilePosition) []FilePosition {
	for i, sp := range fs.spans {
		if i == fs.cur {
			sp = fs.current(fs.done)
		}
		dst = append(dst, sp)
	}
	return dst
}

func newSourceFactory(c *config) func() runtime.Source {
	var mu sync.Mutex
	var cur *listing
	return func() runtime.Source {
		mu.Lock()
		defer mu.Unlock()
		if cur == nil || cur.isOpened() {
			cur = &listing{cfg: c}
		}
		return &Source{cfg: c, listing: cur}
	}
}

// Restore makes the subtask resume from the given positions; call it
// before Open. The positions of every subtask of the source may be given
// (also those of a run with another parallelism): each subtask takes those
// of its own files, and reads files it finds no position for from the
// start. A file now shorter than its position is read from the start.
//
// The ranges of a file split between subtasks stay those of the run that
// split it: each range goes on from its own position, whichever subtask
// reads it now.
func (s *Source) Restore(positions ...Position) {
	s.restore = make(map[string][]FilePosition)
	for _, p := range positions {
		for _, f := range p.Files {
			dup := slices.ContainsFunc(s.restore[f.Path], func(q FilePosition) bool { return q.Start == f.Start })
			if !dup {
				s.restore[f.Path] = append(s.restore[f.Path], f)
			}
		}
	}
}

// Position returns the position recorded at the last checkpoint barrier
// (Checkpoint 0 and no files before the first). It may be called from any
// goroutine.
func (s *Source) Position() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Position{Checkpoint: s.pos.Checkpoint, Files: slices.Clone(s.pos.Files)}
}

// OnBarrier records the subtask's position: every row of the batches
// returned so far, and no other, lies before it.
func (s *Source) OnBarrier(b runtime.Barrier) error {
	var files []FilePosition
	for _, fs := range s.files {
		files = fs.positions(files)
	}
	s.mu.Lock()
	s.pos = Position{Checkpoint: b.ID, Files: files}
	s.mu.Unlock()
	return nil
}

// Open takes the subtask's share of the files.
func (s *Source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.batch = runtime.NewBatch(s.cfg.schema)
	s.eventTime = s.cfg.eventTime
	if s.cfg.format == "csv" {
		d, err := format.NewCSVDecoder(s.cfg.schema, s.cfg.csv)
		if err != nil {
			return err
		}
		s.dec, s.csv = d, d
	} else {
		s.dec = newJSONDecoder(s.cfg)
	}
	now := time.Now()
	files, err := s.listing.take(ctx.Logger(), ctx.Subtask, ctx.Parallelism, now, s.restore)
	if err != nil {
		return err
	}
	s.checked = now
	s.add(files)
	return nil
}

// Partitions are the files found at Open; files found later (when
// following) become partitions when they deliver rows. A following subtask
// that has no file yet declares partition 0 (its first file to come), so
// that it holds the watermark back only until the idle timeout, like a
// file that delivers nothing (whether or not the runtime idles a subtask
// without partitions).
func (s *Source) Partitions() []int {
	if len(s.files) == 0 && s.cfg.monitor > 0 {
		return []int{0}
	}
	parts := make([]int, len(s.files))
	for i := range parts {
		parts[i] = i
	}
	return parts
}

// add takes files dealt to the subtask: the spans of each, in order.
func (s *Source) add(files [][]FilePosition) {
	for _, spans := range files {
		fs := newFileState(spans)
		fs.done = fs.spans[fs.cur].Done && s.cfg.monitor == 0
		s.files = append(s.files, fs)
		if !fs.done {
			s.enqueue(len(s.files) - 1)
		}
	}
}

func (s *Source) enqueue(part int) {
	if fs := s.files[part]; !fs.queued {
		fs.queued = true
		s.queue = append(s.queue, part)
	}
}

// Poll returns up to runtime.DefaultBatchRows rows of one file.
func (s *Source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	s.eventTime.Refresh(time.Now())
	b, part, err := s.poll(ctx)
	if err2 := s.cfg.bad.Flush(); err == nil && err2 != nil {
		err = err2
	}
	if s.bad > 0 && s.ctx.Metrics != nil {
		s.ctx.Metrics.BadRecords.Add(int(s.bad))
		s.bad = 0
	}
	return b, part, err
}

func (s *Source) poll(ctx context.Context) (*runtime.Batch, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if s.cfg.monitor > 0 {
		if err := s.follow(); err != nil {
			return nil, 0, err
		}
	}
	s.batch.Reset()
	for {
		for len(s.open) < maxOpen && len(s.queue) > 0 {
			part := s.queue[0]
			s.queue = s.queue[1:]
			fs := s.files[part]
			if err := s.openFile(fs); err != nil {
				if s.cfg.monitor > 0 && errors.Is(err, iofs.ErrNotExist) {
					fs.queued = false // gone, rotated away: look again later
					continue
				}
				return nil, 0, err
			}
			s.open = append(s.open, part)
		}
		if len(s.open) == 0 {
			if s.cfg.monitor > 0 {
				return nil, 0, nil
			}
			return nil, 0, io.EOF
		}
		s.rr %= len(s.open)
		part := s.open[s.rr]
		fs := s.files[part]
		more, err := s.read(fs)
		if err != nil {
			return nil, 0, err
		}
		if !more {
			s.closeFile(fs)
			s.open = slices.Delete(s.open, s.rr, s.rr+1)
		} else {
			s.rr++
		}
		if s.batch.N > 0 {
			return s.batch, part, nil
		}
		if more {
			return nil, 0, nil // only bad records so far: let the runtime run
		}
	}
}

// follow takes new files dealt to the subtask, and, once per monitor
// interval, looks for files that have grown.
func (s *Source) follow() error {
	now := time.Now()
	files, err := s.listing.take(s.ctx.Logger(), s.ctx.Subtask, s.ctx.Parallelism, now, s.restore)
	if err != nil {
		return err
	}
	s.add(files)
	if now.Sub(s.checked) < s.cfg.monitor {
		return nil
	}
	s.checked = now
	for part, fs := range s.files {
		if fs.queued {
			continue
		}
		st, err := os.Stat(fs.path)
		switch {
		case err != nil:
			// Gone (rotated away) or unreadable for now: look again later.
		case st.Size() > fs.offset:
			s.enqueue(part)
		case st.Size() < fs.offset:
			s.cfg.log.Warn(s.ctx.Logger(), "table %s: %s is shorter (%d bytes) than already read (%d): reading it again from the start",
				s.cfg.table, fs.path, st.Size(), fs.offset)
			fs.spans = []FilePosition{{Path: fs.path}} // a new file: whole
			fs.load(0)
			s.enqueue(part)
		}
	}
	return nil
}

func (s *Source) openFile(fs *fileState) error {
	f, err := os.Open(fs.path)
	if err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	if st, err := f.Stat(); err == nil && st.Size() < fs.offset && len(fs.spans) == 1 && fs.spans[0].whole() {
		fs.offset, fs.line, fs.skip = 0, 0, false // shorter than its position: a new file
	}
	fs.f = f
	if err := s.seek(fs); err != nil {
		f.Close()
		fs.f = nil
		return err
	}
	if n := len(s.free); n > 0 {
		fs.buf, s.free = s.free[n-1], s.free[:n-1]
	} else {
		fs.buf = make([]byte, readBuffer)
	}
	return nil
}

// seek moves fs's open file to fs.offset and empties its buffer.
func (s *Source) seek(fs *fileState) error {
	if _, err := fs.f.Seek(fs.offset, io.SeekStart); err != nil {
		return fmt.Errorf("table %s: %s: %w", s.cfg.table, fs.path, err)
	}
	fs.r, fs.w, fs.eof = 0, 0, false
	return nil
}

// closeFile closes a file that has no more records now: for good when
// bounded, until it grows when following.
func (s *Source) closeFile(fs *fileState) {
	fs.f.Close()
	fs.f = nil
	if len(fs.buf) == readBuffer {
		s.free = append(s.free, fs.buf)
	}
	fs.buf = nil
	fs.queued = false
	fs.done = s.cfg.monitor == 0
}

// read decodes records of fs into the batch until it is full, the file has
// no complete record left (more is false then), or it has looked at
// maxRecordsPerRead records (a file of bad records must not hold the
// subtask for long).
func (s *Source) read(fs *fileState) (more bool, err error) {
	const maxRecordsPerRead = 4 * runtime.DefaultBatchRows
	json := s.csv == nil
	for seen := 0; s.batch.N < batchRows && seen < maxRecordsPerRead; seen++ {
		rec, line, ok := fs.nextLine(json)
		if !ok {
			var err error
			if rec, line, ok, err = s.next(fs); err != nil {
				return false, err
			}
		}
		if !ok {
			// The end of the file, or of the range: on to the subtask's
			// next range of the file, if any. (A following source splits
			// no file, but may be restored from ranges.)
			if !fs.nextSpan(s.cfg.monitor > 0) {
				return false, nil
			}
			if err := s.seek(fs); err != nil {
				return false, err
			}
			continue
		}
		if line == 1 {
			rec = bytes.TrimPrefix(rec, []byte("\xEF\xBB\xBF")) // a UTF-8 byte order mark
			if s.csv != nil && s.cfg.csvSkipFirst {
				continue
			}
		}
		if (len(rec) == 0 || rec[0] != '{') && blank(rec, !json) {
			continue
		}
		n := s.batch.N
		derr := s.dec.Decode(rec, s.batch)
		if derr == nil {
			derr = s.eventTime.CheckSince(s.batch, n)
		}
		if derr != nil {
			if err := s.badRecord(fs, line, derr, rec); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// blank reports whether rec is a blank line: empty, or, in JSON, spaces
// and tabs only.
func blank(rec []byte, csv bool) bool {
	if csv {
		return len(rec) == 0
	}
	for _, c := range rec {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// next returns the next record of fs (without its line break) and the line
// it starts on. ok is false when no complete record is there now: at the
// end of the file, or, when following, before the end of a line still
// being written. The record is valid until the next call.
func (s *Source) next(fs *fileState) (rec []byte, line int64, ok bool, err error) {
	for {
		data := fs.buf[fs.r:fs.w]
		if fs.skip { // the rest of an over-long line
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				fs.consume(i+1, 1)
				fs.skip = false
				continue
			}
			fs.consume(len(data), 0)
		} else {
			if fs.end > 0 && fs.offset >= fs.end {
				return nil, 0, false, nil // the next record belongs to the next range
			}
			n, adv, lines, complete := s.split(data)
			if complete {
				if err := s.checkSplit(fs, data[:adv]); err != nil {
					return nil, 0, false, err
				}
				line = fs.line + 1
				fs.consume(adv, lines)
				return data[:n], line, true, nil
			}
			if len(data) > maxRecordBytes {
				err := fmt.Errorf("record longer than %d bytes", maxRecordBytes)
				if err := s.badRecord(fs, fs.line+1, err, data[:min(len(data), 1024)]); err != nil {
					return nil, 0, false, err
				}
				fs.skip = true
				continue
			}
			if fs.eof && len(data) > 0 && s.cfg.monitor == 0 {
				// The last record, without a line break (or a CSV record
				// with an open quote running to the end).
				if err := s.checkSplit(fs, data); err != nil {
					return nil, 0, false, err
				}
				line = fs.line + 1
				lines := bytes.Count(data, []byte{'\n'})
				rec := bytes.TrimSuffix(data, []byte{'\n'})
				if len(rec) == len(data) {
					lines++
				}
				fs.consume(len(data), int64(lines))
				return bytes.TrimSuffix(rec, []byte{'\r'}), line, true, nil
			}
		}
		if fs.eof {
			return nil, 0, false, nil
		}
		if err := fs.fill(); err != nil {
			return nil, 0, false, fmt.Errorf("table %s: cannot read %s: %w", s.cfg.table, fs.path, err)
		}
	}
}

// nextLine is next's common case for JSON lines, written out: a complete
// line in the buffer, inside the range. ok is false for anything else
// (not JSON, a line to skip, the end of the range, no line break in the
// buffer), which next takes.
func (fs *fileState) nextLine(json bool) (rec []byte, line int64, ok bool) {
	if !json || fs.skip || fs.end > 0 && fs.offset >= fs.end {
		return nil, 0, false
	}
	data := fs.buf[fs.r:fs.w]
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return nil, 0, false
	}
	rec, line = data[:i], fs.line+1
	if i > 0 && rec[i-1] == '\r' {
		rec = rec[:i-1]
	}
	fs.r += i + 1
	fs.offset += int64(i + 1)
	fs.line = line
	return rec, line, true
}

// split finds the first record of data: its length without the line break,
// with it, and the lines it spans.
func (s *Source) split(data []byte) (n, adv int, lines int64, ok bool) {
	if s.csv != nil {
		return s.csv.Split(data)
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, 0, 0, false
	}
	n = i
	if n > 0 && data[n-1] == '\r' {
		n--
	}
	return n, i + 1, 1, true
}

func (fs *fileState) consume(n int, lines int64) {
	fs.r += n
	fs.offset += int64(n)
	fs.line += lines
}

// rangeSlack is how far past the end of a range a read goes at most.
const rangeSlack = 64 << 10

// fill reads more of the file into buf, moving what is left to the front
// and growing buf when a record does not fit.
func (fs *fileState) fill() error {
	if fs.r > 0 {
		fs.w = copy(fs.buf, fs.buf[fs.r:fs.w])
		fs.r = 0
	}
	if fs.w == len(fs.buf) {
		fs.buf = append(fs.buf, make([]byte, len(fs.buf))...)
	}
	to := len(fs.buf)
	if fs.end > 0 {
		// A range: what is left of it, and a little more for the line
		// that crosses its end.
		left := fs.end - (fs.offset + int64(fs.w-fs.r))
		to = fs.w + int(min(max(left, 0)+rangeSlack, int64(to-fs.w)))
	}
	n, err := fs.f.Read(fs.buf[fs.w:to])
	fs.w += n
	if err == io.EOF || n == 0 && err == nil {
		fs.eof = true
		return nil
	}
	return err
}

// checkSplit checks, in a range of a CSV file, that the record rec at
// fs.offset, when it crosses the end of the range, ends where the reader
// of the next range starts: after the first line break at or after byte
// end-1. A quoted field with a line break in it there would make that
// reader start inside the record; the job fails then, rather than read
// rows twice or not at all. (A JSON record is one line: it always ends
// there.)
func (s *Source) checkSplit(fs *fileState, rec []byte) error {
	if s.csv == nil || fs.end == 0 || fs.offset+int64(len(rec)) <= fs.end {
		return nil
	}
	from := fs.end - 1 - fs.offset // ≥ 0: the record starts before end
	if i := bytes.IndexByte(rec[int(from):], '\n'); i >= 0 && from+int64(i) < int64(len(rec))-1 {
		return connectors.Errorf(s.cfg.table, "%s: a quoted CSV field holds a line break at byte %d, where the file is split "+
			"between source subtasks: set 'source.split-size' = 'off' to read the file in one piece", fs.path, fs.offset+from+int64(i))
	}
	return nil
}

// lineOf returns the line number in the file of line number line of fs's
// current range, counting the lines before the range (once) when it does
// not start the file.
func (s *Source) lineOf(fs *fileState, line int64) int64 {
	if fs.base < 0 {
		fs.base = 0
		n, err := countLines(fs.path, fs.spans[fs.cur].anchor())
		if err != nil {
			s.cfg.log.Warn(s.ctx.Logger(), "table %s: cannot count the lines of %s: %v", s.cfg.table, fs.path, err)
		}
		fs.base = n
	}
	return fs.base + line
}

// countLines counts the line breaks in the first n bytes of the file path.
func countLines(path string, n int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var lines int64
	for n > 0 {
		k, err := f.Read(buf[:min(int64(len(buf)), n)])
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		n -= int64(k)
		if err != nil {
			if err == io.EOF {
				break
			}
			return lines, err
		}
	}
	return lines, nil
}

// badRecord handles a record that could not be decoded or has no sane
// event time: it fails the job when asked to, and otherwise reports and
// counts it. line is the line of fs's current range it starts on.
func (s *Source) badRecord(fs *fileState, line int64, err error, rec []byte) error {
	if err := s.cfg.bad.Report(s.ctx.Logger(), connectors.Where{File: fs.path, Line: s.lineOf(fs, line)}, err, rec); err != nil {
		return err
	}
	s.bad++
	return nil
}

// Close closes the files and tells how many bad-record reports were
// suppressed.
func (s *Source) Close() error {
	var errs []error
	errs = append(errs, s.cfg.bad.Flush())
	for _, fs := range s.files {
		if fs.f != nil {
			fs.f.Close()
			fs.f = nil
		}
	}
	if s.batch != nil {
		s.batch.Release()
		s.batch = nil
	}
	s.cfg.log.WarnFlush(s.ctx.Logger(), "warnings")
	return errors.Join(errs...)
}
