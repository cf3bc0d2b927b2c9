package alarm

import (
	"fmt"

	"github.com/sluicehq/sluice/operators/internal/snap"
)

// An alarm snapshot (runtime.Snapshotter), in the framing of package snap
// (versioned, with a CRC-32C), holds:
//
//	format version (uvarint), alarm name, evaluation periods,
//	period, phase, provisional, seen, max end, watermark, pending ends,
//	instances: dimension values, state, evaluated, last, first,
//	           datapoint ends, datapoint values

const (
	snapKind    = "alarm"
	snapVersion = 1
)

// SnapshotState implements runtime.Snapshotter.
func (o *op) SnapshotState(int64) ([]byte, error) {
	size := 64 + 8*len(o.ends)
	for _, in := range o.insts {
		size += 32 + 16*len(in.pts)
		for _, d := range in.dims {
			size += len(d) + 2
		}
	}
	e := snap.NewEncoder(snapKind, size)
	e.Int(snapVersion)
	e.String(o.cfg.Name)
	e.Int(o.cfg.EvaluationPeriods)
	e.Int64(o.period)
	e.Int64(o.phase)
	e.Bool(o.provisional)
	e.Bool(o.seen)
	e.Int64(o.maxEnd)
	e.Int64(o.wm)
	e.Int64s(o.ends)
	e.Int(len(o.insts))
	ends := make([]int64, 0, 16)
	vals := make([]float64, 0, 16)
	for _, in := range o.insts {
		e.Strings(in.dims)
		e.Int(int(in.state))
		e.Bool(in.evaluated)
		e.Int64(in.last)
		e.Int64(in.first)
		ends, vals = ends[:0], vals[:0]
		for _, pt := range in.pts {
			ends = append(ends, pt.end)
			vals = append(vals, pt.v)
		}
		e.Int64s(ends)
		e.Float64s(vals)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter. A snapshot that is corrupt
// or of another alarm is refused, and the operator stays empty.
func (o *op) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		ctx := o.ctx
		*o = *newOp(o.cfg, o.pub)
		o.ctx = ctx
		return fmt.Errorf("alarm %q: cannot restore state: %w", o.cfg.Name, err)
	}
	if o.ctx != nil && o.ctx.Metrics != nil {
		o.ctx.Metrics.SetStateKeys(len(o.insts))
	}
	return nil
}

func (o *op) restore(data []byte) error {
	if len(o.insts) > 0 || o.seen {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(snapKind, data)
	if err != nil {
		return err
	}
	if v := d.Int(1 << 10); d.Err() == nil && v != snapVersion {
		return fmt.Errorf("alarm snapshot format %d, this build reads format %d", v, snapVersion)
	}
	if name := d.String(); d.Err() == nil && name != o.cfg.Name {
		return fmt.Errorf("snapshot of alarm %q", name)
	}
	if n := d.Int(maxEvaluationPeriods); d.Err() == nil && n != o.cfg.EvaluationPeriods {
		return fmt.Errorf("snapshot of an alarm over %d evaluation periods, the alarm has %d", n, o.cfg.EvaluationPeriods)
	}
	o.period = d.Int64()
	o.phase = d.Int64()
	o.provisional = d.Bool()
	o.seen = d.Bool()
	o.maxEnd = d.Int64()
	o.wm = d.Int64()
	o.ends = d.Int64s(nil)
	if d.Err() == nil {
		if want := o.cfg.Period.Milliseconds(); want != 0 && o.period != want {
			return fmt.Errorf("snapshot of an alarm with a period of %d ms, the alarm has %d ms", o.period, want)
		}
		if o.period < 0 || o.period > 2*maxTime || o.period > 0 && (o.phase < 0 || o.phase >= o.period) {
			d.Fail("period %d with phase %d", o.period, o.phase)
		}
		if !inRange(o.maxEnd) || !inRange(o.ends...) {
			d.Fail("period end out of range")
		}
		for i := 1; i < len(o.ends); i++ {
			if o.ends[i] <= o.ends[i-1] {
				d.Fail("period ends out of order")
				break
			}
		}
	}
	n := d.Int(len(data))
	for i := 0; i < n && d.Err() == nil; i++ {
		in := &instance{}
		in.dims = d.Strings(nil)
		st := d.Int(int(stateAlarm))
		in.state = state(st)
		in.evaluated = d.Bool()
		in.last = d.Int64()
		in.first = d.Int64()
		ends := d.Int64s(nil)
		vals := d.Float64s(nil)
		if d.Err() != nil {
			break
		}
		if len(in.dims) != len(o.cfg.Dimensions) {
			d.Fail("instance %d has %d dimension values, the alarm %d dimensions", i, len(in.dims), len(o.cfg.Dimensions))
			break
		}
		if len(ends) != len(vals) {
			d.Fail("instance %d has %d datapoint ends but %d values", i, len(ends), len(vals))
			break
		}
		if !inRange(in.first, in.last) || !inRange(ends...) {
			d.Fail("instance %d: period end out of range", i)
			break
		}
		in.pts = make([]point, len(ends))
		for j := range ends {
			if j > 0 && ends[j] <= ends[j-1] {
				d.Fail("instance %d: datapoints out of order", i)
				break
			}
			in.pts[j] = point{ends[j], vals[j]}
		}
		key := keyOf(in.dims)
		if o.byKey[key] != nil {
			d.Fail("instance %d repeats dimensions %q", i, in.dims)
			break
		}
		o.byKey[key] = in
		o.insts = append(o.insts, in)
	}
	return d.Done()
}

// inRange reports whether every period end of ts is one ProcessBatch
// accepts.
func inRange(ts ...int64) bool {
	for _, t := range ts {
		if t < -maxTime || t > maxTime {
			return false
		}
	}
	return true
}
