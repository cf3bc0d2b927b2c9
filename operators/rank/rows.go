package rank

import (
	"cmp"

	"github.com/sluicehq/sluice/runtime"
)

// rowStore holds the rows an operator keeps, column by column: slot i of
// every column is one row, with its arrival number in seq (the tie-break
// of equal sort keys). Freed slots are reused, so a partition's rows are
// int32 ids into the store rather than copies.
type rowStore struct {
	cols []runtime.Vector
	seq  []int64
	free []int32
	live int
}

func newRowStore(s *runtime.Schema) *rowStore {
	st := &rowStore{cols: make([]runtime.Vector, s.Len())}
	for i, f := range s.Fields {
		st.cols[i].Type = f.Type
	}
	return st
}

// add copies physical row r of b (same column layout) into the store and
// returns its id.
func (st *rowStore) add(b *runtime.Batch, r int, seq int64) int32 {
	st.live++
	if n := len(st.free); n > 0 {
		id := st.free[n-1]
		st.free = st.free[:n-1]
		for c := range st.cols {
			setFrom(&st.cols[c], int(id), &b.Cols[c], r)
		}
		st.seq[id] = seq
		return id
	}
	for c := range st.cols {
		st.cols[c].AppendFrom(&b.Cols[c], r)
	}
	st.seq = append(st.seq, seq)
	return int32(len(st.seq) - 1)
}

// release frees slot id for reuse (its strings are let go at once).
func (st *rowStore) release(id int32) {
	st.live--
	for c := range st.cols {
		if v := &st.cols[c]; v.Type.Physical() == runtime.PhysString {
			v.Str[id] = ""
		}
	}
	st.free = append(st.free, id)
}

// reset empties the store, keeping its memory.
func (st *rowStore) reset() {
	for c := range st.cols {
		st.cols[c].Reset()
	}
	st.seq, st.free, st.live = st.seq[:0], st.free[:0], 0
}

// size is the number of slots, live or free.
func (st *rowStore) size() int { return len(st.seq) }

// bytes estimates the store's memory.
func (st *rowStore) bytes() int {
	n := cap(st.seq)*8 + cap(st.free)*4
	for c := range st.cols {
		v := &st.cols[c]
		n += cap(v.I64)*8 + cap(v.F64)*8 + cap(v.Str)*16 + cap(v.Null)
		for _, s := range v.Str {
			n += len(s)
		}
	}
	return n
}

// emit appends row id to the columns out.Cols[:len(st.cols)].
func (st *rowStore) emit(id int32, out *runtime.Batch) {
	for c := range st.cols {
		out.Cols[c].AppendFrom(&st.cols[c], int(id))
	}
}

// equal reports whether rows a and b hold the same values in every column
// (NULL equals NULL, NaN equals NaN: the rows are the same row).
func (st *rowStore) equal(a, b int32) bool {
	for c := range st.cols {
		v := &st.cols[c]
		na, nb := v.IsNull(int(a)), v.IsNull(int(b))
		if na || nb {
			if na != nb {
				return false
			}
			continue
		}
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			if x, y := v.F64[a], v.F64[b]; x != y && (x == x || y == y) {
				return false
			}
		case runtime.PhysString:
			if v.Str[a] != v.Str[b] {
				return false
			}
		default:
			if v.I64[a] != v.I64[b] {
				return false
			}
		}
	}
	return true
}

// setFrom overwrites row i of dst with row r of src (same physical type).
func setFrom(dst *runtime.Vector, i int, src *runtime.Vector, r int) {
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		dst.F64[i] = src.F64[r]
	case runtime.PhysString:
		dst.Str[i] = src.Str[r]
	default:
		dst.I64[i] = src.I64[r]
	}
	if src.IsNull(r) {
		dst.SetNull(i)
	} else if dst.Null != nil {
		dst.Null[i] = false
	}
}

