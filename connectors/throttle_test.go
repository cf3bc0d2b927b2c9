package connectors

import (
	"context"
	"testing"
	"time"
)

func TestThrottleNeverGetsAheadOfItsRate(t *testing.T) {
	if got := (&Throttle{}).Take(context.Background(), 77); got != 77 {
		t.Fatalf("the zero throttle let %d of 77 rows go", got)
	}
	if th := NewThrottle(0, 10); th.Take(context.Background(), 5) != 5 {
		t.Fatal("a throttle without a rate limits")
	}
	const rate = 2000
	th := NewThrottle(rate, 1024)
	defer th.Stop()
	start := time.Now()
	var sent int64
	for time.Since(start) < 150*time.Millisecond {
		n := th.Take(context.Background(), 1024)
		sent += n
		th.Sent(n)
		// Never more than the rate allows since the first poll.
		if limit := int64(time.Since(start).Seconds()*rate) + 1; sent > limit {
			t.Fatalf("%d rows after %v at %d rows/s", sent, time.Since(start), rate)
		}
	}
	if sent == 0 {
		t.Fatal("the throttle let nothing go in 150 ms at 2000 rows/s")
	}
}

func TestThrottleSleepEndsWithTheContext(t *testing.T) {
	th := NewThrottle(0.001, 1) // a row every 1000 s
	defer th.Stop()
	th.Take(context.Background(), 1) // the first poll: nothing is due yet
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if n := th.Take(ctx, 1); n != 0 {
		t.Fatalf("%d rows went at a rate of one per 1000 s", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Take slept %v after its context ended", d)
	}
}
