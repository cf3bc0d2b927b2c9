package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
)

// The attributes of the loggers the runtime hands to operators and sources
// (Context.Logger).
const (
	LogJob      = "job"
	LogOperator = "operator"
	LogSubtask  = "subtask"
)

// NewLineHandler returns a slog.Handler writing one readable line per record
// to w, the way the sluice command prints its messages:
//
//	sluice: table clicks: in.jsonl:3: bad JSON (skipped) key=value
//
// The message follows "sluice: "; the attributes job, operator and subtask
// are left out (the messages name what they are about), others follow as
// key=value. Records below level are dropped (nil: slog.LevelInfo). The
// handler is safe for concurrent use; those derived from it (WithAttrs,
// WithGroup) share its lock, so their lines do not interleave.
func NewLineHandler(w io.Writer, level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &lineHandler{out: &lockedWriter{w: w}, level: level}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

type lineHandler struct {
	out    *lockedWriter
	level  slog.Leveler
	attrs  []byte // preformatted " key=value" of WithAttrs
	prefix string // group prefix, "g." or ""
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString("sluice: ")
	b.WriteString(r.Message)
	b.Write(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	b.WriteByte('\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(b.Bytes())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b bytes.Buffer
	b.Write(h.attrs)
	for _, a := range as {
		appendAttr(&b, h.prefix, a)
	}
	c := *h
	c.attrs = b.Bytes()
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

func appendAttr(b *bytes.Buffer, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	if prefix == "" && (a.Key == LogJob || a.Key == LogOperator || a.Key == LogSubtask) {
		return
	}
	v := a.Value.String()
	if v == "" || needsQuote(v) {
		v = strconv.Quote(v)
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, v)
}

func needsQuote(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == '=' || r == '"' || r == 0x7f {
			return true
		}
	}
	return false
}

var stderrLogger = sync.OnceValue(func() *slog.Logger {
	return slog.New(NewLineHandler(os.Stderr, nil))
})

// DefaultLogger is the base logger of a job without Options.Logger, for
// what logs beside jobs (such as sns topics): lines on standard error
// (NewLineHandler).
func DefaultLogger() *slog.Logger { return stderrLogger() }

// subtaskLogger is base with the attributes of a subtask.
func subtaskLogger(base *slog.Logger, job, operator string, subtask int) *slog.Logger {
	var as []any
	if job != "" {
		as = append(as, LogJob, job)
	}
	if operator != "" {
		as = append(as, LogOperator, operator, LogSubtask, subtask)
	}
	if len(as) == 0 {
		return base
	}
	return base.With(as...)
}
