package join

import (
	"slices"

	"github.com/sluicehq/sluice/runtime"
)

// regRows holds the rows of one side of a regular join as a multiset:
// one entry per distinct row, with the number of copies held. Entries are
// stored column by column, indexed by an int32 row id; each is linked
// into its key's list (keyEntry.head/tail/count of the shared keyTable,
// count being the number of entries) and into a hash table over whole rows
// (open addressing, linear probing, at most half full; a slot holds a row
// id and the hash is read from hash[id]). A freed id is reused by the next
// new entry.
//
// The hash table is only needed to find a row again, for a retraction or
// to count a copy. While an inner side has seen no retraction it is not built
// (unindexed): each added row is a new entry of one copy, equal rows may
// be several entries, hash[id] is 0 and slots is empty. The first
// retraction, or a snapshot, builds it (index), merging equal entries.
type regRows struct {
	// unindexed is true while no row of the side was looked up (see above).
	unindexed bool
	cols      []runtime.Vector // row = row id
	hash      []uint64         // hash of the whole row
	key       []int32          // key id, or nilID when the id is free
	prev      []int32          // previous entry of the same key, or nilID
	next      []int32          // next entry of the same key, or nilID
	count     []int32          // copies of the row held
	match     []int32          // rows of the other side matching each copy (outer sides)
	slots     []int32          // power-of-two length; nilID = empty
	free      []int32
	live      int // entries in use
	// copies is the sum of count over the live entries.
	copies int
}

// newRegRows returns an empty side of schema s, unindexed unless the side
// is outer: the null-padded rows of an outer side go and come per entry, so
// its equal rows are kept as one entry from the start.
func newRegRows(s *runtime.Schema, outer bool) regRows {
	rs := regRows{cols: make([]runtime.Vector, s.Len()), slots: regEmptySlots(minSlots), unindexed: !outer}
	for i, f := range s.Fields {
		rs.cols[i].Type = f.Type
	}
	return rs
}

func regEmptySlots(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = nilID
	}
	return s
}

// find returns the entry equal to physical row r of b (row hash h), or
// nilID.
func (rs *regRows) find(h uint64, b *runtime.Batch, r int) int32 {
	mask := uint64(len(rs.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		id := rs.slots[i]
		if id == nilID {
			return nilID
		}
		if rs.hash[id] == h && rs.equal(id, b, r) {
			return id
		}
	}
}

// equal reports whether entry id holds the same values as physical row r
// of b: NULLs equal NULLs, NaNs equal NaNs, as the hash treats them.
func (rs *regRows) equal(id int32, b *runtime.Batch, r int) bool {
	for c := range rs.cols {
		v, sv := &b.Cols[c], &rs.cols[c]
		vn, sn := v.IsNull(r), sv.IsNull(int(id))
		if vn != sn {
			return false
		}
		if vn {
			continue
		}
		switch sv.Type.Physical() {
		case runtime.PhysFloat:
			x, y := v.F64[r], sv.F64[id]
			if x != y && (x == x || y == y) {
				return false
			}
		case runtime.PhysString:
			if v.Str[r] != sv.Str[id] {
				return false
			}
		default:
			if v.I64[r] != sv.I64[id] {
				return false
			}
		}
	}
	return true
}

// add stores physical row r of b (row hash h, not present) as a new entry
// of key k with count copies and match count m, at the end of the key's
// list on side, and returns its id.
func (rs *regRows) add(kt *keyTable, side int, k int32, h uint64, b *runtime.Batch, r int, count, m int32) int32 {
	var id int32
	if n := len(rs.free); n > 0 {
		id = rs.free[n-1]
		rs.free = rs.free[:n-1]
		for c := range rs.cols {
			regSetFrom(&rs.cols[c], int(id), &b.Cols[c], r)
		}
		rs.hash[id], rs.key[id], rs.count[id], rs.match[id] = h, k, count, m
	} else {
		id = int32(len(rs.hash))
		if len(rs.hash) == cap(rs.hash) {
			rs.grow()
		}
		for c := range rs.cols {
			rs.cols[c].AppendFrom(&b.Cols[c], r)
		}
		rs.hash = append(rs.hash, h)
		rs.key = append(rs.key, k)
		rs.prev = append(rs.prev, nilID)
		rs.next = append(rs.next, nilID)
		rs.count = append(rs.count, count)
		rs.match = append(rs.match, m)
	}
	e := &kt.entries[k]
	tail := e.tail[side]
	rs.prev[id], rs.next[id] = tail, nilID
	if tail != nilID {
		rs.next[tail] = id
	} else {
		e.head[side] = id
	}
	e.tail[side] = id
	e.count[side]++
	if !rs.unindexed {
		if 2*(rs.live+1) > len(rs.slots) {
			rs.rehash(2 * len(rs.slots))
		}
		rs.place(h, id)
	}
	rs.live++
	rs.copies += int(count)
	return id
}

// grow doubles the capacity of every per-entry slice at once. append's
// own policy grows large slices by a quarter, which copies each row about
// four times over a side's life (and the copying of the columns dominated a
// join of wide append-only inputs); doubling copies it about once.
func (rs *regRows) grow() {
	n := max(2*cap(rs.hash), 64)
	rs.hash = regRealloc(rs.hash, n)
	rs.key = regRealloc(rs.key, n)
	rs.prev = regRealloc(rs.prev, n)
	rs.next = regRealloc(rs.next, n)
	rs.count = regRealloc(rs.count, n)
	rs.match = regRealloc(rs.match, n)
	for c := range rs.cols {
		v := &rs.cols[c]
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.F64 = regRealloc(v.F64, n)
		case runtime.PhysString:
			v.Str = regRealloc(v.Str, n)
		default:
			v.I64 = regRealloc(v.I64, n)
		}
		if v.Null != nil {
			v.Null = regRealloc(v.Null, n)
		}
	}
}