// growTo extends v to n rows of zero (non-NULL) values, at least doubling
// its capacity when it must grow, so that adding keys one batch at a time
// copies each value O(1) times.
func growTo(v *runtime.Vector, n int) {
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		v.F64 = extend(v.F64, n)
	case runtime.PhysString:
		v.Str = extend(v.Str, n)
	default:
		v.I64 = extend(v.I64, n)
	}
	if v.Null != nil {
		v.Null = extend(v.Null, n)
	}
}

func extend[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n > cap(s) {
		ns := make([]T, len(s), max(n, 2*cap(s)))
		copy(ns, s)
		s = ns
	}
	old := len(s)
	s = s[:n]
	clear(s[old:])
	return s
}

// keepRows keeps the rows r of v with live[r], in place.
func keepRows(v *runtime.Vector, live []bool) {
	n := 0
	for r, ok := range live {
		if !ok {
			continue
		}
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.F64[n] = v.F64[r]
		case runtime.PhysString:
			v.Str[n] = v.Str[r]
		default:
			v.I64[n] = v.I64[r]
		}
		if v.Null != nil {
			v.Null[n] = v.Null[r]
		}
		n++
	}
	v.Truncate(n)
}

// compareValues orders row a of v against row b of w (same physical type)
// by one sort key: NULLs first or last whatever the direction, NaN below
// every other DOUBLE.
func compareValues(v *runtime.Vector, a int, w *runtime.Vector, b int, k SortKey) int {
	na, nb := v.IsNull(a), w.IsNull(b)
	if na || nb {
		switch {
		case na && nb:
			return 0
		case na == k.NullsFirst:
			return -1
		default:
			return 1
		}
	}
	var c int
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		c = cmp.Compare(v.F64[a], w.F64[b])
	case runtime.PhysString:
		c = cmp.Compare(v.Str[a], w.Str[b])
	default:
		c = cmp.Compare(v.I64[a], w.I64[b])
	}
	if k.Desc {
		return -c
	}
	return c
}

// sorter orders the rows of a store by sort keys, then by arrival.
type sorter struct {
	st   *rowStore
	keys []SortKey
	// lastFirst ranks the later of two rows with equal sort keys first
	// (keep-last deduplication); otherwise the earlier is first.
	lastFirst bool
}

// compareKeys orders rows a and b by the sort keys only.
func (s *sorter) compareKeys(a, b int32) int {
	for _, k := range s.keys {
		v := &s.st.cols[k.Col]
		if c := compareValues(v, int(a), v, int(b), k); c != 0 {
			return c
		}
	}
	return 0
}

// before reports whether physical row r of b, arriving now, ranks before
// stored row id.
func (s *sorter) before(b *runtime.Batch, r int, id int32) bool {
	for _, k := range s.keys {
		if c := compareValues(&b.Cols[k.Col], r, &s.st.cols[k.Col], int(id), k); c != 0 {
			return c < 0
		}
	}
	return s.lastFirst
}

// insertPos is where row id goes in the sorted list: after (before, with
// lastFirst) every row with equal sort keys, as it is the latest arrival.
func (s *sorter) insertPos(list []int32, id int32) int {
	lo, hi := 0, len(list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := s.compareKeys(list[m], id)
		if c < 0 || c == 0 && !s.lastFirst {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// find returns the position in list of the earliest-arrived row equal to
// row id in every column, or -1.
func (s *sorter) find(list []int32, id int32) int {
	lo, hi := 0, len(list)
	for lo < hi { // the first row whose sort keys are not below id's
		m := int(uint(lo+hi) >> 1)
		if s.compareKeys(list[m], id) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	best := -1
	for i := lo; i < len(list) && s.compareKeys(list[i], id) == 0; i++ {
		if s.st.equal(list[i], id) && (best < 0 || s.st.seq[list[i]] < s.st.seq[list[best]]) {
			best = i
			if !s.lastFirst {
				break // equal keys are in arrival order: the first is the earliest
			}
		}
	}
	return best
}
