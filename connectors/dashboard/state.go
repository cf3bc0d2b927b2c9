// Package dashboard is the 'dashboard' sink connector: a sink that keeps
// the current rows of a table in memory, in a process-wide Hub, and serves
// them over HTTP (a list, a JSON snapshot, and Server-Sent Events of the
// changes) for a live chart. The web page that draws the charts is served
// by the console; this package serves the data.
//
// Each row is encoded to JSON once, when it arrives; snapshots and deltas
// are those encodings put together, a snapshot once per version however
// many clients ask for it.
package dashboard

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// maxLog is the number of row changes a dashboard remembers for its event
// streams (enough for 10 events a second at 160,000 changes a second): a
// client further behind gets a fresh snapshot instead.
const maxLog = 16384

// maxTrend is the number of points of a number chart's trend.
const maxTrend = 300

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
	// Job is the name of the job whose sink writes the dashboard, once
	// the sink has opened.
	Job string `json:"job,omitempty"`
	// Done is set when every subtask of the job's sink has closed (the
	// job ended, or failed): the rows are its final result. The dashboard
	// stays until a job registers one of the same id, or the process ends.
	Done bool `json:"done"`
}

// change is one row added or removed.
type change struct {
	add bool
	row string
}

// entry is a distinct row (or a key's row) and its copies.
type entry struct {
	row   string // the row, a JSON array
	key   string // its key in entries (row itself when not keyed)
	count int    // copies; 0 once removed
	x     xval   // the x column's value, for retain by windows or time
	at    int64  // arrival, ms since start (monotonic)
	value string // a number chart's value, JSON ("" when NULL)
}

// Dashboard is the current state of one dashboard: a multiset of rows (or
// one row per key), bounded by retain, oldest dropped. Writers (sink
// subtasks) and readers share it under a mutex held only to apply changes
// and to copy; encoding happens outside it.
type Dashboard struct {
	Meta     Meta // as built; Info adds the job and whether it is done
	types    []runtime.Type
	keyCol   []int // upsert key columns (nil: a multiset of rows)
	retain   retain
	xCol     int  // the x column (-1: none)
	xTime    bool // x is a TIMESTAMP: a retained time span is of x
	valueCol int  // a number chart's value column (-1: none)

	mu sync.Mutex
	// entries indexes the rows by key once indexed: from the start when
	// keyed, else from the first retraction (an append-only dashboard
	// needs no index: each row is an entry of its own until then).
	entries map[string]*entry
	indexed bool
	order   []*entry // insertion order; removed entries (count 0) cleaned lazily
	head    int      // order[:head] are gone
	live    int      // entries with count > 0
	rows    int      // total copies
	trackX  bool     // retain needs xs
	xs      xset     // the x values of the rows, for retain by windows or time
	log     []change // a ring: the change to version v is log[v%len(log)]; grows to maxLog
	held    int64    // the changes log holds: versions version-held+1 to version
	version int64
	notify  chan struct{} // closed and replaced on every change
	closed  bool
	trend   []point // a number chart's recent values
	trendAt int64   // version of the last change to trend
	job     string
	open    int  // open sink subtasks
	started bool // a sink subtask has opened

	free []*entry // entries no longer referenced, for reuse

	snapMu sync.Mutex // held while a snapshot is built; before mu
	snap   *encoded
	dmu    sync.Mutex // guards dcache; before mu
	dcache *encoded

	clients   atomic.Int64 // open event streams
	built     atomic.Int64 // snapshots encoded
	snapshots atomic.Int64 // snapshot events sent
	deltas    atomic.Int64 // delta events sent
	received  atomic.Int64 // rows written
}

// point is a value of a number chart at a time (epoch ms).
type point struct {
	at    int64
	value string // JSON
}

// start is the origin of arrival times.
var start = time.Now()

func timeSinceStart() int64 { return time.Since(start).Milliseconds() }

func newDashboard(m Meta, types []runtime.Type, keyCol []int, r retain, xCol, valueCol int) *Dashboard {
	d := &Dashboard{Meta: m, types: types, keyCol: keyCol, retain: r, xCol: xCol, valueCol: valueCol,
		entries: map[string]*entry{}, notify: make(chan struct{}), xs: xset{n: map[xval]int{}}}
	d.xTime = xCol >= 0 && types[xCol] == runtime.Timestamp
	d.trackX = r.windows > 0 || (r.span > 0 && d.xTime)
	d.indexed = keyCol != nil
	return d
}

