package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// tailer follows one path: it reads the lines appended to the file and,
// when the path is renamed and recreated (or the file truncated), finishes
// the old file and continues with the new one from its start.
type tailer struct {
	path      string
	fromStart bool
	poll      time.Duration
	opened    func(path string) // nil, or called after each open and after the first attempt
	warn      func(format string, args ...any)

	openErr string // the last failure to open the path that was reported; "" when none

	f       *os.File
	info    os.FileInfo // of f
	off     int64       // bytes of f consumed (complete lines and the partial tail in buf)
	partial []byte      // an incomplete last line
	skip    bool        // drop the first line: it began before the tail started
	buf     []byte
}

// run tails until ctx is done (then reads what is left once more) or until
// emit returns false. hard ends it even when blocked.
func (t *tailer) run(ctx, hard context.Context, emit func([]byte) bool) {
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	first := true
	tk := time.NewTicker(t.poll)
	defer tk.Stop()
	for {
		if t.f == nil {
			err := t.open(first && !t.fromStart)
			if err != nil {
				t.report(err, first)
			}
			if first && t.f == nil && t.opened != nil {
				t.opened(t.path) // the file does not exist yet: it will be read from its start
			}
		}
		first = false
		if t.f != nil {
			if !t.readAll(emit) || !t.checkRotation(emit) {
				return
			}
		}
		select {
		case <-ctx.Done():
			// A last pass: what was written before the stop gets sent.
			if t.f == nil {
				t.open(false)
			}
			if t.f != nil && t.readAll(emit) {
				t.checkRotation(emit)
			}
			return
		case <-hard.Done():
			return
		case <-tk.C:
		}
	}
}

// report warns about a failure to open the path, once per kind of failure
// (not every poll): a file that does not exist yet when tailing starts (it
// is waited for, and read from its start once it appears), or any other
// error. A path missing after a rotation is normal and not reported.
func (t *tailer) report(err error, first bool) {
	if t.warn == nil {
		return
	}
	msg := err.Error()
	if errors.Is(err, fs.ErrNotExist) {
		if !first && t.openErr == "" {
			return
		}
		msg = "does not exist"
	}
	if msg == t.openErr {
		return
	}
	t.openErr = msg
	if msg == "does not exist" {
		t.warn("%s does not exist yet: waiting for it (its lines will be read from its start)", t.path)
		return
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is named already
	}
	t.warn("cannot open %s (retrying): %v", t.path, err)
}

// open opens the path (if it exists), at its end when atEnd.
func (t *tailer) open(atEnd bool) error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if t.openErr != "" && t.warn != nil {
		t.warn("%s is readable now: tailing it", t.path)
	}
	t.openErr = ""
	t.f, t.info, t.off, t.partial, t.skip = f, info, 0, nil, false
	if atEnd {
		if off, err := f.Seek(0, io.SeekEnd); err == nil {
			t.off = off
			last := []byte{0}
			if off > 0 {
				if _, err := f.ReadAt(last, off-1); err == nil && last[0] != '\n' {
					t.skip = true // the rest of a line being written: not a whole line
				}
			}
		}
	}
	if t.opened != nil {
		t.opened(t.path)
	}
	return nil
}

// readAll reads f to its current end and emits its complete lines.
func (t *tailer) readAll(emit func([]byte) bool) bool {
	if t.buf == nil {
		t.buf = make([]byte, 64<<10)
	}
	for {
		n, err := t.f.Read(t.buf)
		if n > 0 {
			t.off += int64(n)
			data := t.buf[:n]
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					t.partial = append(t.partial, data...)
					break
				}
				line := append(t.partial, data[:i]...)
				t.partial = nil
				data = data[i+1:]
				line = bytes.TrimSuffix(line, []byte{'\r'})
				if t.skip {
					t.skip = false
					continue
				}
				if len(line) == 0 {
					continue
				}
				if !emit(bytes.Clone(line)) {
					return false
				}
			}
		}
		if err != nil || n == 0 {
			return true
		}
	}
}

// checkRotation switches to a new file at the path when the path names
// another file than f (after f has been read to its end), and rewinds when
// f shrank (truncation).
func (t *tailer) checkRotation(emit func([]byte) bool) bool {
	info, err := os.Stat(t.path)
	if err != nil {
		return true // e.g. renamed away and not yet recreated: keep reading the old file
	}
	if !os.SameFile(info, t.info) {
		// Finish the old file, including a last line without its newline.
		if !t.readAll(emit) {
			return false
		}
		if len(t.partial) > 0 {
			line := t.partial
			t.partial = nil
			if !emit(line) {
				return false
			}
		}
		t.f.Close()
		t.f = nil
		t.open(false)
		if t.f != nil {
			return t.readAll(emit)
		}
		return true
	}
	if info.Size() < t.off {
		// Truncated in place: start again from its beginning.
		if _, err := t.f.Seek(0, io.SeekStart); err == nil {
			t.off, t.partial, t.skip = 0, nil, false
			return t.readAll(emit)
		}
	}
	return true
}
