package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/console"
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
	states     []string // by trigger: running, failed or stopped
}

// startTriggers starts the triggers of cfgs, their metrics on /metrics
// (sluice_trigger_*) and, with a console, on its triggers page. Stop
// stops them.
func startTriggers(ctx context.Context, cfgs []triggers.Config, ui *uiConsole) (*jobTriggers, error) {
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
	j := &jobTriggers{cancel: cancel, ended: make(chan struct{}), unregister: unregister, states: make([]string, len(trs))}
	for i, tr := range trs {
		j.states[i] = "running"
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			err := tr.Run(ctx)
			j.mu.Lock()
			defer j.mu.Unlock()
			j.states[i] = "stopped"
			if err != nil {
				logf("%v", err)
				j.errs = append(j.errs, err)
				j.states[i] = "failed"
			}
		}()
	}
	if ui != nil {
		ui.srv.AddTriggers(func() []console.TriggerStatus { return j.status(cfgs, trs) })
	}
	go func() { j.wg.Wait(); close(j.ended) }()
	return j, nil
}

// status is what the console shows of the triggers.
func (j *jobTriggers) status(cfgs []triggers.Config, trs []*triggers.Trigger) []console.TriggerStatus {
	out := make([]console.TriggerStatus, len(trs))
	for i, tr := range trs {
		c, st := cfgs[i], tr.Stats()
		s := console.TriggerStatus{Name: c.Name, Invocations: st.Invocations, Records: st.Records, Errors: st.Errors,
			Throttles: st.Throttles, FailedBatches: st.FailedBatches, IteratorAgeMs: st.IteratorAgeMs,
			Visible: st.Visible, InFlight: st.InFlight, LastError: st.LastError, LastErrorAt: st.LastErrorAt}
		if c.Queue != nil {
			s.Source = "queue " + c.Queue.Queue
		} else {
			s.Source = "stream " + c.Source.Name()
		}
		switch f := c.Invoker.(type) {
		case *triggers.HTTPInvoker:
			s.Function = f.URL
		case *triggers.CommandInvoker:
			s.Function = f.Command
		}
		j.mu.Lock()
		s.State = j.states[i]
		j.mu.Unlock()
		out[i] = s
	}
	return out
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
