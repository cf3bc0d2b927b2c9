package runtime

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// RestartOptions make RunWithRestarts restart a failed run in-process from
// the latest complete checkpoint.
type RestartOptions struct {
	// Attempts is how many restarts are made before the job fails for good
	// (0: none).
	Attempts int
	// MinBackoff and MaxBackoff bound the exponential wait before a restart
	// (defaults 100 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Log receives a line per restart; nil discards them.
	Log func(format string, args ...any)
}

// RunWithRestarts is Run that, when an operator fails (an *OperatorError)
// and the run takes checkpoints, waits with exponential backoff and runs
// again from the latest complete checkpoint (or from the start when none
// completed yet), up to r.Attempts times. A run that fails to restore its
// checkpoint (a *RestoreError), or that left goroutines running (a
// *StuckGoroutinesError), is not restarted. Restarts are counted in
// sluice_job_restarts_total, in the job's metrics set (opt.Metrics, or one
// set registered for all its runs).
func RunWithRestarts(ctx context.Context, g *Graph, opt Options, r RestartOptions) error {
	if r.MinBackoff <= 0 {
		r.MinBackoff = 100 * time.Millisecond
	}
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = max(10*time.Second, r.MinBackoff)
	}
	logf := r.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opt.Metrics == nil {
		// One set for every run, so that the job's series live on across
		// restarts.
		opt.Metrics = metrics.NewSet()
		metrics.RegisterSet(opt.Metrics)
		defer func(set *metrics.Set) {
			metrics.UnregisterSet(set, true)
			forgetSet(set)
		}(opt.Metrics)
	}
	restarts := opt.Metrics.GetOrCreateCounter(`sluice_job_restarts_total{job=` + strconv.Quote(g.Name) + `}`)
	events := jobEventsOf(opt.Metrics, g.Name)
	backoff := r.MinBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := Run(ctx, g, opt)
		var oe *OperatorError
		var re *RestoreError
		if errors.As(err, &re) {
			logf("job %s: not restarting: a restart would fail the same way", g.Name)
			return err
		}
		var stuck *StuckGoroutinesError
		if errors.As(err, &stuck) {
			logf("job %s: not restarting: goroutines of the failed run are still running", g.Name)
			return err
		}
		if err == nil || ctx.Err() != nil || opt.Checkpoints == nil || !errors.As(err, &oe) || attempt > r.Attempts {
			return err
		}
		if time.Since(start) > 10*r.MaxBackoff {
			backoff = r.MinBackoff // it had run well for a while
		}
		logf("job %s failed: %v; restarting in %v (restart %d of %d)", g.Name, err, backoff, attempt, r.Attempts)
		events.setState(JobRestarting)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			events.setState(JobCancelled)
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, r.MaxBackoff)
		latest, warnings, lerr := LatestCheckpointIn(opt.Checkpoints.storeOf())
		for _, w := range warnings {
			logf("warning: %s", w)
		}
		if lerr != nil {
			events.addError(JobError{Kind: "job", Subtask: -1, Message: lerr.Error()})
			events.setState(JobFailed)
			return errors.Join(err, lerr)
		}
		cp := *opt.Checkpoints
		cp.Restore = latest
		opt.Checkpoints = &cp
		if latest != nil {
			logf("job %s: restoring checkpoint %d", g.Name, latest.ID)
		} else {
			logf("job %s: no checkpoint completed yet; starting over", g.Name)
		}
		restarts.Inc()
		events.restarted()
	}
}
