// Package blackhole is the sink that discards rows, counting them; it is for
// benchmarks and for testing a pipeline's throughput.
package blackhole

import (
	"sync/atomic"

	"github.com/sluicehq/sluice/runtime"
)

// Counter counts the rows every subtask of a blackhole sink received.
type Counter struct{ rows atomic.Int64 }

// Rows returns the number of rows received so far.
func (c *Counter) Rows() int64 { return c.rows.Load() }

// New returns a factory of blackhole sink operators counting into c (which
// may be nil).
func New(c *Counter) func() runtime.Operator {
	return func() runtime.Operator { return &sink{c: c} }
}

type sink struct {
	runtime.Base
	c *Counter
}

func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	if s.c != nil {
		s.c.rows.Add(int64(b.Len()))
	}
	return nil
}
