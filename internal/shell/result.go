package shell

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/runtime"
)

// A bare SELECT in the shell runs with a collect sink (one subtask) that
// hands every row to a result: a live table redrawn in place on a
// terminal, or lines printed as rows come when standard output is not one.

// result receives the rows of a bare SELECT.
type result interface {
	add(kind runtime.RowKind, vals []string)
}

// collectSink is the sink operator of a bare SELECT.
type collectSink struct {
	runtime.Base
	to result
}

func newCollect(to result) func() runtime.Operator {
	return func() runtime.Operator { return &collectSink{to: to} }
}

func (s *collectSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		vals := make([]string, len(b.Cols))
		for c := range b.Cols {
			vals[c] = b.Cols[c].Value(r).String()
		}
		s.to.add(b.Kind(r), vals)
	}
	return nil
}

// rowPrinter prints a result's rows as they come, one line each, the
// values separated by tabs, after a line of column names: for an updating
// result (GROUP BY without a window) each line starts with the change —
// +I, -U, +U or -D — in an "op" column.
type rowPrinter struct {
	mu       sync.Mutex
	w        *bufio.Writer
	updating bool
	rows     int64
}

func newRowPrinter(w io.Writer, cols []string, updating bool) *rowPrinter {
	p := &rowPrinter{w: bufio.NewWriter(w), updating: updating}
	if updating {
		p.w.WriteString("op\t")
	}
	p.w.WriteString(strings.Join(cols, "\t") + "\n")
	p.w.Flush()
	return p
}

func (p *rowPrinter) add(kind runtime.RowKind, vals []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.updating {
		p.w.WriteString(kind.String() + "\t")
	}
	p.w.WriteString(strings.Join(vals, "\t") + "\n")
	p.rows++
	if p.w.Buffered() > 32<<10 {
		p.w.Flush()
	}
}

// flush writes what is buffered; the shell calls it as rows come and at
// the end.
func (p *rowPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Flush()
}

func (p *rowPrinter) count() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rows
}

// liveTable holds a result's current rows, with changes applied: a
// retraction (-U, -D) removes its row, and the +U that follows takes its
// place, so a GROUP BY's row for a key updates in place; appended rows
// (windows, plain SELECT) add at the end, and only the latest keepRows of
// an append-only result are kept (no screen shows more).
type liveTable struct {
	mu       sync.Mutex
	cols     []string
	updating bool
	rows     [][]string
	dropped  int64 // older rows of an append-only result no longer kept
	hole     int   // where the last retracted row was, -1: none
	changes  int64 // rows received
}

const keepRows = 1000

func newLiveTable(cols []string, updating bool) *liveTable {
	return &liveTable{cols: cols, updating: updating, hole: -1}
}

// count is the number of rows of the result.
func (t *liveTable) count() int64 { return int64(len(t.rows)) + t.dropped }

func (t *liveTable) add(kind runtime.RowKind, vals []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.changes++
	switch kind {
	case runtime.UpdateBefore, runtime.Delete:
		for i := len(t.rows) - 1; i >= 0; i-- {
			if equalRows(t.rows[i], vals) {
				t.rows = append(t.rows[:i], t.rows[i+1:]...)
				t.hole = i
				return
			}
		}
	case runtime.UpdateAfter:
		if t.hole >= 0 && t.hole <= len(t.rows) {
			t.rows = append(t.rows[:t.hole], append([][]string{vals}, t.rows[t.hole:]...)...)
			t.hole = -1
			return
		}
		t.rows = append(t.rows, vals)
	default:
		t.hole = -1
		t.rows = append(t.rows, vals)
		if n := len(t.rows) - keepRows; !t.updating && n >= keepRows {
			t.rows = append(t.rows[:0:0], t.rows[n:]...)
			t.dropped += int64(n)
		}
	}
}

