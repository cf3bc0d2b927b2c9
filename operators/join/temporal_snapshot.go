package join

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// An event-time temporal join snapshot (runtime.Snapshotter), in the
// framing of package snap:
//
//	watermark (8 bytes)
//	probe rows buffered, in arrival order: n, each probe column
//	changes of the versioned side, key by key, each key's in version-time
//	    order: n, each versioned column, then n flags (1: -U/-D)
//
// Restoring re-buffers the probe rows in that order (their emission order
// is by time, then arrival) and re-links the changes, so a restored subtask
// emits exactly what the uninterrupted one would have. Keys whose TTL has
// passed are left out; the others start their TTL anew at the restore.

const tjSnapKind = "event-time temporal join"

var _ runtime.Snapshotter = (*tjEvent)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *tjEvent) SnapshotState(int64) ([]byte, error) {
	e := snap.NewEncoder(tjSnapKind, 64+o.probes.live*(9*len(o.probes.cols))+o.vers.live*(9*len(o.vers.cols)+1))
	e.Int64(o.wm)
	live := o.probes.liveRows()
	e.Int(len(live))
	for c := range o.probes.cols {
		e.Vector(&o.probes.cols[c], live)
	}
	ids := make([]int32, 0, o.vers.live)
	now := o.ttl.Now()
	for k := range o.keys.entries {
		en := &o.keys.entries[k]
		if en.count[1] == 0 || o.ttl.Expired(int32(k), now) {
			continue // expired keys are never read again
		}
		for j := en.head[1]; j != nilID; j = o.vers.next[j] {
			ids = append(ids, j)
		}
	}
	e.Int(len(ids))
	for c := range o.vers.cols {
		e.Vector(&o.vers.cols[c], ids)
	}
	for _, id := range ids {
		e.Bool(o.tomb[id])
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *tjEvent) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		fresh := newTJEvent(o.spec, o.out)
		fresh.ctx, fresh.outB, fresh.ttl = o.ctx, o.outB, o.ttl
		fresh.ttl.Reset(0, 0) // empty, on the same purge schedule
		*o = *fresh
		return fmt.Errorf("%s operator %q: cannot restore state: %w", tjSnapKind, tjOpName(o.ctx), err)
	}
	o.ttl.Reset(len(o.keys.entries), o.ttl.Now()) // every key's TTL starts anew
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

func tjOpName(ctx *runtime.Context) string {
	if ctx == nil {
		return "?"
	}
	return ctx.Operator
}

// tjReadRows reads n rows of schema s written as one Vector per column.
func tjReadRows(d *snap.Decoder, s *runtime.Schema, what string) *runtime.Batch {
	n := d.Int(math.MaxInt32)
	b := &runtime.Batch{Schema: s, Cols: make([]runtime.Vector, s.Len()), N: n}
	for c, f := range s.Fields {
		b.Cols[c].Type = f.Type
		if got := d.Vector(&b.Cols[c], f.Type); d.Err() == nil && got != n {
			d.Fail("%s column %d holds %d rows, want %d", what, c, got, n)
		}
	}
	return b
}

