package process

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// job describes a source → keyed process → sink job.
type job struct {
	in, out   *runtime.Schema
	parts     [][][]runtime.Value
	wm        runtime.WatermarkStrategy
	keyCols   []int
	newFunc   func() Func
	opts      state.Options
	srcPar    int // 0: the job's parallelism
	batchRows int
	hold      func(c *rttest.Collector) bool // keep the sources open while it holds (10 s at most)
	runOpts   runtime.Options
}

// run executes the job with the process operator at parallelism par and
// returns the sorted output rows.
func (j job) run(t *testing.T, par int) ([]string, error) {
	t.Helper()
	c, newSink := rttest.NewCollector(j.out)
	g := runtime.NewGraph("process-test")
	srcPar := j.srcPar
	if srcPar == 0 {
		srcPar = par
	}
	batchRows := j.batchRows
	if batchRows == 0 {
		batchRows = 100
	}
	var srcOpts []rttest.SourceOption
	if j.hold != nil {
		srcOpts = append(srcOpts, rttest.Hold(func() bool { return !j.hold(c) }, 10*time.Second))
	}
	src := g.AddSource("src", j.in, srcPar, rttest.Source(j.in, rttest.Split(j.parts, batchRows), srcOpts...), j.wm)
	proc := g.AddOperator("proc", j.out, par, 1, New(j.in, j.out, j.keyCols, j.newFunc, j.opts))
	sink := g.AddOperator("sink", j.out, 1, 1, newSink)
	g.Connect(src, proc, runtime.Keyed, j.keyCols...)
	g.Connect(proc, sink, runtime.Global)
	opts := j.runOpts
	opts.Parallelism = par
	err := runtime.Run(context.Background(), g, opts)
	return c.Sorted(), err
}
