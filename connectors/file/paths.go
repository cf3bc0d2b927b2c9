package file

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// globRoot is the folder above the first path element with a pattern.
func globRoot(p string) string {
	dir := p
	for isGlob(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// checkSourcePath checks, at planning time, that the path can be read: a
// bounded source needs its file or folder (for a glob: the folder above
// the pattern) to exist; a following source may wait for it.
func (c *config) checkSourcePath() error {
	p := c.path
	if isGlob(p) {
		if _, err := filepath.Match(p, ""); err != nil {
			return connectors.OptionErrorf(c.table, "path", "bad glob %q: %v", p, err)
		}
		p = globRoot(p)
	}
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) && c.monitor > 0:
		return nil
	case err != nil:
		return connectors.OptionErrorf(c.table, "path", "%v", err)
	case !st.IsDir() && !st.Mode().IsRegular():
		return connectors.OptionErrorf(c.table, "path", "%s is neither a file nor a folder", p)
	}
	return nil
}

// checkSinkPath decides whether the sink writes one file or a folder, and
// checks that it can.
func (c *config) checkSinkPath() error {
	if isGlob(c.path) {
		return connectors.OptionErrorf(c.table, "path", "a sink path cannot be a glob (%s)", c.path)
	}
	st, err := os.Stat(c.path)
	switch {
	case err == nil && st.IsDir():
	case err == nil && !st.Mode().IsRegular():
		return connectors.OptionErrorf(c.table, "path", "%s is neither a file nor a folder", c.path)
	case err == nil || errors.Is(err, fs.ErrNotExist):
		c.single = filepath.Ext(c.path) != ""
		if err == nil && !c.single {
			return connectors.OptionErrorf(c.table, "path", "%s is a file; give a folder, or a file name with an extension", c.path)
		}
	default:
		return connectors.OptionErrorf(c.table, "path", "%v", err)
	}
	if c.single && c.partCols != nil {
		return connectors.OptionErrorf(c.table, "path", "a table with PARTITIONED BY is written to a folder of partition folders, not to one file (%s)", c.path)
	}
	if c.single && c.rollSet {
		return connectors.Errorf(c.table, "the sink writes one file (%s), so it cannot roll: give a folder path to use sink.rolling-policy.*", c.path)
	}
	return nil
}

// list returns the files the path names now, sorted: the file itself, the
// files of the folder, or those the glob matches; hidden files (in a folder
// or glob) and anything but regular files are left out. A path that does
// not exist yet lists nothing when following.
func (c *config) list() ([]string, error) {
	if isGlob(c.path) {
		matches, err := filepath.Glob(c.path)
		if err != nil {
			return nil, err
		}
		return regular(matches, true), nil
	}
	st, err := os.Stat(c.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && c.monitor > 0 {
			return nil, nil
		}
		return nil, err
	}
	if !st.IsDir() {
		return regular([]string{c.path}, false), nil
	}
	entries, err := os.ReadDir(c.path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(c.path, e.Name()))
	}
	return regular(out, true), nil
}

