package groupagg

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

// TestIdleKeysExpireAfterTTL checks Flink's state TTL for a GROUP BY: a key
// not updated for the TTL (processing time) is dropped, its memory freed,
// and a later row for it starts a new group (+I, no retraction of a value
// that is gone); keys updated in time live on.
func TestIdleKeysExpireAfterTTL(t *testing.T) {
	clock := int64(1_000_000)
	newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, TTL: time.Second, MaxGroups: 3,
		Clock: func() int64 { return clock },
		Aggs:  []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "total"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp().(*op)
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	feed := func(rows ...[]runtime.Value) error {
		t.Helper()
		return o.ProcessBatch(0, rttest.NewBatch(in, rows...), c)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(feed(row("/a", 1), row("/b", 2), row("/c", 3)))
	clock += 600
	must(feed(row("/a", 10))) // /a lives until 1600 ms from now
	clock += 400              // /b and /c expire now
	// Expired keys are gone: a fourth key fits under MaxGroups 3.
	must(feed(row("/d", 4)))
	if n := o.table.Len(); n != 2 {
		t.Fatalf("%d groups held after the purge, want 2 (/a, /d)", n)
	}
	must(feed(row("/b", 5), row("/a", 100)))
	want := []string{
		"+I/a,1,1", "+I/b,1,2", "+I/c,1,3",
		"-U/a,1,1", "+U/a,2,11",
		"+I/d,1,4",
		"-U/a,2,11", "+I/b,1,5", "+U/a,3,111",
	}
	if got := c.Changelog(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
	// A key expired but not purged yet is not read either.
	clock += 1000 // everything expires; the next purge is due after 250 ms
	o.exp.PurgeAt(clock + 1)
	must(feed(row("/a", 7)))
	if got := c.Changelog(); got[len(got)-1] != "+I/a,1,7" || len(got) != len(want)+1 {
		t.Fatalf("after expiry, got %v", got[len(want):])
	}
	// The processing-time timer purges while no rows arrive.
	clock += 2000
	must(o.OnProcessingTime(clock, c))
	if n := o.table.Len(); n != 0 {
		t.Fatalf("%d groups after an idle purge", n)
	}
	// Without the TTL, the fourth key hits the limit.
	clock += 10
	must(feed(row("/1", 1), row("/2", 1), row("/3", 1)))
	if err := feed(row("/4", 1)); !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "'sluice.state.max-keys'") {
		t.Fatalf("over the limit: %v", err)
	}
}