// Snapshot is the state of a dashboard at a version.
type Snapshot struct {
	ID      string  `json:"id"`
	Version int64   `json:"version"`
	Done    bool    `json:"done"`
	Rows    [][]any `json:"rows"`
	// Trend is a number chart's recent values, oldest first, as [epoch
	// ms, value]: at most one a second (the second's last), the last 300.
	Trend [][]any `json:"trend,omitempty"`
}

// Delta is the rows added and removed between two versions; Trend, the
// whole trend when it changed.
type Delta struct {
	ID      string  `json:"id"`
	From    int64   `json:"from"`
	Version int64   `json:"version"`
	Done    bool    `json:"done"`
	Added   [][]any `json:"added"`
	Removed [][]any `json:"removed"`
	Trend   [][]any `json:"trend,omitempty"`
}

// Info returns the dashboard's Meta with its job and whether it is done.
func (d *Dashboard) Info() Meta {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.Meta
	m.Job, m.Done = d.job, d.done()
	return m
}

func (d *Dashboard) done() bool { return d.started && d.open == 0 }

// Snapshot returns the current rows, oldest first, and the version.
func (d *Dashboard) Snapshot() Snapshot {
	d.mu.Lock()
	d.expire()
	rows := d.collect()
	s := Snapshot{ID: d.Meta.ID, Version: d.version, Done: d.done(), Rows: make([][]any, 0, d.rows)}
	trend := slices.Clone(d.trend)
	d.mu.Unlock()
	for _, r := range rows {
		row := decodeRow(r.row, d.types)
		for range r.n {
			s.Rows = append(s.Rows, row)
		}
	}
	s.Trend = decodeTrend(trend, d.types, d.valueCol)
	return s
}

func decodeTrend(trend []point, types []runtime.Type, col int) [][]any {
	var out [][]any
	for _, p := range trend {
		out = append(out, []any{p.at, decodeRow("["+p.value+"]", types[col:col+1])[0]})
	}
	return out
}

type rowCount struct {
	row string
	n   int
}

// collect returns the rows in order. d.mu is held.
func (d *Dashboard) collect() []rowCount {
	out := make([]rowCount, 0, d.live)
	for _, e := range d.order[d.head:] {
		if e.count > 0 {
			out = append(out, rowCount{e.row, e.count})
		}
	}
	return out
}

// encoded is a snapshot or delta event's data.
type encoded struct {
	from, version int64
	done          bool
	ok            bool // a delta: the changes since from were remembered
	at            time.Time
	b             []byte
}

// encodedSnapshot returns the snapshot's JSON: the one encoded last when
// it is of the current version or younger than maxAge, else a new one.
// Clients share it; the caller must not modify it.
func (d *Dashboard) encodedSnapshot(maxAge time.Duration) *encoded {
	d.snapMu.Lock()
	defer d.snapMu.Unlock()
	d.mu.Lock()
	d.expire()
	version, done := d.version, d.done()
	if s := d.snap; s != nil && s.done == done && (s.version == version || time.Since(s.at) < maxAge) {
		d.mu.Unlock()
		return s
	}
	rows := d.collect()
	trend := slices.Clone(d.trend)
	d.mu.Unlock()
	size := 64 + len(d.Meta.ID)
	for _, r := range rows {
		size += (len(r.row) + 1) * r.n
	}
	b := make([]byte, 0, size+len(trend)*24)
	b = append(b, `{"id":`...)
	b = appendString(b, d.Meta.ID)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, done)
	b = append(b, `,"rows":[`...)
	first := true
	for _, r := range rows {
		for range r.n {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, r.row...)
		}
	}
	b = append(b, ']')
	if d.valueCol >= 0 {
		b = appendTrend(b, trend)
	}
	b = append(b, '}')
	d.built.Add(1)
	d.snap = &encoded{version: version, done: done, ok: true, at: time.Now(), b: b}
	return d.snap
}

func appendTrend(b []byte, trend []point) []byte {
	b = append(b, `,"trend":[`...)
	for i, p := range trend {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, p.at, 10)
		b = append(b, ',')
		b = append(b, p.value...)
		b = append(b, ']')
	}
	return append(b, ']')
}

