package repart

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// ev is a record in a release test: DATA carries a row id as its body.
type ev struct {
	h   header
	row int
}

func data(p int, a string, label int64, row int) ev {
	return ev{h: header{kind: kData, producer: p, attempt: a, label: label}, row: row}
}

func wmark(p int, a string, label, wm int64) ev {
	return ev{h: header{kind: kWatermark, producer: p, attempt: a, label: label, wm: wm}}
}

func end(p int, a string, label int64) ev {
	return ev{h: header{kind: kEnd, producer: p, attempt: a, label: label}}
}

func commit(p int, a string, n, m int64) ev {
	return ev{h: header{kind: kCommit, producer: p, attempt: a, label: n, prev: m}}
}

// feed gives the records to a releaser of producers producers in order,
// numbering each attempt's records per producer, and returns the rows
// released in order and the watermarks each release left (unless idle).
func feed(t interface{ Fatal(...any) }, producers int, evs []ev) (rows []int, wms []int64, r *releaser) {
	r = newReleaser(producers)
	seq := map[string]uint64{}
	for off, e := range evs {
		h := e.h
		var body []byte
		if h.kind != kCommit {
			k := fmt.Sprint(h.producer, "/", h.attempt)
			h.seq = seq[k]
			seq[k]++
		}
		if h.kind == kData {
			body = binary.AppendUvarint(nil, uint64(e.row))
		}
		if err := r.add(h, body, int64(off)); err != nil {
			t.Fatal(err)
		}
		for rel := r.next(); rel != nil; rel = r.next() {
			for _, it := range rel.items {
				if it.kind == kData {
					v, _ := binary.Uvarint(it.body)
					rows = append(rows, int(v))
					continue
				}
				r.apply(rel.p, it)
			}
			if wm, idle := r.watermark(); !idle {
				wms = append(wms, wm)
			}
		}
	}
	return rows, wms, r
}

func TestReleaseFollowsTheCommitChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		evs  []ev
		want []int
	}{
		{"nothing without a commit", []ev{data(0, "a", 0, 1), data(0, "a", 1, 2)}, nil},
		{"a commit releases its segments in order", []ev{
			data(0, "a", 0, 1), data(0, "a", 0, 2), data(0, "a", 1, 3), commit(0, "a", 1, 0), data(0, "a", 2, 4), commit(0, "a", 2, 1),
		}, []int{1, 2, 3}},
		{"a commit before the one it follows waits", []ev{
			data(0, "a", 0, 1), data(0, "a", 1, 2), commit(0, "a", 2, 1), commit(0, "a", 1, 0),
		}, []int{1, 2}},
		{"a zombie's rows after the restored checkpoint are dropped", []ev{
			data(0, "a", 0, 1), commit(0, "a", 1, 0),
			data(0, "a", 1, 2), // a goes on as a zombie…
			data(0, "b", 1, 3), // …while b restored checkpoint 1
			commit(0, "a", 1, 0),
			data(0, "a", 2, 4), commit(0, "b", 3, 1), data(0, "a", 2, 5),
		}, []int{1, 3}},
		{"the owner died between its commit and the COMMIT record", []ev{
			data(0, "a", 0, 1), data(0, "a", 1, 2), commit(0, "a", 1, 0),
			// a's checkpoint 2 counted, but a died before writing its commit;
			// b restores 2 and writes it again first.
			commit(0, "a", 2, 1), data(0, "b", 2, 3), commit(0, "b", 3, 2),
		}, []int{1, 2, 3}},
		{"a commit whose snapshot saw an older commit releases the rest of its attempt", []ev{
			// The final snapshot was taken while checkpoint 1 was in flight.
			data(0, "a", 0, 1), commit(0, "a", 1, 0), data(0, "a", 1, 2), end(0, "a", 1), commit(0, "a", runtime.EndCheckpoint, 0),
		}, []int{1, 2}},
		{"but not of another attempt", []ev{
			data(0, "a", 0, 1), commit(0, "a", 1, 0), data(0, "b", 0, 2), commit(0, "b", 2, 0),
		}, []int{1}},
		{"a record written twice is read once", []ev{
			data(0, "a", 0, 1), commit(0, "a", 1, 0), commit(0, "a", 1, 0),
		}, []int{1}},
		{"producers are released apart", []ev{
			data(0, "a", 0, 1), data(1, "x", 0, 10), commit(1, "x", 1, 0), data(0, "a", 1, 2), commit(0, "a", 2, 0),
		}, []int{10, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, _, _ := feed(t, 2, tc.evs)
			if !slices.Equal(rows, tc.want) {
				t.Fatalf("released %v, want %v", rows, tc.want)
			}
		})
	}
}

