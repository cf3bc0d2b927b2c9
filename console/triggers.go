package console

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// TriggerStatus is what the console shows of one function trigger: where
// its records come from, the function it invokes, and its figures so far
// (counters since the trigger started).
type TriggerStatus struct {
	Name     string `json:"name"`
	Source   string `json:"source"`   // e.g. "stream orders", "queue jobs.fifo"
	Function string `json:"function"` // the endpoint's URL or the command
	State    string `json:"state"`    // "running", "stopped" or "failed"

	Invocations   int64 `json:"invocations"`
	Records       int64 `json:"records"`
	Errors        int64 `json:"errors"`
	Throttles     int64 `json:"throttles"`
	FailedBatches int64 `json:"failed_batches"` // given up on (streams) or left for redelivery (queues)
	// IteratorAgeMs is the age of the oldest record in the latest batches
	// (the largest over partitions); -1 before the first batch.
	IteratorAgeMs int64 `json:"iterator_age_ms"`
	// Visible and InFlight are a queue's messages waiting and received but
	// not deleted; nil for a stream.
	Visible  *int64 `json:"visible,omitempty"`
	InFlight *int64 `json:"in_flight,omitempty"`

	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// AddTriggers shows the triggers list returns on the triggers page and in
// /api/v1/triggers, from now until the console closes. list is called on
// every request, from the request's goroutine.
func (s *Server) AddTriggers(list func() []TriggerStatus) {
	s.mu.Lock()
	s.triggers = append(s.triggers, list)
	s.mu.Unlock()
}

// serveTriggers answers /api/v1/triggers: {"triggers": [...]}, by name.
func (s *Server) serveTriggers(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	lists := slices.Clone(s.triggers)
	s.mu.Unlock()
	out := struct {
		Triggers []TriggerStatus `json:"triggers"`
	}{Triggers: []TriggerStatus{}}
	for _, l := range lists {
		out.Triggers = append(out.Triggers, l()...)
	}
	slices.SortStableFunc(out.Triggers, func(a, b TriggerStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