// regular keeps the regular files of paths (following symbolic links),
// without the hidden ones when skipHidden, sorted.
func regular(paths []string, skipHidden bool) []string {
	out := paths[:0]
	for _, p := range paths {
		if skipHidden && hidden(filepath.Base(p)) {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// listing is what the subtasks of one run of a source share: the files
// listed when the first subtask opened, dealt to the subtasks in turn, and,
// when following, the files found since (dealt on in turn), as Flink's
// split enumerator. A bounded source splits a file larger than the split
// size into ranges dealt in turn like files (see spans). Subtasks made
// before any of them opens share one listing (the runtime makes every
// subtask of a job before opening any); a subtask made after that starts a
// new listing (a new run). The dealing depends only on the files, their
// sizes, the parallelism and the restored positions, so subtasks in
// different processes deal alike.
type listing struct {
	cfg *config

	mu       sync.Mutex
	opened   bool
	err      error
	par      int
	restore  map[string][]FilePosition
	assigned map[string]bool
	pending  [][][]FilePosition // per subtask: files dealt but not yet taken, as their spans
	next     int                // the subtask the next new file (range) goes to
	scanned  time.Time
}

// take returns the files dealt to subtask of par not yet taken, each as
// the spans the subtask reads of it; when following, it first lists the
// path again if the monitor interval has passed since the last listing.
// restore holds the checkpointed positions of every subtask by path (the
// first subtask to open gives them for all). log receives the warnings.
func (l *listing) take(log *slog.Logger, subtask, par int, now time.Time, restore map[string][]FilePosition) ([][]FilePosition, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.opened {
		l.opened, l.par, l.scanned, l.restore = true, par, now, restore
		l.assigned = make(map[string]bool)
		l.pending = make([][][]FilePosition, par)
		files, err := l.cfg.list()
		if err != nil {
			l.err = connectors.Errorf(l.cfg.table, "cannot list %s: %v", l.cfg.path, err)
		}
		l.deal(log, files)
	}
	if l.err != nil {
		return nil, l.err
	}
	if par != l.par || subtask < 0 || subtask >= par {
		return nil, fmt.Errorf("subtask %d of %d opened in a listing for %d subtasks", subtask, par, l.par)
	}
	if l.cfg.monitor > 0 && now.Sub(l.scanned) >= l.cfg.monitor {
		l.scanned = now
		files, err := l.cfg.list()
		if err != nil {
			l.cfg.log.Warn(log, "table %s: cannot list %s (will try again): %v", l.cfg.table, l.cfg.path, err)
		}
		l.deal(log, files)
	}
	out := l.pending[subtask]
	l.pending[subtask] = nil
	return out, nil
}

func (l *listing) deal(log *slog.Logger, files []string) {
	for _, f := range files {
		if l.assigned[f] {
			continue
		}
		l.assigned[f] = true
		spans := l.spans(log, f)
		if len(spans) == 1 {
			l.pending[l.next] = append(l.pending[l.next], spans)
			l.next = (l.next + 1) % l.par
			continue
		}
		// Range j goes to subtask next+j: each subtask reads its ranges
		// of the file in order.
		mine := make([][]FilePosition, l.par)
		for _, sp := range spans {
			mine[l.next] = append(mine[l.next], sp)
			l.next = (l.next + 1) % l.par
		}
		for sub, spans := range mine {
			if len(spans) > 0 {
				l.pending[sub] = append(l.pending[sub], spans)
			}
		}
	}
}

// spans returns the spans of file path to deal: the ranges (or the whole
// file) of its restored positions, when they fit the file as it is now;
// else, for a bounded source with more than one subtask, the ranges of a
// file larger than the split size (see splitRanges); else the whole file.
func (l *listing) spans(log *slog.Logger, path string) []FilePosition {
	if rs := l.restore[path]; len(rs) > 0 {
		if len(rs) == 1 && rs[0].whole() {
			return rs
		}
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b FilePosition) int { return cmp.Compare(a.Start, b.Start) })
		var size int64 = -1
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
		}
		ok, why := rangesFit(rs, size)
		if ok {
			return rs
		}
		l.cfg.log.Warn(log, "table %s: the checkpointed ranges of %s do not fit it (%s): reading it again from the start", l.cfg.table, path, why)
	}
	if l.cfg.monitor == 0 && l.par > 1 && l.cfg.splitSize > 0 {
		if st, err := os.Stat(path); err == nil && st.Size() > l.cfg.splitSize {
			return splitRanges(path, st.Size(), l.cfg.splitSize, l.par)
		}
	}
	return []FilePosition{{Path: path}}
}

// rangesFit reports whether ranges, sorted by start, cover a file of size
// bytes from its start to its end, one after the other, their positions
// inside the file; why says what does not fit.
func rangesFit(ranges []FilePosition, size int64) (ok bool, why string) {
	for i, r := range ranges {
		switch {
		case i == 0 && r.Start != 0:
			return false, fmt.Sprintf("the first range starts at byte %d", r.Start)
		case i > 0 && r.Start != ranges[i-1].End:
			return false, fmt.Sprintf("a range ends at byte %d, the next starts at %d", ranges[i-1].End, r.Start)
		case i < len(ranges)-1 && r.End <= r.Start:
			return false, fmt.Sprintf("a range of bytes %d to %d", r.Start, r.End)
		case i == len(ranges)-1 && r.End != 0:
			return false, fmt.Sprintf("the last range ends at byte %d", r.End)
		case r.Offset > size:
			return false, fmt.Sprintf("a range was read to byte %d; the file has %d", r.Offset, size)
		}
	}
	return true, ""
}

// splitRanges divides a file of size bytes into ranges of at most
// splitSize bytes, their number a multiple of par (so that every subtask
// reads as much) unless that leaves a range no byte, each to be read from
// its first line start; the last range runs to the end of the file,
// whatever its size then.
func splitRanges(path string, size, splitSize int64, par int) []FilePosition {
	n := (size + splitSize - 1) / splitSize
	n = min((n+int64(par)-1)/int64(par)*int64(par), size)
	out := make([]FilePosition, n)
	for j := range out {
		start := int64(j) * size / n
		out[j] = FilePosition{Path: path, Start: start, Offset: max(start-1, 0), Skip: start > 0}
		if j < len(out)-1 {
			out[j].End = int64(j+1) * size / n
		}
	}
	return out
}

func (l *listing) isOpened() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opened
}
