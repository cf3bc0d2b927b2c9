package window

import (
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSessionKeyTableCompacts streams rows of ever-new keys: sessions close
// behind the watermark, and the key table, session lists, accumulators and
// timers stay bounded by the open sessions rather than by the keys seen.
func TestSessionKeyTableCompacts(t *testing.T) {
	h := newHarness(t, kvSpec(SessionGap(10*ms)))
	o := h.op.(*sessionOp)
	var out rttest.Discard
	b := runtime.NewBatch(kvSchema)
	defer b.Release()
	const batch = 1000
	var heapAt50k uint64
	for i := 0; i < 500_000; i += batch {
		b.Reset()
		for j := i; j < i+batch; j++ {
			b.AppendValues(kv(int64(j), int64(j), 1)...)
		}
		if err := o.ProcessBatch(0, b, &out); err != nil {
			t.Fatal(err)
		}
		if err := o.ProcessWatermark(int64(i+batch-1)-1, &out); err != nil {
			t.Fatal(err)
		}
		if n := o.keys.Len(); n > 1024+batch+20 || len(o.first) != n {
			t.Fatalf("after %d keys: key table holds %d keys and %d session lists (%d live)", i+batch, n, len(o.first), o.nlive)
		}
		if o.open > 20 || o.accs.Len() > 2*batch || o.ss.len() != o.accs.Len() || o.wheel.len() > batch+20 {
			t.Fatalf("after %d keys: %d sessions open, %d accumulators, %d sessions, %d timers", i+batch, o.open, o.accs.Len(), o.ss.len(), o.wheel.len())
		}
		if i == 50_000 {
			heapAt50k = heapAlloc()
		}
	}
	if out.Rows < 500_000-20 {
		t.Fatalf("%d sessions fired, want about 500000", out.Rows)
	}
	if grown := int64(heapAlloc()) - int64(heapAt50k); grown > 1<<20 {
		t.Fatalf("the heap grew by %d bytes from 50k to 500k keys", grown)
	}
}

// TestSessionTimersBounded keeps one session growing while the watermark
// lags far behind: the session has one timer, not one per row.
func TestSessionTimersBounded(t *testing.T) {
	spec := kvSpec(SessionGap(10 * ms))
	spec.AllowedLateness = time.Second
	h := newHarness(t, spec)
	o := h.op.(*sessionOp)
	for ts := int64(0); ts < 100_000; ts += 100 {
		var rows [][]runtime.Value
		for j := ts; j < ts+100; j++ {
			rows = append(rows, kv(1, j, 1), kv(2, j, 1))
		}
		h.batch(rows...)
		h.watermark(ts - 5000)
		if o.wheel.len() > 4 {
			t.Fatalf("at %d: %d timers for 2 sessions", ts, o.wheel.len())
		}
	}
	h.finish()
	h.expect("final", "1,0,100009,100000,100000", "2,0,100009,100000,100000")
	checkStateFreed(t, o)
}

// TestAlignedPanesFreed checks that a window's pane is released once the
// watermark passes its end (plus the allowed lateness), and that at most a
// few released panes are kept for reuse.
func TestAlignedPanesFreed(t *testing.T) {
	f := func(w Assigner, lateness time.Duration, maxPanes int) {
		t.Helper()
		spec := kvSpec(w)
		spec.AllowedLateness = lateness
		spec.panes = true
		h := newHarness(t, spec)
		o := h.op.(*alignedOp)
		var out rttest.Discard
		b := runtime.NewBatch(kvSchema)
		defer b.Release()
		for ts := int64(0); ts < 100_000; ts += 50 {
			b.Reset()
			for j := ts; j < ts+50; j++ {
				b.AppendValues(kv(j%1000, j, 1)...)
			}
			if err := o.ProcessBatch(0, b, &out); err != nil {
				t.Fatal(err)
			}
			if err := o.ProcessWatermark(ts+49-20, &out); err != nil {
				t.Fatal(err)
			}
			if len(o.panes) > maxPanes || len(o.order) != len(o.panes) || len(o.free) > 4 {
				t.Fatalf("%s at %d: %d panes (%d in order, %d free), want at most %d", w, ts, len(o.panes), len(o.order), len(o.free), maxPanes)
			}
			if n := o.StateBytes(); n > maxPanes*64<<10 {
				t.Fatalf("%s at %d: %d bytes of state in %d panes", w, ts, n, len(o.panes))
			}
		}
		if err := o.ProcessWatermark(runtime.MaxWatermark, &out); err != nil {
			t.Fatal(err)
		}
		checkStateFreed(t, o)
		if o.StateBytes() != 0 {
			t.Fatalf("%s: %d bytes of state after the final watermark", w, o.StateBytes())
		}
	}
	f(Tumble(100*ms), 0, 2)
	f(Tumble(100*ms), 300*ms, 6)
	f(Hop(20*ms, 100*ms), 0, 7)
	f(Hop(20*ms, 100*ms), 100*ms, 12)
}

// TestSessionCompactionKeepsResults runs long sessions of a few keys among a
// stream of one-row sessions of new keys, so that the key table is rebuilt
// many times while those sessions are open; the results must not change.
func TestSessionCompactionKeepsResults(t *testing.T) {
	for _, lateness := range []time.Duration{0, 200 * ms} {
		spec := Spec{In: rndSchema, KeyCols: []int{1, 0}, TimeCol: 2, Window: SessionGap(60 * ms), Aggs: rndAggs, AllowedLateness: lateness}
		h := newHarness(t, spec)
		o := h.op.(*sessionOp)
		var rows [][]runtime.Value
		compactions := 0
		for i := 0; i < 60_000; i++ {
			k1, k2 := runtime.IntValue(int64(i)), runtime.StringValue("new")
			if i%10 == 0 {
				// Five keys, each every 50 ms, with a break now and then.
				k1, k2 = runtime.IntValue(int64(i/10%5)), null
				if i/10%5 == 1 {
					k1 = null
				}
				if i%4000 < 100 {
					continue
				}
			}
			rows = append(rows, []runtime.Value{k1, k2, runtime.TimeValue(int64(i)), runtime.IntValue(int64(i % 7)), runtime.FloatValue(float64(i%5) / 4), runtime.StringValue("s"), {Type: runtime.Int, I: 1}})
			if len(rows)%1000 == 0 {
				h.batch(rows[len(rows)-1000:]...)
				before := o.keys.Len()
				h.watermark(int64(i) - 2)
				if o.keys.Len() < before {
					compactions++
				}
			}
		}
		h.batch(rows[len(rows)/1000*1000:]...)
		h.finish()
		if compactions < 10 {
			t.Fatalf("the key table was compacted %d times, want many", compactions)
		}
		want := reference(spec, rows)
		if got := h.take(); !slices.Equal(got, want) {
			t.Fatalf("lateness %s: %d rows, want %d:\n%s", lateness, len(got), len(want), diff(got, want))
		}
		checkStateFreed(t, o)
	}
}

// TestSessionIDsFollowArrival streams one-row sessions of ever-new keys,
// as at a million keys, with times out of order by up to 50 ms: after the
// session array has been round many times, nearly every session must still
// get the id after the one opened before it (sessions that open together
// sit together in memory, and fire together in order), and the array must
// stay near the number of sessions open at once.
func TestSessionIDsFollowArrival(t *testing.T) {
	h := newHarness(t, kvSpec(SessionGap(100*ms)))
	o := h.op.(*sessionOp)
	var out rttest.Discard
	b := runtime.NewBatch(kvSchema)
	defer b.Release()
	const batch = 200
	prev, next, total := int32(-1), 0, 0
	maxTs := int64(0)
	for i := int64(0); i < 200_000; i += batch {
		b.Reset()
		for j := i; j < i+batch; j++ {
			ts := j/10 - (j*7)%50
			maxTs = max(maxTs, ts)
			b.AppendValues(kv(j, ts, 1)...)
		}
		if err := o.ProcessBatch(0, b, &out); err != nil {
			t.Fatal(err)
		}
		for _, key := range o.ids {
			sid := o.first[key] - 1
			if i >= 50_000 {
				total++
				if sid == prev+1 || sid == 0 && int(prev) == o.ss.len()-1 {
					next++
				}
			}
			prev = sid
		}
		if err := o.ProcessWatermark(maxTs-60, &out); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d of %d sessions got the id after the one before; %d ids", next, total, o.ss.len())
	if next < total*9/10 {
		t.Fatalf("%d of %d sessions got the id after the one before", next, total)
	}
	if open := 10 * (100 + 50 + 60); o.ss.len() > 2*open {
		t.Fatalf("%d session ids for about %d sessions open at once", o.ss.len(), open)
	}
}
