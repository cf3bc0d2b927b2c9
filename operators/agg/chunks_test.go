package agg

import (
	"bytes"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
	"pgregory.net/rapid"
)

// withChunkGroups gives the empty accumulators a chunks of 1<<shift groups
// (as accChunkBytes gives tables of millions of groups), so that small
// tests cross chunk boundaries.
func withChunkGroups(a *Accs, shift uint8) *Accs {
	a.ints = slotChunks[int64]{w: a.l.nI, shift: shift, mask: 1<<shift - 1}
	a.floats = slotChunks[float64]{w: a.l.nF, shift: shift, mask: 1<<shift - 1}
	return a
}

func accsSnapshot(t tb, a *Accs) []byte {
	t.Helper()
	e := snap.NewEncoder("accs", a.SnapshotSize())
	a.AppendSnapshot(e)
	return e.Finish()
}

// TestChunkedAccsMatchOneArray runs the same operations — Grow, Add,
// Reserve, Reset, Update, Merge, Clear, Compact, a snapshot restored —
// on accumulators whose slots are split in chunks of 2 to 16 groups and
// on accumulators whose slots fit one array (as they were before chunks)
// and are moved to fresh memory after every step, and checks that every
// group's results, EmitRange's output and the snapshots' bytes are the
// same after every step.
func TestChunkedAccsMatchOneArray(t *testing.T) {
	choices := []Spec{
		{Func: Count, Col: -1, Name: "c"}, {Func: Sum, Col: 0, Name: "si"}, {Func: Sum, Col: 1, Name: "sd"},
		{Func: Min, Col: 0, Name: "mi"}, {Func: Max, Col: 1, Name: "xd"}, {Func: Sum, Col: 3, Name: "sn"},
		{Func: Avg, Col: 0, Name: "ai"}, {Func: Avg, Col: 1, Name: "ad"}, {Func: Count, Col: 1, Name: "cd"},
		{Func: FirstValue, Col: 2, Name: "fs"}, {Func: VarPop, Col: 1, Name: "vd"}, {Func: BoolOr, Col: 5, Name: "bo"},
		{Func: CountDistinct, Col: 3, Name: "dn"},
	}
	rapid.Check(t, func(t *rapid.T) {
		specs := rapid.SliceOfN(rapid.SampledFrom(choices), 1, 5).Draw(t, "specs")
		l, err := NewLayout(in, specs)
		if err != nil {
			t.Fatal(err)
		}
		shift := uint8(rapid.IntRange(1, 4).Draw(t, "shift"))
		chunked, flat := withChunkGroups(NewAccs(l), shift), withChunkGroups(NewAccs(l), 30)
		other := NewAccs(l) // a source of merges
		// The one array is moved to fresh memory after every step, so
		// that it never relies on slots being cleared for reuse.
		both := func(f func(a *Accs)) {
			f(chunked)
			f(flat)
			d, err := snap.Open("accs", accsSnapshot(t, flat))
			if err != nil {
				t.Fatal(err)
			}
			old := flat
			flat = withChunkGroups(NewAccs(l), 30)
			flat.RestoreSnapshot(d)
			// What a snapshot leaves out (an overflowed sum fails
			// it).
			flat.over, flat.seq = slices.Clone(old.over), old.seq
		}
		for step := range rapid.IntRange(1, 12).Draw(t, "steps") {
			n := chunked.Len()
			switch op := rapid.IntRange(0, 8).Draw(t, "op"); {
			case op == 0:
				both((*Accs).Reset)
			case op == 1:
				k := rapid.IntRange(0, 100).Draw(t, "reserve")
				both(func(a *Accs) { a.Reserve(k) })
			case op == 2:
				k := rapid.IntRange(1, 5).Draw(t, "adds")
				both(func(a *Accs) {
					for range k {
						a.Add()
					}
				})
			case op == 3 && n > 0:
				g := int32(rapid.IntRange(0, n-1).Draw(t, "clear"))
				both(func(a *Accs) { a.Clear(g) })
			case op == 4 && n > 0:
				live := make([]bool, n)
				for g := range live {
					live[g] = rapid.Bool().Draw(t, "live")
				}
				both(func(a *Accs) { a.Compact(live) })
			case op == 5 && n > 0:
				if other.Len() == 0 {
					other.Grow(3)
					b := randomKeyBatch(20, 100, 10, 7)
					other.Update(b, allRows(b), make([]int32, 20))
					b.Release()
				}
				dst := int32(rapid.IntRange(0, n-1).Draw(t, "dst"))
				src := int32(rapid.IntRange(0, other.Len()-1).Draw(t, "src"))
				both(func(a *Accs) { a.Merge(dst, other, src) })
			case op == 6:
				data := accsSnapshot(t, chunked)
				both(func(a *Accs) {
					d, err := snap.Open("accs", data)
					if err != nil {
						t.Fatal(err)
					}
					a.RestoreSnapshot(d)
					if err := d.Done(); err != nil {
						t.Fatal(err)
					}
				})
			default:
				n += rapid.IntRange(0, 40).Draw(t, "more")
				both(func(a *Accs) { a.Grow(n) })
				if n == 0 {
					break
				}
				b := randomKeyBatch(rapid.IntRange(1, 60).Draw(t, "rows"), 100, 10, rapid.Uint64().Draw(t, "seed"))
				rows := allRows(b)
				groups := make([]int32, len(rows))
				for k := range groups {
					groups[k] = int32(rapid.IntRange(0, n-1).Draw(t, "group"))
				}
				both(func(a *Accs) { a.Update(b, rows, groups) })
				b.Release()
			}
			if chunked.Len() != flat.Len() {
				t.Fatalf("step %d: %d groups, want %d", step, chunked.Len(), flat.Len())
			}
			if got, want := emit(t, l, chunked), emit(t, l, flat); !slices.Equal(got, want) {
				t.Fatalf("step %d: results differ:\n%v\nwant\n%v", step, got, want)
			}
			if got, want := emitRange(chunked), emitRange(flat); !slices.Equal(got, want) {
				t.Fatalf("step %d: EmitRange differs:\n%v\nwant\n%v", step, got, want)
			}
			// (A distinct set writes its values in an order that
			// depends on its history.)
			if got, want := accsSnapshot(t, chunked), accsSnapshot(t, flat); l.nD == 0 && !bytes.Equal(got, want) {
				t.Fatalf("step %d: snapshots differ", step)
			}
		}
	})
}

