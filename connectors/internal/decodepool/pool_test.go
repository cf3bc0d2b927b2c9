package decodepool

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	sluicert "github.com/sluicehq/sluice/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chunk is a test chunk: its producer, its number among the producer's
// chunks, and how long decoding it spins.
type chunk struct {
	producer, n int
	spin        int
}

// spun keeps spinFor's work from being optimised away.
var spun atomic.Int64

// spinFor burns about n iterations of work, so that chunks finish out of
// their order on the workers.
func spinFor(n int) {
	x := 0
	for i := range n {
		x += i ^ (x >> 3)
	}
	spun.Add(int64(x))
}

// TestPoolEmitsInSubmitOrder: whatever the workers, the bound on chunks
// in flight, the producers and how long each chunk takes, Next returns
// the results in the order the chunks were submitted — each producer's
// chunks in its order, and every chunk exactly once.
func TestPoolEmitsInSubmitOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		workers := rapid.IntRange(1, 8).Draw(t, "workers")
		inflight := rapid.IntRange(1, 16).Draw(t, "inflight")
		producers := rapid.IntRange(1, 3).Draw(t, "producers")
		chunks := rapid.IntRange(0, 60).Draw(t, "chunks")
		spins := rapid.SliceOfN(rapid.IntRange(0, 20000), chunks, chunks).Draw(t, "spins")

		p := New(workers, inflight, func(_ int, c chunk) string {
			spinFor(c.spin)
			return fmt.Sprintf("%d/%d", c.producer, c.n)
		}, nil)
		defer p.Close()
		ctx := context.Background()
		// The order the chunks went in: one producer submits at a time
		// under mu, so the submit order is known.
		var mu sync.Mutex
		var submitted []string
		var wg sync.WaitGroup
		for pr := range producers {
			wg.Go(func() {
				for i := pr; i < chunks; i += producers {
					mu.Lock()
					if !p.Submit(ctx, chunk{producer: pr, n: i, spin: spins[i]}) {
						mu.Unlock()
						panic("submit failed")
					}
					submitted = append(submitted, fmt.Sprintf("%d/%d", pr, i))
					mu.Unlock()
				}
			})
		}
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		var got []string
		for len(got) < chunks {
			r, ok, err := p.Next(ctx, timer, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got = append(got, r)
			}
		}
		wg.Wait()
		if fmt.Sprint(got) != fmt.Sprint(submitted) {
			t.Fatalf("results %v, submitted %v", got, submitted)
		}
		if _, ok := p.ready(); ok {
			t.Fatal("a result after the last chunk")
		}
	})
}

// TestPoolBoundsChunksInFlight: Submit takes inflight chunks that Next has
// not taken, and no more until Next takes one.
func TestPoolBoundsChunksInFlight(t *testing.T) {
	const inflight = 4
	release := make(chan struct{})
	p := New(2, inflight, func(_ int, n int) int { <-release; return n }, nil)
	defer p.Close()
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	for i := range inflight {
		if !p.Submit(ctx, i) {
			t.Fatalf("chunk %d refused", i)
		}
	}
	// Full: a Submit that cannot wait is refused.
	if p.Submit(done, inflight) {
		t.Fatalf("chunk %d taken beyond the %d in flight", inflight, inflight)
	}
	close(release)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	r, ok, err := p.Next(ctx, timer, 10*time.Second)
	if !ok || err != nil || r != 0 {
		t.Fatalf("Next = %d, %v, %v; want chunk 0", r, ok, err)
	}
	if !p.Submit(ctx, inflight) {
		t.Fatal("no room after Next took a chunk")
	}
}

// TestPoolCloseReleasesBlockedReaders: readers waiting in Submit return
// false once their context ends or the pool closes, with chunks being
// decoded and chunks never taken; no goroutine outlives Close.
func TestPoolCloseReleasesBlockedReaders(t *testing.T) {
	p := New(3, 2, func(_ int, n int) int { spinFor(1000); return n }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	refused := make(chan bool, 4)
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				if !p.Submit(ctx, r*1000+i) {
					refused <- true
					return
				}
			}
		})
	}
	cancel()
	wg.Wait()
	p.Close()
	p.Close()
	if len(refused) != 4 {
		t.Fatalf("%d readers returned, want 4", len(refused))
	}

	// Closing alone releases a reader whose context is live.
	p = New(1, 1, func(_ int, n int) int { return n }, nil)
	var out bool
	wg.Go(func() {
		for i := 0; ; i++ {
			if out = p.Submit(context.Background(), i); !out {
				return
			}
		}
	})
	for len(p.order) < cap(p.order) {
		runtime.Gosched()
	}
	p.Close()
	wg.Wait()
}

// TestPoolNextEndsWithContext: Next returns ctx's error when ctx ends.
func TestPoolNextEndsWithContext(t *testing.T) {
	p := New(1, 1, func(_ int, n int) int { return n }, nil)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if _, ok, err := p.Next(ctx, timer, time.Second); ok || err == nil {
		t.Fatalf("Next = %v, %v on an ended context", ok, err)
	}
}

