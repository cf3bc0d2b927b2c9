package sluice

import (
	"time"

	"github.com/sluicehq/sluice/operators/join"
	"github.com/sluicehq/sluice/operators/process"
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// IntervalJoin joins k with other on their keys where
// lower <= other.time - k.time <= upper (bounds inclusive), in event time:
// each side is buffered until the watermark passes what the other side can
// still match. The result has k's columns followed by other's (a repeated
// name gets a numeric suffix: ts, ts0), and keeps k's event time.
func (k *KeyedStream) IntervalJoin(other *KeyedStream, lower, upper time.Duration) *Stream {
	l, r := k.s, other.s
	env := l.env
	if l.timeCol < 0 || r.timeCol < 0 {
		env.fail("interval join: both streams need event time (sluice.Watermark on their sources)")
		return l.broken()
	}
	newOp, out, err := join.New(join.Spec{Left: l.schema, Right: r.schema, LeftKeys: k.keys, RightKeys: other.keys,
		LeftTime: l.timeCol, RightTime: r.timeCol, Lower: lower.Milliseconds(), Upper: upper.Milliseconds()})
	if err != nil {
		env.fail("interval join: %w", err)
		return l.broken()
	}
	par := env.opt.Parallelism
	id := env.g.AddOperator("interval join", out, par, 2, newOp)
	if l.id >= 0 && r.id >= 0 {
		env.g.ConnectPort(l.id, l.port, id, 0, rt.Keyed, k.keys...)
		env.g.ConnectPort(r.id, r.port, id, 1, rt.Keyed, other.keys...)
	}
	return &Stream{env: env, id: id, schema: out, par: par, timeCol: l.timeCol}
}

// Process runs a keyed process function (custom logic with keyed state and
// timers, see operators/process) and returns the rows it emits, of schema
// out. The result has no event time unless timeCol names one of out's
// columns.
func (k *KeyedStream) Process(out *rt.Schema, timeCol string, newFunc func() process.Func, opts state.Options) *Stream {
	s := k.s
	tc := -1
	if timeCol != "" {
		if tc = out.Index(timeCol); tc < 0 {
			s.env.fail("process: time column %q not in %s", timeCol, out)
		}
	}
	par := s.env.opt.Parallelism
	id := s.connect("process", out, par, rt.Keyed, k.keys, process.New(s.schema, out, k.keys, newFunc, opts))
	return &Stream{env: s.env, id: id, schema: out, par: par, timeCol: tc}
}
