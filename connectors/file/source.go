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

// FilePosition is how far a file has been read: Offset bytes, which hold
// Line lines; the next record starts at Offset, on line Line+1 (or, with
// Skip, the rest of an over-long line comes first, to be skipped). Done
// says a bounded source has read the file to its end: a restored bounded
// source does not read it again, even if it has grown.
type FilePosition struct {
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line"`
	Skip   bool   `json:"skip,omitempty"`
	Done   bool   `json:"done,omitempty"`
}

// Position is where a source subtask stood at a checkpoint barrier: the
// position of each of its files (partitions), in partition order.
type Position struct {
	Checkpoint int64          `json:"checkpoint"`
	Files      []FilePosition `json:"files"`
}

// Source is a subtask of a file source. It implements runtime.Source,
// runtime.PartitionedSource (one partition per file) and
// runtime.SourceBarrierHandler (recording its Position at each barrier).
type Source struct {
	cfg     *config
	listing *listing
	restore map[string]FilePosition

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

type fileState struct {
	path   string
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

func (fs *fileState) position() FilePosition {
	return FilePosition{Path: fs.path, Offset: fs.offset, Line: fs.line, Skip: fs.skip, Done: fs.done}
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
func (s *Source) Restore(positions ...Position) {
	s.restore = make(map[string]FilePosition)
	for _, p := range positions {
		for _, f := range p.Files {
			s.restore[f.Path] = f
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
	files := make([]FilePosition, len(s.files))
	for i, fs := range s.files {
		files[i] = fs.position()
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
	files, err := s.listing.take(ctx.Logger(), ctx.Subtask, ctx.Parallelism, now)
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

func (s *Source) add(paths []string) {
	for _, p := range paths {
		fs := &fileState{path: p}
		if pos, ok := s.restore[p]; ok {
			fs.offset, fs.line, fs.skip = pos.Offset, pos.Line, pos.Skip
			fs.done = pos.Done && s.cfg.monitor == 0
		}
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
	files, err := s.listing.take(s.ctx.Logger(), s.ctx.Subtask, s.ctx.Parallelism, now)
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
			fs.offset, fs.line, fs.skip = 0, 0, false
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
	if st, err := f.Stat(); err == nil && st.Size() < fs.offset {
		fs.offset, fs.line, fs.skip = 0, 0, false // shorter than its position: a new file
	}
	if fs.offset > 0 {
		if _, err := f.Seek(fs.offset, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("table %s: %s: %w", s.cfg.table, fs.path, err)
		}
	}
	fs.f, fs.r, fs.w, fs.eof = f, 0, 0, false
	if n := len(s.free); n > 0 {
		fs.buf, s.free = s.free[n-1], s.free[:n-1]
	} else {
		fs.buf = make([]byte, readBuffer)
	}
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
	for seen := 0; s.batch.N < runtime.DefaultBatchRows && seen < maxRecordsPerRead; seen++ {
		rec, line, ok, err := s.next(fs)
		if err != nil || !ok {
			return false, err
		}
		if line == 1 {
			rec = bytes.TrimPrefix(rec, []byte("\xEF\xBB\xBF")) // a UTF-8 byte order mark
			if s.csv != nil && s.cfg.csvSkipFirst {
				continue
			}
		}
		if len(rec) == 0 || s.csv == nil && len(bytes.TrimLeft(rec, " \t")) == 0 {
			continue // a blank line
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
			n, adv, lines, complete := s.split(data)
			if complete {
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
	n, err := fs.f.Read(fs.buf[fs.w:])
	fs.w += n
	if err == io.EOF || n == 0 && err == nil {
		fs.eof = true
		return nil
	}
	return err
}

// badRecord handles a record that could not be decoded or has no sane
// event time: it fails the job when asked to, and otherwise reports and
// counts it.
func (s *Source) badRecord(fs *fileState, line int64, err error, rec []byte) error {
	if err := s.cfg.bad.Report(s.ctx.Logger(), connectors.Where{File: fs.path, Line: line}, err, rec); err != nil {
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
