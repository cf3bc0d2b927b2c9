package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// shellJob is an INSERT running in the background.
type shellJob struct {
	id      int
	text    string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	ended   time.Time
}

// startJob runs an INSERT in the background.
func (sh *shell) startJob(p piece, plan *sql.Plan) {
	ctx, cancel := context.WithCancel(sh.jobsCtx)
	sh.mu.Lock()
	j := &shellJob{id: len(sh.jobs) + 1, text: summary(p.text), started: time.Now(), cancel: cancel, done: make(chan struct{})}
	sh.jobs = append(sh.jobs, j)
	sh.mu.Unlock()
	fmt.Fprintf(sh.note, "[job %d] submitted: %s\n", j.id, j.text)
	sh.wg.Add(1)
	par := sh.par
	go func() {
		defer sh.wg.Done()
		defer cancel()
		// The job's own metrics set, named after the job, for the console.
		plan.Graph.Name = fmt.Sprintf("job %d", j.id)
		set := metrics.NewSet()
		metrics.RegisterSet(set)
		defer metrics.UnregisterSet(set, true)
		ended := func(error) {}
		if sh.started != nil {
			ended = sh.started(plan.Graph, par, set)
		}
		err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par, Log: sh.logf, Metrics: set})
		ended(err)
		sh.mu.Lock()
		j.err, j.ended = err, time.Now()
		sh.mu.Unlock()
		close(j.done)
		switch {
		case err == nil:
			fmt.Fprintf(sh.note, "[job %d] finished in %.1f s\n", j.id, j.ended.Sub(j.started).Seconds())
		case ctx.Err() != nil && errors.Is(err, context.Canceled):
			fmt.Fprintf(sh.note, "[job %d] stopped\n", j.id)
		default:
			sh.mu.Lock()
			sh.failed++
			sh.mu.Unlock()
			fmt.Fprintf(sh.errw, "[job %d] failed: %v\n", j.id, err)
		}
	}()
}

// summary is a statement on one line, cut to 70 characters.
func summary(text string) string {
	s := strings.Join(strings.Fields(stripComments(text)), " ")
	if r := []rune(s); len(r) > 70 {
		s = string(r[:69]) + "…"
	}
	return s
}

func (sh *shell) running() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for _, j := range sh.jobs {
		if j.ended.IsZero() {
			n++
		}
	}
	return n
}

func (sh *shell) showJobs() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var table bytes.Buffer // written at once, so a reader sees whole rows
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tTIME\tSTATEMENT")
	for _, j := range sh.jobs {
		state, d := "running", time.Since(j.started)
		if !j.ended.IsZero() {
			d = j.ended.Sub(j.started)
			state = "finished"
			if j.err != nil {
				state = "stopped"
				if !errors.Is(j.err, context.Canceled) {
					state = "failed: " + j.err.Error()
				}
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", j.id, state, d.Round(100*time.Millisecond), j.text)
	}
	tw.Flush()
	sh.out.Write(table.Bytes())
}

func (sh *shell) stopJob(p piece, id int) {
	sh.mu.Lock()
	var j *shellJob
	if id >= 1 && id <= len(sh.jobs) {
		j = sh.jobs[id-1]
	}
	sh.mu.Unlock()
	if j == nil {
		sh.fail(p, fmt.Errorf("no job %d (SHOW JOBS lists them)", id))
		return
	}
	j.cancel()
	<-j.done
}
