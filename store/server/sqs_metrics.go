package server

// Queue metrics: the Server's metrics set (registered globally by New, so
// every /metrics of the process shows them) writes, on each scrape, these
// series for every queue, labelled queue:
//
//	sluice_queue_messages_visible                     messages a receive could take now
//	sluice_queue_messages_in_flight                   received, neither deleted nor visible again
//	sluice_queue_messages_delayed                     sent with a delay that has not passed
//	sluice_queue_oldest_message_age_seconds           age of the oldest message (0 for none)
//	sluice_queue_messages_sent_total                  messages sent (deduplicated sends not counted)
//	sluice_queue_messages_received_total              receives of messages
//	sluice_queue_messages_deleted_total               messages deleted by DeleteMessage(Batch)
//	sluice_queue_messages_moved_to_dead_letter_total  messages moved to the dead-letter queue
//	sluice_queue_sent_bytes_total                     bytes of the messages sent (bodies and attributes)
//
// The gauges are counted at the scrape (one pass over each queue's
// messages under its lock); the counters are plain fields the queue keeps
// under the lock it already takes, counted since the store opened. A
// deleted queue's series are gone from the next scrape.

import (
	"fmt"
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// queueFamilies are the families of the queue metrics, in the order they
// are written, with their types.
var queueFamilies = []struct{ name, typ string }{
	{"sluice_queue_messages_delayed", "gauge"},
	{"sluice_queue_messages_deleted_total", "counter"},
	{"sluice_queue_messages_in_flight", "gauge"},
	{"sluice_queue_messages_moved_to_dead_letter_total", "counter"},
	{"sluice_queue_messages_received_total", "counter"},
	{"sluice_queue_messages_sent_total", "counter"},
	{"sluice_queue_messages_visible", "gauge"},
	{"sluice_queue_oldest_message_age_seconds", "gauge"},
	{"sluice_queue_sent_bytes_total", "counter"},
}

// writeQueueMetrics writes the queue metrics in Prometheus text format.
func (s *Server) writeQueueMetrics(w io.Writer) {
	names := s.queues.List("")
	if len(names) == 0 {
		return
	}
	lines := make([]strings.Builder, len(queueFamilies))
	for _, name := range names {
		q, err := s.queues.Queue(name)
		if err != nil {
			continue
		}
		st, err := q.Stats()
		if err != nil {
			continue // deleted meanwhile
		}
		vals := []string{
			fmt.Sprint(st.Delayed), fmt.Sprint(st.Deleted), fmt.Sprint(st.InFlight), fmt.Sprint(st.DeadLettered),
			fmt.Sprint(st.Received), fmt.Sprint(st.Sent), fmt.Sprint(st.Visible), fmt.Sprint(st.OldestAge.Seconds()),
			fmt.Sprint(st.SentBytes),
		}
		for i, f := range queueFamilies {
			fmt.Fprintf(&lines[i], "%s{queue=%q} %s\n", f.name, name, vals[i])
		}
	}
	for i, f := range queueFamilies {
		if lines[i].Len() == 0 {
			continue
		}
		metrics.WriteMetadataIfNeeded(w, f.name, f.typ)
		io.WriteString(w, lines[i].String())
	}
}
