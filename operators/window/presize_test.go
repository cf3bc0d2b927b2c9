package window

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestNewPaneSizedForLatest fills a 10 s tumbling window with 100k keys,
// then starts the next window: its pane is sized for 100k groups at once
// (no step-by-step growth), and both windows' results are right.
func TestNewPaneSizedForLatest(t *testing.T) {
	const keys = 100_000
	newOp, _, err := New(benchSpec())
	if err != nil {
		t.Fatal(err)
	}
	op := newOp()
	if err := op.Open(&runtime.Context{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	var out rttest.Discard
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	fill := func(ts int64, n int) {
		for first := 0; first < n; first += runtime.DefaultBatchRows {
			bt.Reset()
			for k := first; k < min(n, first+runtime.DefaultBatchRows); k++ {
				bt.AppendValues(runtime.IntValue(int64(k)), runtime.TimeValue(ts), runtime.IntValue(1))
			}
			if err := op.ProcessBatch(0, bt, &out); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(1000, keys)
	o := op.(*alignedOp)
	first := o.order[0]
	fill(11_000, 1)
	if len(o.order) != 2 {
		t.Fatalf("%d panes, want 2", len(o.order))
	}
	second := o.order[1]
	if got, want := second.table.Bytes(), first.table.Bytes()*3/4; got < want {
		t.Fatalf("new pane's table holds %d bytes after one key, want at least %d (sized for %d groups)", got, want, first.table.Len())
	}
	if got, want := second.accs.Bytes(), first.accs.Bytes()*3/4; got < want {
		t.Fatalf("new pane's accumulators hold %d bytes after one key, want at least %d", got, want)
	}
	fill(11_000, keys)
	if err := op.ProcessWatermark(30_000, &out); err != nil {
		t.Fatal(err)
	}
	if out.Rows != 2*keys {
		t.Fatalf("%d results, want %d", out.Rows, 2*keys)
	}
}