func TestReleaseDropsDuplicatesBySequence(t *testing.T) {
	r := newReleaser(1)
	body := binary.AppendUvarint(nil, 7)
	h := header{kind: kData, attempt: "a", seq: 0}
	for range 2 { // a produce retried after it had been written
		if err := r.add(h, body, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.add(header{kind: kCommit, attempt: "a", label: 1}, nil, 2); err != nil {
		t.Fatal(err)
	}
	if rel := r.next(); rel == nil || len(rel.items) != 1 {
		t.Fatalf("release %+v, want one item", rel)
	}
}

func TestReleaseWatermarksIdlenessAndEnd(t *testing.T) {
	evs := []ev{
		wmark(0, "a", 0, 100), wmark(1, "x", 0, 50), commit(0, "a", 1, 0), commit(1, "x", 1, 0),
		{h: header{kind: kIdle, producer: 1, attempt: "x", label: 1}}, commit(1, "x", 2, 1),
		end(0, "a", 1), commit(0, "a", runtime.EndCheckpoint, 1),
	}
	_, wms, r := feed(t, 2, evs)
	if want := []int64{runtime.MinWatermark, 50, 100}; !slices.Equal(wms, want) {
		t.Fatalf("watermarks %v, want %v", wms, want)
	}
	if wm, idle := r.watermark(); !idle || wm != runtime.MinWatermark {
		t.Fatalf("one idle, one ended: (%d, %v), want idle", wm, idle)
	}
	if r.ended() {
		t.Fatal("producer 1 has not ended")
	}
	_, _, r = feed(t, 2, append(evs, end(1, "x", 2), commit(1, "x", runtime.EndCheckpoint, 2),
		// An attempt restored from the checkpoint that holds the end
		// finishes again: nothing of it is kept.
		end(1, "y", runtime.EndCheckpoint), wmark(1, "y", runtime.EndCheckpoint, runtime.MaxWatermark)))
	if !r.ended() {
		t.Fatal("both producers' ends released: not ended")
	}
	if r.bytes != 0 || r.minOffset() >= 0 {
		t.Fatalf("after the end, %d bytes kept from offset %d", r.bytes, r.minOffset())
	}
}

// attemptPlan is one attempt of a producer in the property test.
type attemptPlan struct {
	name     string
	start    int64 // the label it starts with (the checkpoint it restored)
	segments int   // checkpoints it takes
	counted  int   // of which the first counted
	zombie   bool  // goes on writing after its successor started
	dropLast bool  // died before writing its last counted commit
}

// TestReleaseProperty: attempts of one producer, each restoring the last
// checkpoint of the one before that counted, with zombies, late and
// missing COMMIT records, a final commit chained to a stale one, in any
// arrival order that keeps each attempt's
// own: exactly the rows of the committed chain are released, once each,
// in order, and the watermark never moves back.
func TestReleaseProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "attempts")
		var plans []attemptPlan
		start := int64(0)
		for i := range n {
			last := i == n-1
			pl := attemptPlan{name: fmt.Sprint("a", i), start: start, segments: rapid.IntRange(0, 4).Draw(t, "segments")}
			if last {
				pl.counted = pl.segments
			} else {
				pl.counted = rapid.IntRange(0, pl.segments).Draw(t, "counted")
				pl.zombie = rapid.Bool().Draw(t, "zombie")
				pl.dropLast = pl.counted > 0 && rapid.Bool().Draw(t, "dropLast")
			}
			plans = append(plans, pl)
			start += int64(pl.counted)
		}
		// Each attempt's stream, and where its successor may begin: after
		// the attempt's rows below the checkpoint the successor restored.
		row := 0
		var want []int
		streams := make([][]ev, n)
		gate := make([]int, n) // records of attempt i-1 before attempt i may start
		prevCommit := int64(0)
		var lastCounted ev // the commit a successor writes again
		haveCounted := false
		for i, pl := range plans {
			var s []ev
			if haveCounted {
				s = append(s, lastCounted) // the restore writes it again
			}
			label := pl.start
			ownPrev, ownCommits := int64(0), 0 // the previous commit of the attempt's last one
			wm := int64(i * 1000)
			var commits []ev
			for seg := 0; seg <= pl.segments; seg++ {
				for range rapid.IntRange(0, 3).Draw(t, "rows") {
					s = append(s, data(0, pl.name, label, row))
					if seg < pl.counted || i == n-1 {
						want = append(want, row)
					}
					row++
				}
				wm += int64(rapid.IntRange(0, 50).Draw(t, "wm step"))
				s = append(s, wmark(0, pl.name, label, wm))
				if seg == pl.counted && i+1 < n {
					gate[i+1] = len(s)
					if !pl.zombie {
						break
					}
				}
				if seg == pl.segments {
					break
				}
				// The barrier of checkpoint label+1.
				next := label + 1
				if seg < pl.counted {
					ownPrev, ownCommits = prevCommit, ownCommits+1
					c := commit(0, pl.name, next, prevCommit)
					prevCommit = next
					lastCounted, haveCounted = c, true
					if !(pl.dropLast && seg == pl.counted-1) {
						commits = append(commits, c)
					}
				}
				label = next
				// Commits come out at some point after their barrier.
				for len(commits) > 0 && rapid.Bool().Draw(t, "commit now") {
					s = append(s, commits[0])
					commits = commits[1:]
				}
			}
			if i == n-1 {
				s = append(s, end(0, pl.name, label))
				m := prevCommit
				if ownCommits > 0 && rapid.Bool().Draw(t, "stale end") {
					// The final snapshot was taken before the last
					// checkpoint counted.
					m = ownPrev
				}
				commits = append(commits, commit(0, pl.name, runtime.EndCheckpoint, m))
			}
			streams[i] = append(s, commits...)
		}
		// Interleave, keeping each stream's order and the gates.
		var evs []ev
		pos := make([]int, n)
		for {
			var ready []int
			for i := range n {
				if pos[i] < len(streams[i]) && (i == 0 || pos[i-1] >= gate[i]) {
					ready = append(ready, i)
				}
			}
			if len(ready) == 0 {
				break
			}
			i := ready[rapid.IntRange(0, len(ready)-1).Draw(t, "next")]
			evs = append(evs, streams[i][pos[i]])
			pos[i]++
		}
		rows, wms, r := feed(t, 1, evs)
		if !slices.Equal(rows, want) {
			t.Fatalf("released %v, want %v", rows, want)
		}
		for i := 1; i < len(wms); i++ {
			if wms[i] < wms[i-1] {
				t.Fatalf("watermark moved back: %v", wms)
			}
		}
		if !r.ended() {
			t.Fatal("the end was not released")
		}
		if r.bytes != 0 {
			t.Fatalf("%d bytes still buffered after the end", r.bytes)
		}
	})
}
