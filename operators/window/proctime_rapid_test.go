package window

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// procWindows lists the windows [start, end) of w that hold ts, by plain
// enumeration.
func procWindows(w Assigner, ts int64) (starts, ends []int64) {
	if w.Kind == Cumulating {
		return cumulateWindows(w, ts)
	}
	slide := w.Slide
	if w.Kind == Tumbling {
		slide = w.Size
	}
	for s := ts - w.Size; s <= ts; s++ {
		if (s-w.Offset)%slide == 0 && ts < s+w.Size {
			starts, ends = append(starts, s), append(ends, s+w.Size)
		}
	}
	return starts, ends
}

// TestProcTimeRandomMatchesModel drives processing-time windows with random
// batches (times around the clock, some behind what has fired, some NULL)
// and clock ticks, and checks every tick's output against a plain model:
// a row counts at max(its time, the clock fired up to + 1) (NULL: the
// clock), and a window is emitted at the first tick at or past its end-1,
// the rest at the end of input. The operator may be snapshotted and
// restored at any point in between.
func TestProcTimeRandomMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var w Assigner
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			w = Tumble(time.Duration(rapid.IntRange(1, 20).Draw(t, "size")) * ms)
		case 1:
			slide := int64(rapid.IntRange(1, 8).Draw(t, "slide"))
			w = Hop(time.Duration(slide)*ms, time.Duration(slide*int64(rapid.IntRange(1, 4).Draw(t, "slides")))*ms)
		default:
			step := int64(rapid.IntRange(1, 8).Draw(t, "step"))
			w = Cumulate(time.Duration(step)*ms, time.Duration(step*int64(rapid.IntRange(1, 4).Draw(t, "steps")))*ms)
		}
		c := &clock{t: 1000}
		h := procHarness(t, w, c)
		type win struct{ k, start, end int64 }
		type acc struct{ n, sum int64 }
		model := map[win]*acc{}
		fired := int64(runtime.MinWatermark)
		emit := func(upTo int64) []string {
			var out []string
			for wi, a := range model {
				if wi.end-1 <= upTo {
					out = append(out, fmt.Sprintf("%d,%d,%d,%d,%d", wi.k, wi.start, wi.end, a.n, a.sum))
					delete(model, wi)
				}
			}
			slices.Sort(out)
			return out
		}
		events := rapid.IntRange(1, 40).Draw(t, "events")
		restoreAt := rapid.IntRange(-1, events-1).Draw(t, "restore at")
		for step := range events {
			if step == restoreAt {
				data, err := h.op.(runtime.Snapshotter).SnapshotState(int64(step))
				if err != nil {
					t.Fatalf("SnapshotState: %v", err)
				}
				h.op.Close()
				h = procHarness(t, w, c)
				if err := h.op.(runtime.Snapshotter).RestoreState(data); err != nil {
					t.Fatalf("RestoreState: %v", err)
				}
			}
			if rapid.Bool().Draw(t, "tick") {
				c.t += int64(rapid.IntRange(0, 15).Draw(t, "advance"))
				want := emit(c.t)
				h.tick(c, c.t)
				fired = max(fired, c.t)
				if got := h.take(); !slices.Equal(got, want) {
					t.Fatalf("tick to %d:\ngot  %q\nwant %q", c.t, got, want)
				}
				continue
			}
			n := rapid.IntRange(1, 20).Draw(t, "rows")
			var rows [][]runtime.Value
			for range n {
				k := int64(rapid.IntRange(0, 3).Draw(t, "k"))
				v := int64(rapid.IntRange(-5, 5).Draw(t, "v"))
				var ts runtime.Value
				eff := c.t
				if rapid.IntRange(0, 9).Draw(t, "null time") == 0 {
					ts = runtime.Value{Null: true}
				} else {
					x := c.t + int64(rapid.IntRange(-30, 30).Draw(t, "dt"))
					ts, eff = runtime.TimeValue(x), x
				}
				if fired != runtime.MinWatermark {
					eff = max(eff, fired+1)
				}
				rows = append(rows, []runtime.Value{runtime.IntValue(k), ts, runtime.IntValue(v)})
				starts, ends := procWindows(w, eff)
				for i := range starts {
					wi := win{k, starts[i], ends[i]}
					if model[wi] == nil {
						model[wi] = &acc{}
					}
					model[wi].n++
					model[wi].sum += v
				}
			}
			h.batch(rows...)
			if got := h.take(); len(got) != 0 {
				t.Fatalf("a batch emitted %q", got)
			}
		}
		want := emit(runtime.MaxWatermark)
		h.finish()
		if got := h.take(); !slices.Equal(got, want) {
			t.Fatalf("end of input:\ngot  %q\nwant %q", got, want)
		}
		h.expectDropped(0)
	})
}

// TestProcTimeRandomSessions checks processing-time sessions on random
// batches and ticks: every row is counted in exactly one session, a
// session is emitted at the first tick at or past its end-1 (or at the end
// of input), sessions of a key never overlap, and none is shorter than
// the gap.
func TestProcTimeRandomSessions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gap := int64(rapid.IntRange(1, 20).Draw(t, "gap"))
		c := &clock{t: 1000}
		h := procHarness(t, SessionGap(time.Duration(gap)*ms), c)
		type sess struct{ start, end int64 }
		wantN := map[int64]int64{}
		gotN := map[int64]int64{}
		byKey := map[int64][]sess{}
		prevTick := int64(runtime.MinWatermark)
		check := func(upTo int64) {
			for _, r := range h.out.Rows() {
				k, s, e, n := r[0].I, r[1].I, r[2].I, r[3].I
				if e-s < gap {
					t.Fatalf("session [%d, %d) of key %d shorter than the gap %d", s, e, k, gap)
				}
				if e-1 > upTo || e-1 <= prevTick {
					t.Fatalf("session [%d, %d) of key %d emitted at clock %d, previous tick %d", s, e, k, upTo, prevTick)
				}
				for _, o := range byKey[k] {
					if s < o.end && o.start < e {
						t.Fatalf("sessions [%d, %d) and [%d, %d) of key %d overlap", o.start, o.end, s, e, k)
					}
				}
				byKey[k] = append(byKey[k], sess{s, e})
				gotN[k] += n
			}
			h.out.Reset()
		}
		events := rapid.IntRange(1, 40).Draw(t, "events")
		for range events {
			if rapid.Bool().Draw(t, "tick") {
				c.t += int64(rapid.IntRange(0, 15).Draw(t, "advance"))
				h.tick(c, c.t)
				check(c.t)
				prevTick = c.t
				continue
			}
			var rows [][]runtime.Value
			for range rapid.IntRange(1, 20).Draw(t, "rows") {
				k := int64(rapid.IntRange(0, 3).Draw(t, "k"))
				ts := runtime.TimeValue(c.t + int64(rapid.IntRange(-30, 30).Draw(t, "dt")))
				if rapid.IntRange(0, 9).Draw(t, "null time") == 0 {
					ts = runtime.Value{Null: true}
				}
				rows = append(rows, []runtime.Value{runtime.IntValue(k), ts, runtime.IntValue(1)})
				wantN[k]++
			}
			h.batch(rows...)
			if n := h.out.Len(); n != 0 {
				t.Fatalf("a batch emitted %d rows", n)
			}
		}
		h.finish()
		check(runtime.MaxWatermark)
		for k, n := range wantN {
			if gotN[k] != n {
				t.Fatalf("key %d: %d rows over its sessions, want %d", k, gotN[k], n)
			}
		}
		h.expectDropped(0)
	})
}
