package connectors

import (
	"context"
	"testing"
	"time"
)

// TestPacer: samples come every interval, the first at once, and a pacer
// that fell behind skips instead of bursting.
func TestPacer(t *testing.T) {
	p := Pacer{Interval: 30 * time.Millisecond}
	ctx := context.Background()
	start := time.Now()
	var times []time.Duration
	for time.Since(start) < 200*time.Millisecond {
		now, due, err := p.Due(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if due {
			times = append(times, now.Sub(start))
		}
	}
	if len(times) < 5 || len(times) > 8 || times[0] > 10*time.Millisecond {
		t.Fatalf("samples at %v: want about one per 30 ms from the start", times)
	}
	time.Sleep(100 * time.Millisecond) // fall behind by three intervals
	late, due, _ := p.Due(ctx)
	if !due || time.Since(late) > 5*time.Millisecond {
		t.Fatal("a late sample is due at once")
	}
	var next time.Time
	for !due || next.IsZero() {
		next, due, _ = p.Due(ctx)
	}
	if gap := next.Sub(late); gap < 25*time.Millisecond {
		t.Fatalf("the sample after a late one came %v later: a pacer that fell behind must not burst", gap)
	}
}