// emitRange is EmitRange's output for every group (nil if it declines).
func emitRange(a *Accs) []string {
	out := runtime.NewBatch(runtime.NewSchema(a.l.Fields()...))
	defer out.Release()
	if !a.EmitRange(0, int32(a.Len()), out, 0) {
		return nil
	}
	out.N = a.Len()
	return emitted(out)
}

// TestChunksGrowInPlaceWithLittleRoom grows accumulators step by step
// across many chunks and checks that a chunk, once full, never moves (its
// groups are not copied again), and that the room beyond the groups stays
// within a quarter of them plus one chunk.
func TestChunksGrowInPlaceWithLittleRoom(t *testing.T) {
	l, err := NewLayout(in, []Spec{{Func: Count, Col: -1, Name: "n"}, {Func: Sum, Col: 3, Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	const shift = 8
	a := withChunkGroups(NewAccs(l), shift)
	var fixed []*int64 // the first slot of each full chunk
	for n := 37; n <= 20_000; n += 37 {
		a.Grow(n)
		I := &a.ints
		for k, p := range fixed {
			if &I.c[k][0] != p {
				t.Fatalf("%d groups: full chunk %d moved", n, k)
			}
		}
		for k := len(fixed); k < len(I.c) && len(I.c[k]) == I.w<<shift; k++ {
			fixed = append(fixed, &I.c[k][0])
		}
		if n >= 1024 && I.capG > n+n/4+1<<shift {
			t.Fatalf("%d groups in room for %d", n, I.capG)
		}
	}
	if len(fixed) < 70 {
		t.Fatalf("%d full chunks", len(fixed))
	}
}
