package window

import (
	"testing"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// FuzzRestoreState restores snapshots whose bodies are arbitrary but
// correctly checksummed: a restore may fail, never panic, and a restored
// operator must run.
func FuzzRestoreState(f *testing.F) {
	specs := []Spec{allAggsSpec(Assigner{Kind: Tumbling, Size: 10, Slide: 10}), allAggsSpec(Assigner{Kind: Session, Gap: 4})}
	for i, spec := range specs {
		h := newHarness(f, spec)
		h.batch(rnd(1, "a", 1, 5, 0.5, "x"), rnd(2, "b", 3, 7, 1.5, "y"))
		h.watermark(2)
		data := h.snapshot()
		// The body: after the header (magic, version, kind) and before the
		// checksum.
		kind := h.op.(interface{ snapKind() string }).snapKind()
		f.Add(uint8(i), data[4+1+1+len(kind):len(data)-4])
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		spec := specs[int(which)%len(specs)]
		h := newHarness(t, spec)
		e := snap.NewEncoder(h.op.(interface{ snapKind() string }).snapKind(), len(body))
		e.Raw(body)
		if err := h.op.(runtime.Snapshotter).RestoreState(e.Finish()); err != nil {
			return
		}
		h.batch(rnd(1, "a", 30, 5, 0.5, "x"))
		h.finish()
	})
}
