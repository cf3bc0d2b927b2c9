package process

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// A keyed process snapshot (runtime.Snapshotter), in the framing of
// package snap, holds the keyed state backend's own snapshot (format
// "SLST", see state.Backend.Snapshot), the registered timers and the
// clocks:
//
//	watermark, TTL clock (8 bytes each)
//	keyed state (length-prefixed state.Backend snapshot)
//	event-time timers, then processing-time timers: ntimers, per timer by
//	    time then key: time (8 bytes), key (string), key group + 1
//
// Processing-time timers are registered with the runtime again on
// restore; those already due fire at the runtime's next timer round.

const snapKind = "keyed process function"

var _ runtime.Snapshotter = (*operator)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *operator) SnapshotState(int64) ([]byte, error) {
	var st bytes.Buffer
	if err := o.backend.Snapshot(&st); err != nil {
		return nil, fmt.Errorf("%s operator %q: %w", snapKind, o.rctx.Operator, err)
	}
	e := snap.NewEncoder(snapKind, 32+st.Len()+32*(o.event.len()+o.proc.len()))
	e.Int64(o.wm)
	e.Int64(o.ttlNow)
	e.Bytes(st.Bytes())
	appendTimers(e, &o.event)
	appendTimers(e, &o.proc)
	return e.Finish(), nil
}

func appendTimers(e *snap.Encoder, s *timerService) {
	ts := make([]timer, 0, len(s.set))
	for id, kg := range s.set {
		ts = append(ts, timer{id, kg})
	}
	slices.SortFunc(ts, func(a, b timer) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	e.Int(len(ts))
	for _, t := range ts {
		e.Int64(t.ts)
		e.String(t.key)
		e.Int(int(t.kg) + 1) // -1 without key columns
	}
}

// RestoreState implements runtime.Snapshotter.
func (o *operator) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		o.event, o.proc = timerService{}, timerService{}
		o.wm, o.ttlNow = runtime.MinWatermark, runtime.MinWatermark
		return fmt.Errorf("%s operator %q: cannot restore state: %w", snapKind, o.rctx.Operator, err)
	}
	o.rctx.Metrics.SetStateKeys(o.backend.Keys())
	return nil
}

func (o *operator) restore(data []byte) error {
	if o.backend == nil || o.backend.Keys() > 0 || o.event.len()+o.proc.len() > 0 {
		return fmt.Errorf("the operator is not open, or already holds state")
	}
	d, err := snap.Open(snapKind, data)
	if err != nil {
		return err
	}
	wm, ttlNow := d.Int64(), d.Int64()
	st := d.Bytes()
	var event, proc timerService
	readTimers(d, &event)
	readTimers(d, &proc)
	if err := d.Done(); err != nil {
		return err
	}
	// The backend restores only once the whole snapshot is known good; it
	// leaves itself unchanged on a bad one.
	if err := o.backend.Restore(bytes.NewReader(st)); err != nil {
		return err
	}
	o.wm, o.ttlNow = wm, ttlNow
	o.event, o.proc = event, proc
	for _, t := range proc.h {
		o.rctx.RegisterProcessingTimer(t.ts)
	}
	return nil
}

func readTimers(d *snap.Decoder, s *timerService) {
	n := d.Int(math.MaxInt32)
	for i := 0; i < n && d.Err() == nil; i++ {
		ts, key, kg := d.Int64(), d.String(), d.Int(runtime.MaxKeyGroups)-1
		if d.Err() == nil && !s.add(ts, key, kg) {
			d.Fail("timer %d of key (%s) appears twice", ts, state.KeyString(key))
		}
	}
}
