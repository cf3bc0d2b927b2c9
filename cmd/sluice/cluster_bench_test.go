package main

import (
	"context"

	"bytes"
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

	"github.com/segmentio/kafka-go"
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
// three ways, interleaved: one plain process (--parallelism 2, checkpoints
// every second into the same S3 server), one process with --cluster kafka,
// three processes with --cluster kafka. It reports, medians of each:
//   - events/s-KIND: the input size over the time to the end of the last
//     process (a shared run's includes forming its group, during which
//     the first process to join starts alone and hands tasks over);
//   - steady-events/s-KIND and steady-events/cpu-s-KIND: the rate at which
//     the sources read, and the rows per CPU second (user + system of all
//     the run's processes), once the group is settled (no new generation
//     for half a second), from 10% to 90% of the input;
//   - the shared runs' steady ratios to the plain one.
func BenchmarkSharedJobThroughput(b *testing.B) {
	sql := strings.ReplaceAll(windowedClicksSQL, "%[5]s", "page")
	r := newSharedRun(b, sql, func(e clickEvent) string { return e.page }, "clicks")
	r.events = clickEvents(benchEvents(), 11)
	r.produce(b, "", 0, len(r.events))
	n := float64(len(r.events))
	type result struct{ wall, steady, perCPU float64 }
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
			memberEnv = nil
			if kind == "three" {
				count = 3
				// Three processes on one 2-core machine: each gets one
				// core's worth of Go scheduler, as each would have its
				// own machine's, instead of 6 Ps contending for 2 cores.
				memberEnv = []string{"GOMAXPROCS=1"}
			}
			for k := range count {
				ms = append(ms, startMember(b, fmt.Sprint(kind, k), job, group, r.endpoint))
			}
		}
		// Sample the sources' rows and the processes' CPU while they run.
		type sample struct {
			at          time.Time
			rows, cpu   float64
			generations int
		}
		var samples []sample
		ended := 0
		for ended < len(ms) {
			s := sample{at: time.Now()}
			ended = 0
			for _, m := range ms {
				select {
				case err := <-m.done:
					m.done <- err
					if err != nil {
						b.Fatalf("%s: %v\n%s", m.name, err, m.output())
					}
					ended++
					continue
				default:
				}
				s.cpu += procCPU(m.cmd.Process.Pid)
				s.generations += strings.Count(m.output(), "generation ")
			}
			if ended == 0 {
				s.rows = committedTotal(r.broker, group)
				samples = append(samples, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
		res := result{wall: n / time.Since(start).Seconds()}
		// The steady window: from the first sample with 10% of the rows
		// read and the group settled, to the last below 90%.
		var from, to *sample
		for i := range samples {
			s := &samples[i]
			settled := i >= 5 && samples[i-5].generations == s.generations
			if from == nil && s.rows >= n/10 && (kind == "plain" || settled) {
				from = s
			}
			if from != nil && s.rows <= n*9/10 && s.generations == from.generations {
				to = s
			}
		}
		if os.Getenv("SLUICE_BENCH_DEBUG") != "" {
			for _, s := range samples {
				b.Logf("%s %v rows %.0f cpu %.2f gens %d", kind, s.at.Sub(start).Round(time.Millisecond), s.rows, s.cpu, s.generations)
			}
		}
		if from != nil && to != nil && to.rows > from.rows && to.cpu > from.cpu {
			res.steady = (to.rows - from.rows) / to.at.Sub(from.at).Seconds()
			res.perCPU = (to.rows - from.rows) / (to.cpu - from.cpu)
		}
		for _, m := range ms {
			m.cmd.Process.Kill()
		}
		return res
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
	for _, kind := range []string{"plain", "one", "three"} {
		b.ReportMetric(med(kind, func(r result) float64 { return r.wall }), "events/s-"+kind)
		b.ReportMetric(med(kind, func(r result) float64 { return r.steady }), "steady-events/s-"+kind)
		b.ReportMetric(med(kind, func(r result) float64 { return r.perCPU }), "steady-events/cpu-s-"+kind)
	}
	plain := med("plain", func(r result) float64 { return r.perCPU })
	b.ReportMetric(med("three", func(r result) float64 { return r.perCPU })/plain, "steady-cpu-three/plain")
	b.ReportMetric(med("one", func(r result) float64 { return r.perCPU })/plain, "steady-cpu-one/plain")
	plainRate := med("plain", func(r result) float64 { return r.steady })
	b.ReportMetric(med("three", func(r result) float64 { return r.steady })/plainRate, "steady-rate-three/plain")
}

// committedTotal is the sum of the offsets group has committed on the
// partitions of clicks: the input its checkpoints cover.
func committedTotal(broker, group string) float64 {
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(strings.Split(broker, ",")...), Transport: tr, Timeout: time.Second}
	parts := make([]int, clusterParts)
	for i := range parts {
		parts[i] = i
	}
	res, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{"clicks": parts}})
	if err != nil {
		return 0
	}
	total := 0.0
	for _, p := range res.Topics["clicks"] {
		if p.CommittedOffset > 0 {
			total += float64(p.CommittedOffset)
		}
	}
	return total
}

// procCPU is the user + system CPU seconds process pid has used (Linux).
func procCPU(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which ends at the last ')').
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // clock ticks: USER_HZ is 100 on Linux
}

// benchEvents is the input size of BenchmarkSharedJobThroughput
// ($SLUICE_BENCH_EVENTS, default 1,600,000).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_600_000
}
