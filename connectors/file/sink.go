package file

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

// sink is a subtask of a file sink: it writes part files
// part-<subtask>-<n>.<ext> in the folder (or the one file), each hidden as
// .part-<subtask>-<n>.<ext>.inprogress until it is complete. With
// PARTITIONED BY the part files are in partition folders
// (k1=v1/k2=v2/part-…), one file in progress per partition, and the
// committer writes a partition's success file once it is due and every
// subtask's files of it are published. When the job takes checkpoints it is
// a two-phase-commit sink (see the package doc and commit.go): complete
// files wait, hidden, for the checkpoint that covers them.
type sink struct {
	runtime.Base
	cfg *config
	ctx *runtime.Context

	csv *format.CSVEncoder
	ext string
	dir string
	// tag is the attempt of a task run (see connectors.AttemptTag), "" otherwise: the
	// names written before publishing carry it, so that two attempts of one
	// task never share a file.
	tag string
	n   int // number of the next part file
	w   *bufio.Writer
	// open are the files in progress, by partition folder relative to dir
	// ("" without partitions).
	open map[string]*part

	// Partitioned: the committer of the run, the schema of the columns
	// written (all but the partition columns), a projection of the batch
	// onto them, the partition path of a row being built, and the
	// partitions this subtask wrote to, by folder, with their commit time
	// (pruned of committed ones at checkpoints).
	committer *committer
	schema    *runtime.Schema
	data      []int // the columns written
	proj      runtime.Batch
	key       []byte
	mine      map[string]int64

	// With checkpoints: closed are complete part files (still named
	// .inprogress) that no checkpoint covers yet; SnapshotState makes them
	// pending. Only the subtask's goroutine touches closed.
	exactlyOnce bool
	closed      []pendingFile
	// mu guards pending, the files pre-committed by a checkpoint and not yet
	// published: the subtask's goroutine adds to it (SnapshotState,
	// RestoreState) and the checkpoint coordinator's publishes from it
	// (NotifyCheckpointComplete). Renames of pending files happen under mu.
	// reports are what to tell the committer once the files of a
	// checkpoint are published, by checkpoint.
	mu      sync.Mutex
	pending []pendingFile
	reports map[int64]report
	// last is the newest checkpoint in the commit record (see commit.go),
	// recordErr why it could not be read; both guarded by mu.
	last      int64
	recordErr error
	// sweep, in a task run restored from another attempt's checkpoint, is
	// that attempt's tag: its hidden files are deleted at the first
	// notification (guarded by mu).
	sweep string
}

// part is a file in progress.
type part struct {
	rel    string // its partition folder, relative to the sink's ("" without partitions)
	f      *os.File
	w      *bufio.Writer
	tmp    string // the in-progress file
	final  string // its name once complete
	size   int64
	opened time.Time
	at     int64 // partitioned: the partition's commit time
	err    error // a write error: the part file is not published
}

