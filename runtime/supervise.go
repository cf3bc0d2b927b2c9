package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Supervision: a job run the way `sluice run --checkpoint-dir` runs it and
// the Go API's Execute with checkpoints does. It lives here, beside Run,
// RunWithRestarts and the checkpoint files it composes, so that the binary
// and Go programs share one implementation; the caller decides what asks
// for a savepoint (a signal, a button, a deadline) and hands it a channel.

// ErrSavepointTimeout is the error of a job asked to stop with a savepoint
// that took longer than SupervisorOptions.SavepointTimeout: it stopped
// without one (its latest checkpoint is where it resumes).
var ErrSavepointTimeout = errors.New("no savepoint")

// SupervisorOptions configure Supervise.
type SupervisorOptions struct {
	// Dir is the folder of the job's checkpoints (created if missing);
	// unless FromSavepoint is set, the job starts from the latest complete
	// checkpoint or savepoint found there.
	Dir string
	// Store, when set, keeps the checkpoints instead of Dir (an S3
	// bucket: see package runtime/cks3).
	Store CheckpointStore
	// Interval between checkpoints (must be positive).
	Interval time.Duration
	// Retain is how many complete checkpoints are kept (default 3).
	Retain int
	// FromSavepoint, when set, is the savepoint or checkpoint folder the job
	// starts from instead of the latest one in Dir: a path, or one of
	// Store's as SavepointError names it (s3://bucket/prefix/savepoint-N).
	FromSavepoint string
	// Restore, when set, is the checkpoint the job starts from, already
	// loaded (see LoadCheckpoint); it wins over FromSavepoint.
	Restore *Checkpoint
	// RestartAttempts is how many times a failed run is restarted
	// in-process from the latest checkpoint before the job fails for good.
	RestartAttempts int
	// AllowNonRestoredState and AllowDuplicates: see CheckpointOptions.
	AllowNonRestoredState bool
	AllowDuplicates       bool
	// StopWithSavepoint, when it delivers a value (or is closed), makes the
	// job take a savepoint and stop; Supervise then returns a
	// *SavepointError naming it.
	StopWithSavepoint <-chan struct{}
	// SavepointTimeout caps the wait for that savepoint (default 2
	// minutes): after it the job stops without one and Supervise returns
	// an error wrapping ErrSavepointTimeout — a failure, not a clean stop.
	SavepointTimeout time.Duration
	// Log receives the supervisor's lines ("restoring checkpoint 7 …",
	// restarts, warnings about the folder); nil discards them.
	Log func(format string, args ...any)
	// BeforeCommit: see CheckpointOptions (fault-injection tests).
	BeforeCommit func(id int64)
}

// Supervise runs g with checkpoints into o.Dir: it starts from
// o.FromSavepoint or the latest complete checkpoint in o.Dir (logging what
// it restores, or that it starts from the beginning), restarts in-process
// from the latest checkpoint when an operator fails (see RunWithRestarts),
// and takes a savepoint and stops when o.StopWithSavepoint delivers.
// Cancelling ctx stops at once, without a savepoint.
//
// It returns nil when the job ended by itself, a *SavepointError (errors.Is
// ErrStoppedWithSavepoint) when it stopped with a savepoint, and ctx's
// error when ctx ended it.
func Supervise(ctx context.Context, g *Graph, opt Options, o SupervisorOptions) error {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Dir == "" && o.Store == nil {
		return errors.New("supervise: no checkpoint folder")
	}
	if o.Interval <= 0 {
		return fmt.Errorf("checkpoint interval %v: want a positive duration", o.Interval)
	}
	cp := &CheckpointOptions{Dir: o.Dir, Store: o.Store, Interval: o.Interval, Retain: o.Retain,
		AllowNonRestoredState: o.AllowNonRestoredState, AllowDuplicates: o.AllowDuplicates,
		Log: o.Log, BeforeCommit: o.BeforeCommit}
	switch {
	case o.Restore != nil:
		cp.Restore = o.Restore
	case o.FromSavepoint != "":
		sp, err := loadSavepoint(o.Store, o.FromSavepoint)
		if err != nil {
			return err
		}
		cp.Restore = sp
	default:
		latest, warnings, err := LatestCheckpointIn(cp.storeOf())
		for _, w := range warnings {
			logf("warning: %s", w)
		}
		if err != nil {
			return err
		}
		cp.Restore = latest
	}
	if r := cp.Restore; r != nil {
		kind := "checkpoint"
		if r.Savepoint {
			kind = "savepoint"
		}
		logf("restoring %s %d (%s, taken %s)", kind, r.ID, r.Path, r.Time.Format(time.RFC3339))
		if r.Finished {
			logf("the job had finished at that %s: publishing what it covers, nothing more to run", kind)
		}
	} else {
		logf("no complete checkpoint in %s: starting from the beginning", cp.storeOf().Location(""))
	}

	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := o.SavepointTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	savepoint := make(chan struct{})
	cp.StopWithSavepoint = savepoint
	watchDone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-o.StopWithSavepoint: // nil: never
		case <-watchDone:
			return
		}
		close(savepoint)
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			logf("the savepoint takes longer than %v: stopping without one", timeout)
			cancel(fmt.Errorf("%w: it took longer than %v; the job stopped without one", ErrSavepointTimeout, timeout))
		case <-watchDone:
		}
	}()
	opt.Checkpoints = cp
	err := RunWithRestarts(jobCtx, g, opt, RestartOptions{Attempts: o.RestartAttempts, Log: o.Log})
	close(watchDone)
	<-watched
	if err != nil && ctx.Err() == nil && jobCtx.Err() != nil {
		return context.Cause(jobCtx) // the savepoint timed out
	}
	return err
}

// loadSavepoint loads the checkpoint or savepoint at path: a folder, or,
// when path lies in store (its Location), that store's.
func loadSavepoint(store CheckpointStore, path string) (*Checkpoint, error) {
	if store != nil {
		if rel, ok := strings.CutPrefix(path, store.Location("")+"/"); ok && !strings.Contains(rel, "/") {
			return LoadCheckpointFrom(store, rel)
		}
	}
	return LoadCheckpoint(path)
}
