package bench

import (
	"runtime"
	"testing"
)

// BenchmarkTumblingCountSum runs the workload three ways per iteration and
// reports each one's events/s and Sluice's ratios to its peers:
//
//	go test -run '^$' -bench TumblingCountSum ./bench
func BenchmarkTumblingCountSum(b *testing.B) {
	w := Default
	var sl, gs, loop float64
	for i := 0; i < b.N; i++ {
		l, err := RunLoop(b.Context(), w)
		if err != nil {
			b.Fatal(err)
		}
		g, err := RunGoStreams(b.Context(), w)
		if err != nil {
			b.Fatal(err)
		}
		s, err := RunSluice(b.Context(), w, runtime.GOMAXPROCS(0))
		if err != nil {
			b.Fatal(err)
		}
		if s.Check != l.Check || g.Check != l.Check {
			b.Fatalf("results differ: sluice %v, go-streams %v, loop %v", s.Check, g.Check, l.Check)
		}
		sl += s.EventsPerSec()
		gs += g.EventsPerSec()
		loop += l.EventsPerSec()
	}
	n := float64(b.N)
	b.ReportMetric(sl/n/1e6, "sluice-Mevents/s")
	b.ReportMetric(gs/n/1e6, "gostreams-Mevents/s")
	b.ReportMetric(loop/n/1e6, "loop-Mevents/s")
	b.ReportMetric(sl/gs, "x-gostreams")
	b.ReportMetric(sl/loop, "x-loop")
}

// BenchmarkStateBytesPerKey reports the window state per (key, window) for
// COUNT+SUM with 1M keys.
func BenchmarkStateBytesPerKey(b *testing.B) {
	var total float64
	for i := 0; i < b.N; i++ {
		v, err := StateBytesPerKey(b.Context(), 1_000_000)
		if err != nil {
			b.Fatal(err)
		}
		total += v
	}
	b.ReportMetric(total/float64(b.N), "bytes/key-window")
}

func TestSluiceMatchesLoop(t *testing.T) {
	w := Workload{Events: 300_000, Keys: 2_000, Window: Default.Window}
	want := w.Expected()
	for _, par := range []int{1, 3} {
		got, err := RunSluice(t.Context(), w, par)
		if err != nil {
			t.Fatal(err)
		}
		if got.Check != want {
			t.Fatalf("parallelism %d: sluice %v, loop %v", par, got.Check, want)
		}
		if got.Elapsed <= 0 || got.CPU <= 0 {
			t.Fatalf("parallelism %d: wall %v, cpu %v: want both positive", par, got.Elapsed, got.CPU)
		}
	}
}

func TestStateBytesPerKeyWithinTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 1M keys")
	}
	v, err := StateBytesPerKey(t.Context(), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if v > 64 {
		t.Fatalf("%.1f bytes per (key, window), target ≤ 64", v)
	}
}
