package join

import (
	"math"
	"slices"

	"github.com/sluicehq/sluice/runtime"
)

// The state of an interval join subtask is plain data, so a checkpoint can
// write it out field by field:
//
//   - a keyTable (keys.go) maps each buffered key to an entry holding, per
//     side, a doubly linked list (in arrival order) of the rows buffered
//     for it;
//   - a rowStore per side holds the buffered rows column by column, plus
//     their times, keys, list links and an expiry queue.
//
// Row and key ids are int32 indexes into those slices. A freed row stays in
// its store, unlinked, until the store is compacted; a freed key id is
// reused.

const (
	// minCompactRows is the number of dead rows below which a row store is
	// not compacted.
	minCompactRows = 1024
	nilID          = -1
)

// rowStore holds the buffered rows of one side.
type rowStore struct {
	cols []runtime.Vector // the side's columns; row = row id
	ts   []int64          // event time
	key  []int32          // key id, or nilID once the row is freed
	prev []int32          // previous row of the same key, or nilID
	next []int32          // next row of the same key, or nilID
	live int              // rows not freed
	exp  expiryQueue      // live rows by the watermark that frees them
	// Scratch for compaction.
	keep []int32
}

func newRowStore(s *runtime.Schema) rowStore {
	st := rowStore{cols: make([]runtime.Vector, s.Len())}
	for i, f := range s.Fields {
		st.cols[i].Type = f.Type
	}
	return st
}

// link appends a row with time t to the list of key k on side and returns
// its id. The caller appends the row's columns with appendColumns.
func (st *rowStore) link(kt *keyTable, side int, k int32, t, expireAt int64) int32 {
	id := int32(len(st.ts))
	e := &kt.entries[k]
	tail := e.tail[side]
	st.ts = append(st.ts, t)
	st.key = append(st.key, k)
	st.prev = append(st.prev, tail)
	st.next = append(st.next, nilID)
	if tail != nilID {
		st.next[tail] = id
	} else {
		e.head[side] = id
	}
	e.tail[side] = id
	e.count[side]++
	st.live++
	st.exp.push(expiry{at: expireAt, row: id})
	return id
}

// appendColumns appends the columns of the physical rows of b just linked.
func (st *rowStore) appendColumns(b *runtime.Batch, rows []int32) {
	for c := range st.cols {
		appendGather(&st.cols[c], &b.Cols[c], rows)
	}
}

// expire frees every row whose expiry is at or before wm.
func (st *rowStore) expire(kt *keyTable, side int, wm int64) {
	q := &st.exp
	for q.head < len(q.fifo) && q.fifo[q.head].at <= wm {
		st.free(kt, side, q.fifo[q.head].row)
		q.head++
	}
	if q.head == len(q.fifo) {
		q.fifo, q.head = q.fifo[:0], 0
	}
	for len(q.heap) > 0 && q.heap[0].at <= wm {
		st.free(kt, side, q.heap.pop().row)
	}
}

// free unlinks row id from its key, dropping the key once it has no rows on
// either side.
func (st *rowStore) free(kt *keyTable, side int, id int32) {
	k := st.key[id]
	e := &kt.entries[k]
	p, n := st.prev[id], st.next[id]
	if p != nilID {
		st.next[p] = n
	} else {
		e.head[side] = n
	}
	if n != nilID {
		st.prev[n] = p
	} else {
		e.tail[side] = p
	}
	e.count[side]--
	st.key[id] = nilID
	st.live--
	if e.count[0] == 0 && e.count[1] == 0 {
		kt.remove(k)
	}
}

// dead is the number of freed rows still taking space.
func (st *rowStore) dead() int { return len(st.ts) - st.live }

// maybeCompact drops freed rows when they are many: once the dead rows are
// at least as many as the live ones, and at least minDead, it moves the
// live rows down in place (keeping their order), so a store holds at most
// max(2×live, live+minDead) rows after a watermark. Memory is kept for
// reuse unless it is far larger than needed. remap is scratch space; the
// possibly grown slice is returned.
func (st *rowStore) maybeCompact(kt *keyTable, side, minDead int, remap []int32) []int32 {
	dead := st.dead()
	if dead == 0 || (st.live > 0 && (dead < minDead || dead < st.live)) {
		return remap
	}
	n := len(st.ts)
	remap = slices.Grow(remap[:0], n)[:n]
	keep := st.keep[:0]
	for id, k := range st.key {
		if k == nilID {
			remap[id] = nilID
			continue
		}
		remap[id] = int32(len(keep))
		keep = append(keep, int32(id))
	}
	st.keep = keep
	// New ids are never above old ones, so moving rows down in id order
	// overwrites only rows already moved or dead.
	for i, old := range keep {
		st.ts[i] = st.ts[old]
		st.key[i] = st.key[old]
		st.prev[i] = remapID(remap, st.prev[old])
		st.next[i] = remapID(remap, st.next[old])
	}
	live := len(keep)
	st.ts, st.key, st.prev, st.next = st.ts[:live], st.key[:live], st.prev[:live], st.next[:live]
	for c := range st.cols {
		compactVector(&st.cols[c], keep)
	}
	// Every key with rows on this side has its first and last row live.
	if live > 0 {
		for id := range kt.entries {
			e := &kt.entries[id]
			if e.count[side] > 0 {
				e.head[side] = remap[e.head[side]]
				e.tail[side] = remap[e.tail[side]]
			}
		}
	}
	st.exp.remap(remap)
	if c := cap(st.ts); c > 4*max(live, minDead) {
		st.shrink()
	}
	return remap
}

