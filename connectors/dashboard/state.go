// Package dashboard is the 'dashboard' sink connector: a sink that keeps
// the current rows of a table in memory, in a process-wide Hub, and serves
// them over HTTP (a list, a JSON snapshot, and Server-Sent Events of the
// changes) for a live chart. The web page that draws the charts is served
// by the console; this package serves the data.
package dashboard

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/runtime"
)

// maxLog is the number of row changes a dashboard remembers for its event
// streams: a client further behind gets a fresh snapshot instead.
const maxLog = 4096

// Column is a column of a dashboard, as listed.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Meta describes a dashboard.
type Meta struct {
	ID      string            `json:"id"`
	Title   string            `json:"title"`
	Chart   string            `json:"chart"`
	Options map[string]string `json:"options"`
	Columns []Column          `json:"columns"`
}

// change is one row added or removed.
type change struct {
	add bool
	row []any
}

type entry struct {
	row   []any
	count int
	seq   int64
}

// Dashboard is the current state of one dashboard: a multiset of rows (or
// one row per key), bounded by retain, oldest dropped. Writers (sink
// subtasks) and readers share it under a mutex held only to copy.
type Dashboard struct {
	Meta   Meta
	types  []runtime.Type
	keyCol []int // upsert key columns (nil: a multiset of rows)
	retain int

	mu      sync.Mutex
	entries map[string]*entry
	order   []orderRef // insertion order, lazily cleaned
	rows    int        // total copies
	seq     int64
	log     []change
	logBase int64 // version of log[0] is logBase+1
	version int64
	notify  chan struct{} // closed and replaced on every write
	closed  bool

	clients atomic.Int64 // open event streams
}

type orderRef struct {
	key string
	seq int64
}

func newDashboard(m Meta, types []runtime.Type, keyCol []int, retain int) *Dashboard {
	return &Dashboard{Meta: m, types: types, keyCol: keyCol, retain: retain, entries: map[string]*entry{}, notify: make(chan struct{})}
}

// Snapshot is the state of a dashboard at a version.
type Snapshot struct {
	ID      string  `json:"id"`
	Version int64   `json:"version"`
	Rows    [][]any `json:"rows"`
}

// Delta is the rows added and removed between two versions.
type Delta struct {
	From    int64   `json:"from"`
	Version int64   `json:"version"`
	Added   [][]any `json:"added"`
	Removed [][]any `json:"removed"`
}

// Snapshot returns the current rows, oldest first, and the version.
func (d *Dashboard) Snapshot() Snapshot {
	d.mu.Lock()
	es := make([]entry, 0, len(d.entries))
	for _, e := range d.entries {
		es = append(es, *e)
	}
	rows, version := d.rows, d.version
	d.mu.Unlock()
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	out := make([][]any, 0, rows)
	for _, e := range es {
		for range e.count {
			out = append(out, e.row)
		}
	}
	return Snapshot{ID: d.Meta.ID, Version: version, Rows: out}
}

// since returns the changes after version from, or ok false when they are
// no longer remembered; and a channel closed on the next write.
func (d *Dashboard) since(from int64) (delta Delta, ok bool, wake <-chan struct{}, closed bool) {
	d.mu.Lock()
	wake, closed = d.notify, d.closed
	if from < d.logBase || from > d.version {
		d.mu.Unlock()
		return Delta{}, false, wake, closed
	}
	// The log's entries never change once appended: net them outside the
	// lock, so that writers do not wait for readers.
	log := d.log[from-d.logBase : d.version-d.logBase]
	delta = Delta{From: from, Version: d.version, Added: [][]any{}, Removed: [][]any{}}
	d.mu.Unlock()
	// Net the changes: a row added and removed within the delta is in
	// neither list, so that Removed and Added apply in any order.
	net := map[string]int{}
	var keys []string
	rows := map[string][]any{}
	for _, c := range log {
		k := rowKey(c.row)
		if _, ok := rows[k]; !ok {
			rows[k] = c.row
			keys = append(keys, k)
		}
		if c.add {
			net[k]++
		} else {
			net[k]--
		}
	}
	for _, k := range keys {
		for n := net[k]; n > 0; n-- {
			delta.Added = append(delta.Added, rows[k])
		}
		for n := net[k]; n < 0; n++ {
			delta.Removed = append(delta.Removed, rows[k])
		}
	}
	return delta, true, wake, closed
}

