package window

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// TestWindowSumOverflowIsNeverEmittedNorCheckpointed checks that a window
// whose integer SUM left BIGINT's range fails when it fires, naming the
// aggregate, the window and the key, and that a checkpoint taken before it
// fires fails too, so that a restart cannot emit the wrapped sum.
func TestWindowSumOverflowIsNeverEmittedNorCheckpointed(t *testing.T) {
	for _, w := range []Assigner{Tumble(time.Second), SessionGap(time.Second), Hop(time.Second, 2*time.Second), Cumulate(time.Second, 2*time.Second)} {
		h := newHarness(t, kvSpec(w))
		h.batch(kv(1, 10, math.MaxInt64), kv(2, 10, 5), kv(1, 20, 1))
		_, err := h.op.(runtime.Snapshotter).SnapshotState(1)
		var oe *agg.OverflowError
		if !errors.As(err, &oe) || oe.Agg != "s" {
			t.Fatalf("%s: snapshot: got %v, want the overflow of s", w, err)
		}
		err = h.op.ProcessWatermark(5000, h.out)
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), "s: BIGINT out of range, in the window [") || !strings.Contains(err.Error(), "of the group (k=1)") {
			t.Fatalf("%s: firing: got %v", w, err)
		}
		for _, r := range h.rows() {
			if strings.HasPrefix(r, "1,") {
				t.Fatalf("%s: the overflowed window was emitted: %s", w, r)
			}
		}
	}
}