// shrink reallocates the store's slices to twice their length, after a
// burst of rows has left them mostly unused.
func (st *rowStore) shrink() {
	n := len(st.ts)
	st.ts = append(make([]int64, 0, 2*n), st.ts...)
	st.key = append(make([]int32, 0, 2*n), st.key...)
	st.prev = append(make([]int32, 0, 2*n), st.prev...)
	st.next = append(make([]int32, 0, 2*n), st.next...)
	for c := range st.cols {
		v := &st.cols[c]
		v.I64 = append(make([]int64, 0, 2*len(v.I64)), v.I64...)
		v.F64 = append(make([]float64, 0, 2*len(v.F64)), v.F64...)
		v.Str = append(make([]string, 0, 2*len(v.Str)), v.Str...)
		if v.Null != nil {
			v.Null = append(make([]bool, 0, 2*len(v.Null)), v.Null...)
		}
	}
	st.exp.fifo = append(make([]expiry, 0, 2*len(st.exp.fifo)), st.exp.fifo...)
	st.exp.heap = append(make(expiryHeap, 0, 2*len(st.exp.heap)), st.exp.heap...)
	st.keep = nil
}

// compactVector keeps the rows keep (ascending) of v, in place.
func compactVector(v *runtime.Vector, keep []int32) {
	n := len(keep)
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		for i, old := range keep {
			v.F64[i] = v.F64[old]
		}
		v.F64 = v.F64[:n]
	case runtime.PhysString:
		for i, old := range keep {
			v.Str[i] = v.Str[old]
		}
		clear(v.Str[n:]) // let the strings go
		v.Str = v.Str[:n]
	default:
		for i, old := range keep {
			v.I64[i] = v.I64[old]
		}
		v.I64 = v.I64[:n]
	}
	if v.Null != nil {
		nulls := false
		for i, old := range keep {
			v.Null[i] = v.Null[old]
			nulls = nulls || v.Null[i]
		}
		v.Null = v.Null[:n]
		if !nulls {
			v.Null = nil
		}
	}
}

func remapID(remap []int32, id int32) int32 {
	if id == nilID {
		return nilID
	}
	return remap[id]
}

// remapKeys rewrites the key ids of the live rows after a key table
// compaction.
func (st *rowStore) remapKeys(remap []int32) {
	for i, k := range st.key {
		if k != nilID {
			st.key[i] = remap[k]
		}
	}
}

// expiry says that row becomes dead once the watermark reaches at.
type expiry struct {
	at  int64
	row int32
}

// expiryQueue orders rows by expiry. Rows mostly arrive in time order, so
// an expiry not below the last one queued goes to the end of a FIFO that
// stays sorted (O(1)); only rows that arrive out of order go to a heap.
type expiryQueue struct {
	fifo []expiry // sorted by at; fifo[:head] is consumed
	head int
	heap expiryHeap
}

func (q *expiryQueue) push(e expiry) {
	if n := len(q.fifo); n == q.head || q.fifo[n-1].at <= e.at {
		q.fifo = append(q.fifo, e)
		return
	}
	q.heap.push(e)
}

// len is the number of rows queued.
func (q *expiryQueue) len() int { return len(q.fifo) - q.head + len(q.heap) }

// remap renumbers the queued rows after a compaction, dropping the consumed
// part of the FIFO.
func (q *expiryQueue) remap(remap []int32) {
	n := copy(q.fifo, q.fifo[q.head:])
	q.fifo, q.head = q.fifo[:n], 0
	for i := range q.fifo {
		q.fifo[i].row = remap[q.fifo[i].row]
	}
	for i := range q.heap {
		q.heap[i].row = remap[q.heap[i].row]
	}
}

// expiryHeap is a binary min-heap on at (container/heap would box every
// element).
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	s := append(*h, e)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= e.at {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
	*h = s
}

func (h *expiryHeap) pop() expiry {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && s[c+1].at < s[c].at {
			c++
		}
		if last.at <= s[c].at {
			break
		}
		s[i] = s[c]
		i = c
	}
	if n > 0 {
		s[i] = last
	}
	*h = s
	return top
}

// appendGather appends rows of src to dst, which have the same physical
// type, null flags included.
func appendGather(dst, src *runtime.Vector, rows []int32) {
	n0 := dst.Len()
	switch dst.Type.Physical() {
	case runtime.PhysFloat:
		out := slices.Grow(dst.F64, len(rows))
		for _, r := range rows {
			out = append(out, src.F64[r])
		}
		dst.F64 = out
	case runtime.PhysString:
		out := slices.Grow(dst.Str, len(rows))
		for _, r := range rows {
			out = append(out, src.Str[r])
		}
		dst.Str = out
	default:
		out := slices.Grow(dst.I64, len(rows))
		for _, r := range rows {
			out = append(out, src.I64[r])
		}
		dst.I64 = out
	}
	if src.Null == nil {
		if dst.Null != nil {
			for range rows {
				dst.Null = append(dst.Null, false)
			}
		}
		return
	}
	if dst.Null == nil {
		if !slices.ContainsFunc(rows, func(r int32) bool { return src.Null[r] }) {
			return
		}
		dst.Null = make([]bool, n0, n0+len(rows))
	}
	for _, r := range rows {
		dst.Null = append(dst.Null, src.Null[r])
	}
}

// satAdd returns a+b, saturated to the int64 range.
func satAdd(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

// within reports whether lower <= rt-lt <= upper, without overflow.
func within(lt, rt, lower, upper int64) bool {
	d := rt - lt
	if (rt^lt)&(rt^d) < 0 { // rt-lt overflowed: |rt-lt| > any bound
		return false
	}
	return d >= lower && d <= upper
}