// TestBatchesRecycle: a batch put back is the next one taken, emptied.
func TestBatchesRecycle(t *testing.T) {
	s := sluicert.NewSchema(sluicert.Field{Name: "n", Type: sluicert.BigInt})
	l := NewBatches(s, 1)
	defer l.Close()
	b := l.Get()
	b.Cols[0].AppendInt(7)
	b.N++
	l.Put(b)
	if c := l.Get(); c != b || c.N != 0 || len(c.Cols[0].I64) != 0 {
		t.Fatalf("Get after Put = %p (N %d), want %p emptied", c, c.N, b)
	}
	l.Put(nil)
}

// TestWorkersDefault: an absent option (0) is GOMAXPROCS.
func TestWorkersDefault(t *testing.T) {
	if got, want := Workers(0), runtime.GOMAXPROCS(0); got != want {
		t.Fatalf("Workers(0) = %d, want %d", got, want)
	}
	if got := Workers(3); got != 3 {
		t.Fatalf("Workers(3) = %d", got)
	}
	if got := Workers(1 << 20); got != MaxWorkers {
		t.Fatalf("Workers(1<<20) = %d", got)
	}
}

// TestPoolNextDecodesWhileWorkersAreBusy: with its one worker stuck on a
// chunk, Next decodes the chunks waiting behind it itself (as worker
// number 1) instead of sitting idle, and still returns every result in
// submit order.
func TestPoolNextDecodesWhileWorkersAreBusy(t *testing.T) {
	release := make(chan struct{})
	var byNext atomic.Int64
	p := New(1, 4, func(w int, n int) int {
		if w == 0 {
			<-release
		} else {
			byNext.Add(1)
		}
		return n
	}, nil)
	defer p.Close()
	ctx := context.Background()
	for i := range 3 {
		if !p.Submit(ctx, i) {
			t.Fatalf("chunk %d refused", i)
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var got []int
	for len(got) < 3 {
		r, ok, err := p.Next(ctx, timer, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break // waiting for the worker's chunk
		}
		got = append(got, r)
	}
	// The worker holds at most one chunk: Next decoded the others.
	if n := byNext.Load(); n < 2 {
		t.Fatalf("Next decoded %d of 3 chunks while the worker was stuck, want at least 2", n)
	}
	close(release)
	for len(got) < 3 {
		r, ok, err := p.Next(ctx, timer, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("Next = %v, %v after the worker was released", ok, err)
		}
		got = append(got, r)
	}
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("results %v, want [0 1 2]", got)
	}
}

// TestPoolStartsWorkersWithSpawn: every worker goroutine is started by
// spawn (a source's runtime.Context.Go, which turns a panic into the job's
// error), and Close waits for them.
func TestPoolStartsWorkersWithSpawn(t *testing.T) {
	var started, ended atomic.Int64
	p := New(3, 3, func(_ int, n int) int { return n }, func(run func()) {
		started.Add(1)
		go func() {
			defer ended.Add(1)
			run()
		}()
	})
	if !p.Submit(context.Background(), 1) {
		t.Fatal("chunk refused")
	}
	p.Close()
	// run returns before the deferred count: wait for the goroutines.
	for deadline := time.Now().Add(5 * time.Second); ended.Load() < 3 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	if started.Load() != 3 || ended.Load() != 3 {
		t.Fatalf("spawn started %d workers, %d ended; want 3 and 3", started.Load(), ended.Load())
	}
}

// TestPoolLimitsWeightInFlight: with LimitWeight, Submit takes chunks up
// to the weight bound and no more until Next takes one; a chunk heavier
// than the bound passes alone.
func TestPoolLimitsWeightInFlight(t *testing.T) {
	p := New(1, 16, func(_ int, n int) int { return n }, nil)
	defer p.Close()
	p.LimitWeight(10, func(n int) int64 { return int64(n) })
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	if !p.Submit(ctx, 6) || !p.Submit(ctx, 4) {
		t.Fatal("chunks within the bound refused")
	}
	if p.Submit(done, 1) {
		t.Fatal("a chunk taken beyond the weight bound")
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if r, ok, err := p.Next(ctx, timer, 10*time.Second); !ok || err != nil || r != 6 {
		t.Fatalf("Next = %d, %v, %v; want 6", r, ok, err)
	}
	if !p.Submit(ctx, 6) {
		t.Fatal("no room after Next took a chunk")
	}
	for _, want := range []int{4, 6} {
		if r, ok, err := p.Next(ctx, timer, 10*time.Second); !ok || err != nil || r != want {
			t.Fatalf("Next = %d, %v, %v; want %d", r, ok, err, want)
		}
	}
	// Nothing in flight: a chunk heavier than the bound passes.
	if !p.Submit(ctx, 50) {
		t.Fatal("a heavy chunk refused with nothing in flight")
	}
}
