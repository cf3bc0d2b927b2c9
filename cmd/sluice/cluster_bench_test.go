package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
			started := func() int {
				return strings.Count(a.output(), "restored checkpoint") + strings.Count(a.output(), "starts without a checkpoint")
			}
			before := started()
			killed := time.Now()
			v.cmd.Process.Kill()
			// Each of the lost tasks logs its start on a: restored, or
			// without a checkpoint when none counted yet.
			waitUntil(tb, 30*time.Second, "a runs every task", func() bool {
				return strings.Contains(a.output(), "runs tasks [0 1 2 3 4 5 6 7 8 9 10 11]") && started()-before >= len(lost)
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
// three ways, interleaved: one plain process (--parallelism 2, checkpoints
// every 200 ms into the same S3 server), one process with --cluster kafka,
// three processes with --cluster kafka (GOMAXPROCS=1 each: one core's
// worth of scheduler each on this 2-core machine, rather than 6 Ps
// contending for 2 cores). It reports, medians of each:
//   - events/s-KIND: the input size over the time to the end of the last
//     process (a shared run's includes forming its group);
//   - events/cpu-s-KIND: the input size over the CPU time (user + system)
//     of all the run's processes: what sharing costs in work;
//   - the shared runs' ratios of both to the plain one.
func BenchmarkSharedJobThroughput(b *testing.B) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	r := newSharedRun(b, sql, func(e clickEvent) string { return e.page }, "clicks")
	r.events = clickEvents(benchEvents(), 11)
	r.produce(b, "", 0, len(r.events))
	n := float64(len(r.events))
	cpuOf := func(c *exec.Cmd) time.Duration { return c.ProcessState.UserTime() + c.ProcessState.SystemTime() }
	type result struct{ wall, cpu float64 }
	run := func(kind string, i int) result {
		group := fmt.Sprintf("%s%d", kind, i)
		out := filepath.Join(r.dir, group)
		job := clusterJob(b, r.dir, group, sql, r.broker, group, true, out)
		start := time.Now()
		var ms []*member
		switch kind {
		case "plain":
			m := &member{name: group, done: make(chan error, 1), cmd: exec.Command(binary, "run", job, "--parallelism", "2",
				"--checkpoint-dir", "s3://ckpt/"+group, "--checkpoint-s3-endpoint", r.endpoint, "--checkpoint-interval", "200ms")}
			m.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk")
			if p := os.Getenv("SLUICE_BENCH_PROFILE"); p != "" {
				m.cmd.Env = append(m.cmd.Env, "SLUICE_CPUPROFILE="+p)
			}
			m.cmd.Stdout, m.cmd.Stderr = m, m
			if err := m.cmd.Start(); err != nil {
				b.Fatal(err)
			}
			go func() { m.done <- m.cmd.Wait() }()
			ms = append(ms, m)
		default:
			count := 1
			if kind == "three" {
				count = 3
				memberEnv = []string{"GOMAXPROCS=1"}
			}
			for k := range count {
				ms = append(ms, startMember(b, fmt.Sprint(kind, k), job, group, r.endpoint))
			}
			memberEnv = nil
		}
		var cpu time.Duration
		for _, m := range ms {
			if err := <-m.done; err != nil {
				b.Fatalf("%s: %v\n%s", m.name, err, m.output())
			}
			m.done <- nil
			cpu += cpuOf(m.cmd)
		}
		return result{wall: n / time.Since(start).Seconds(), cpu: n / cpu.Seconds()}
	}
	results := map[string][]result{}
	for i := range b.N {
		for _, kind := range []string{"plain", "one", "three"} {
			results[kind] = append(results[kind], run(kind, i))
		}
	}
	med := func(kind string, f func(result) float64) float64 {
		var v []float64
		for _, r := range results[kind] {
			v = append(v, f(r))
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	wall := func(r result) float64 { return r.wall }
	cpu := func(r result) float64 { return r.cpu }
	for _, kind := range []string{"plain", "one", "three"} {
		b.ReportMetric(med(kind, wall), "events/s-"+kind)
		b.ReportMetric(med(kind, cpu), "events/cpu-s-"+kind)
	}
	b.ReportMetric(med("three", wall)/med("plain", wall), "wall-three/plain")
	b.ReportMetric(med("three", cpu)/med("plain", cpu), "cpu-three/plain")
	b.ReportMetric(med("one", cpu)/med("plain", cpu), "cpu-one/plain")
}

// benchEvents is the input size of BenchmarkSharedJobThroughput
// ($SLUICE_BENCH_EVENTS, default 1,600,000).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_600_000
}
