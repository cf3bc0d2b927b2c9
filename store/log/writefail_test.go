package log

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

// appendExpect appends n records of payload(seq) one call at a time and
// fails the test unless each gets the next sequence number.
func appendOK(t *testing.T, l *Log, n int) {
	t.Helper()
	appendN(t, l, n, 1)
}

// appendRefused appends one record and expects it refused with
// ErrUnavailable wrapping want.
func appendRefused(t *testing.T, l *Log, want error) {
	t.Helper()
	next := l.NextSeq()
	_, err := l.Append([][]byte{payload(next)}, [][]byte{header(next)})
	if !errors.Is(err, ErrUnavailable) || want != nil && !errors.Is(err, want) {
		t.Fatalf("Append = %v, want ErrUnavailable wrapping %v", err, want)
	}
	if l.NextSeq() != next {
		t.Fatalf("refused Append moved NextSeq from %d to %d", next, l.NextSeq())
	}
}

// A full disk refuses appends while it lasts, says so once, and the log
// resumes by itself: nothing acknowledged is lost, nothing refused is kept,
// and the file holds no half-written frame.
func TestDiskFullRefusesWritesAndResumes(t *testing.T) {
	for _, op := range []string{"write", "sync"} {
		for _, mode := range []FsyncMode{FsyncGroup, FsyncAlways} {
			t.Run(fmt.Sprint(op, mode), func(t *testing.T) {
				dir := t.TempDir()
				fs := newFaultFS()
				var ll logLines
				opts := Options{SegmentBytes: 2 << 10, Fsync: mode, fs: fs, Logf: ll.logf}
				l := mustOpen(t, dir, opts)
				defer func() { l.Close() }()
				appendOK(t, l, 30)
				fs.set(op, syscall.ENOSPC)
				for range 5 {
					appendRefused(t, l, syscall.ENOSPC)
				}
				// The cut-off fails too for a while: still refused, and
				// the writer keeps trying.
				fs.set("truncate", syscall.EIO)
				appendRefused(t, l, nil)
				fs.set(op, nil)
				appendRefused(t, l, syscall.EIO)
				fs.set("truncate", nil)
				appendOK(t, l, 40) // rolls segments too
				if got := ll.with("refusing appends", "no space left on device"); len(got) != 1 {
					t.Fatalf("want one line when refusing starts, got:\n%s", ll.String())
				}
				if got := ll.with("resumed", "7 refused"); len(got) != 1 {
					t.Fatalf("want one line when writing resumes, got:\n%s", ll.String())
				}
				readAll(t, l, 1)
				l.Close()
				ll = logLines{}
				l = mustOpen(t, dir, Options{SegmentBytes: 2 << 10, Logf: ll.logf})
				if len(l.Damage()) != 0 || len(ll.lines) != 0 || l.NextSeq() != 71 {
					t.Fatalf("after reopen: NextSeq %d, Damage %+v, log:\n%s", l.NextSeq(), l.Damage(), ll.String())
				}
				readAll(t, l, 1)
			})
		}
	}
}

// Running out of file descriptors (or space) when the next segment is
// created refuses appends until it can be created, then the log rolls and
// goes on; the half-created file does not block it.
func TestNoDescriptorsAtRollRefusesWritesAndResumes(t *testing.T) {
	for _, op := range []string{"create", "write"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			fs := newFaultFS()
			var ll logLines
			l := mustOpen(t, dir, Options{SegmentBytes: 1 << 10, fs: fs, Logf: ll.logf})
			defer func() { l.Close() }()
			appendOK(t, l, 5)
			segs := len(segFiles(t, dir))
			cause := syscall.EMFILE
			if op == "write" {
				cause = syscall.ENOSPC
			}
			fs.set(op, cause)
			// Fill the segment until a roll is needed: the appends that
			// fit are acknowledged, the first that needs a new segment is
			// refused.
			for {
				next := l.NextSeq()
				_, err := l.Append([][]byte{payload(next)}, [][]byte{header(next)})
				if err == nil {
					if op == "write" {
						t.Fatal("Append acknowledged while writes fail")
					}
					continue
				}
				if !errors.Is(err, ErrUnavailable) || !errors.Is(err, cause) {
					t.Fatalf("Append = %v", err)
				}
				break
			}
			appendRefused(t, l, cause)
			fs.set(op, nil)
			appendOK(t, l, 30)
			if n := len(segFiles(t, dir)); n <= segs {
				t.Fatalf("no segment rolled after the fault (%d files)", n)
			}
			if len(ll.with("refusing")) != 1 || len(ll.with("resumed")) != 1 {
				t.Fatalf("log:\n%s", ll.String())
			}
			readAll(t, l, 1)
			next := l.NextSeq()
			l.Close()
			l = mustOpen(t, dir, Options{SegmentBytes: 1 << 10})
			if len(l.Damage()) != 0 || l.NextSeq() != next {
				t.Fatalf("after reopen: NextSeq %d (want %d), Damage %+v", l.NextSeq(), next, l.Damage())
			}
			readAll(t, l, 1)
		})
	}
}

// AppendAsync reports the refusal to its callback, and the callers of the
// same group commit all see it.
func TestDiskFullRefusesAsyncAppends(t *testing.T) {
	dir := t.TempDir()
	fs := newFaultFS()
	l := mustOpen(t, dir, Options{fs: fs})
	defer l.Close()
	appendOK(t, l, 3)
	fs.set("write", syscall.ENOSPC)
	errs := make(chan error, 10)
	for range 10 {
		if err := l.AppendAsync([][]byte{[]byte("x")}, nil, func(_ uint64, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if err := <-errs; !errors.Is(err, ErrUnavailable) {
			t.Fatalf("callback err = %v", err)
		}
	}
	fs.set("write", nil)
	appendOK(t, l, 3)
	readAll(t, l, 1)
	if st, err := os.Stat(segFiles(t, dir)[0]); err != nil || st.Size() != l.segs[0].size {
		t.Fatalf("file size %v, published %d", st, l.segs[0].size)
	}
}
