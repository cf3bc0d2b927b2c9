package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// group is the job's goroutine group (Context.Go): Run waits for it before
// returning, and the first error of one of its goroutines fails the job.
type group struct {
	wg   sync.WaitGroup
	fail context.CancelCauseFunc // stops the job with the error as cause

	mu  sync.Mutex
	err error // the first error, kept for a job that had already ended
}

func newGroup(fail context.CancelCauseFunc) *group { return &group{fail: fail} }

func (g *group) start(c *Context, f func(ctx context.Context) error) {
	ctx := c.Ctx()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := runGuarded(ctx, f)
		if err == nil || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
			return
		}
		err = &OperatorError{Operator: c.Operator, Subtask: c.Subtask, Err: err}
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
		g.fail(err)
	}()
}

// wait waits for every goroutine of the group and returns the first error
// one of them returned.
func (g *group) wait() error {
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// runGuarded runs f, turning a panic into an error.
func runGuarded(ctx context.Context, f func(ctx context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f(ctx)
}
