package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkSharedJobFailover measures how long the tasks of a process
// killed with SIGKILL take to run again on another: from the kill to the
// last of them restored elsewhere, next to the group's session timeout
// (1.5 s here; the target is the session timeout + at most 2 s).
func BenchmarkSharedJobFailover(b *testing.B) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	var took []time.Duration
	for i := range b.N {
		func() {
			tb := b
			r := newSharedRun(tb, sql, func(e clickEvent) string { return e.page }, "clicks")
			r.produce(tb, "", 0, len(r.events))
			group := fmt.Sprintf("failover%d", i)
			out := filepath.Join(r.dir, "shared")
			job := clusterJob(tb, r.dir, "shared", sql, r.broker, group, false, out)
			a := startMember(tb, "a", job, group, r.endpoint)
			v := startMember(tb, "b", job, group, r.endpoint)
			waitUntil(tb, 30*time.Second, "both run tasks", func() bool { return a.runsTasks() && v.runsTasks() })
			waitUntil(tb, 30*time.Second, "output published", func() bool { return len(published(tb, out)) > 0 })
			lost := tasksOf(v.output())
			before := strings.Count(a.output(), "restored checkpoint")
			killed := time.Now()
			v.cmd.Process.Kill()
			// Each of the lost tasks logs its restore on a; tasks that had
			// no checkpoint yet start without one.
			waitUntil(tb, 30*time.Second, "a runs every task", func() bool {
				return strings.Contains(a.output(), "runs tasks [0 1 2 3 4 5 6 7 8 9 10 11]") &&
					strings.Count(a.output(), "restored checkpoint")-before >= len(lost)
			})
			took = append(took, time.Since(killed))
			a.cmd.Process.Kill()
		}()
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s-to-resume")
	b.ReportMetric(1.5, "s-session-timeout")
}

var tasksLine = regexp.MustCompile(`runs tasks \[([0-9 ]*)\]`)

// tasksOf returns the tasks of a process's last assignment.
func tasksOf(log string) []string {
	m := tasksLine.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return nil
	}
	return strings.Fields(m[len(m)-1][1])
}

// BenchmarkSharedJobThroughput runs one bounded job over the same input
// three ways, interleaved: one plain process (--parallelism 2), one process
// with --cluster kafka, three processes with --cluster kafka; it reports
// each one's events per second (input size over time to the end of the
// last process, medians) and the shared runs' ratio to the plain one.
func BenchmarkSharedJobThroughput(b *testing.B) {
	tb := b
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	r := newSharedRun(tb, sql, func(e clickEvent) string { return e.page }, "clicks")
	r.events = clickEvents(400_000, 11)
	r.produce(tb, "", 0, len(r.events))
	run := func(kind string, i int) time.Duration {
		group := fmt.Sprintf("%s%d", kind, i)
		out := filepath.Join(r.dir, group)
		job := clusterJob(tb, r.dir, group, sql, r.broker, group, true, out)
		start := time.Now()
		switch kind {
		case "plain":
			if got, err := exec.Command(binary, "run", job, "--parallelism", "2").CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, got)
			}
		default:
			n := 1
			if kind == "three" {
				n = 3
			}
			var ms []*member
			for k := range n {
				ms = append(ms, startMember(tb, fmt.Sprint(kind, k), job, group, r.endpoint, "--checkpoint-interval", "1s"))
			}
			for _, m := range ms {
				if err := <-m.done; err != nil {
					m.done <- err
					b.Fatalf("%s: %v\n%s", m.name, err, m.output())
				}
				m.done <- nil
			}
		}
		return time.Since(start)
	}
	times := map[string][]time.Duration{}
	for i := range b.N {
		for _, kind := range []string{"plain", "one", "three"} {
			times[kind] = append(times[kind], run(kind, i))
		}
	}
	med := func(kind string) float64 {
		ts := slices.Clone(times[kind])
		slices.Sort(ts)
		return ts[len(ts)/2].Seconds()
	}
	n := float64(len(r.events))
	b.ReportMetric(n/med("plain"), "events/s-plain")
	b.ReportMetric(n/med("one"), "events/s-1-process")
	b.ReportMetric(n/med("three"), "events/s-3-processes")
	b.ReportMetric(med("plain")/med("three"), "3-processes/plain")
}
