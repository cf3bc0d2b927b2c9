package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
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
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	return &Hub{boards: map[string]*Dashboard{}, done: make(chan struct{}), EventInterval: 100 * time.Millisecond, Heartbeat: 15 * time.Second}
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
		out = append(out, d.Meta)
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

// ServeHTTP serves GET /api/v1/dashboards, /api/v1/dashboards/{id} and
// /api/v1/dashboards/{id}/events.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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
		writeJSON(w, d.Snapshot())
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
// snapshot; the writers never wait for a client.
func (h *Hub) stream(w http.ResponseWriter, r *http.Request, d *Dashboard) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		// A client that does not read for a heartbeat's time is dropped.
		_ = rc.SetWriteDeadline(time.Now().Add(h.Heartbeat + 5*time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	d.clients.Add(1)
	defer d.clients.Add(-1)
	snap := d.Snapshot()
	if !send("snapshot", snap) {
		return
	}
	version := snap.Version
	heartbeat := time.NewTicker(h.Heartbeat)
	defer heartbeat.Stop()
	last := time.Now()
	for {
		// At most one event per EventInterval: the changes within it go
		// in one event.
		if wait := h.EventInterval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-h.done:
				t.Stop()
				return
			}
		}
		delta, ok, wake, closed := d.since(version)
		switch {
		case !ok:
			snap := d.Snapshot()
			if !send("snapshot", snap) {
				return
			}
			version = snap.Version
			last = time.Now()
			continue
		case delta.Version > version:
			if !send("delta", delta) {
				return
			}
			version = delta.Version
			last = time.Now()
			continue
		case closed:
			return
		}
		select {
		case <-wake:
		case <-heartbeat.C:
			_ = rc.SetWriteDeadline(time.Now().Add(h.Heartbeat + 5*time.Second))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		}
	}
}
