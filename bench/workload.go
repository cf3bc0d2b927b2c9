// Package bench holds Sluice's benchmarks: one workload run several ways in
// the same process, reported as events/s and as ratios, so that speed claims
// always come with a peer measured on the same machine in the same run.
//
// The workload: a keyed event-time tumbling COUNT+SUM over 10 s windows,
// 10,000 keys, events from an in-memory generator, timestamps ten per
// millisecond with up to 50 ms of disorder (watermark bound 100 ms).
package bench

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Workload parameters.
type Workload struct {
	Events int64
	Keys   int64
	Window time.Duration
}

// Default is the workload of the README's figures.
var Default = Workload{Events: 5_000_000, Keys: 10_000, Window: 10 * time.Second}

const (
	baseTime = int64(1_700_000_000_000) // ms
	disorder = 50                       // ms
	bound    = 100 * time.Millisecond   // watermark out-of-orderness
)

// Event returns event i: its key, time (ms) and value.
func (w Workload) Event(i int64) (key, ts, v int64) {
	key = int64(uint64(i)*2654435761%uint64(w.Keys)) % w.Keys
	ts = baseTime + i/10 - (i*7)%disorder
	v = i % 1000
	return
}

// Result is one run of the workload.
type Result struct {
	Name    string
	Events  int64
	Elapsed time.Duration
	// CPU is the user+system CPU time the whole process used during the
	// run (every goroutine, the garbage collector included), so on n cores
	// it can be up to n times Elapsed.
	CPU time.Duration
	// Others is the CPU time the rest of the machine used during the run
	// (other processes, and time the hypervisor gave to other machines),
	// when OthersKnown: a run whose cores others took is not this
	// machine's figure.
	Others      time.Duration
	OthersKnown bool
	Check       Checksum
	// CountsOnly marks a run whose results were discarded (RunSQL into a
	// blackhole): Check.Results and Check.Count are known, Check.Sum is not.
	CountsOnly bool
}

// Agrees reports whether r's results match the complete checksum c: all of
// it, or only the number of results and the total count when r.CountsOnly.
func (r Result) Agrees(c Checksum) bool {
	if r.CountsOnly {
		return r.Check.Results == c.Results && r.Check.Count == c.Count
	}
	return r.Check == c
}

// CheckString formats r's checksum, without the sum when it is not known.
func (r Result) CheckString() string {
	if r.CountsOnly {
		return fmt.Sprintf("%d results, count %d (blackhole: sum not kept)", r.Check.Results, r.Check.Count)
	}
	return r.Check.String()
}

// EventsPerSec is the throughput of the run.
func (r Result) EventsPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// EventsPerCPUSec is the throughput per second of the process's CPU time:
// what one core does. It is 0 when no CPU time was measured (a run shorter
// than the clock's resolution).
func (r Result) EventsPerCPUSec() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Events) / r.CPU.Seconds()
}

// meter measures a run: wall time and the process's CPU time from start to
// stop.
type meter struct {
	wall time.Time
	cpu  time.Duration
}

func startMeter() meter { return meter{wall: time.Now(), cpu: cpuTime()} }

// stop returns the wall and CPU time since m started.
func (m meter) stop() (wall, cpu time.Duration) { return time.Since(m.wall), cpuTime() - m.cpu }

// cpuTime is the user+system CPU time the process has used (0 where
// getrusage fails).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Checksum summarises window results so runs can be compared: the number of
// (key, window) results and the sums of their counts and sums.
type Checksum struct {
	Results int64
	Count   int64
	Sum     int64
}

func (c *Checksum) add(count, sum int64) {
	c.Results++
	c.Count += count
	c.Sum += sum
}

func (c Checksum) String() string {
	return fmt.Sprintf("%d results, count %d, sum %d", c.Results, c.Count, c.Sum)
}

// Expected computes the exact checksum of w without timing anything.
func (w Workload) Expected() Checksum {
	r, _ := RunLoop(context.Background(), w) // never cancelled
	return r.Check
}
