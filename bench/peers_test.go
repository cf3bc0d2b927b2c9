package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPeersAgree(t *testing.T) {
	w := Workload{Events: 200_000, Keys: 1000, Window: Default.Window}
	loop, err := RunLoop(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := RunGoStreams(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	if loop.Check != gs.Check {
		t.Fatalf("loop %v, go-streams %v", loop.Check, gs.Check)
	}
	if loop.Check.Count != w.Events {
		t.Fatalf("loop counted %d events, want %d", loop.Check.Count, w.Events)
	}
	t.Logf("loop %.1fM/s, go-streams %.1fM/s", loop.EventsPerSec()/1e6, gs.EventsPerSec()/1e6)
}

// TestGoStreamsCompletesPastSixtyFourWindows runs go-streams long enough
// to emit far more than 64 of its 50 ms windows: the partial counts must be
// consumed as they come (a run once wedged after 64 of them), and every
// event must be counted.
func TestGoStreamsCompletesPastSixtyFourWindows(t *testing.T) {
	w := Workload{Events: 1 << 40, Keys: 100, Window: Default.Window}
	// Stop producing after 90 windows' worth of wall-clock time; the run
	// then drains and must return, with every event produced counted.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var produced int64
	done := make(chan struct{})
	var r Result
	var err error
	go func() {
		defer close(done)
		r, err = runGoStreams(context.Background(), w, func(in chan<- any) {
			for i := int64(0); ctx.Err() == nil; i++ {
				k, ts, v := w.Event(i)
				in <- gsEvent{k, ts, v}
				produced++
			}
		})
	}()
	time.Sleep(90 * 50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("go-streams run did not complete within 30 s after its events ended (wedged)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Check.Count != produced || produced == 0 {
		t.Fatalf("counted %d events, produced %d", r.Check.Count, produced)
	}
}

// TestRunsStopWhenCancelled: every run returns context.Canceled soon after
// its context ends, mid-run, on a workload that would take minutes.
func TestRunsStopWhenCancelled(t *testing.T) {
	w := Workload{Events: 1 << 40, Keys: 1000, Window: Default.Window}
	runs := map[string]func(ctx context.Context) error{
		"loop":       func(ctx context.Context) error { _, err := RunLoop(ctx, w); return err },
		"go-streams": func(ctx context.Context) error { _, err := RunGoStreams(ctx, w); return err },
		"go-streams datagen": func(ctx context.Context) error {
			_, err := RunGoStreamsDatagen(ctx, w)
			return err
		},
		"sluice":         func(ctx context.Context) error { _, err := RunSluice(ctx, w, 2); return err },
		"sluice datagen": func(ctx context.Context) error { _, err := RunSluiceDatagen(ctx, w, 2); return err },
		"sql":            func(ctx context.Context) error { _, err := RunSQL(ctx, w, 2); return err },
		"checkpointed": func(ctx context.Context) error {
			_, err := RunCheckpointed(ctx, w, 2, 100*time.Millisecond)
			return err
		},
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() { errc <- run(ctx) }()
			time.Sleep(300 * time.Millisecond)
			cancel()
			start := time.Now()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
				t.Logf("stopped %v after cancel", time.Since(start).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				t.Fatal("still running 5 s after its context was cancelled")
			}
		})
	}
}
