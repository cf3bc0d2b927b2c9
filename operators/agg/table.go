package agg

import (
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Table maps grouping keys to dense group ids 0..Len()-1. Keys are stored
// column by column; lookup is by open addressing over a power-of-two slot
// array. A single integer key without NULLs (the common case) takes a
// specialised path (intslots.go) whose slots hold part of the key's hash
// next to its group id, so that a probe reads one slot and no key, and
// that looks a whole batch up in passes to overlap its memory reads.
type Table struct {
	keyCols []int // key columns in the input batches
	keys    []runtime.Vector
	names   []string          // key column names, for errors
	ints    slotChunks[int64] // single integer key fast path: the keys, one slot per group
	islots  intSlots          // single integer key fast path, large tables: the slots
	slots   []int32           // group+1; 0 = empty (all but large integer-keyed tables)
	hashes  []uint64
	n       int
	single  bool // single integer-class key column, no NULL seen
	// largeInts is the number of groups from which a single integer key
	// moves to islots (largeIntGroups; tests lower it).
	largeInts int
	scratch   []uint64
}

// NewTable returns a table for the given key columns of schema in.
func NewTable(in *runtime.Schema, keyCols []int) *Table {
	t := &Table{keyCols: keyCols, keys: make([]runtime.Vector, len(keyCols))}
	for i, c := range keyCols {
		t.keys[i].Type = in.Fields[c].Type
		t.names = append(t.names, in.Fields[c].Name)
	}
	t.single = len(keyCols) == 1 && in.Fields[keyCols[0]].Type.Physical() == runtime.PhysInt
	t.ints = newSlotChunks[int64](1)
	t.slots = make([]int32, 16)
	t.largeInts = largeIntGroups
	return t
}

// Len is the number of groups.
func (t *Table) Len() int { return t.n }

// Bytes estimates the table's memory.
func (t *Table) Bytes() int {
	n := cap(t.slots)*4 + t.islots.bytes() + t.ints.bytes() + cap(t.hashes)*8
	for i := range t.keys {
		k := &t.keys[i]
		n += cap(k.I64)*8 + cap(k.F64)*8 + cap(k.Str)*16 + cap(k.Null)
		for _, s := range k.Str {
			n += len(s)
		}
	}
	return n
}

// Reserve makes room for n groups in all, so that looking up that many
// keys does not grow the table step by step (each step copies what it
// holds into new memory): for a window whose predecessor had n groups.
func (t *Table) Reserve(n int) {
	if n <= t.n || len(t.keyCols) == 0 {
		return
	}
	if t.single {
		t.ints.ensure(n, true)
		switch {
		case t.islots.s != nil:
			t.islots.reserve(n)
			return
		case n >= t.largeInts:
			t.toLargeInts(n)
		case len(t.slots) < 2*(n+1):
			t.refillSmallInts(n)
		}
		return
	}
	t.hashes = slices.Grow(t.hashes, n-len(t.hashes))
	if len(t.slots) < 2*(n+1) {
		t.rebuildGeneral(n)
	}
}

// Key appends the key of group g to out columns out.Cols[first:].
func (t *Table) Key(g int32, out *runtime.Batch, first int) {
	if t.single {
		out.Cols[first].AppendInt(t.ints.key(g))
		return
	}
	for i := range t.keys {
		out.Cols[first+i].AppendFrom(&t.keys[i], int(g))
	}
}

// Lookup finds or creates the groups of physical rows rows of b and writes
// them to groups (len(rows) entries). It returns groups.
func (t *Table) Lookup(b *runtime.Batch, rows []int32, groups []int32) []int32 {
	groups = groups[:0]
	if len(t.keyCols) == 0 { // one global group
		if t.n == 0 {
			t.n = 1
		}
		for range rows {
			groups = append(groups, 0)
		}
		return groups
	}
	if t.single {
		v := &b.Cols[t.keyCols[0]]
		if v.Null == nil {
			return t.lookupInts(v.I64, rows, groups)
		}
		// A NULL key: move to the general path for good.
		t.toGeneral()
	}
	return t.lookupGeneral(b, rows, groups)
}

// toGeneral converts the integer fast path into the general layout.
func (t *Table) toGeneral() {
	t.keys[0].I64 = t.ints.appendKeys(t.keys[0].I64[:0], 0, int32(t.n))
	t.hashes = make([]uint64, t.n, t.n+1)
	for g, x := range t.keys[0].I64 {
		t.hashes[g] = runtime.HashInt64(uint64(x))
	}
	t.ints = newSlotChunks[int64](1)
	t.islots.free()
	t.single = false
	t.rebuildGeneral(t.n)
}

// rebuildGeneral sizes the general path's slots for n groups (at least
// t.n) and fills them from t.hashes.
func (t *Table) rebuildGeneral(n int) {
	size := 16
	for size < 2*(max(n, t.n)+1) {
		size *= 2
	}
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]int32, size)
	}
	mask := uint64(size - 1)
	for g, h := range t.hashes[:t.n] {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g + 1)
	}
}