func (s *sink) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.exactlyOnce = ctx.Checkpointing
	s.open = map[string]*part{}
	s.schema = s.cfg.schema
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
	if ctx.Task != nil {
		if err := s.checkTask(ctx.Task); err != nil {
			return err
		}
	}
	if s.cfg.single && ctx.Parallelism > 1 {
		return fmt.Errorf("table %s: the sink writes one file (%s), so it runs as one subtask, not %d; "+
			"give a folder path to write in parallel", s.cfg.table, s.cfg.path, ctx.Parallelism)
	}
	if s.cfg.partCols != nil {
		if err := s.committer.open(ctx.Subtask, ctx.Parallelism); err != nil {
			return err
		}
		var fields []runtime.Field
		for c, f := range s.cfg.schema.Fields {
			if !slices.Contains(s.cfg.partCols, c) {
				s.data = append(s.data, c)
				fields = append(fields, f)
			}
		}
		s.schema = runtime.NewSchema(fields...)
		s.proj.Schema = s.schema
		s.proj.Cols = make([]runtime.Vector, len(s.data))
		s.mine = map[string]int64{}
	}
	s.dir = s.cfg.path
	if s.cfg.single {
		s.dir = filepath.Dir(s.cfg.path)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	if !s.cfg.single {
		n, err := nextPart(s.dir, ctx.Subtask, s.cfg.partCols != nil)
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

// checkTask refuses what a task of a shared job cannot do: write one file
// (each task writes its own files), commit partitions (a success file needs
// the progress of every task, which no process sees), or publish without
// checkpoints (two attempts would publish the same part names). It takes
// the attempt's tag.
func (s *sink) checkTask(tk *runtime.TaskInfo) error {
	if s.cfg.single {
		return connectors.OptionErrorf(s.cfg.table, "path",
			"%s is one file, but the job runs as tasks that each write their own files (task %d of %d): give a folder", s.cfg.path, tk.ID, tk.Count)
	}
	if s.cfg.partCols != nil {
		return connectors.Errorf(s.cfg.table, "PARTITIONED BY: a partition is committed once every subtask's files of it are published, "+
			"which one task of a job shared by several processes (task %d of %d) cannot know; write the table without PARTITIONED BY", tk.ID, tk.Count)
	}
	if tk.Attempt == "" {
		return connectors.Errorf(s.cfg.table, "task %d of %d has no attempt name: two attempts of it would write the same files", tk.ID, tk.Count)
	}
	if !s.ctx.Checkpointing {
		return connectors.Errorf(s.cfg.table, "task %d of %d runs without checkpoints: two attempts of it would publish part files "+
			"of the same names, one over the other; a job shared by several processes takes checkpoints", tk.ID, tk.Count)
	}
	s.tag = connectors.AttemptTag(tk.Attempt)
	return nil
}

// tagSuffix is what hidden names carry of the attempt: ".<tag>" in a task
// run, "" otherwise.
func (s *sink) tagSuffix() string {
	if s.tag == "" {
		return ""
	}
	return "." + s.tag
}

// nextPart returns the first part number above those of subtask already in
// dir (from an earlier run, complete or not), so nothing is overwritten;
// deep, it looks in the partition folders below dir too.
func nextPart(dir string, subtask int, deep bool) (int, error) {
	prefix := "part-" + strconv.Itoa(subtask) + "-"
	n := 0
	see := func(name string) {
		rest, ok := strings.CutPrefix(strings.TrimPrefix(name, "."), prefix)
		if !ok {
			return
		}
		num, _, _ := strings.Cut(rest, ".")
		if k, err := strconv.Atoi(num); err == nil && k >= n {
			n = k + 1
		}
	}
	if deep {
		err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				see(e.Name())
			}
			return nil
		})
		return n, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		see(e.Name())
	}
	return n, nil
}

// openPart starts a file in partition folder rel.
func (s *sink) openPart(rel string) (*part, error) {
	p := &part{rel: rel}
	dir := filepath.Join(s.dir, rel)
	if s.cfg.single {
		p.final = s.cfg.path
	} else {
		p.final = filepath.Join(dir, fmt.Sprintf("part-%d-%d.%s", s.ctx.Subtask, s.n, s.ext))
		s.n++
	}
	if rel != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("table %s: %w", s.cfg.table, err)
		}
	}
	p.tmp = filepath.Join(dir, "."+filepath.Base(p.final)+s.tagSuffix()+".inprogress")
	f, err := os.OpenFile(p.tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	p.f, p.opened = f, time.Now()
	p.w = s.writer(f)
	if s.csv != nil && s.cfg.csvHeader {
		s.write(p, append(s.csv.AppendHeader(p.w.AvailableBuffer(), s.schema), '\n'))
	}
	if !s.cfg.single {
		s.ctx.RegisterProcessingTimer(p.opened.Add(s.cfg.rollInterval).UnixMilli())
	}
	if s.committer != nil {
		if err := s.register(p); err != nil {
			f.Close()
			os.Remove(p.tmp)
			return nil, err
		}
	}
	s.open[rel] = p
	return p, p.err
}

// register tells the committer that this subtask writes to p's partition
// and takes its commit time.
func (s *sink) register(p *part) error {
	at, err := s.commitTime(p.rel)
	if err != nil {
		return err
	}
	p.at = s.committer.register(s.ctx.Subtask, p.rel, at)
	s.mine[p.rel] = p.at
	if s.cfg.trigger == triggerProcessTime {
		s.ctx.RegisterProcessingTimer(max(p.at, p.opened.UnixMilli()))
	}
	return nil
}

