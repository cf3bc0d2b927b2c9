package dashboard

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

// maxRows bounds every dashboard, whatever its retain.
const maxRows = 1_000_000

// retain is what a dashboard keeps: at most rows rows, and with windows
// the rows of the last windows distinct x values, with span (ms) the rows
// whose x (a TIMESTAMP) is within span of the newest x, or that arrived
// within span when x is no TIMESTAMP.
type retain struct {
	rows    int
	windows int
	span    int64
}

const retainForms = "'N rows' (1 to 1000000), 'N windows' (the last N values of x) or a time span such as '10 min'"

// parseRetain parses 'N rows', 'N windows' or a time span ('10 min',
// '30 s', '2 h', '1 d').
func parseRetain(s string) (any, error) {
	f := strings.Fields(s)
	if len(f) == 1 { // 1000rows, 5windows
		for _, u := range []string{"rows", "row", "windows", "window"} {
			if n, ok := strings.CutSuffix(f[0], u); ok && n != "" {
				f = []string{n, u}
				break
			}
		}
	}
	if len(f) == 2 {
		switch f[1] {
		case "rows", "row", "windows", "window":
			n, err := strconv.Atoi(f[0])
			if err != nil || n < 1 || n > maxRows {
				return nil, fmt.Errorf("%q is not a count from 1 to 1000000: give %s", s, retainForms)
			}
			if f[1][0] == 'r' {
				return retain{rows: n}, nil
			}
			return retain{rows: maxRows, windows: n}, nil
		}
	}
	d, err := connectors.ParseDuration(s)
	if err != nil || d < 1e6 {
		return nil, fmt.Errorf("%q is not a bound: give %s", s, retainForms)
	}
	return retain{rows: maxRows, span: d.Milliseconds()}, nil
}

// xval is a value of the x column, ordered: NULL (and NaN) first, then
// by value (i for integers, TIMESTAMP and DECIMAL; f for DOUBLE).
type xval struct {
	notNull bool
	i       int64
	f       float64
}

func xOf(v runtime.Value) xval {
	switch {
	case v.Null:
		return xval{}
	case v.Type.Kind() == runtime.Double:
		if math.IsNaN(v.F) {
			return xval{}
		}
		return xval{notNull: true, f: v.F}
	case v.Type.Physical() == runtime.PhysString:
		return xval{} // not ordered: retain by windows or time needs a number
	}
	return xval{notNull: true, i: v.I}
}

func (a xval) compare(b xval) int {
	if a.notNull != b.notNull {
		if a.notNull {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(a.i, b.i); c != 0 {
		return c
	}
	return cmp.Compare(a.f, b.f)
}

// minus is x less a span of ms (a TIMESTAMP's).
func (a xval) minus(ms int64) xval {
	a.i -= ms
	return a
}

// xset counts the rows of each x value, and keeps the values in order.
type xset struct {
	n      map[xval]int
	sorted []xval
}

func (s *xset) add(x xval) {
	if s.n[x]++; s.n[x] > 1 {
		return
	}
	// Windows mostly arrive in order: the new value goes last.
	i := len(s.sorted)
	if i > 0 && s.sorted[i-1].compare(x) > 0 {
		i, _ = slices.BinarySearchFunc(s.sorted, x, xval.compare)
	}
	s.sorted = slices.Insert(s.sorted, i, x)
}

func (s *xset) remove(x xval) {
	if s.n[x]--; s.n[x] > 0 {
		return
	}
	delete(s.n, x)
	if i, ok := slices.BinarySearchFunc(s.sorted, x, xval.compare); ok {
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
}

// evict drops the rows beyond retain: the oldest beyond its rows; with
// windows, those of x values before the last windows; with a span, those
// whose x is not within it of the newest x, or (x no TIMESTAMP) that
// arrived before now less it. d.mu is held.
func (d *Dashboard) evict(now int64) {
	for d.rows > d.retain.rows && d.head < len(d.order) {
		e := d.order[d.head]
		d.order[d.head] = nil
		d.head++
		if e.count > 0 {
			d.drop(e)
		}
		d.release(e)
	}
	switch xs := d.xs.sorted; {
	case d.retain.windows > 0 && len(xs) > d.retain.windows:
		d.dropBefore(xs[len(xs)-d.retain.windows])
	case d.retain.span > 0 && d.xTime && len(xs) > 0:
		if cut := xs[len(xs)-1].minus(d.retain.span); xs[0].compare(cut) <= 0 {
			d.dropBefore(cut.minus(-1))
		}
	case d.retain.span > 0 && !d.xTime:
		d.expireAt(now)
	}
	if d.head > len(d.order)/2 || len(d.order)-d.head > 2*d.live+64 {
		live := make([]*entry, 0, d.live+d.live/4)
		for _, e := range d.order[d.head:] {
			if e.count > 0 {
				live = append(live, e)
			} else {
				d.release(e)
			}
		}
		d.order, d.head = live, 0
	}
}

// dropBefore drops the rows whose x is less than cut. d.mu is held.
func (d *Dashboard) dropBefore(cut xval) {
	for _, e := range d.order[d.head:] {
		if e.count > 0 && e.x.compare(cut) < 0 {
			d.drop(e)
		}
	}
}

// expireAt drops the rows that arrived a span or more before now (ms
// since start), oldest first. d.mu is held.
func (d *Dashboard) expireAt(now int64) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if e.count > 0 {
			if e.at > now-d.retain.span {
				return
			}
			d.drop(e)
		}
		d.order[d.head] = nil
		d.head++
		d.release(e)
	}
}

// expire applies a retained span of arrival time when the dashboard is
// read, so that rows age out without new ones. d.mu is held.
func (d *Dashboard) expire() {
	if d.retain.span == 0 || d.xTime || d.closed {
		return
	}
	v := d.version
	d.expireAt(timeSinceStart())
	if d.version != v {
		d.wake()
	}
}

// arrivalSpan is the span of arrival time the dashboard keeps rows for (0:
// none).
func (d *Dashboard) arrivalSpan() time.Duration {
	if d.xTime {
		return 0
	}
	return time.Duration(d.retain.span) * time.Millisecond
}

// expireNow drops the rows that arrived a span or more ago.
func (d *Dashboard) expireNow() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire()
}
