package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice/apps/cpualarm"
)

// TestDemoDashboardsShowCPUAndHostsInAlarm runs sluice demo (periods of
// 1 s, 10 hosts of which cache-03 runs hot from 5 s on) until the host in
// ALARM shows in its table, and checks its two dashboards: every host's
// average CPU per period (a line per host), and the hosts in ALARM — the
// hot host, with 2 or more of its last 3 periods above 90%, as the
// alarm's own notification says.
func TestDemoDashboardsShowCPUAndHostsInAlarm(t *testing.T) {
	const hot = "cache-03"
	var alarmAt float64
	deadline := 30 * time.Second
	if raceEnabled {
		deadline = 90 * time.Second
	}
	out := runJobUntil(t, deadline, func() bool {
		if alarmAt == 0 {
			for _, r := range rowsOf("hosts_in_alarm") {
				if r[0] == hot {
					alarmAt = jsonNum(t, r[1])
				}
			}
			return false
		}
		// Two periods later the alarm has evaluated that period too.
		for _, r := range rowsOf("cpu_by_host") {
			if jsonNum(t, r[1]) >= alarmAt+2000 {
				return true
			}
		}
		return false
	}, "demo", "--store-dir", t.TempDir(), "--parallelism", "2", "--period", "1s", "--hosts", "10", "--spiking", "2")
	if m := metaOf(t, "cpu_by_host"); m.Chart != "line" || m.Options["series"] != "host" {
		t.Errorf("cpu_by_host: %+v", m)
	}
	if m := metaOf(t, "hosts_in_alarm"); m.Chart != "table" {
		t.Errorf("hosts_in_alarm: %+v", m)
	}
	type hostAt struct {
		host string
		end  float64
	}
	avg := map[hostAt]float64{}
	hosts := map[string]bool{}
	for _, r := range rowsOf("cpu_by_host") { // host, period_end, avg_cpu
		avg[hostAt{r[0].(string), jsonNum(t, r[1])}] = jsonNum(t, r[2])
		hosts[r[0].(string)] = true
	}
	for i := range 10 {
		if !hosts[cpualarm.HostName(i)] {
			t.Errorf("cpu_by_host has no line of %s", cpualarm.HostName(i))
		}
	}
	fleet := map[string]bool{}
	for i := range 10 {
		fleet[cpualarm.HostName(i)] = true
	}
	for _, r := range rowsOf("hosts_in_alarm") { // host, period_end, avg_cpu, breaching
		host := r[0].(string)
		if fleet[host] && host != hot {
			t.Errorf("hosts_in_alarm: %v, which does not run hot", r)
		}
		if a, ok := avg[hostAt{host, jsonNum(t, r[1])}]; ok && a != jsonNum(t, r[2]) {
			t.Errorf("hosts_in_alarm: %v, but cpu_by_host has an average of %v", r, a)
		}
		if b := jsonNum(t, r[3]); b < 1 || b > 3 {
			t.Errorf("hosts_in_alarm: %v: %v breaching periods of 3", r, b)
		}
	}
	if !regexp.MustCompile(`"NewStateValue": "ALARM",[\s\S]*"host": "` + hot + `"`).MatchString(out) {
		t.Errorf("no ALARM notification of %s in:\n%.3000s", hot, out)
	}
}