// refillSmallInts sizes Table.slots of a small table keyed by one integer
// column for n groups (at least t.n) and fills them from t.ints, at the
// positions the general path would use.
func (t *Table) refillSmallInts(n int) {
	size := 16
	for size < 2*(max(n, t.n)+1) {
		size *= 2
	}
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]int32, size)
	}
	mask := uint64(size - 1)
	for g := range int32(t.n) {
		i := runtime.HashInt64(uint64(t.ints.key(g))) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g + 1)
	}
}

func (t *Table) lookupGeneral(b *runtime.Batch, rows []int32, groups []int32) []int32 {
	// Hash the rows: HashColumns works on present rows, so build a view.
	view := runtime.Batch{Schema: b.Schema, Cols: b.Cols, N: b.N, Sel: rows}
	t.scratch = runtime.HashColumns(&view, t.keyCols, t.scratch)
	if len(t.keyCols) == 1 && b.Cols[t.keyCols[0]].Type.Physical() == runtime.PhysInt {
		// Keep the single-int hash identical to the fast path's.
		v := &b.Cols[t.keyCols[0]]
		for k, r := range rows {
			if v.Null == nil || !v.Null[r] {
				t.scratch[k] = runtime.HashInt64(uint64(v.I64[r]))
			}
		}
	}
	mask := uint64(len(t.slots) - 1)
	for k, r := range rows {
		h := t.scratch[k]
		i := h & mask
		for {
			s := t.slots[i]
			if s == 0 {
				for c, col := range t.keyCols {
					t.keys[c].AppendFrom(&b.Cols[col], int(r))
				}
				t.hashes = append(t.hashes, h)
				t.n++
				t.slots[i] = int32(t.n)
				groups = append(groups, int32(t.n-1))
				if 2*t.n > len(t.slots) {
					t.growGeneral()
					mask = uint64(len(t.slots) - 1)
				}
				break
			}
			if t.hashes[s-1] == h && t.equal(s-1, b, int(r)) {
				groups = append(groups, s-1)
				break
			}
			i = (i + 1) & mask
		}
	}
	return groups
}

func (t *Table) growGeneral() {
	t.slots = make([]int32, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for g, h := range t.hashes {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g + 1)
	}
}

func (t *Table) equal(g int32, b *runtime.Batch, r int) bool {
	for c, col := range t.keyCols {
		k, v := &t.keys[c], &b.Cols[col]
		kn, vn := k.IsNull(int(g)), v.IsNull(r)
		if kn || vn {
			if kn != vn {
				return false
			}
			continue
		}
		switch k.Type.Physical() {
		case runtime.PhysFloat:
			if x, y := k.F64[g], v.F64[r]; x != y && (x == x || y == y) {
				return false // NaN keys are one group, as in SQL GROUP BY
			}
		case runtime.PhysString:
			if k.Str[g] != v.Str[r] {
				return false
			}
		default:
			if k.I64[g] != v.I64[r] {
				return false
			}
		}
	}
	return true
}

// Reset empties the table, keeping memory.
func (t *Table) Reset() {
	clear(t.slots)
	t.hashes = t.hashes[:0]
	for i := range t.keys {
		t.keys[i].Reset()
	}
	t.n = 0
	if len(t.keyCols) == 1 && t.keys[0].Type.Physical() == runtime.PhysInt {
		// Back to the fast path, keeping the slots' size: the next
		// window of an operator has about as many groups.
		t.single = true
		t.islots.reset()
	}
}

// KeyString prints the key of group g for errors: name=value, comma
// separated (the names of the key columns in schema in).
func (t *Table) KeyString(g int32) string {
	if len(t.keyCols) == 0 {
		return "(global)"
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := range t.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if t.names != nil {
			b.WriteString(t.names[i])
			b.WriteByte('=')
		}
		var v runtime.Value
		if t.single {
			v = runtime.Value{Type: t.keys[0].Type, I: t.ints.key(g)}
		} else {
			v = t.keys[i].Value(int(g))
		}
		s := v.String()
		if len(s) > 64 {
			s = s[:64] + "…"
		}
		b.WriteString(s)
	}
	b.WriteByte(')')
	return b.String()
}
