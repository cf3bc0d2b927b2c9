package file

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// sink is a subtask of a file sink: it writes part files
// part-<subtask>-<n>.<ext> in the folder (or the one file), each hidden as
// .part-<subtask>-<n>.<ext>.inprogress until it is complete. When the job
// takes checkpoints it is a two-phase-commit sink (see the package doc and
// checkpoint.go): complete files wait, hidden, for the checkpoint that
// covers them.
type sink struct {
	runtime.Base
	cfg *config
	ctx *runtime.Context

	csv    *format.CSVEncoder
	ext    string
	dir    string
	n      int // number of the next part file
	f      *os.File
	w      *bufio.Writer
	tmp    string // the in-progress file
	final  string // its name once complete
	size   int64
	opened time.Time
	err    error // a write error: the part file is not published

	// With checkpoints: closed are complete part files (still named
	// .inprogress) that no checkpoint covers yet; SnapshotState makes them
	// pending. Only the subtask's goroutine touches closed.
	exactlyOnce bool
	closed      []pendingFile
	// mu guards pending, the files pre-committed by a checkpoint and not yet
	// published: the subtask's goroutine adds to it (SnapshotState,
	// RestoreState) and the checkpoint coordinator's publishes from it
	// (NotifyCheckpointComplete). Renames of pending files happen under mu.
	mu      sync.Mutex
	pending []pendingFile
	// last is the newest checkpoint in the commit record (see commit.go),
	// recordErr why it could not be read; both guarded by mu.
	last      int64
	recordErr error
}

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.exactlyOnce = ctx.Checkpointing
	switch s.cfg.format {
	case "csv":
		s.ext = "csv"
		enc, err := format.NewCSVEncoder(s.cfg.csv)
		if err != nil {
			return err
		}
		s.csv = enc
	default:
		s.ext = "json"
	}
	if s.cfg.single && ctx.Parallelism > 1 {
		return fmt.Errorf("table %s: the sink writes one file (%s), so it runs as one subtask, not %d; "+
			"give a folder path to write in parallel", s.cfg.table, s.cfg.path, ctx.Parallelism)
	}
	s.dir = s.cfg.path
	if s.cfg.single {
		s.dir = filepath.Dir(s.cfg.path)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	if !s.cfg.single {
		n, err := nextPart(s.dir, ctx.Subtask)
		if err != nil {
			return fmt.Errorf("table %s: %w", s.cfg.table, err)
		}
		s.n = n
	}
	// The commit record of an earlier checkpointed run is read also by a
	// run without checkpoints, which would publish its rows again.
	s.readRecord()
	return nil
}

// nextPart returns the first part number above those of subtask already in
// dir (from an earlier run, complete or not), so nothing is overwritten.
func nextPart(dir string, subtask int) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	prefix := "part-" + strconv.Itoa(subtask) + "-"
	n := 0
	for _, e := range entries {
		name := strings.TrimPrefix(e.Name(), ".")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if k, err := strconv.Atoi(num); err == nil && k >= n {
			n = k + 1
		}
	}
	return n, nil
}

func (s *sink) openPart() error {
	if s.cfg.single {
		s.final = s.cfg.path
	} else {
		s.final = filepath.Join(s.dir, fmt.Sprintf("part-%d-%d.%s", s.ctx.Subtask, s.n, s.ext))
		s.n++
	}
	s.tmp = filepath.Join(s.dir, "."+filepath.Base(s.final)+".inprogress")
	f, err := os.OpenFile(s.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	s.f, s.size, s.opened, s.err = f, 0, time.Now(), nil
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, writeBuffer)
	} else {
		s.w.Reset(f)
	}
	if s.csv != nil && s.cfg.csvHeader {
		s.write(append(s.csv.AppendHeader(s.w.AvailableBuffer(), s.cfg.schema), '\n'))
	}
	if !s.cfg.single {
		s.ctx.RegisterProcessingTimer(s.opened.Add(s.cfg.rollInterval).UnixMilli())
	}
	return s.err
}

