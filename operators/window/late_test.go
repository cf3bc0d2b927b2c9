package window

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func TestExtremeTimesMakeNoInvertedWindow(t *testing.T) {
	extreme := []int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, math.MaxInt64 - 1,
		runtime.MinEventTime - 1, runtime.MaxEventTime + 1}
	for _, w := range []Assigner{Tumble(time.Minute), Hop(30*time.Second, time.Minute), SessionGap(time.Minute)} {
		h := newHarness(t, kvSpec(w))
		var rows [][]runtime.Value
		for _, ts := range extreme {
			rows = append(rows, kv(1, ts, 1))
		}
		rows = append(rows, kv(1, 60_000, 1))
		h.batch(rows...)
		h.finish()
		out := h.out.Rows()
		if len(out) == 0 {
			t.Fatalf("%s: no window for the sane row", w)
		}
		for _, r := range out {
			if start, end := r[1].I, r[2].I; end <= start || start > 60_000 || end <= 60_000 {
				t.Fatalf("%s: window [%d, %d) is inverted or holds no sane row", w, start, end)
			}
			if n := r[3].I; n != 1 {
				t.Fatalf("%s: window counts %d rows, want only the sane one", w, n)
			}
		}
		h.expectDropped(uint64(len(extreme)))
	}
}

func TestLateDropsAreLoggedWithACount(t *testing.T) {
	var log bytes.Buffer
	h := newHarness(t, kvSpec(Tumble(time.Minute)))
	h.ctx.SetLogger(slog.New(runtime.NewLineHandler(&log, nil)))
	h.batch(kv(1, 300_000, 1))
	h.watermark(300_000)
	h.batch(kv(1, 1_000, 1), kv(1, 2_000, 1), kv(1, 61_000, 1))
	want := "sluice: window: 3 late rows dropped so far (latest 1970-01-01 00:01:01.000 behind watermark 1970-01-01 00:05:00.000)\n"
	if log.String() != want {
		t.Fatalf("log %q, want %q", log.String(), want)
	}
	// Within the interval: counted, not logged; the end tells the total.
	h.batch(kv(1, 5_000, 1), kv(1, 6_000, 1))
	if log.String() != want {
		t.Fatalf("log %q, want only %q", log.String(), want)
	}
	h.finish()
	h.op.Close()
	if !strings.HasSuffix(log.String(), "sluice: window: 5 late rows dropped in all (latest 1970-01-01 00:00:06.000 behind watermark 1970-01-01 00:05:00.000)\n") {
		t.Fatalf("log %q: want the total at the end", log.String())
	}
	h.expectDropped(5)
}
