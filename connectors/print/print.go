// Package print is the sink that writes rows as text, like Flink's print
// connector: "+I[v1, v2, …]", prefixed with "N> " (the subtask) when the
// sink runs in parallel.
package print

import (
	"bufio"
	"io"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/runtime"
)

// Writer is the destination shared by every subtask of a print sink.
type Writer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	raw io.Writer
}

// NewWriter wraps w for concurrent use by print sink subtasks.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w), raw: w} }

// New returns a factory of print sink operators writing to w. Identifier,
// when set, prefixes every line (Flink's 'print-identifier').
func New(w *Writer, identifier string) func() runtime.Operator {
	return func() runtime.Operator { return &sink{w: w, id: identifier} }
}

type sink struct {
	runtime.Base
	w      *Writer
	id     string
	prefix string
	line   strings.Builder
}

func (s *sink) Open(ctx *runtime.Context) error {
	switch {
	case s.id != "" && ctx.Parallelism > 1:
		s.prefix = s.id + ":" + itoa(ctx.Subtask+1) + "> "
	case s.id != "":
		s.prefix = s.id + "> "
	case ctx.Parallelism > 1:
		s.prefix = itoa(ctx.Subtask+1) + "> "
	}
	return nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// FormatRow formats present row i of b as "+I[v1, v2, …]", with the row's
// changelog kind (+I, -U, +U, -D).
func FormatRow(sb *strings.Builder, b *runtime.Batch, i int) {
	r := b.Row(i)
	sb.WriteString(b.Kind(r).String())
	sb.WriteByte('[')
	for c := range b.Cols {
		if c > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.Cols[c].Value(r).String())
	}
	sb.WriteByte(']')
}

func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	s.line.Reset()
	for i := 0; i < b.Len(); i++ {
		s.line.WriteString(s.prefix)
		FormatRow(&s.line, b, i)
		s.line.WriteByte('\n')
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if _, err := s.w.w.WriteString(s.line.String()); err != nil {
		return err
	}
	return s.w.w.Flush()
}