func (o *tjEvent) restore(data []byte) error {
	if o.keys.live > 0 || o.probes.live > 0 || o.wm != runtime.MinWatermark {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(tjSnapKind, data)
	if err != nil {
		return err
	}
	wm := d.Int64()
	pb := tjReadRows(d, o.spec.Probe, "probe")
	if err := d.Err(); err != nil {
		return err
	}
	o.hashes = runtime.HashColumns(pb, o.spec.ProbeKeys, o.hashes)
	all := make([]int32, pb.N)
	for r := 0; r < pb.N; r++ {
		if pb.Cols[o.spec.ProbeTime].IsNull(r) {
			return fmt.Errorf("probe row %d has no time: it could never have been buffered", r)
		}
		o.probes.add(pb.Cols[o.spec.ProbeTime].I64[r], o.hashes[r], tjNoMatch(pb, o.spec.ProbeKeys, r))
		all[r] = int32(r)
	}
	for c := range o.probes.cols {
		appendGather(&o.probes.cols[c], &pb.Cols[c], all)
	}
	vb := tjReadRows(d, o.spec.Versioned, "versioned")
	tomb := make([]bool, 0, vb.N)
	for i := 0; i < vb.N && d.Err() == nil; i++ {
		tomb = append(tomb, d.Bool())
	}
	if err := d.Done(); err != nil {
		return err
	}
	keyCols := o.spec.VersionKeys
	o.hashes = runtime.HashColumns(vb, keyCols, o.hashes)
	all = all[:0]
	for r := 0; r < vb.N; r++ {
		if vb.Cols[o.spec.VersionTime].IsNull(r) || tjNoMatch(vb, keyCols, r) {
			return fmt.Errorf("versioned row %d has no key or time: it could never have been kept", r)
		}
		h := o.hashes[r]
		k := o.keys.find(h, vb, keyCols, r)
		if k == nilID {
			k = o.keys.insert(h, vb, keyCols, r)
		}
		o.insertVersion(k, vb.Cols[o.spec.VersionTime].I64[r], tomb[r])
		all = append(all, int32(r))
	}
	o.vers.appendColumns(vb, all)
	o.wm = wm
	return nil
}

// A processing-time temporal join snapshot:
//
//	build side ended (1 byte)
//	build rows, one per key: n, each build column
//	probe rows held back, in arrival order: n, each probe column

const tjProcSnapKind = "processing-time temporal join"

var _ runtime.Snapshotter = (*tjProc)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *tjProc) SnapshotState(int64) ([]byte, error) {
	held := 0
	if o.held != nil {
		held = o.held.N
	}
	e := snap.NewEncoder(tjProcSnapKind, 64+9*(o.keys.live*len(o.build)+held*o.spec.Probe.Len()))
	e.Bool(o.buildEnded)
	live := make([]int32, 0, o.keys.live)
	now := o.ttl.Now()
	for id, ok := range o.alive {
		if ok && !o.ttl.Expired(int32(id), now) { // expired keys are never read again
			live = append(live, int32(id))
		}
	}
	e.Int(len(live))
	for c := range o.build {
		e.Vector(&o.build[c], live)
	}
	e.Int(held)
	for c := range o.spec.Probe.Fields {
		if o.held == nil {
			v := runtime.Vector{Type: o.spec.Probe.Fields[c].Type}
			e.Vector(&v, nil)
			continue
		}
		e.Vector(&o.held.Cols[c], nil)
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *tjProc) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		fresh := newTJProc(o.spec, o.out)
		fresh.ctx, fresh.outB, fresh.ttl = o.ctx, o.outB, o.ttl
		fresh.ttl.Reset(0, 0) // empty, on the same purge schedule
		*o = *fresh
		return fmt.Errorf("%s operator %q: cannot restore state: %w", tjProcSnapKind, tjOpName(o.ctx), err)
	}
	o.ttl.Reset(len(o.keys.entries), o.ttl.Now()) // every key's TTL starts anew
	if m := metricsOf(o.ctx); m != nil {
		m.SetStateKeys(o.keys.live)
	}
	return nil
}

func (o *tjProc) restore(data []byte) error {
	if o.keys.live > 0 || o.held != nil || o.buildEnded {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(tjProcSnapKind, data)
	if err != nil {
		return err
	}
	ended := d.Bool()
	bb := tjReadRows(d, o.spec.Build, "build")
	pb := tjReadRows(d, o.spec.Probe, "probe")
	if err := d.Done(); err != nil {
		return err
	}
	if err := o.apply(bb); err != nil {
		return err
	}
	if o.keys.live != bb.N {
		return fmt.Errorf("%d build rows hold %d distinct keys", bb.N, o.keys.live)
	}
	if pb.N > 0 {
		o.held = pb
	}
	o.buildEnded = ended
	return nil
}