// delta returns the changes after version from as an event's data (ok
// false when they are no longer remembered); a channel closed on the next
// change; and whether the dashboard was replaced. Clients at the same
// version share the encoding: the last one, when it is from that version
// and to the current one or younger than maxAge.
func (d *Dashboard) delta(from int64, maxAge time.Duration) (dl *encoded, wake <-chan struct{}, closed bool) {
	d.dmu.Lock()
	defer d.dmu.Unlock()
	d.mu.Lock()
	wake, closed = d.notify, d.closed
	version, done := d.version, d.done()
	// (A younger one to an older version serves only if it has changes:
	// a client given none waits for the next change.)
	if c := d.dcache; c != nil && c.from == from && c.done == done && (c.version == version || c.version > from && time.Since(c.at) < maxAge) {
		d.mu.Unlock()
		return c, wake, closed
	}
	if from < version-d.held || from > version {
		d.mu.Unlock()
		return &encoded{from: from, version: version, done: done}, wake, closed
	}
	// Copy the changes (a memmove or two) and net them outside the lock,
	// so that writers do not wait for readers.
	log := make([]change, 0, version-from)
	if n := int64(len(d.log)); version > from {
		if i, j := from%n, version%n; i >= j {
			log = append(append(log, d.log[i+1:]...), d.log[:j+1]...)
		} else {
			log = append(log, d.log[i+1:j+1]...)
		}
	}

	var trend []point
	if d.trendAt > from {
		trend = slices.Clone(d.trend)
	}
	d.mu.Unlock()
	added, removed := netChanges(log)
	b := make([]byte, 0, 64+len(d.Meta.ID))
	b = append(b, `{"id":`...)
	b = appendString(b, d.Meta.ID)
	b = append(b, `,"from":`...)
	b = strconv.AppendInt(b, from, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, done)
	b = appendRows(append(b, `,"added":`...), added)
	b = appendRows(append(b, `,"removed":`...), removed)
	if trend != nil {
		b = appendTrend(b, trend)
	}
	b = append(b, '}')
	d.dcache = &encoded{from: from, version: version, done: done, ok: true, at: time.Now(), b: b}
	return d.dcache, wake, closed
}

// netChanges nets a run of changes: a row added and removed within it is
// in neither list, so that removed and added apply in any order.
func netChanges(log []change) (added, removed []string) {
	net := make(map[string]int, len(log))
	var rows []string
	for _, c := range log {
		n, seen := net[c.row]
		if !seen {
			rows = append(rows, c.row)
		}
		if c.add {
			n++
		} else {
			n--
		}
		net[c.row] = n
	}
	for _, r := range rows {
		for n := net[r]; n > 0; n-- {
			added = append(added, r)
		}
		for n := net[r]; n < 0; n++ {
			removed = append(removed, r)
		}
	}
	return added, removed
}

func appendRows(b []byte, rows []string) []byte {
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, ']')
}

func (d *Dashboard) record(add bool, row string) {
	if d.held == int64(len(d.log)) && len(d.log) < maxLog {
		// Grow the ring, keeping the changes it holds.
		grown := make([]change, max(64, 2*len(d.log)))
		for v := d.version - d.held + 1; v <= d.version; v++ {
			grown[v%int64(len(grown))] = d.log[v%int64(len(d.log))]
		}
		d.log = grown
	}
	d.version++
	d.log[d.version%int64(len(d.log))] = change{add, row}
	d.held = min(d.held+1, int64(len(d.log)))
}

// pending is a row of a batch, encoded, before it is applied.
type pending struct {
	row   string
	key   []byte // nil: the row is its key
	kind  runtime.RowKind
	x     xval
	value string // a number chart's value, JSON
}

// write applies a batch: +I and +U add a row (replace its key's row when
// keyed), -U and -D remove one copy (delete the key when keyed). Rows are
// encoded before the lock is taken.
func (d *Dashboard) write(b *runtime.Batch) { d.writeWith(b, &scratch{}) }

// scratch is a sink subtask's buffers for write, reused batch to batch.
type scratch struct {
	ps        []pending
	buf, keys []byte
}

func (d *Dashboard) writeWith(b *runtime.Batch, s *scratch) {
	n := b.Len()
	if n == 0 {
		return
	}
	d.received.Add(int64(n))
	if cap(s.ps) < n {
		s.ps = make([]pending, n)
	}
	ps := s.ps[:n]
	clear(ps)
	defer clear(ps) // hold no rows
	buf, keys := s.buf, s.keys[:0]
	defer func() { s.buf, s.keys = buf, keys }()
	for i := range n {
		r := b.Row(i)
		p := &ps[i]
		buf = append(buf[:0], '[')
		for c := range b.Cols {
			if c > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, b.Cols[c].Value(r))
		}
		buf = append(buf, ']')
		p.row, p.kind = string(buf), b.Kind(r)
		if d.keyCol != nil {
			k0 := len(keys)
			for _, c := range d.keyCol {
				keys = appendValue(keys, b.Cols[c].Value(r))
				keys = append(keys, ',')
			}
			p.key = keys[k0:len(keys):len(keys)]
		}
		if d.xCol >= 0 {
			p.x = xOf(b.Cols[d.xCol].Value(r))
		}
		if d.valueCol >= 0 {
			if v := b.Cols[d.valueCol].Value(r); !v.Null {
				p.value = string(appendValue(nil, v))
			}
		}
	}
	now := timeSinceStart()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	v0, t0 := d.version, d.trendAt
	for i := range ps {
		d.apply(&ps[i], now)
	}
	d.evict(now)
	if d.valueCol >= 0 && d.version != v0 {
		d.addTrend()
	}
	if d.version != v0 || d.trendAt != t0 {
		d.wake()
	}
}

