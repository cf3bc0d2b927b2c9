package join

import (
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// TestTemporalJoinsForgetIdleKeysAfterTTL checks 'table.exec.state.ttl'
// for both temporal joins: a key whose versioned (build) side has had no
// change for the TTL finds no partner any more, is freed by the purge (so
// it no longer counts against MaxGroups), is left out of snapshots, and a
// new change starts it anew.
func TestTemporalJoinsForgetIdleKeysAfterTTL(t *testing.T) {
	for _, kind := range []string{"event-time", "processing-time"} {
		t.Run(kind, func(t *testing.T) {
			var now int64
			clock := func() int64 { return now }
			var newOp func() runtime.Operator
			var err error
			if kind == "event-time" {
				spec := tjSpec(true, false)
				spec.TTL, spec.Clock, spec.MaxGroups = time.Second, clock, 2
				newOp, _, err = NewTemporal(spec)
			} else {
				spec := tjProcSpec(true, false, false)
				spec.TTL, spec.Clock, spec.MaxGroups = time.Second, clock, 2
				newOp, _, err = NewProcTemporal(spec)
			}
			if err != nil {
				t.Fatal(err)
			}
			d := newTJDriver(t, newOp)
			live := func() int {
				if o, ok := d.op.(*tjEvent); ok {
					return o.keys.live
				}
				return d.op.(*tjProc).keys.live
			}
			probeAt := func(ts int, pv int64) {
				d.batch(0, rttest.NewBatch(tjProbeSchema, tjProbe(1, ts, pv), tjProbe(2, ts, pv)))
				d.watermark(int64(ts))
			}
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 1, 10)))
			now = 600
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 2, 1, 20)))
			now = 999
			probeAt(10, 1) // both keys joined
			now = 1000     // key 1 expired, not yet purged
			probeAt(20, 2)
			if live() != 2 {
				t.Fatalf("%d keys before the purge, want 2", live())
			}
			data, err := d.op.(runtime.Snapshotter).SnapshotState(1)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.op.(runtime.ProcessingTimer).OnProcessingTime(now, d.out); err != nil {
				t.Fatal(err)
			}
			if live() != 1 || d.ctx.Metrics.StateKeys() != 1 {
				t.Fatalf("%d keys after the purge, want 1", live())
			}
			// Two new keys would exceed MaxGroups 2 had key 1 not been freed.
			d.batch(1, tjChangeBatch(tjChange(runtime.Insert, 1, 30, 11)))
			probeAt(40, 3)
			err = d.op.ProcessBatch(1, tjChangeBatch(tjChange(runtime.Insert, 3, 50, 30)), d.out)
			if !errors.Is(err, state.ErrStateLimit) {
				t.Fatalf("a third key: error %v, want a state limit", err)
			}
			vts := map[string]string{"event-time": "1", "processing-time": "1"}[kind]
			want := []string{
				"1,10,1,0,1," + vts + ",10", "2,10,1,0,2," + vts + ",20",
				"1,20,2,NULL,NULL,NULL,NULL", "2,20,2,0,2," + vts + ",20",
				"1,40,3,0,1,30,11", "2,40,3,0,2," + vts + ",20",
			}
			tjSameRows(t, "joined", d.rows(), sorted(want))
			// The snapshot taken while key 1 was expired holds key 2 only.
			d2 := newTJDriver(t, newOp)
			if err := d2.op.(runtime.Snapshotter).RestoreState(data); err != nil {
				t.Fatal(err)
			}
			if o, ok := d2.op.(*tjEvent); ok && o.keys.live != 1 || !ok && d2.op.(*tjProc).keys.live != 1 {
				t.Fatal("the snapshot holds an expired key")
			}
		})
	}
}
