package store

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/runtime"
)

// stopper is a context.Context cancelled when the job stops (the runtime
// context's Done), so that API calls give up then. Its goroutine is owned
// by the subtask: close stops it and waits for it.
type stopper struct {
	ctx    context.Context
	cancel context.CancelFunc
	quit   chan struct{}
	wg     sync.WaitGroup
}

func newStopper(rc *runtime.Context) *stopper {
	s := &stopper{quit: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	done := rc.Done()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-done:
			s.cancel()
		case <-s.quit:
		}
	}()
	return s
}

func (s *stopper) close() {
	if s == nil {
		return
	}
	close(s.quit)
	s.wg.Wait()
	s.cancel()
}
