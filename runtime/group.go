package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultStopTimeout is how long Run waits, once the job has stopped, for
// the goroutines its operators started with Context.Go (Options.StopTimeout).
const DefaultStopTimeout = 30 * time.Second

// group is the job's goroutine group (Context.Go): Run waits for it before
// returning, and the first error of one of its goroutines fails the job.
type group struct {
	wg   sync.WaitGroup
	fail context.CancelCauseFunc // stops the job with the error as cause

	mu   sync.Mutex
	err  error              // the first error, kept for a job that had already ended
	live map[subtaskRef]int // goroutines still running, by the subtask that started them
}

// subtaskRef names the subtask that started a goroutine of the group.
type subtaskRef struct {
	operator string
	subtask  int
}

func newGroup(fail context.CancelCauseFunc) *group {
	return &group{fail: fail, live: map[subtaskRef]int{}}
}

func (g *group) start(c *Context, f func(ctx context.Context) error) {
	ctx := c.Ctx()
	ref := subtaskRef{c.Operator, c.Subtask}
	g.mu.Lock()
	g.live[ref]++
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := runGuarded(ctx, f)
		g.mu.Lock()
		if g.live[ref]--; g.live[ref] == 0 {
			delete(g.live, ref)
		}
		g.mu.Unlock()
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

// StuckGoroutinesError is part of Run's error when goroutines started with
// Context.Go had not returned Options.StopTimeout after the job stopped
// (they ignore the cancellation of their context): Run returns without
// them, and they are left running.
type StuckGoroutinesError struct {
	// Subtasks names the subtasks that started them, as `operator "name"
	// (subtask n)`, with their number when more than one.
	Subtasks []string
	Timeout  time.Duration
}

func (e *StuckGoroutinesError) Error() string {
	return fmt.Sprintf("goroutines started with Context.Go still running %v after the job stopped (they ignore its context), left running: %s",
		e.Timeout, strings.Join(e.Subtasks, ", "))
}

// wait waits up to timeout for every goroutine of the group and returns
// the first error one of them returned, joined with a
// *StuckGoroutinesError when some were still running after timeout.
func (g *group) wait(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultStopTimeout
	}
	done := make(chan struct{})
	go func() {
		g.wg.Wait() // returns once the stuck ones, if any, return
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var stuck error
	select {
	case <-done:
	case <-t.C:
		g.mu.Lock()
		se := &StuckGoroutinesError{Timeout: timeout}
		for ref, n := range g.live {
			s := fmt.Sprintf("operator %q (subtask %d)", ref.operator, ref.subtask)
			if n > 1 {
				s += fmt.Sprintf(" ×%d", n)
			}
			se.Subtasks = append(se.Subtasks, s)
		}
		g.mu.Unlock()
		slices.Sort(se.Subtasks)
		stuck = se
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if stuck != nil {
		return errors.Join(g.err, stuck)
	}
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
