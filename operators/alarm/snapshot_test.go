package alarm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	rtstate "github.com/sluicehq/sluice/runtime/state"
)

// script is a random run of an alarm: per period, the rows that arrive
// before the watermark passes its end (some of the next period's too,
// out of order), for several hosts with gaps.
func script(seed uint64, periods int) [][]row {
	r := rand.New(rand.NewPCG(seed, 1))
	hosts := []string{"web-1", "web-2", "web-3", "db-1", "db-2"}
	steps := make([][]row, periods)
	for p := 0; p < periods; p++ {
		for _, h := range hosts {
			if r.IntN(4) == 0 {
				continue // a gap
			}
			v := "_"
			if r.IntN(10) > 0 {
				v = strconv.Itoa(70 + r.IntN(40))
			}
			at := p
			if p > 0 && r.IntN(5) == 0 {
				at = p - 1 // arrives early, with the previous period's rows
			}
			steps[at] = append(steps[at], row{h, t0 + int64(p)*10*sec, v})
		}
		r.Shuffle(len(steps[p]), func(i, j int) { steps[p][i], steps[p][j] = steps[p][j], steps[p][i] })
	}
	return steps
}

func play(h *harness, steps [][]row, from, to int) {
	for p := from; p < to; p++ {
		if len(steps[p]) > 0 {
			h.rows(steps[p]...)
		}
		h.wm(t0 + int64(p)*10*sec - 1)
	}
}

// TestSnapshotRestore takes a snapshot in the middle of a run and restores
// it into a fresh operator, which must then publish what the first one
// publishes, for every treatment of missing data, with a known and an
// inferred period.
func TestSnapshotRestore(t *testing.T) {
	for treat := Missing; treat <= Ignore; treat++ {
		for _, period := range []time.Duration{10 * time.Second, 0} {
			for seed := uint64(1); seed <= 5; seed++ {
				name := fmt.Sprintf("%s/period=%v/seed=%d", treat, period, seed)
				cfg := testConfig()
				cfg.TreatMissing, cfg.Period = treat, period
				steps := script(seed, 40)
				for _, cut := range []int{0, 1, 2, 17, 39} {
					a := newHarness(t, cfg)
					play(a, steps, 0, cut)
					snap, err := a.op.SnapshotState(1)
					if err != nil {
						t.Fatal(err)
					}
					a.rec.ns = nil
					play(a, steps, cut, len(steps))
					a.wm(1<<63 - 1)

					b := newHarness(t, cfg)
					if err := b.op.RestoreState(snap); err != nil {
						t.Fatalf("%s cut %d: %v", name, cut, err)
					}
					play(b, steps, cut, len(steps))
					b.wm(1<<63 - 1)
					if got, want := strings.Join(b.changes(), " "), strings.Join(a.changes(), " "); got != want {
						t.Fatalf("%s cut %d: restored operator published\n\t%s\nwant\n\t%s", name, cut, got, want)
					}
					for i := range a.rec.ns {
						if a.rec.ns[i].Body != b.rec.ns[i].Body {
							t.Fatalf("%s cut %d: body %d differs:\n%s\n%s", name, cut, i, b.rec.ns[i].Body, a.rec.ns[i].Body)
						}
					}
					sa, _ := a.op.SnapshotState(2)
					sb, _ := b.op.SnapshotState(2)
					if !bytes.Equal(sa, sb) {
						t.Fatalf("%s cut %d: final snapshots differ", name, cut)
					}
					if cut == 17 && len(a.rec.ns) == 0 {
						t.Fatalf("%s: no notification after the snapshot; the script tests nothing", name)
					}
				}
			}
		}
	}
}

func TestSnapshotRefused(t *testing.T) {
	h := newHarness(t, testConfig())
	play(h, script(7, 20), 0, 20)
	good, err := h.op.SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	restore := func(cfg Config, data []byte) error {
		t.Helper()
		r := newHarness(t, cfg)
		err := r.op.RestoreState(data)
		if err != nil && (len(r.op.insts) > 0 || r.op.seen) {
			t.Fatalf("a refused snapshot left state behind")
		}
		return err
	}
	if err := restore(testConfig(), good); err != nil {
		t.Fatal(err)
	}
	if err := restore(testConfig(), nil); err != nil {
		t.Fatalf("an empty snapshot: %v", err)
	}
	for _, i := range []int{0, 5, len(good) / 2, len(good) - 1} {
		bad := bytes.Clone(good)
		bad[i] ^= 0x10
		err := restore(testConfig(), bad)
		if err == nil || !errors.Is(err, rtstate.ErrCorruptSnapshot) || !strings.Contains(err.Error(), `alarm "cpu-high"`) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
	if err := restore(testConfig(), good[:len(good)-3]); err == nil || !strings.Contains(err.Error(), "cpu-high") {
		t.Errorf("truncated: %v", err)
	}
	other := testConfig()
	other.Name = "disk-full"
	if err := restore(other, good); err == nil || !strings.Contains(err.Error(), `alarm "disk-full"`) || !strings.Contains(err.Error(), "cpu-high") {
		t.Errorf("another alarm's snapshot: %v", err)
	}
	longer := testConfig()
	longer.EvaluationPeriods = 5
	if err := restore(longer, good); err == nil || !strings.Contains(err.Error(), "evaluation periods") {
		t.Errorf("a snapshot over fewer periods: %v", err)
	}
}

// FuzzRestore checks that no snapshot makes RestoreState panic, and that
// one it accepts leaves a working operator.
func FuzzRestore(f *testing.F) {
	h := newHarness(f, testConfig())
	play(h, script(3, 12), 0, 12)
	good, _ := h.op.SnapshotState(1)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("SLOP"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newHarness(t, testConfig())
		if err := r.op.RestoreState(data); err != nil {
			return
		}
		play(r, script(4, 15), 12, 15)
		r.wm(1<<63 - 1)
	})
}
