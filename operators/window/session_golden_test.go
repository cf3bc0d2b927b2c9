package window

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// The session snapshots under testdata/ were written by the session
// operator as it was when they were made (one session list per key and a
// timer heap); every later operator must restore them and go on to emit the
// rows that operator emitted. -update-session-golden rewrites them from the
// current code: only for a new case, never to make a failing test pass.
var updateSessionGolden = flag.Bool("update-session-golden", false, "rewrite testdata/session_*.snap and .out from the current session operator")

// sessionGoldenCase is a spec and a deterministic random input cut in two at
// the snapshot.
type sessionGoldenCase struct {
	name          string
	spec          Spec
	before, after []step
}

func sessionGoldenCases() []sessionGoldenCase {
	late := func(s Spec, d time.Duration) Spec { s.AllowedLateness = d; return s }
	global := func(s Spec) Spec { s.KeyCols = nil; return s }
	var cases []sessionGoldenCase
	add := func(name string, spec Spec, seed uint64) {
		before, after := sessionGoldenSteps(spec, seed)
		cases = append(cases, sessionGoldenCase{name: name, spec: spec, before: before, after: after})
	}
	add("kv", kvSpec(SessionGap(10*ms)), 1)
	add("kv_lateness", late(kvSpec(SessionGap(10*ms)), 30*ms), 2)
	add("allaggs_lateness", late(allAggsSpec(Assigner{Kind: Session, Gap: 6}), 20*ms), 3)
	add("global_lateness", late(global(allAggsSpec(Assigner{Kind: Session, Gap: 5})), 15*ms), 4)
	return cases
}

// sessionGoldenSteps makes batches of rows of a few keys with gaps, disorder
// and rows behind the watermark (late, or within the allowed lateness), and
// watermarks between them.
func sessionGoldenSteps(spec Spec, seed uint64) (before, after []step) {
	r := rand.New(rand.NewPCG(seed, 7))
	var steps []step
	base, wm := int64(0), int64(runtime.MinWatermark)
	for i := 0; i < 60; i++ {
		var b [][]runtime.Value
		for n := 1 + r.IntN(10); n > 0; n-- {
			base += int64(r.IntN(4))
			if r.IntN(25) == 0 {
				base += 15 + int64(r.IntN(20)) // a pause: sessions end
			}
			ts := base - int64(r.IntN(30))
			k := int64(r.IntN(6))
			if spec.In == kvSchema {
				b = append(b, kv(k, ts, int64(r.IntN(100))-50))
				continue
			}
			b = append(b, rnd(k%3, []string{"a", "b"}[k%2], ts, int64(r.IntN(100))-50, float64(r.IntN(16))/4, []string{"x", "y", "zz"}[r.IntN(3)]))
		}
		steps = append(steps, rows(b...))
		if next := base - 8 - int64(r.IntN(10)); next > wm && r.IntN(3) > 0 {
			wm = next
			steps = append(steps, wmark(wm))
		}
	}
	steps = append(steps, wmark(runtime.MaxWatermark))
	return steps[:len(steps)/2], steps[len(steps)/2:]
}

// TestSessionRestoresGoldenSnapshots restores snapshots written by the first
// session operator and checks that the rows emitted after the restore are
// those that operator emitted, and that the golden input still gives a
// snapshot the current operator restores and continues from.
func TestSessionRestoresGoldenSnapshots(t *testing.T) {
	for _, c := range sessionGoldenCases() {
		t.Run(c.name, func(t *testing.T) {
			snapPath := filepath.Join("testdata", "session_"+c.name+".snap")
			outPath := filepath.Join("testdata", "session_"+c.name+".out")
			if *updateSessionGolden {
				x := newHarness(t, c.spec)
				x.run(c.before)
				data := x.snapshot()
				x.out.Reset()
				x.run(c.after)
				out := x.take()
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(snapPath, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(outPath, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(snapPath)
			if err != nil {
				t.Fatal(err)
			}
			text, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
			if len(want) < 5 {
				t.Fatalf("golden output of %d rows: too few to test anything", len(want))
			}
			x := newHarness(t, c.spec)
			x.restore(data)
			x.run(c.after)
			if got := x.take(); !slices.Equal(got, want) {
				t.Fatalf("after restoring %s: %d rows, want %d:\n%s", snapPath, len(got), len(want), diff(got, want))
			}
			checkStateFreed(t, x.op)
			// The current operator on the same input emits the same rows
			// after its own snapshot, restored or not.
			if got := checkRestore(t, c.spec, c.before, c.after); !slices.Equal(sortedCopy(got), want) {
				t.Fatalf("current operator: %d rows after the snapshot, want %d:\n%s", len(got), len(want), diff(sortedCopy(got), want))
			}
		})
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
