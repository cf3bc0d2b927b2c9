package join

import (
	"slices"

	"github.com/sluicehq/sluice/runtime"
)

// minCompactKeys is the number of free key entries below which the key
// table is not compacted.
const minCompactKeys = 1024

// keyTable holds the buffered keys. An open-addressing hash table (linear
// probing, at most half full) maps a key's hash to its id; keys whose
// hashes collide are told apart by comparing their values.
type keyTable struct {
	slots   []slot           // power-of-two length
	entries []keyEntry       // by key id
	vals    []runtime.Vector // key values, one vector per key column, row = key id
	free    []int32          // ids of removed entries, for reuse
	live    int              // keys with at least one buffered row
}

// slot is one cell of the hash table; id is nilID when the cell is empty.
type slot struct {
	hash uint64
	id   int32
}

// keyEntry is one buffered key. A key exists only while it has rows.
type keyEntry struct {
	hash  uint64
	head  [2]int32 // first buffered row per side, or nilID
	tail  [2]int32 // last buffered row per side, or nilID
	count [2]int32 // buffered rows per side
}

const minSlots = 16

func newKeyTable(types []runtime.Type) keyTable {
	kt := keyTable{slots: emptySlots(minSlots), vals: make([]runtime.Vector, len(types))}
	for i, t := range types {
		kt.vals[i].Type = t
	}
	return kt
}

func emptySlots(n int) []slot {
	s := make([]slot, n)
	for i := range s {
		s[i].id = nilID
	}
	return s
}

// find returns the id of the key of physical row r of b (key columns cols,
// hash h), or nilID.
func (kt *keyTable) find(h uint64, b *runtime.Batch, cols []int, r int) int32 {
	mask := uint64(len(kt.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := kt.slots[i]
		if s.id == nilID {
			return nilID
		}
		if s.hash == h && kt.equal(s.id, b, cols, r) {
			return s.id
		}
	}
}

func (kt *keyTable) equal(id int32, b *runtime.Batch, cols []int, r int) bool {
	for c, col := range cols {
		v, kv := &b.Cols[col], &kt.vals[c]
		switch kv.Type.Physical() {
		case runtime.PhysFloat:
			if v.F64[r] != kv.F64[id] {
				return false
			}
		case runtime.PhysString:
			if v.Str[r] != kv.Str[id] {
				return false
			}
		default:
			if v.I64[r] != kv.I64[id] {
				return false
			}
		}
	}
	return true
}

// insert adds the key of physical row r of b, which must not be present,
// and returns its id.
func (kt *keyTable) insert(h uint64, b *runtime.Batch, cols []int, r int) int32 {
	var id int32
	if n := len(kt.free); n > 0 {
		id = kt.free[n-1]
		kt.free = kt.free[:n-1]
		for c, col := range cols {
			v, kv := &b.Cols[col], &kt.vals[c]
			switch kv.Type.Physical() {
			case runtime.PhysFloat:
				kv.F64[id] = v.F64[r]
			case runtime.PhysString:
				kv.Str[id] = v.Str[r]
			default:
				kv.I64[id] = v.I64[r]
			}
		}
	} else {
		id = int32(len(kt.entries))
		kt.entries = append(kt.entries, keyEntry{})
		for c, col := range cols {
			kt.vals[c].AppendFrom(&b.Cols[col], r)
		}
	}
	kt.entries[id] = keyEntry{hash: h, head: [2]int32{nilID, nilID}, tail: [2]int32{nilID, nilID}}
	if 2*(kt.live+1) > len(kt.slots) {
		kt.rehash(2 * len(kt.slots))
	}
	kt.place(h, id)
	kt.live++
	return id
}

// place puts id in the first empty slot from h's home.
func (kt *keyTable) place(h uint64, id int32) {
	mask := uint64(len(kt.slots) - 1)
	i := h & mask
	for kt.slots[i].id != nilID {
		i = (i + 1) & mask
	}
	kt.slots[i] = slot{hash: h, id: id}
}

// rehash rebuilds the hash table with n slots.
func (kt *keyTable) rehash(n int) {
	old := kt.slots
	kt.slots = emptySlots(n)
	for _, s := range old {
		if s.id != nilID {
			kt.place(s.hash, s.id)
		}
	}
}

// remove drops key id, which must have no rows left.
func (kt *keyTable) remove(id int32) {
	h := kt.entries[id].hash
	mask := uint64(len(kt.slots) - 1)
	i := h & mask
	for kt.slots[i].id != id {
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move up every later slot of the run whose
	// home is not in (i, j], so no probe sequence crosses an empty slot.
	for j := (i + 1) & mask; kt.slots[j].id != nilID; j = (j + 1) & mask {
		home := kt.slots[j].hash & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			kt.slots[i] = kt.slots[j]
			i = j
		}
	}
	kt.slots[i] = slot{id: nilID}
	for c := range kt.vals {
		if kv := &kt.vals[c]; kv.Type.Physical() == runtime.PhysString {
			kv.Str[id] = "" // let the string go
		}
	}
	kt.free = append(kt.free, id)
	kt.live--
}

// needsCompaction reports whether enough entries are free to make
// compacting worthwhile.
func (kt *keyTable) needsCompaction(minFree int) bool {
	return len(kt.free) >= minFree && len(kt.free) >= kt.live
}

// compact renumbers the live keys densely into fresh slices and a hash
// table sized for them, and returns the old → new id mapping (nilID for
// removed ids) in remap, which it may reuse.
func (kt *keyTable) compact(remap []int32) []int32 {
	remap = slices.Grow(remap[:0], len(kt.entries))[:len(kt.entries)]
	clear(remap)
	for _, id := range kt.free {
		remap[id] = nilID
	}
	live := make([]int32, 0, kt.live)
	for id := range kt.entries {
		if remap[id] != nilID {
			remap[id] = int32(len(live))
			live = append(live, int32(id))
		}
	}
	entries := make([]keyEntry, len(live))
	n := minSlots
	for n < 2*len(live) {
		n *= 2
	}
	kt.slots = emptySlots(n)
	for i, old := range live {
		entries[i] = kt.entries[old]
		kt.place(entries[i].hash, int32(i))
	}
	vals := make([]runtime.Vector, len(kt.vals))
	for c := range vals {
		vals[c].Type = kt.vals[c].Type
		appendGather(&vals[c], &kt.vals[c], live)
	}
	kt.entries, kt.vals, kt.free = entries, vals, nil
	return remap
}
