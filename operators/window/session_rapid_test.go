package window

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// sessionModel is the session window operator written the slow and obvious
// way, for differential tests: per key a list of sessions holding their
// rows, and every session looked at on every watermark. It follows the
// rules of sessionOp's doc: a row joins (and merges) the sessions its
// [t, t+gap] touches; a new session behind the watermark but within the
// allowed lateness fires at once; a fired session updated within the
// allowed lateness re-fires at the end of the batch, unless it grew past
// the watermark, when it fires again at its new end; a session fires when
// the watermark reaches end-1 and is dropped at end-1+lateness.
type sessionModel struct {
	spec     Spec
	lateness int64
	wm       int64
	keys     map[string][]*modelSession
	dropped  int
}

type modelSession struct {
	key          []runtime.Value
	start, end   int64
	rows         [][]runtime.Value
	fired, dirty bool
}

func newSessionModel(spec Spec) *sessionModel {
	return &sessionModel{spec: spec, lateness: spec.AllowedLateness.Milliseconds(), wm: runtime.MinWatermark, keys: map[string][]*modelSession{}}
}

func (m *sessionModel) emit(s *modelSession) string {
	vals := append(slices.Clone(s.key), runtime.TimeValue(s.start), runtime.TimeValue(s.end))
	for _, a := range m.spec.Aggs {
		vals = append(vals, refAggregate(m.spec.In, a, s.rows))
	}
	return fmtRow(vals)
}

// batch takes rows and returns the rows emitted, sorted.
func (m *sessionModel) batch(rows [][]runtime.Value) []string {
	gap := m.spec.Window.Gap
	var dirty []*modelSession
	for _, r := range rows {
		tv := r[m.spec.TimeCol]
		if tv.Null || !runtime.SaneEventTime(tv.I) {
			m.dropped++
			continue
		}
		var key []runtime.Value
		for _, c := range m.spec.KeyCols {
			key = append(key, r[c])
		}
		id := fmtRow(key)
		lo, hi := tv.I, tv.I+gap
		var keep, touched []*modelSession
		for _, s := range m.keys[id] {
			if s.start <= hi && s.end >= lo {
				touched = append(touched, s)
			} else {
				keep = append(keep, s)
			}
		}
		var s *modelSession
		if len(touched) == 0 {
			if hi-1+m.lateness <= m.wm {
				m.dropped++
				continue
			}
			s = &modelSession{key: key, start: lo, end: hi}
			if hi-1 <= m.wm {
				s.fired, s.dirty = true, true
				dirty = append(dirty, s)
			}
		} else {
			s = touched[0]
			for _, o := range touched[1:] {
				s.start, s.end = min(s.start, o.start), max(s.end, o.end)
				s.rows = append(s.rows, o.rows...)
				s.fired = s.fired || o.fired
				if o.dirty && !s.dirty {
					s.dirty = true
					dirty = append(dirty, s)
				}
				o.dirty = false // merged away: never emitted
			}
			s.start, s.end = min(s.start, lo), max(s.end, hi)
			if s.fired {
				if s.end-1 > m.wm {
					s.fired, s.dirty = false, false
				} else if !s.dirty {
					s.dirty = true
					dirty = append(dirty, s)
				}
			}
		}
		s.rows = append(s.rows, r)
		m.keys[id] = append(keep, s)
	}
	var out []string
	for _, s := range dirty {
		if s.dirty {
			s.dirty = false
			out = append(out, m.emit(s))
		}
	}
	slices.Sort(out)
	return out
}

// watermark moves the watermark to wm and returns the rows emitted, sorted.
func (m *sessionModel) watermark(wm int64) []string {
	m.wm = wm
	var out []string
	for id, list := range m.keys {
		var keep []*modelSession
		for _, s := range list {
			if !s.fired && s.end-1 <= wm {
				out = append(out, m.emit(s))
				s.fired = true
			}
			if s.fired && s.end-1+m.lateness <= wm {
				continue
			}
			keep = append(keep, s)
		}
		if len(keep) == 0 {
			delete(m.keys, id)
		} else {
			m.keys[id] = keep
		}
	}
	slices.Sort(out)
	return out
}

