package log

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// faultFS is the real file system with injectable failures: an operation
// ("create", "write", "sync", "truncate", "rename") with an error set fails with it
// while it is set. A failing write first writes half its bytes, as a disk
// that fills up in the middle of a write does.
type faultFS struct {
	mu    sync.Mutex
	fails map[string]error
	count map[string]int // failures injected, by operation
}

func newFaultFS() *faultFS { return &faultFS{fails: map[string]error{}, count: map[string]int{}} }

func (fs *faultFS) set(op string, err error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err == nil {
		delete(fs.fails, op)
	} else {
		fs.fails[op] = err
	}
}

func (fs *faultFS) fail(op string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	err := fs.fails[op]
	if err != nil {
		fs.count[op]++
	}
	return err
}

func (fs *faultFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if flag&os.O_CREATE != 0 {
		if err := fs.fail("create"); err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

func (fs *faultFS) Remove(name string) error { return os.Remove(name) }

func (fs *faultFS) Rename(oldname, newname string) error {
	if err := fs.fail("rename"); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return os.Rename(oldname, newname)
}

type faultFile struct {
	*os.File
	fs *faultFS
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.fail("write"); err != nil {
		n, _ := f.File.WriteAt(b[:len(b)/2], off)
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail("sync"); err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.fail("truncate"); err != nil {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: err}
	}
	return f.File.Truncate(size)
}

// logLines collects what a Log reports through Options.Logf.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (ll *logLines) logf(format string, args ...any) {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	ll.lines = append(ll.lines, fmt.Sprintf(format, args...))
}

// with returns the lines that contain every one of parts.
func (ll *logLines) with(parts ...string) []string {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	var out []string
next:
	for _, ln := range ll.lines {
		for _, p := range parts {
			if !strings.Contains(ln, p) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

func (ll *logLines) String() string {
	ll.mu.Lock()
	defer ll.mu.Unlock()
	return strings.Join(ll.lines, "\n")
}

// quiet sends a test log's reports to t.Logf unless they go elsewhere.
func quiet(t *testing.T, opts Options) Options {
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	return opts
}
