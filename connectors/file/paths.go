package file

import (
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
// split enumerator. Subtasks made before any of them opens share one
// listing (the runtime makes every subtask of a job before opening any);
// a subtask made after that starts a new listing (a new run).
type listing struct {
	cfg *config

	mu       sync.Mutex
	opened   bool
	err      error
	par      int
	assigned map[string]bool
	pending  [][]string // per subtask: files dealt but not yet taken
	next     int        // the subtask the next new file goes to
	scanned  time.Time
}

// take returns the files dealt to subtask of par not yet taken; when
// following, it first lists the path again if the monitor interval has
// passed since the last listing. log receives the warnings.
func (l *listing) take(log *slog.Logger, subtask, par int, now time.Time) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.opened {
		l.opened, l.par, l.scanned = true, par, now
		l.assigned = make(map[string]bool)
		l.pending = make([][]string, par)
		files, err := l.cfg.list()
		if err != nil {
			l.err = connectors.Errorf(l.cfg.table, "cannot list %s: %v", l.cfg.path, err)
		}
		l.deal(files)
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
		l.deal(files)
	}
	out := l.pending[subtask]
	l.pending[subtask] = nil
	return out, nil
}

func (l *listing) deal(files []string) {
	for _, f := range files {
		if l.assigned[f] {
			continue
		}
		l.assigned[f] = true
		l.pending[l.next] = append(l.pending[l.next], f)
		l.next = (l.next + 1) % l.par
	}
}

func (l *listing) isOpened() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opened
}