// regRealloc returns s in a new slice of capacity n (at least len(s)).
func regRealloc[T any](s []T, n int) []T {
	return append(make([]T, 0, max(n, len(s))), s...)
}

func (rs *regRows) place(h uint64, id int32) {
	mask := uint64(len(rs.slots) - 1)
	i := h & mask
	for rs.slots[i] != nilID {
		i = (i + 1) & mask
	}
	rs.slots[i] = id
}

func (rs *regRows) rehash(n int) {
	old := rs.slots
	rs.slots = regEmptySlots(n)
	for _, id := range old {
		if id != nilID {
			rs.place(rs.hash[id], id)
		}
	}
}

// remove drops entry id (all its copies): from its key's list on side,
// from the hash table, and frees the id. The key stays in kt even when it
// has no rows left; the caller drops it.
func (rs *regRows) remove(kt *keyTable, side int, id int32) {
	e := &kt.entries[rs.key[id]]
	p, n := rs.prev[id], rs.next[id]
	if p != nilID {
		rs.next[p] = n
	} else {
		e.head[side] = n
	}
	if n != nilID {
		rs.prev[n] = p
	} else {
		e.tail[side] = p
	}
	e.count[side]--
	if !rs.unindexed {
		rs.unplace(id)
	}
	for c := range rs.cols {
		if v := &rs.cols[c]; v.Type.Physical() == runtime.PhysString {
			v.Str[id] = "" // let the string go
		}
	}
	rs.copies -= int(rs.count[id])
	rs.key[id], rs.count[id], rs.match[id] = nilID, 0, 0
	rs.free = append(rs.free, id)
	rs.live--
}

// unplace takes entry id out of the hash table.
func (rs *regRows) unplace(id int32) {
	mask := uint64(len(rs.slots) - 1)
	i := rs.hash[id] & mask
	for rs.slots[i] != id {
		i = (i + 1) & mask
	}
	// Backward-shift deletion, as keyTable.remove.
	for j := (i + 1) & mask; rs.slots[j] != nilID; j = (j + 1) & mask {
		home := rs.hash[rs.slots[j]] & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			rs.slots[i] = rs.slots[j]
			i = j
		}
	}
	rs.slots[i] = nilID
}

// index builds the hash table of an unindexed side: it hashes every live
// entry (hashes is scratch space; the possibly grown slice is returned) and
// merges an entry equal to an earlier one of its key's list into that one,
// adding its copies (equal rows have equal match counts: the same rows of
// the other side match them). Walking the lists, not the ids, makes the
// result depend only on the lists' order, which snapshots keep.
func (rs *regRows) index(kt *keyTable, side int, allCols []int, hashes []uint64) []uint64 {
	if !rs.unindexed {
		return hashes
	}
	b := &runtime.Batch{Cols: rs.cols, N: len(rs.hash)}
	hashes = runtime.HashColumns(b, allCols, hashes)
	slotsN := minSlots
	for slotsN < 2*rs.live {
		slotsN *= 2
	}
	rs.slots = regEmptySlots(slotsN)
	for k := range kt.entries {
		if kt.entries[k].count[side] == 0 {
			continue
		}
		for id := kt.entries[k].head[side]; id != nilID; {
			next := rs.next[id]
			h := hashes[id]
			rs.hash[id] = h
			if d := rs.find(h, b, int(id)); d != nilID {
				c := rs.count[id]
				rs.remove(kt, side, id) // not placed: remove leaves the table alone
				rs.count[d] += c
				rs.copies += int(c)
			} else {
				rs.place(h, id)
			}
			id = next
		}
	}
	rs.unindexed = false
	return hashes
}

// removeKey drops every entry of key k on side.
func (rs *regRows) removeKey(kt *keyTable, side int, k int32) {
	for id := kt.entries[k].head[side]; id != nilID; {
		next := rs.next[id]
		rs.remove(kt, side, id)
		id = next
	}
}

// bytes estimates the memory the side holds.
func (rs *regRows) bytes() int {
	n := cap(rs.hash)*8 + (cap(rs.key)+cap(rs.prev)+cap(rs.next)+cap(rs.count)+cap(rs.match)+cap(rs.slots)+cap(rs.free))*4
	for c := range rs.cols {
		v := &rs.cols[c]
		n += cap(v.I64)*8 + cap(v.F64)*8 + cap(v.Null)
		n += cap(v.Str) * 16
		for _, s := range v.Str {
			n += len(s)
		}
	}
	return n
}

