package repart

import (
	"fmt"

	"github.com/sluicehq/sluice/runtime"
)

// item is a record the source keeps until a commit releases or drops it.
type item struct {
	kind   kind
	label  int64
	wm     int64
	body   []byte // DATA: the rows
	offset int64
}

// commitRec is a COMMIT record waiting for the commit before it.
type commitRec struct {
	attempt string
	n, m    int64
	offset  int64
}

// producer is what a source knows of one producer task.
type producer struct {
	released int64  // segments below it are released (or never will be)
	last     string // the attempt of the last release
	wm       int64
	idle     bool
	ended    bool
	bufs     map[string][]item // per attempt, in arrival order
	nextSeq  map[string]uint64 // per attempt: the sequence number expected next
	pending  []commitRec       // in arrival order
}

// release is what one commit releases: the items of one attempt of
// producer p, in the order they were written.
type release struct {
	p       int
	attempt string
	n       int64
	offset  int64 // of the COMMIT record
	items   []item
	// The producer's marks before the release.
	prevReleased int64
	prevLast     string
}

// itemOverhead is what a buffered item costs besides its rows.
const itemOverhead = 64

// releaser is the release logic of a source, apart from Kafka: it takes
// the records of one partition in order and hands out what commits
// release (see the package doc).
type releaser struct {
	prods []producer
	bytes int64 // buffered
}

func newReleaser(producers int) *releaser {
	r := &releaser{prods: make([]producer, producers)}
	for p := range r.prods {
		r.prods[p] = producer{wm: runtime.MinWatermark, bufs: map[string][]item{}, nextSeq: map[string]uint64{}}
	}
	return r
}

// add takes the record at offset with header h (body: a DATA record's
// rows).
func (r *releaser) add(h header, body []byte, offset int64) error {
	if h.producer >= len(r.prods) {
		return fmt.Errorf("a record of producer task %d, the topic has %d", h.producer, len(r.prods))
	}
	pr := &r.prods[h.producer]
	if h.kind == kCommit {
		if h.label > pr.released {
			pr.pending = append(pr.pending, commitRec{attempt: h.attempt, n: h.label, m: h.prev, offset: offset})
		}
		return nil
	}
	if next, ok := pr.nextSeq[h.attempt]; ok && h.seq < next {
		return nil // written twice (a produce retried)
	}
	pr.nextSeq[h.attempt] = h.seq + 1
	if h.label < pr.released || pr.released == runtime.EndCheckpoint {
		return nil // released, or never will be (all is, up to the end)
	}
	pr.bufs[h.attempt] = append(pr.bufs[h.attempt], item{kind: h.kind, label: h.label, wm: h.wm, body: body, offset: offset})
	r.bytes += int64(len(body)) + itemOverhead
	return nil
}

// next returns the next release, or nil when no commit can be released
// now. The producer's released mark moves to the commit's N and what lies
// below it is dropped; the caller applies the items (apply).
func (r *releaser) next() *release {
	for p := range r.prods {
		pr := &r.prods[p]
		for i := 0; i < len(pr.pending); {
			c := pr.pending[i]
			if c.n <= pr.released {
				pr.pending = append(pr.pending[:i], pr.pending[i+1:]...)
				continue
			}
			// A commit follows the one released last; or, of the same
			// attempt, an earlier one (its snapshot was taken before that
			// one counted): it then releases what that one did not.
			if c.m != pr.released && !(c.m < pr.released && c.attempt == pr.last) {
				i++
				continue
			}
			pr.pending = append(pr.pending[:i], pr.pending[i+1:]...)
			rel := &release{p: p, attempt: c.attempt, n: c.n, offset: c.offset, prevReleased: pr.released, prevLast: pr.last}
			for _, it := range pr.bufs[c.attempt] {
				if it.label >= pr.released && it.label < c.n {
					rel.items = append(rel.items, it)
				}
			}
			pr.released, pr.last = c.n, c.attempt
			for a, items := range pr.bufs {
				kept := items[:0]
				for _, it := range items {
					if it.label >= c.n {
						kept = append(kept, it)
					} else {
						r.bytes -= int64(len(it.body)) + itemOverhead
					}
				}
				clear(items[len(kept):])
				if len(kept) == 0 {
					delete(pr.bufs, a)
				} else {
					pr.bufs[a] = kept
				}
			}
			return rel
		}
	}
	return nil
}

// apply makes a released control item of producer p take effect.
func (r *releaser) apply(p int, it item) {
	pr := &r.prods[p]
	switch it.kind {
	case kWatermark:
		pr.wm = max(pr.wm, it.wm)
		pr.idle = false
	case kIdle:
		pr.idle = true
	case kActive:
		pr.idle = false
	case kEnd:
		pr.ended = true
	}
}

// watermark is the minimum over the producers that hold it back (neither
// idle nor ended); idle when none does.
func (r *releaser) watermark() (int64, bool) {
	wm, active := runtime.MaxWatermark, false
	for _, pr := range r.prods {
		if pr.idle || pr.ended {
			continue
		}
		active = true
		wm = min(wm, pr.wm)
	}
	if !active {
		return runtime.MinWatermark, true
	}
	return wm, false
}

// ended says whether every producer's end has been released.
func (r *releaser) ended() bool {
	for _, pr := range r.prods {
		if !pr.ended {
			return false
		}
	}
	return true
}

// minOffset is the offset of the earliest record still kept (buffered
// or a pending commit), or -1.
func (r *releaser) minOffset() int64 {
	least := int64(-1)
	take := func(o int64) {
		if least < 0 || o < least {
			least = o
		}
	}
	for _, pr := range r.prods {
		for _, items := range pr.bufs {
			if len(items) > 0 {
				take(items[0].offset)
			}
		}
		for _, c := range pr.pending {
			take(c.offset)
		}
	}
	return least
}