// TestSessionMatchesModel runs random rows through the session operator
// and through sessionModel, step by step: rows late and within the allowed
// lateness, sessions bridged by late rows, NULL keys and times, a key table
// compacted at any size, and the operator snapshotted and restored at
// random points. After every batch and every watermark both must have
// emitted the same rows, and dropped the same rows as late.
func TestSessionMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := Spec{
			In:              rndSchema,
			KeyCols:         rapid.SampledFrom([][]int{nil, {0}, {1}, {0, 1}}).Draw(t, "keys"),
			TimeCol:         2,
			Window:          Assigner{Kind: Session, Gap: rapid.Int64Range(1, 50).Draw(t, "gap")},
			Aggs:            rapid.SliceOfN(rapid.SampledFrom(rndAggs), 1, 6).Draw(t, "aggs"),
			AllowedLateness: time.Duration(rapid.SampledFrom([]int64{0, 0, 3, 20, 100}).Draw(t, "lateness")) * time.Millisecond,
		}
		minCompact := rapid.SampledFrom([]int{0, 2, 1024}).Draw(t, "compact above")
		h := newHarness(t, spec)
		h.op.(*sessionOp).minCompact = minCompact
		m := newSessionModel(spec)
		base := rapid.Int64Range(-200, 200).Draw(t, "start")
		wm := int64(runtime.MinWatermark)
		var droppedBefore uint64 // by operators replaced by restored ones
		wideKeys := rapid.Bool().Draw(t, "many keys")
		nsteps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < nsteps; i++ {
			switch rapid.IntRange(0, 9).Draw(t, "step") {
			case 0, 1, 2: // a watermark, behind the latest time by a random lag
				next := base - rapid.Int64Range(0, 40).Draw(t, "lag")
				if next <= wm {
					continue
				}
				wm = next
				h.watermark(wm)
				if got, want := h.take(), m.watermark(wm); !slices.Equal(got, want) {
					t.Fatalf("step %d, watermark %d:\n%s", i, wm, diff(got, want))
				}
			case 3: // snapshot, and go on with a restored operator
				data := h.snapshot()
				h2 := newHarness(t, spec)
				droppedBefore += h.ctx.Metrics.LateRowsDropped.Get()
				h2.op.(*sessionOp).minCompact = minCompact
				h2.restore(data)
				h = h2
			default:
				var rows [][]runtime.Value
				for n := rapid.IntRange(1, 20).Draw(t, "batch rows"); n > 0; n-- {
					base += rapid.Int64Range(0, 6).Draw(t, "advance")
					ts := runtime.TimeValue(base - rapid.Int64Range(0, 60).Draw(t, "behind"))
					if rapid.IntRange(0, 30).Draw(t, "null time") == 0 {
						ts = null
					}
					k1 := genK1.Draw(t, "k1")
					if wideKeys && !k1.Null {
						k1 = runtime.IntValue(rapid.Int64Range(0, 60).Draw(t, "wide k1"))
					}
					rows = append(rows, []runtime.Value{k1, genK2.Draw(t, "k2"), ts, genV.Draw(t, "v"), genD.Draw(t, "d"), genS.Draw(t, "s"), genN.Draw(t, "n")})
				}
				h.batch(rows...)
				if got, want := h.take(), m.batch(rows); !slices.Equal(got, want) {
					t.Fatalf("step %d, batch at watermark %d:\n%s", i, wm, diff(got, want))
				}
			}
			if got := h.op.(*sessionOp).open; got != m.open() {
				t.Fatalf("step %d: %d sessions open, the model has %d", i, got, m.open())
			}
		}
		h.finish()
		if got, want := h.take(), m.watermark(runtime.MaxWatermark); !slices.Equal(got, want) {
			t.Fatalf("final watermark:\n%s", diff(got, want))
		}
		if got := droppedBefore + h.ctx.Metrics.LateRowsDropped.Get(); got != uint64(m.dropped) {
			t.Fatalf("%d rows dropped as late, the model dropped %d", got, m.dropped)
		}
		checkStateFreed(t, h.op)
	})
}

func (m *sessionModel) open() int {
	n := 0
	for _, l := range m.keys {
		n += len(l)
	}
	return n
}
