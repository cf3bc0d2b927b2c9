package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Hub is a registry of dashboards, by id, and their HTTP API.
type Hub struct {
	mu     sync.Mutex
	boards map[string]*Dashboard
	done   chan struct{}
	closed bool
	// EventInterval is the least time between two events of one client's
	// stream (default 100 ms: at most 10 events a second); Heartbeat the
	// time between heartbeat comments (default 15 s).
	EventInterval, Heartbeat time.Duration
	// SnapshotInterval is the least time between two snapshots of one
	// client's stream after its first (default 1 s): a client that falls
	// behind the remembered changes more often waits.
	SnapshotInterval time.Duration
	// WriteTimeout is how long one event may take to reach a client; a
	// client that does not read for so long is dropped (default 20 s).
	WriteTimeout time.Duration
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{boards: map[string]*Dashboard{}, done: make(chan struct{}), EventInterval: 100 * time.Millisecond, Heartbeat: 15 * time.Second,
		SnapshotInterval: time.Second, WriteTimeout: 20 * time.Second}
}

// Default is the process-wide Hub that dashboard sinks write into.
var Default = NewHub()

// add registers a dashboard, replacing one with the same id (whose event
// streams end).
func (h *Hub) add(d *Dashboard) {
	h.mu.Lock()
	old := h.boards[d.Meta.ID]
	h.boards[d.Meta.ID] = d
	h.mu.Unlock()
	if old != nil {
		old.close()
	}
}

// Get returns the dashboard with this id.
func (h *Hub) Get(id string) (*Dashboard, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.boards[id]
	return d, ok
}

