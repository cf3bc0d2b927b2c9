package groupagg

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestOldDoubleAvgSnapshotIsRefused restores a snapshot written by the
// version whose AVG of a BIGINT was a DOUBLE (testdata/avg-double-v1.snap:
// GROUP BY page over allAggs after ("/", 1), ("/", 2), ("/a", -3),
// ("/a", -4), which emitted averages 1.5 and -3.5). Its state cannot
// retract those results as BIGINTs, so it is refused with an error saying
// why and what to do, and the operator starts empty.
func TestOldDoubleAvgSnapshotIsRefused(t *testing.T) {
	data, err := os.ReadFile("testdata/avg-double-v1.snap")
	if err != nil {
		t.Fatal(err)
	}
	x := newGroupHarness(t, Spec{In: in, KeyCols: []int{0}, Aggs: allAggs})
	err = x.op.(runtime.Snapshotter).RestoreState(data)
	if err == nil || !strings.Contains(err.Error(), `group aggregation operator "agg"`) ||
		!strings.Contains(err.Error(), "AVG of an integer was a DOUBLE; avg now averages to BIGINT truncated toward zero") ||
		!strings.Contains(err.Error(), "CAST(x AS DOUBLE)") {
		t.Fatalf("old snapshot: got %v", err)
	}
	x.feed([][][]runtime.Value{{row("/", 1), row("/", 2), row("/a", -3), row("/a", -4)}})
	if got, want := x.c.Changelog(), []string{"+I/,2,2,2,3,1,2,1,/", "+I/a,2,2,2,-7,-4,-3,-3,/a"}; !slices.Equal(got, want) {
		t.Fatalf("after the refused snapshot:\ngot  %q\nwant %q", got, want)
	}
}