// commitTime is when partition rel is due: its time (partition-time) or
// now (process-time), plus the delay.
func (s *sink) commitTime(rel string) (int64, error) {
	at := time.Now().UnixMilli()
	if s.cfg.trigger == triggerPartitionTime {
		t, err := s.cfg.extractor.extract(rel)
		if err != nil {
			return 0, fmt.Errorf("table %s: %w", s.cfg.table, err)
		}
		at = t
	}
	return at + s.cfg.commitDelay.Milliseconds(), nil
}

// writer returns a buffered writer for f: the subtask's one writer
// without partitions, a smaller one per file with them.
func (s *sink) writer(f *os.File) *bufio.Writer {
	if s.cfg.partCols != nil {
		return bufio.NewWriterSize(f, writeBuffer/4)
	}
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, writeBuffer)
	} else {
		s.w.Reset(f)
	}
	return s.w
}

func (s *sink) write(p *part, b []byte) {
	if p.err != nil {
		return
	}
	n, err := p.w.Write(b)
	p.size += int64(n)
	if err != nil {
		p.err = fmt.Errorf("table %s: cannot write %s: %w", s.cfg.table, p.tmp, err)
	}
}

// ProcessBatch writes every present row as a line (without its partition
// columns, in its partition's file), rolling to a new part file when the
// current one reaches the size limit.
func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	data := b
	if s.cfg.partCols != nil {
		s.proj.N, s.proj.Sel, s.proj.Kinds = b.N, b.Sel, b.Kinds
		for i, c := range s.data {
			s.proj.Cols[i] = b.Cols[c]
		}
		data = &s.proj
		defer clear(s.proj.Cols)
	}
	var p *part
	rolled := false
	for i := 0; i < b.Len(); i++ {
		rel := ""
		if s.cfg.partCols != nil {
			s.key = s.partitionPath(s.key[:0], b, b.Row(i))
			if p == nil || p.rel != string(s.key) {
				p = s.open[string(s.key)]
			}
			if p == nil {
				rel = string(s.key)
			}
		} else if p == nil {
			p = s.open[""]
		}
		if p == nil {
			var err error
			if p, err = s.openPart(rel); err != nil {
				return err
			}
		}
		buf := p.w.AvailableBuffer()
		switch {
		case s.csv != nil:
			buf = s.csv.Append(buf, data, i)
		case s.cfg.format == "changelog-json":
			// {"op":"+U","row":{…}}: the row's changelog kind, then the row.
			buf = append(buf, `{"op":"`...)
			buf = append(buf, b.Kind(b.Row(i)).String()...)
			buf = append(buf, `","row":`...)
			buf = format.AppendJSON(buf, data, i)
			buf = append(buf, '}')
		default:
			buf = format.AppendJSON(buf, data, i)
		}
		s.write(p, append(buf, '\n'))
		if p.err != nil {
			return p.err
		}
		if !s.cfg.single && p.size >= s.cfg.rollSize {
			if err := s.closePart(p); err != nil {
				return err
			}
			p = nil
			rolled = true
		}
	}
	now := time.Now()
	if err := s.roll(now); err != nil {
		return err
	}
	if rolled {
		return s.reportDone(now.UnixMilli())
	}
	return nil
}

// partitionPath appends the partition folder of physical row r:
// k1=v1/k2=v2, values escaped as Hive's.
func (s *sink) partitionPath(dst []byte, b *runtime.Batch, r int) []byte {
	for i, c := range s.cfg.partCols {
		if i > 0 {
			dst = append(dst, '/')
		}
		dst = escapePartitionValue(dst, s.cfg.schema.Fields[c].Name)
		dst = append(dst, '=')
		dst = appendPartitionValue(dst, &b.Cols[c], r)
	}
	return dst
}

