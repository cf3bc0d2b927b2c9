package sns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// fileOutput appends notifications to a JSON-lines file, one fsync'd line
// each: the envelope, or with raw delivery the body (compacted when it is
// JSON, else as a JSON string).
type fileOutput struct {
	f *jsonLines
}

func newFileOutput(endpoint string) (*fileOutput, error) {
	path, err := filePath(endpoint)
	if err != nil {
		return nil, err
	}
	f, err := openJSONLines(path)
	if err != nil {
		return nil, err
	}
	return &fileOutput{f: f}, nil
}

func (o *fileOutput) deliver(_ context.Context, s *Subscription, n *notification) error {
	return o.f.write(fileLine(s, n))
}

// deliverAll appends the lines of ns with one write and one fsync: all of
// them, or none.
func (o *fileOutput) deliverAll(_ context.Context, s *Subscription, ns []*notification) []*notification {
	lines := make([][]byte, len(ns))
	for i, n := range ns {
		lines[i] = fileLine(s, n)
	}
	if o.f.write(lines...) != nil {
		return ns
	}
	return nil
}

// fileLine is n as a line of the file: the envelope, or with raw delivery
// the body.
func fileLine(s *Subscription, n *notification) []byte {
	if s.raw {
		return rawLine(n.msg.Body)
	}
	return n.envelope
}

func (o *fileOutput) close() error { return o.f.close() }

// rawLine is body as one JSON line: compacted when it is JSON, else a JSON
// string.
func rawLine(body string) []byte {
	var b bytes.Buffer
	if json.Valid([]byte(body)) && json.Compact(&b, []byte(body)) == nil {
		return b.Bytes()
	}
	return marshal(body)
}

// filePath resolves a file endpoint, a path or a file:// URL, to a clean
// absolute path.
func filePath(endpoint string) (string, error) {
	p := strings.TrimSpace(endpoint)
	if strings.HasPrefix(p, "file:") {
		u, err := url.Parse(p)
		if err != nil || u.Host != "" || u.Path == "" {
			return "", fmt.Errorf("%q is not a file:///absolute/path URL", endpoint)
		}
		p = u.Path
	}
	if p == "" {
		return "", fmt.Errorf("empty file path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("file %q: %w", endpoint, err)
	}
	if strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("file %q is a directory", endpoint)
	}
	return abs, nil
}

// jsonLines is an append-only file of JSON lines.
type jsonLines struct {
	path  string
	f     *os.File
	syncs int // successful writes (each ends with an fsync), for tests
}

// openJSONLines opens path for appending, creating it and its directories.
func openJSONLines(path string) (*jsonLines, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return &jsonLines{path: path, f: f}, nil
}

// write appends lines, each followed by a newline, then fsyncs once. A
// failed write is cut off again, so that a retry does not leave half a line
// behind.
func (j *jsonLines) write(lines ...[]byte) error {
	st, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", j.path, err)
	}
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	buf := make([]byte, 0, size)
	for _, l := range lines {
		buf = append(append(buf, l...), '\n')
	}
	if _, err := j.f.Write(buf); err != nil {
		_ = j.f.Truncate(st.Size())
		return fmt.Errorf("cannot write to %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", j.path, err)
	}
	j.syncs++
	return nil
}

func (j *jsonLines) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("cannot close %s: %w", j.path, err)
	}
	return nil
}
