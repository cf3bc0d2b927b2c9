package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/triggers"
)

// jobTriggers are the function triggers of a job file, running beside its
// job (CREATE FUNCTION TRIGGER).
type jobTriggers struct {
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	ended      chan struct{} // closed when every trigger has returned
	unregister func()
	mu         sync.Mutex
	errs       []error
}

// startTriggers starts the triggers of cfgs, their metrics on /metrics
// (sluice_trigger_*). Stop stops them.
func startTriggers(ctx context.Context, cfgs []triggers.Config) (*jobTriggers, error) {
	set, unregister := jobMetrics()
	var trs []*triggers.Trigger
	for _, c := range cfgs {
		c.Metrics, c.Logf = set, logf
		tr, err := triggers.New(c)
		if err != nil {
			unregister()
			return nil, err
		}
		trs = append(trs, tr)
		if c.Queue != nil {
			logf("function trigger %s polls queue %s", c.Name, c.Queue.Queue)
			continue
		}
		where := "positions in memory: a restart starts over"
		if c.PositionsDir != "" {
			where = "positions in " + c.PositionsDir
		}
		logf("function trigger %s reads stream %s (%s)", c.Name, c.Source.Name(), where)
	}
	ctx, cancel := context.WithCancel(ctx)
	j := &jobTriggers{cancel: cancel, ended: make(chan struct{}), unregister: unregister}
	for _, tr := range trs {
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			if err := tr.Run(ctx); err != nil {
				logf("%v", err)
				j.mu.Lock()
				j.errs = append(j.errs, err)
				j.mu.Unlock()
			}
		}()
	}
	go func() { j.wg.Wait(); close(j.ended) }()
	return j, nil
}

// wait runs until ctx ends or every trigger has failed.
func (j *jobTriggers) wait(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-j.ended:
	}
}

// stop stops the triggers (a batch in flight is invoked again at the next
// start) and returns their errors.
func (j *jobTriggers) stop() error {
	j.cancel()
	<-j.ended
	j.unregister()
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.errs) > 0 {
		return fmt.Errorf("function triggers: %w", errors.Join(j.errs...))
	}
	return nil
}
