package join

import (
	"fmt"
	"math"

	"github.com/sluicehq/sluice/operators/internal/snap"
	"github.com/sluicehq/sluice/runtime"
)

// A regular join snapshot (runtime.Snapshotter), in the framing of package
// snap, holds the join type, the number of columns of each side, and per
// side (left, then right) its distinct rows, key by key and in each key's
// list order:
//
//	nrows, each column of the side's schema (snap.Encoder.Vector),
//	counts (copies per row), matches (per row; zero on an inner side)
//
// Restoring links the rows again in that order, so a key's rows pair with
// arriving rows in the same order as before. Key and row ids are not part
// of it; with a TTL, restored rows start their TTL at the restore.

const regSnapKind = "regular join"

var _ runtime.Snapshotter = (*regJoin)(nil)

// SnapshotState implements runtime.Snapshotter.
func (o *regJoin) SnapshotState(int64) ([]byte, error) {
	size := 64
	for i := range o.sides {
		size += o.sides[i].rows.live * (9*len(o.sides[i].rows.cols) + 8)
	}
	e := snap.NewEncoder(regSnapKind, size)
	// The join type, and a bit per side (4 left, 8 right) set when the
	// side is unindexed (see regRows): clear in snapshots written before
	// sides could be.
	flags := int(o.typ)
	for side := range o.sides {
		if o.sides[side].rows.unindexed {
			flags |= 4 << side
		}
	}
	e.Int(flags)
	e.Int(o.sides[0].schema.Len())
	e.Int(o.sides[1].schema.Len())
	for side := range o.sides {
		rs := &o.sides[side].rows
		ids := o.scratchIDs[:0]
		if ids == nil {
			ids = []int32{} // a nil row list means every row to Encoder.Vector
		}
		for k := range o.keys.entries {
			if o.keys.entries[k].count[side] == 0 {
				continue
			}
			for id := o.keys.entries[k].head[side]; id != nilID; id = rs.next[id] {
				ids = append(ids, id)
			}
		}
		o.scratchIDs = ids
		e.Int(len(ids))
		for c := range rs.cols {
			e.Vector(&rs.cols[c], ids)
		}
		vals := o.scratchB[:0]
		for _, id := range ids {
			vals = append(vals, rs.count[id])
		}
		e.Int32s(vals)
		vals = vals[:0]
		for _, id := range ids {
			vals = append(vals, rs.match[id])
		}
		e.Int32s(vals)
		o.scratchB = vals
	}
	return e.Finish(), nil
}

// RestoreState implements runtime.Snapshotter.
func (o *regJoin) RestoreState(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.restore(data); err != nil {
		// Back to empty.
		o.keys = newKeyTable(typesOf(o.keys.vals))
		o.pend, o.last, o.pending = nil, nil, nil
		for i := range o.sides {
			o.sides[i].rows = newRegRows(o.sides[i].schema, o.sides[i].outer)
		}
		name := "?"
		if o.ctx != nil {
			name = o.ctx.Operator
		}
		return fmt.Errorf("%s operator %q: cannot restore state: %w", regSnapKind, name, err)
	}
	o.setStateKeys()
	return nil
}

func (o *regJoin) restore(data []byte) error {
	if o.keys.live > 0 {
		return fmt.Errorf("the operator already holds state")
	}
	d, err := snap.Open(regSnapKind, data)
	if err != nil {
		return err
	}
	flags, nl, nr := d.Int(16), d.Int(math.MaxInt32), d.Int(math.MaxInt32)
	typ := flags & 3
	if d.Err() == nil && RegularType(typ) != o.typ {
		return fmt.Errorf("snapshot of a %s join, the operator is a %s join", RegularType(typ), o.typ)
	}
	if d.Err() == nil && (nl != o.sides[0].schema.Len() || nr != o.sides[1].schema.Len()) {
		return fmt.Errorf("snapshot of a join of %d and %d columns, the operator joins %d and %d", nl, nr, o.sides[0].schema.Len(), o.sides[1].schema.Len())
	}
	var now int64
	if o.ttl > 0 {
		now = o.now()
	}
	for side := range o.sides {
		s := &o.sides[side]
		n := d.Int(math.MaxInt32)
		b := &runtime.Batch{Schema: s.schema, Cols: make([]runtime.Vector, s.schema.Len()), N: n}
		for c, f := range s.schema.Fields {
			b.Cols[c].Type = f.Type
			if got := d.Vector(&b.Cols[c], f.Type); d.Err() == nil && got != n {
				d.Fail("side %d column %d holds %d rows, want %d", side, c, got, n)
			}
		}
		counts := d.Int32s(nil)
		matches := d.Int32s(nil)
		if d.Err() == nil && (len(counts) != n || len(matches) != n) {
			d.Fail("side %d has %d rows but %d counts and %d match counts", side, n, len(counts), len(matches))
		}
		if err := d.Err(); err != nil {
			return err
		}
		o.keyHash = runtime.HashColumns(b, s.keyCols, o.keyHash)
		// An unindexed side may hold equal rows as several entries; an
		// indexed one holds each row once.
		s.rows.unindexed = flags&(4<<side) != 0
		if s.rows.unindexed && s.outer {
			d.Fail("side %d is outer but stored unindexed", side)
			return d.Err()
		}
		if !s.rows.unindexed {
			o.rowHash = runtime.HashColumns(b, s.allCols, o.rowHash)
		}
		for r := 0; r < n; r++ {
			if s.noMatch(b, r) {
				d.Fail("side %d row %d has a NULL key: it could never have been stored", side, r)
				return d.Err()
			}
			if counts[r] < 1 || matches[r] < 0 {
				d.Fail("side %d row %d has %d copies and %d matches", side, r, counts[r], matches[r])
				return d.Err()
			}
			var rowHash uint64
			if !s.rows.unindexed {
				rowHash = o.rowHash[r]
				if s.rows.find(rowHash, b, r) != nilID {
					d.Fail("side %d row %d is stored twice", side, r)
					return d.Err()
				}
			}
			h := o.keyHash[r]
			k := o.keys.find(h, b, s.keyCols, r)
			if k == nilID {
				k = o.newKey(h, b, s.keyCols, r, now)
			}
			s.rows.add(&o.keys, side, k, rowHash, b, r, counts[r], matches[r])
		}
	}
	return d.Done()
}