func (d *Dashboard) record(add bool, row []any) {
	d.version++
	d.log = append(d.log, change{add, row})
	if len(d.log) > maxLog {
		n := len(d.log) - maxLog/2
		d.log = append(d.log[:0:0], d.log[n:]...)
		d.logBase += int64(n)
	}
}

// write applies a batch: +I and +U add a row (replace its key's row when
// keyed), -U and -D remove one copy (delete the key when keyed).
func (d *Dashboard) write(b *runtime.Batch) {
	n := b.Len()
	if n == 0 {
		return
	}
	type rowKind struct {
		row  []any
		key  string
		kind runtime.RowKind
	}
	rs := make([]rowKind, n)
	var sb strings.Builder
	for i := range n {
		r := b.Row(i)
		row := make([]any, len(b.Cols))
		for c := range b.Cols {
			row[c] = jsonValue(b.Cols[c].Value(r))
		}
		sb.Reset()
		if d.keyCol != nil {
			for _, c := range d.keyCol {
				writeKey(&sb, b.Cols[c].Value(r))
			}
		} else {
			for c := range b.Cols {
				writeKey(&sb, b.Cols[c].Value(r))
			}
		}
		rs[i] = rowKind{row, sb.String(), b.Kind(r)}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for _, r := range rs {
		e := d.entries[r.key]
		switch r.kind {
		case runtime.Insert, runtime.UpdateAfter:
			if e != nil && d.keyCol != nil {
				d.record(false, e.row)
				d.rows--
				delete(d.entries, r.key)
				e = nil
			}
			d.seq++
			if e == nil {
				e = &entry{row: r.row, seq: d.seq}
				d.entries[r.key] = e
				d.order = append(d.order, orderRef{r.key, d.seq})
			}
			e.count++
			d.rows++
			d.record(true, r.row)
		default:
			if e == nil {
				continue // a retraction of a row already dropped by retain
			}
			e.count--
			d.rows--
			d.record(false, e.row)
			if e.count == 0 || d.keyCol != nil {
				d.rows -= e.count
				delete(d.entries, r.key)
			}
		}
	}
	d.evict()
	close(d.notify)
	d.notify = make(chan struct{})
}

// evict drops the oldest rows beyond retain.
func (d *Dashboard) evict() {
	for d.rows > d.retain && len(d.order) > 0 {
		ref := d.order[0]
		d.order = d.order[1:]
		e := d.entries[ref.key]
		if e == nil || e.seq != ref.seq {
			continue
		}
		for range e.count {
			d.record(false, e.row)
		}
		d.rows -= e.count
		delete(d.entries, ref.key)
	}
	if len(d.order) > 2*len(d.entries)+64 {
		live := d.order[:0:0]
		for _, ref := range d.order {
			if e := d.entries[ref.key]; e != nil && e.seq == ref.seq {
				live = append(live, ref)
			}
		}
		d.order = live
	}
}

func (d *Dashboard) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.notify)
	}
}

// rowKey identifies a row's values in a delta.
func rowKey(row []any) string {
	var sb strings.Builder
	for _, v := range row {
		fmt.Fprintf(&sb, "%T:%#v|", v, v)
	}
	return sb.String()
}

func writeKey(sb *strings.Builder, v runtime.Value) {
	if v.Null {
		sb.WriteString("N|")
		return
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		sb.WriteString(strconv.FormatUint(math.Float64bits(v.F), 16))
	case runtime.PhysString:
		sb.WriteString(strconv.Itoa(len(v.S)))
		sb.WriteByte(':')
		sb.WriteString(v.S)
	default:
		sb.WriteString(strconv.FormatInt(v.I, 10))
	}
	sb.WriteByte('|')
}

// maxSafe is the largest integer a JSON reader (JavaScript) holds exactly.
const maxSafe = 1 << 53

// jsonValue is how a value is shown in JSON: numbers as numbers (an integer
// beyond ±2^53 as a string, which JavaScript would round), TIMESTAMP as
// epoch milliseconds, DECIMAL as a string, NaN and infinities as strings,
// NULL as null.
func jsonValue(v runtime.Value) any {
	if v.Null {
		return nil
	}
	switch v.Type.Kind() {
	case runtime.Boolean:
		return v.I != 0
	case runtime.Double:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return strconv.FormatFloat(v.F, 'g', -1, 64)
		}
		return v.F
	case runtime.Varchar:
		return v.S
	case runtime.Decimal:
		return runtime.FormatDecimal(v.I, v.Type.Scale())
	default:
		if v.I > maxSafe || v.I < -maxSafe {
			return strconv.FormatInt(v.I, 10)
		}
		return v.I
	}
}
