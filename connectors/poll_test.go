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

// TestReceive: a value waiting is taken at once, one sent meanwhile within
// the wait, none in time gives ok false, and a done context its error.
func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	ctx := context.Background()
	ch <- 1
	if v, ok, err := Receive(ctx, ch, tm, time.Second); v != 1 || !ok || err != nil {
		t.Fatalf("waiting value: %v %v %v", v, ok, err)
	}
	go func() { time.Sleep(10 * time.Millisecond); ch <- 2 }()
	if v, ok, err := Receive(ctx, ch, tm, time.Second); v != 2 || !ok || err != nil {
		t.Fatalf("value within the wait: %v %v %v", v, ok, err)
	}
	start := time.Now()
	if _, ok, err := Receive(ctx, ch, tm, 20*time.Millisecond); ok || err != nil || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("nothing in time: %v %v after %v", ok, err, time.Since(start))
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok, err := Receive(done, ch, tm, time.Second); ok || err != context.Canceled {
		t.Fatalf("done context: %v %v", ok, err)
	}
}