func (s *sink) write(p []byte) {
	if s.err != nil {
		return
	}
	n, err := s.w.Write(p)
	s.size += int64(n)
	if err != nil {
		s.err = fmt.Errorf("table %s: cannot write %s: %w", s.cfg.table, s.tmp, err)
	}
}

// ProcessBatch writes every present row as a line, rolling to a new part
// file when the current one reaches the size limit.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	for i := 0; i < b.Len(); i++ {
		if s.f == nil {
			if err := s.openPart(); err != nil {
				return err
			}
		}
		buf := s.w.AvailableBuffer()
		switch {
		case s.csv != nil:
			buf = s.csv.Append(buf, b, i)
		case s.cfg.format == "changelog-json":
			// {"op":"+U","row":{…}}: the row's changelog kind, then the row.
			buf = append(buf, `{"op":"`...)
			buf = append(buf, b.Kind(b.Row(i)).String()...)
			buf = append(buf, `","row":`...)
			buf = format.AppendJSON(buf, b, i)
			buf = append(buf, '}')
		default:
			buf = format.AppendJSON(buf, b, i)
		}
		s.write(append(buf, '\n'))
		if s.err != nil {
			return s.err
		}
		if !s.cfg.single && s.size >= s.cfg.rollSize {
			if err := s.closePart(); err != nil {
				return err
			}
		}
	}
	if !s.cfg.single && s.f != nil && time.Since(s.opened) >= s.cfg.rollInterval {
		return s.closePart()
	}
	return nil
}

// OnProcessingTime rolls a part file that has been open for the rollover
// interval, even when no row arrives.
func (s *sink) OnProcessingTime(int64, runtime.Output) error {
	if s.f != nil && time.Since(s.opened) >= s.cfg.rollInterval {
		return s.closePart()
	}
	return nil
}

// closePart completes the part file: it flushes, fsyncs and closes it,
// then renames it into place (and fsyncs the folder, so the rename is
// durable too) — or, with checkpoints, keeps it hidden for the next
// checkpoint to pre-commit.
func (s *sink) closePart() error {
	if s.f == nil {
		return nil
	}
	if err := s.completePart(); err != nil {
		return err
	}
	if s.exactlyOnce {
		s.closed = append(s.closed, pendingFile{Hidden: filepath.Base(s.tmp), Final: filepath.Base(s.final)})
		return nil
	}
	if err := os.Rename(s.tmp, s.final); err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	return syncDir(s.dir)
}

// completePart flushes, fsyncs and closes the part file; on failure the
// file is removed.
func (s *sink) completePart() error {
	f := s.f
	s.f = nil
	err := s.flush()
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("table %s: cannot sync %s: %w", s.cfg.table, s.tmp, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("table %s: cannot close %s: %w", s.cfg.table, s.tmp, cerr)
	}
	if err != nil {
		os.Remove(s.tmp)
	}
	return err
}

// flush writes the buffered rows to the part file.
func (s *sink) flush() error {
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("table %s: cannot write %s: %w", s.cfg.table, s.tmp, err)
	}
	return s.err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("cannot sync folder %s: %w", dir, err)
	}
	return nil
}

// Finish completes the current part file. A sink writing one file writes
// it even when it received no rows. With checkpoints, what is left is
// pre-committed for the checkpoint that records the end of the job
// (runtime.EndCheckpoint), which publishes it once complete.
func (s *sink) Finish(runtime.Output) error {
	if s.cfg.single && s.f == nil {
		if err := s.openPart(); err != nil {
			return err
		}
	}
	if s.exactlyOnce {
		return s.preCommit(runtime.EndCheckpoint)
	}
	return s.closePart()
}

// Close publishes what was written when the job stops without finishing
// (cancelled, or failed elsewhere). With checkpoints it publishes nothing:
// rows no checkpoint covers are dropped (a restored job writes them again),
// and pending files wait for their checkpoint (NotifyCheckpointComplete
// may still come, and a restore commits them).
func (s *sink) Close() error {
	if !s.exactlyOnce {
		return s.closePart()
	}
	s.discard()
	return nil
}