func equalRows(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tableView draws a liveTable on a terminal, in place: each redraw moves
// the cursor back over the lines drawn before and clears below.
type tableView struct {
	t      *liveTable
	w      io.Writer
	size   func() (width, height int)
	start  time.Time
	drawn  int // lines drawn by the last redraw
	lastN  int64
	lastAt time.Time
	rate   float64
}

// draw redraws the table: column names, the latest rows that fit the
// terminal, and a status line (rows shown, rows received per second, and
// state).
func (v *tableView) draw(state string, now time.Time) {
	v.t.mu.Lock()
	width, height := v.size()
	if width <= 0 {
		width = 80
	}
	if height <= 0 {
		height = 24
	}
	fit := height - 5 // header, rule, status, the prompt and a spare line
	if fit < 1 {
		fit = 1
	}
	rows := v.t.rows
	hidden := 0
	if len(rows) > fit {
		hidden = len(rows) - fit
		rows = rows[hidden:]
	}
	widths := make([]int, len(v.t.cols))
	for i, c := range v.t.cols {
		widths[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, s := range r {
			if i < len(widths) && utf8.RuneCountInString(s) > widths[i] {
				widths[i] = utf8.RuneCountInString(s)
			}
		}
	}
	// The rate over the last second or so (over the time so far, in the
	// first second).
	if v.lastAt.IsZero() {
		v.lastAt = v.start
	}
	if d := now.Sub(v.lastAt); d >= time.Second {
		v.rate = float64(v.t.changes-v.lastN) / d.Seconds()
		v.lastN, v.lastAt = v.t.changes, now
	} else if since := now.Sub(v.start); since < time.Second && since > 0 {
		v.rate = float64(v.t.changes) / since.Seconds()
	}
	var lines []string
	lines = append(lines, formatLine(v.t.cols, widths), ruleLine(widths))
	for _, r := range rows {
		lines = append(lines, formatLine(r, widths))
	}
	status := fmt.Sprintf("%d rows", v.t.count())
	if hidden > 0 || v.t.dropped > 0 {
		status += fmt.Sprintf(" (the latest %d shown)", len(rows))
	}
	status += fmt.Sprintf(" · %d received · %.0f rows/s · %s · %s", v.t.changes, v.rate,
		now.Sub(v.start).Round(100*time.Millisecond), state)
	lines = append(lines, status)
	v.t.mu.Unlock()

	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", v.drawn)
	}
	b.WriteString("\r\x1b[J")
	for _, l := range lines {
		b.WriteString(truncate(l, width-1))
		b.WriteByte('\n') // the terminal adds the carriage return
	}
	io.WriteString(v.w, b.String())
	v.drawn = len(lines)
}

func formatLine(vals []string, widths []int) string {
	var b strings.Builder
	for i, s := range vals {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(s)
		if i < len(vals)-1 && i < len(widths) {
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)))
		}
	}
	return b.String()
}

func ruleLine(widths []int) string {
	parts := make([]string, len(widths))
	for i, w := range widths {
		parts[i] = strings.Repeat("-", w)
	}
	return strings.Join(parts, "-+-")
}

// truncate cuts s to n runes, so that no line wraps (a wrapped line
// would throw off the redraw).
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// lazyPrinter is a rowPrinter made at the first row (or at the end), so
// that a query failing at its start prints no column names.
type lazyPrinter struct {
	mu       sync.Mutex
	w        io.Writer
	cols     []string
	updating bool
	p        *rowPrinter
}

func (l *lazyPrinter) start() *rowPrinter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		l.p = newRowPrinter(l.w, l.cols, l.updating)
	}
	return l.p
}

func (l *lazyPrinter) add(kind runtime.RowKind, vals []string) { l.start().add(kind, vals) }

func (l *lazyPrinter) started() *rowPrinter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}

func (l *lazyPrinter) flush() {
	if p := l.started(); p != nil {
		p.flush()
	}
}

func (l *lazyPrinter) count() int64 {
	if p := l.started(); p != nil {
		return p.count()
	}
	return 0
}
