package alarm

// Instances returns how many instances (distinct dimension values) of the
// alarm called name are in state ("OK", "ALARM", "INSUFFICIENT_DATA") in
// the job of this process that planned it last — what the
// sluice_alarm_instances gauge reports, without reading metrics text.
func Instances(name, state string) int {
	publishers.mu.Lock()
	p := publishers.byName[name]
	publishers.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[state]
}