// regSetFrom overwrites row i of dst (which has at least i+1 rows) with row
// r of src, of the same physical type, null flag included.
func regSetFrom(dst *runtime.Vector, i int, src *runtime.Vector, r int) {
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		dst.F64[i] = src.F64[r]
	case runtime.PhysString:
		dst.Str[i] = src.Str[r]
	default:
		dst.I64[i] = src.I64[r]
	}
	switch {
	case src.IsNull(r):
		dst.SetNull(i)
	case dst.Null != nil:
		dst.Null[i] = false
	}
}

// regGather appends to dst the rows of src listed in rows, a negative entry
// appending NULL. src may be nil when every entry is negative. When dst
// needs null flags it has none of, they are made in *spare (whose memory
// is then dst's).
func regGather(dst, src *runtime.Vector, rows []int32, spare *[]bool) {
	n0 := dst.Len()
	nulls := false
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		out := slices.Grow(dst.F64, len(rows))
		for _, r := range rows {
			if r < 0 {
				out = append(out, 0)
				nulls = true
			} else {
				out = append(out, src.F64[r])
			}
		}
		dst.F64 = out
	case runtime.PhysString:
		out := slices.Grow(dst.Str, len(rows))
		for _, r := range rows {
			if r < 0 {
				out = append(out, "")
				nulls = true
			} else {
				out = append(out, src.Str[r])
			}
		}
		dst.Str = out
	default:
		out := slices.Grow(dst.I64, len(rows))
		for _, r := range rows {
			if r < 0 {
				out = append(out, 0)
				nulls = true
			} else {
				out = append(out, src.I64[r])
			}
		}
		dst.I64 = out
	}
	srcNull := src != nil && src.Null != nil
	if !nulls && !srcNull && dst.Null == nil {
		return
	}
	if dst.Null == nil {
		dst.Null = slices.Grow((*spare)[:0], n0+len(rows))[:n0]
		clear(dst.Null)
		*spare = nil
	}
	for _, r := range rows {
		dst.Null = append(dst.Null, r < 0 || srcNull && src.Null[r])
	}
}

// compact renumbers the live entries densely, in id order, when at least
// minFree ids are free and no fewer than live ones: it rebuilds the key
// lists' ends on side and the hash table, and gives back memory when the
// slices are far larger than needed. remap is scratch space; the possibly
// grown slice is returned. Ids held elsewhere are invalid afterwards.
func (rs *regRows) compact(kt *keyTable, side, minFree int, remap []int32) []int32 {
	if len(rs.free) == 0 || len(rs.free) < minFree || len(rs.free) < rs.live {
		return remap
	}
	n := len(rs.hash)
	remap = slices.Grow(remap[:0], n)[:n]
	keep := make([]int32, 0, rs.live)
	for id, k := range rs.key {
		if k == nilID {
			remap[id] = nilID
			continue
		}
		remap[id] = int32(len(keep))
		keep = append(keep, int32(id))
	}
	// New ids are never above old ones: moving down in id order
	// overwrites only entries already moved or free.
	for i, old := range keep {
		rs.hash[i] = rs.hash[old]
		rs.key[i] = rs.key[old]
		rs.prev[i] = remapID(remap, rs.prev[old])
		rs.next[i] = remapID(remap, rs.next[old])
		rs.count[i] = rs.count[old]
		rs.match[i] = rs.match[old]
	}
	live := len(keep)
	for c := range rs.cols {
		compactVector(&rs.cols[c], keep)
	}
	shrink := cap(rs.hash) > 4*max(live, 256)
	rs.hash = regTrim(rs.hash, live, shrink)
	rs.key = regTrim(rs.key, live, shrink)
	rs.prev = regTrim(rs.prev, live, shrink)
	rs.next = regTrim(rs.next, live, shrink)
	rs.count = regTrim(rs.count, live, shrink)
	rs.match = regTrim(rs.match, live, shrink)
	if shrink {
		for c := range rs.cols {
			v := &rs.cols[c]
			v.I64 = regTrim(v.I64, live, true)
			v.F64 = regTrim(v.F64, live, true)
			v.Str = regTrim(v.Str, live, true)
			if v.Null != nil {
				v.Null = regTrim(v.Null, live, true)
			}
		}
	}
	for k := range kt.entries {
		if e := &kt.entries[k]; e.count[side] > 0 {
			e.head[side] = remap[e.head[side]]
			e.tail[side] = remap[e.tail[side]]
		}
	}
	slotsN := minSlots
	for !rs.unindexed && slotsN < 2*live {
		slotsN *= 2
	}
	rs.slots = regEmptySlots(slotsN)
	if !rs.unindexed {
		for id := range live {
			rs.place(rs.hash[id], int32(id))
		}
	}
	rs.free = nil
	return remap
}

// regTrim cuts s to n elements, into a new slice of twice that capacity
// when shrink.
func regTrim[T any](s []T, n int, shrink bool) []T {
	if !shrink {
		return s[:n]
	}
	return append(make([]T, 0, 2*n), s[:n]...)
}