// roll completes the files open for the rollover interval.
func (s *sink) roll(now time.Time) error {
	if s.cfg.single {
		return nil
	}
	for _, p := range s.open {
		if now.Sub(p.opened) >= s.cfg.rollInterval {
			if err := s.closePart(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// OnProcessingTime rolls the part files that have been open for the
// rollover interval, even when no row arrives; with the process-time
// trigger and no checkpoints, it tells the committer which due partitions
// this subtask has published.
func (s *sink) OnProcessingTime(now int64, _ runtime.Output) error {
	if err := s.roll(time.Now()); err != nil {
		return err
	}
	return s.reportDone(now)
}

// reportDone, with the process-time trigger and no checkpoints, tells the
// committer which partitions due at now have all their files of this
// subtask published (none in progress: files are not cut short for a
// commit, they roll as usual).
func (s *sink) reportDone(now int64) error {
	if s.committer == nil || s.cfg.trigger != triggerProcessTime || s.exactlyOnce {
		return nil
	}
	var done []string
	for rel, at := range s.mine {
		if at <= now && s.open[rel] == nil {
			done = append(done, rel)
			delete(s.mine, rel)
		}
	}
	if len(done) == 0 {
		return nil
	}
	return s.committer.report(s.ctx.Subtask, report{wm: runtime.MinWatermark, done: done})
}

// ProcessWatermark, with the partition-time trigger and no checkpoints,
// completes the files of the partitions due at wm and tells the committer
// that this subtask's rows up to wm are published.
func (s *sink) ProcessWatermark(wm int64, _ runtime.Output) error {
	if s.committer == nil || s.cfg.trigger != triggerPartitionTime || s.exactlyOnce || wm == runtime.MinWatermark {
		return nil
	}
	for _, p := range s.open {
		if p.at < wm {
			if err := s.closePart(p); err != nil {
				return err
			}
		}
	}
	for rel, at := range s.mine {
		if at < wm {
			delete(s.mine, rel)
		}
	}
	return s.committer.report(s.ctx.Subtask, report{wm: wm})
}

// closeAll completes every file in progress.
func (s *sink) closeAll() error {
	var errs []error
	for _, p := range s.open {
		errs = append(errs, s.closePart(p))
	}
	return errors.Join(errs...)
}

// closePart completes the part file: it flushes, fsyncs and closes it,
// then renames it into place (and fsyncs the folder, so the rename is
// durable too) — or, with checkpoints, keeps it hidden for the next
// checkpoint to pre-commit.
func (s *sink) closePart(p *part) error {
	delete(s.open, p.rel)
	if err := s.completePart(p); err != nil {
		return err
	}
	if s.exactlyOnce {
		hidden, _ := filepath.Rel(s.dir, p.tmp)
		final, _ := filepath.Rel(s.dir, p.final)
		s.closed = append(s.closed, pendingFile{Hidden: filepath.ToSlash(hidden), Final: filepath.ToSlash(final)})
		return nil
	}
	if err := os.Rename(p.tmp, p.final); err != nil {
		return fmt.Errorf("table %s: %w", s.cfg.table, err)
	}
	return syncDir(filepath.Dir(p.final))
}

// completePart flushes, fsyncs and closes the part file; on failure the
// file is removed.
func (s *sink) completePart(p *part) error {
	f := p.f
	p.f = nil
	err := s.flush(p)
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("table %s: cannot sync %s: %w", s.cfg.table, p.tmp, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("table %s: cannot close %s: %w", s.cfg.table, p.tmp, cerr)
	}
	if err != nil {
		os.Remove(p.tmp)
	}
	return err
}

// flush writes the buffered rows to the part file.
func (s *sink) flush(p *part) error {
	if p.err != nil {
		return p.err
	}
	if err := p.w.Flush(); err != nil {
		p.err = fmt.Errorf("table %s: cannot write %s: %w", s.cfg.table, p.tmp, err)
	}
	return p.err
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

// Finish completes the current part files. A sink writing one file writes
// it even when it received no rows. With checkpoints, what is left is
// pre-committed for the checkpoint that records the end of the job
// (runtime.EndCheckpoint), which publishes it once complete (and then
// tells the committer that this subtask ended); without, the committer is
// told at once.
func (s *sink) Finish(runtime.Output) error {
	if s.cfg.single && len(s.open) == 0 {
		if _, err := s.openPart(""); err != nil {
			return err
		}
	}
	if s.exactlyOnce {
		return s.preCommit(runtime.EndCheckpoint)
	}
	if err := s.closeAll(); err != nil {
		return err
	}
	if s.committer != nil {
		return s.committer.report(s.ctx.Subtask, report{end: true})
	}
	return nil
}

// Close publishes what was written when the job stops without finishing
// (cancelled, or failed elsewhere). With checkpoints it publishes nothing:
// rows no checkpoint covers are dropped (a restored job writes them again),
// and pending files wait for their checkpoint (NotifyCheckpointComplete
// may still come, and a restore commits them).
func (s *sink) Close() error {
	if !s.exactlyOnce {
		return s.closeAll()
	}
	s.discard()
	return nil
}