// apply applies one row. d.mu is held.
func (d *Dashboard) apply(p *pending, now int64) {
	insert := p.kind == runtime.Insert || p.kind == runtime.UpdateAfter
	if !insert && !d.indexed {
		d.index()
	}
	var e *entry
	if d.indexed {
		if p.key != nil {
			e = d.entries[string(p.key)]
		} else {
			e = d.entries[p.row]
		}
	}
	if insert {
		if e != nil && d.keyCol != nil {
			d.drop(e)
			e = nil
		}
		if e == nil {
			e = d.newEntry()
			*e = entry{row: p.row, key: p.row, x: p.x, at: now, value: p.value}
			if p.key != nil {
				e.key = string(p.key)
			}
			if d.indexed {
				d.entries[e.key] = e
			}
			d.order = append(d.order, e)
			d.live++
		}
		e.count++
		d.rows++
		if d.trackX {
			d.xs.add(e.x)
		}
		d.record(true, e.row)
		return
	}
	if e == nil {
		return // a retraction of a row already dropped by retain
	}
	if d.keyCol != nil || e.count == 1 {
		d.drop(e)
		return
	}
	e.count--
	d.rows--
	if d.trackX {
		d.xs.remove(e.x)
	}
	d.record(false, e.row)
}

// newEntry returns a free entry. d.mu is held.
func (d *Dashboard) newEntry() *entry {
	if n := len(d.free); n > 0 {
		e := d.free[n-1]
		d.free = d.free[:n-1]
		return e
	}
	return new(entry)
}

// release keeps a removed entry that nothing references any more for
// reuse. d.mu is held.
func (d *Dashboard) release(e *entry) {
	if len(d.free) < 4096 {
		*e = entry{}
		d.free = append(d.free, e)
	}
}

// index builds the index of an append-only dashboard at its first
// retraction: the copies of a row join its first entry. d.mu is held.
func (d *Dashboard) index() {
	d.indexed = true
	d.entries = make(map[string]*entry, d.live)
	for _, e := range d.order[d.head:] {
		if e.count == 0 {
			continue
		}
		if first, ok := d.entries[e.key]; ok {
			first.count += e.count
			e.count = 0
			d.live--
			continue
		}
		d.entries[e.key] = e
	}
}

// drop removes every copy of an entry. d.mu is held.
func (d *Dashboard) drop(e *entry) {
	for range e.count {
		d.record(false, e.row)
		if d.trackX {
			d.xs.remove(e.x)
		}
	}
	d.rows -= e.count
	e.count = 0
	d.live--
	if d.indexed && d.entries[e.key] == e {
		delete(d.entries, e.key)
	}
}

// addTrend adds a number chart's figure, the value of its newest row, to
// its trend: one point a second, the last value of the second winning.
// (The figure after each batch, not each row's value: rows of parallel
// sink subtasks interleave, but the state after the last batch is the
// result.) d.mu is held.
func (d *Dashboard) addTrend() {
	raw := ""
	for i := len(d.order) - 1; i >= d.head; i-- {
		if e := d.order[i]; e.count > 0 {
			raw = e.value
			break
		}
	}
	if raw == "" {
		return
	}
	now := time.Now().UnixMilli()
	d.trendAt = d.version
	if n := len(d.trend); n > 0 && d.trend[n-1].at/1000 == now/1000 {
		d.trend[n-1] = point{now, raw}
		return
	}
	if len(d.trend) == maxTrend {
		d.trend = append(d.trend[:0], d.trend[1:]...)
	}
	d.trend = append(d.trend, point{now, raw})
}

// wake tells the event streams of a change. d.mu is held.
func (d *Dashboard) wake() {
	close(d.notify)
	d.notify = make(chan struct{})
}

// opened and closedSink track the sink's subtasks: the dashboard is done
// when all that opened have closed.
func (d *Dashboard) opened(job string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.job, d.started = job, true
	d.open++
	if !d.closed {
		d.wake()
	}
}

func (d *Dashboard) closedSink() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open--
	if d.open == 0 && !d.closed {
		d.wake()
	}
}

// close ends the dashboard's event streams: a new one replaced it.
func (d *Dashboard) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.notify)
	}
}
