package window

import (
	"cmp"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

func sortTimers(ts []timer) []timer {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b timer) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.sid, b.sid)
	})
	return ts
}

// TestTimerWheelTakesWhatIsDue pushes random timers into a wheel (near the
// watermark, in the ring, past it, far ahead) and moves the watermark by
// random steps, small and large: each expire must take exactly the timers
// at or before the watermark, and a wheel rebuilt from each's order must
// take the same timers in the same order as the original.
func TestTimerWheelTakesWhatIsDue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		span := rapid.SampledFrom([]int64{1, 7, 100, 5000, 1 << 20}).Draw(t, "span")
		w := newTimerWheel(span, runtime.MinWatermark)
		var held []timer
		wm := int64(runtime.MinWatermark)
		now := rapid.Int64Range(-1<<40, 1<<40).Draw(t, "start")
		sid := int32(0)
		for step := rapid.IntRange(1, 60).Draw(t, "steps"); step > 0; step-- {
			for n := rapid.IntRange(0, 30).Draw(t, "timers"); n > 0; n-- {
				ahead := rapid.OneOf(rapid.Int64Range(1, 3), rapid.Int64Range(1, 2*span+10), rapid.Int64Range(1, 3000*span)).Draw(t, "ahead")
				tm := timer{at: now + ahead, sid: sid}
				if rapid.IntRange(0, 5).Draw(t, "same sid") > 0 {
					sid++
				}
				w.push(tm)
				held = append(held, tm)
			}
			if rapid.IntRange(0, 4).Draw(t, "rebuild") == 0 {
				done := w.done
				w2 := newTimerWheel(span, done)
				w.each(w2.push)
				if w2.len() != w.len() {
					t.Fatalf("rebuilt wheel holds %d timers, the original %d", w2.len(), w.len())
				}
				if got, want := w2.expire(runtime.MaxWatermark, nil), w.expire(runtime.MaxWatermark, nil); !slices.Equal(got, want) {
					t.Fatalf("rebuilt wheel takes\n%v\nthe original\n%v", got, want)
				}
				w = newTimerWheel(span, done)
				for _, tm := range held {
					w.push(tm)
				}
			}
			if len(held) > 0 && w.min() != sortTimers(held)[0].at {
				t.Fatalf("min %d, want %d", w.min(), sortTimers(held)[0].at)
			}
			now += rapid.OneOf(rapid.Int64Range(0, 3), rapid.Int64Range(0, 3*span), rapid.Int64Range(0, 5000*span)).Draw(t, "advance")
			if now <= wm {
				continue
			}
			wm = now
			got := w.expire(wm, nil)
			var due, rest []timer
			for _, tm := range held {
				if tm.at <= wm {
					due = append(due, tm)
				} else {
					rest = append(rest, tm)
				}
			}
			if !slices.Equal(sortTimers(got), sortTimers(due)) {
				t.Fatalf("expire(%d) took\n%v\nwant\n%v", wm, sortTimers(got), sortTimers(due))
			}
			held = rest
			if w.len() != len(held) {
				t.Fatalf("after expire(%d): %d timers held, want %d", wm, w.len(), len(held))
			}
		}
		if got := w.expire(runtime.MaxWatermark, nil); len(got) != len(held) || w.len() != 0 {
			t.Fatalf("the final expire took %d timers, want %d (%d left)", len(got), len(held), w.len())
		}
	})
}
