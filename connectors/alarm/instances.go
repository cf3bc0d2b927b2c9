package alarm

import "github.com/VictoriaMetrics/metrics"

// Instances returns how many instances (distinct dimension values) of the
// alarm called name are in state ("OK", "ALARM", "INSUFFICIENT_DATA") in
// the job whose metrics set is set (its topic's, sql.Options.Metrics),
// planned last — what the sluice_alarm_instances gauge of that set reports,
// without reading metrics text.
func Instances(set *metrics.Set, name, state string) int {
	publishers.mu.Lock()
	p := publishers.byKey[publisherKey{set, name}]
	publishers.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[state]
}