// List returns the dashboards, by id.
func (h *Hub) List() []Meta {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Meta, 0, len(h.boards))
	for _, d := range h.boards {
		out = append(out, d.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close ends every event stream of the Hub.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// ServeHTTP serves GET /api/v1/dashboards, /api/v1/dashboards/{id},
// /api/v1/dashboards/{id}/events and /api/v1/events (the events of several
// dashboards in one stream).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/api/v1/events" {
		h.serveMany(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/dashboards")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		writeJSON(w, h.List())
		return
	}
	id, events := strings.CutSuffix(rest, "/events")
	d, ok := h.Get(id)
	if !ok || strings.Contains(id, "/") {
		http.Error(w, fmt.Sprintf("no dashboard %q", id), http.StatusNotFound)
		return
	}
	if !events {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(d.encodedSnapshot(0).b)
		return
	}
	h.stream(w, r, d)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// stream serves a dashboard's events: a snapshot, then deltas at most one
// per EventInterval, each holding every change since the previous event. A
// client too slow to keep up with the remembered changes gets a fresh
// snapshot, at most one per SnapshotInterval. The writers never wait for a
// client: a client's goroutine sends one event at a time, built (once for
// every client at the same version) from rows encoded when they arrived,
// and a client that takes more than WriteTimeout to read one is dropped.
func (h *Hub) stream(w http.ResponseWriter, r *http.Request, d *Dashboard) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(event string, data []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: ", event); err != nil {
			return false
		}
		if _, err := w.Write(data); err != nil {
			return false
		}
		if _, err := io.WriteString(w, "\n\n"); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// wait waits for dur, or returns false when the stream ends.
	wait := func(dur time.Duration) bool {
		t := time.NewTimer(dur)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
		case <-h.done:
		}
		return false
	}
	d.clients.Add(1)
	defer d.clients.Add(-1)
	snap := d.encodedSnapshot(h.EventInterval)
	d.snapshots.Add(1)
	if !send("snapshot", snap.b) {
		return
	}
	version, done := snap.version, snap.done
	heartbeat := time.NewTicker(h.Heartbeat)
	defer heartbeat.Stop()
	// Rows kept for a span of arrival time age out without a new row:
	// look a tenth of the span after the last look.
	var expire <-chan time.Time
	if span := d.arrivalSpan(); span > 0 {
		t := time.NewTicker(min(max(span/10, h.EventInterval), 10*time.Second))
		defer t.Stop()
		expire = t.C
	}
	last, lastSnap := time.Now(), time.Now()
	for {
		// At most one event per EventInterval: the changes within it go
		// in one event.
		if w := h.EventInterval - time.Since(last); w > 0 && !wait(w) {
			return
		}
		dl, wake, closed := d.delta(version, h.EventInterval)
		switch {
		case closed:
			return
		case !dl.ok:
			if w := h.SnapshotInterval - time.Since(lastSnap); w > 0 {
				if !wait(w) {
					return
				}
				continue
			}
			snap := d.encodedSnapshot(h.EventInterval)
			d.snapshots.Add(1)
			if !send("snapshot", snap.b) {
				return
			}
			version, done = snap.version, snap.done
			last, lastSnap = time.Now(), time.Now()
			continue
		case dl.version > version || dl.done != done:
			d.deltas.Add(1)
			if !send("delta", dl.b) {
				return
			}
			version, done = dl.version, dl.done
			last = time.Now()
			continue
		}
		select {
		case <-wake:
		case <-expire:
			d.expireNow()
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
	}
}

// serveMany serves GET /api/v1/events?dashboard=ID&dashboard=ID…: the
// events of those dashboards (default: every dashboard now) in one
// stream, each event's data naming its dashboard ("id"). A browser holds
// at most six connections to a server over HTTP/1.1, and each event stream
// holds one: a page with many dashboards, or several pages, would run out
// with a stream per dashboard.
//
// Per dashboard the events are those of /api/v1/dashboards/{id}/events: a
// snapshot, then at most one delta per EventInterval, a fresh snapshot (at
// most one per SnapshotInterval) for a client too far behind. A dashboard
// replaced by a new job's gets an event "replaced" ({"id"}) and leaves the
// stream: the page lists the dashboards again.
func (h *Hub) serveMany(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["dashboard"]
	var boards []*Dashboard
	if len(ids) == 0 {
		h.mu.Lock()
		for _, d := range h.boards {
			boards = append(boards, d)
		}
		h.mu.Unlock()
	}
	for _, id := range ids {
		d, ok := h.Get(id)
		if !ok {
			http.Error(w, fmt.Sprintf("no dashboard %q", id), http.StatusNotFound)
			return
		}
		boards = append(boards, d)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	write := func(event string, data []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: ", event); err != nil {
			return false
		}
		if _, err := w.Write(data); err != nil {
			return false
		}
		_, err := io.WriteString(w, "\n\n")
		return err == nil
	}
	type cursor struct {
		d        *Dashboard
		version  int64
		done     bool
		lastSnap time.Time
		snapped  bool
	}
	cs := make([]*cursor, len(boards))
	for i, d := range boards {
		d.clients.Add(1)
		cs[i] = &cursor{d: d}
	}
	defer func() {
		for _, c := range cs {
			c.d.clients.Add(-1)
		}
	}()
	// Rows kept for a span of arrival time age out without a new row.
	var span time.Duration
	for _, d := range boards {
		if s := d.arrivalSpan(); s > 0 && (span == 0 || s < span) {
			span = s
		}
	}
	var expire <-chan time.Time
	if span > 0 {
		t := time.NewTicker(min(max(span/10, h.EventInterval), 10*time.Second))
		defer t.Stop()
		expire = t.C
	}
	heartbeat := time.NewTicker(h.Heartbeat)
	defer heartbeat.Stop()
	var wakes []reflect.SelectCase
	for {
		// One round: every dashboard's due event, then one flush.
		wrote, retry := false, false
		wakes = wakes[:0]
		for i := 0; i < len(cs); i++ {
			c := cs[i]
			var event string
			var data []byte
			dl, wake, closed := c.d.delta(c.version, h.EventInterval)
			wakes = append(wakes, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(wake)})
			switch {
			case closed:
				event, data = "replaced", append(appendString([]byte(`{"id":`), c.d.Meta.ID), '}')
				c.d.clients.Add(-1)
				cs = append(cs[:i], cs[i+1:]...)
				wakes = wakes[:len(wakes)-1]
				i--
			case !c.snapped || !dl.ok:
				if c.snapped && time.Since(c.lastSnap) < h.SnapshotInterval {
					retry = true
					continue
				}
				snap := c.d.encodedSnapshot(h.EventInterval)
				c.d.snapshots.Add(1)
				event, data = "snapshot", snap.b
				c.version, c.done, c.snapped, c.lastSnap = snap.version, snap.done, true, time.Now()
			case dl.version > c.version || dl.done != c.done:
				c.d.deltas.Add(1)
				event, data = "delta", dl.b
				c.version, c.done = dl.version, dl.done
			default:
				continue
			}
			if !write(event, data) {
				return
			}
			wrote = true
		}
		if wrote {
			if rc.Flush() != nil {
				return
			}
			// At most one event per dashboard and EventInterval: what
			// changes meanwhile goes in the next round's.
			t := time.NewTimer(h.EventInterval)
			select {
			case <-t.C:
				continue
			case <-r.Context().Done():
			case <-h.done:
			}
			t.Stop()
			return
		}
		// Nothing to send: wait for a change of any dashboard, a
		// heartbeat, rows to age out, or (a client behind) its next
		// snapshot.
		fixed := []reflect.SelectCase{
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.Context().Done())},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(h.done)},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(heartbeat.C)},
			{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(expire)},
		}
		var retryT *time.Timer
		if retry {
			retryT = time.NewTimer(h.SnapshotInterval)
			fixed = append(fixed, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(retryT.C)})
		}
		chosen, _, _ := reflect.Select(append(fixed, wakes...))
		if retryT != nil {
			retryT.Stop()
		}
		switch chosen {
		case 0, 1:
			return
		case 2:
			_ = rc.SetWriteDeadline(time.Now().Add(h.WriteTimeout))
			if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case 3:
			for _, c := range cs {
				c.d.expireNow()
			}
		}
	}
}
