package bench

import (
	"testing"
	"time"
)

// BenchmarkCheckpointOverhead: the same job with 1,000,000 keys of window
// state, without checkpoints and with one every second, interleaved in the
// same run; reports both rates and their ratio (target: ≥ 90%).
func BenchmarkCheckpointOverhead(b *testing.B) {
	w := CheckpointWorkload
	var plain, ck time.Duration
	var n float64
	var size int64
	for range b.N {
		p, err := RunCheckpointed(b.Context(), w, 2, 0)
		if err != nil {
			b.Fatal(err)
		}
		c, err := RunCheckpointed(b.Context(), w, 2, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if c.Check != p.Check {
			b.Fatalf("results differ with checkpoints: %+v vs %+v", c.Check, p.Check)
		}
		plain, ck = plain+p.Elapsed, ck+c.Elapsed
		n += float64(c.Checkpoints)
		size = c.StateBytes
	}
	events := float64(b.N) * float64(w.Events)
	b.ReportMetric(events/plain.Seconds(), "plain-events/s")
	b.ReportMetric(events/ck.Seconds(), "checkpointed-events/s")
	b.ReportMetric(100*plain.Seconds()/ck.Seconds(), "ratio-%")
	b.ReportMetric(n/float64(b.N), "checkpoints/run")
	b.ReportMetric(float64(size)/1e6, "state-MB")
}

// TestCheckpointedRunCountsItsCheckpoints: the checkpoint benchmark reads
// how many checkpoints completed from the job's counters, and its results
// match a run without checkpoints.
func TestCheckpointedRunCountsItsCheckpoints(t *testing.T) {
	w := Workload{Events: 3_000_000, Keys: 1000, Window: time.Second}
	p, err := RunCheckpointed(t.Context(), w, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := RunCheckpointed(t.Context(), w, 2, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if c.Check != p.Check {
		t.Fatalf("results differ with checkpoints: %+v vs %+v", c.Check, p.Check)
	}
	if c.Checkpoints < 1 || c.StateBytes <= 0 {
		t.Fatalf("%d checkpoints of %d bytes in %v: want at least one", c.Checkpoints, c.StateBytes, c.Elapsed)
	}
}
