package agg

import (
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Table maps grouping keys to dense group ids 0..Len()-1. Keys are stored
// column by column; lookup is by open addressing over a power-of-two slot
// array of group ids. A single non-null integer key (the common case) takes
// a specialised path that neither hashes into a side slice nor compares
// vectors.
type Table struct {
	keyCols []int // key columns in the input batches
	keys    []runtime.Vector
	names   []string // key column names, for errors
	ints    []int64  // single integer key fast path: the keys
	slots   []int32  // group+1; 0 = empty
	hashes  []uint64
	n       int
	single  bool // single integer-class key column
	scratch []uint64
}

// NewTable returns a table for the given key columns of schema in.
func NewTable(in *runtime.Schema, keyCols []int) *Table {
	t := &Table{keyCols: keyCols, keys: make([]runtime.Vector, len(keyCols))}
	for i, c := range keyCols {
		t.keys[i].Type = in.Fields[c].Type
		t.names = append(t.names, in.Fields[c].Name)
	}
	t.single = len(keyCols) == 1 && in.Fields[keyCols[0]].Type.Physical() == runtime.PhysInt
	t.slots = make([]int32, 16)
	return t
}

// Len is the number of groups.
func (t *Table) Len() int { return t.n }

// Bytes estimates the table's memory.
func (t *Table) Bytes() int {
	n := cap(t.slots)*4 + cap(t.ints)*8 + cap(t.hashes)*8
	for i := range t.keys {
		k := &t.keys[i]
		n += cap(k.I64)*8 + cap(k.F64)*8 + cap(k.Str)*16 + cap(k.Null)
		for _, s := range k.Str {
			n += len(s)
		}
	}
	return n
}

// Key appends the key of group g to out columns out.Cols[first:].
func (t *Table) Key(g int32, out *runtime.Batch, first int) {
	if t.single {
		out.Cols[first].AppendInt(t.ints[g])
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
	if t.single && len(t.hashes) == 0 {
		v := &b.Cols[t.keyCols[0]]
		if v.Null == nil {
			return t.lookupInts(v.I64, rows, groups)
		}
		// A NULL key: move to the general path for good.
		t.toGeneral()
	}
	return t.lookupGeneral(b, rows, groups)
}

func (t *Table) lookupInts(vals []int64, rows []int32, groups []int32) []int32 {
	mask := uint64(len(t.slots) - 1)
	for _, r := range rows {
		x := vals[r]
		i := runtime.HashInt64(uint64(x)) & mask
		for {
			s := t.slots[i]
			if s == 0 {
				t.ints = append(t.ints, x)
				t.n++
				t.slots[i] = int32(t.n)
				groups = append(groups, int32(t.n-1))
				if 2*t.n > len(t.slots) {
					t.growInts()
					mask = uint64(len(t.slots) - 1)
				}
				break
			}
			if t.ints[s-1] == x {
				groups = append(groups, s-1)
				break
			}
			i = (i + 1) & mask
		}
	}
	return groups
}

func (t *Table) growInts() {
	t.slots = make([]int32, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for g, x := range t.ints {
		i := runtime.HashInt64(uint64(x)) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(g + 1)
	}
}

// toGeneral converts the integer fast path into the general layout.
func (t *Table) toGeneral() {
	t.keys[0].I64 = append(t.keys[0].I64[:0], t.ints...)
	t.hashes = make([]uint64, len(t.ints), cap(t.ints)+1)
	for g, x := range t.ints {
		t.hashes[g] = runtime.HashInt64(uint64(x))
	}
	t.ints = nil
	t.single = false
	// Slot positions are unchanged: the general path uses the same hash for
	// a single integer column.
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
	t.ints = t.ints[:0]
	t.hashes = t.hashes[:0]
	for i := range t.keys {
		t.keys[i].Reset()
	}
	t.n = 0
	t.single = t.single || (len(t.keyCols) == 1 && t.keys[0].Type.Physical() == runtime.PhysInt)
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
			v = runtime.Value{Type: t.keys[0].Type, I: t.ints[g]}
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
