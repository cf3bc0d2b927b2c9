package agg

import "github.com/sluicehq/sluice/runtime"

// intSlots is the lookup structure of a large table keyed by one integer
// column (a small one uses Table.slots, as the general path: group ids
// only, in cache anyway). Linear probing over a power-of-two array of
// slots; a slot holds the low 32 bits of the key's hash (the tag) in its
// upper half and the group id plus one in its lower half; 0 is an empty
// slot. A key's home slot is the top bits of its tag (tag >> shift), so
// that:
//
//   - a probe reads one slot, and compares the key itself only when the
//     tags are equal: a new key costs one memory read, not two;
//   - slots are ordered by tag (but for probe runs), so growing the array
//     rehashes it in one sequential pass without reading any key;
//   - the hash bits the keyed exchange routes by (bits 32 and up, see
//     runtime.KeyGroup) play no part, so one subtask's keys spread over all
//     the slots.
type intSlots struct {
	s     []uint64
	shift uint8 // 32 - log2(len(s))
	limit int   // groups before the array grows: 3/4 of its length
	touch uint64
}

const (
	// largeIntGroups is the number of groups from which a table keyed by
	// one integer column moves from Table.slots to intSlots: past it,
	// the slots leave the caches, and a lookup first reads every row's
	// home slot (and the key a matching tag points to) in a pass of
	// independent loads, so that their cache misses overlap, before it
	// resolves rows one by one.
	largeIntGroups = 1 << 16
	minIntSlots    = 16
)

// init sizes the slots for n groups.
func (s *intSlots) init(n int) {
	size := minIntSlots
	for size*3/4 < n+1 {
		size *= 2
	}
	s.alloc(size)
}

func (s *intSlots) alloc(size int) {
	s.s = make([]uint64, size)
	hugePages(s.s)
	s.shift = uint8(32 - log2(size))
	s.limit = size * 3 / 4
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// reset empties the slots, keeping their size.
func (s *intSlots) reset() { clear(s.s) }

func (s *intSlots) free() { *s = intSlots{} }

func (s *intSlots) bytes() int { return cap(s.s) * 8 }

// fill adds groups 0..n-1 to empty slots (group g has key keys.key(g)).
func (s *intSlots) fill(keys *slotChunks[int64], n int) {
	mask := uint64(len(s.s) - 1)
	for g := range int32(n) {
		tag := uint64(uint32(runtime.HashInt64(uint64(keys.key(g)))))
		i := tag >> s.shift
		for s.s[i] != 0 {
			i = (i + 1) & mask
		}
		s.s[i] = tag<<32 | uint64(g+1)
	}
}

// grow doubles the slots.
func (s *intSlots) grow() { s.resize(2 * len(s.s)) }

// reserve makes the slots hold n groups without growing.
func (s *intSlots) reserve(n int) {
	size := len(s.s)
	for size*3/4 < n {
		size *= 2
	}
	if size > len(s.s) {
		s.resize(size)
	}
}

// resize moves the slots into an array of size (a larger power of two).
// Walking the old slots in order visits tags in ascending order (but for
// the wrap-around at the end), so their new homes ascend too: both arrays
// are read and written sequentially, and no key is read.
func (s *intSlots) resize(size int) {
	old := s.s
	s.alloc(size)
	mask := uint64(len(s.s) - 1)
	shift := s.shift + 32
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := e >> shift
		for s.s[i] != 0 {
			i = (i + 1) & mask
		}
		s.s[i] = e
	}
}

// lookupInts finds or creates the groups of rows rows of the integer
// column vals (no NULLs). A small table, in cache, is probed row by row
// in Table.slots, comparing keys; a large one is looked up in intSlots
// in passes (see prefetchInts), comparing tags before keys.
func (t *Table) lookupInts(vals []int64, rows []int32, groups []int32) []int32 {
	if t.islots.s != nil {
		return t.lookupIntsLarge(vals, rows, groups)
	}
	mask := uint64(len(t.slots) - 1)
	// A small table's keys fit the first chunk (but in tests): read and
	// write it directly.
	first := t.ints.first()
	for k, r := range rows {
		x := vals[r]
		i := runtime.HashInt64(uint64(x)) & mask
		for {
			s := t.slots[i]
			if s == 0 {
				if t.n < len(first) {
					first[t.n] = x
				} else {
					t.ints.setKey(int32(t.n), x)
					first = t.ints.first()
				}
				t.n++
				t.slots[i] = int32(t.n)
				groups = append(groups, int32(t.n-1))
				if 2*t.n > len(t.slots) {
					if t.n >= t.largeInts {
						t.toLargeInts(t.n)
						return t.lookupIntsLarge(vals, rows[k+1:], groups)
					}
					t.refillSmallInts(t.n)
					mask = uint64(len(t.slots) - 1)
				}
				break
			}
			g := s - 1
			if uint(g) < uint(len(first)) && first[g] == x || uint(g) >= uint(len(first)) && t.ints.key(g) == x {
				groups = append(groups, g)
				break
			}
			i = (i + 1) & mask
		}
	}
	return groups
}

// toLargeInts moves a table keyed by one integer column to intSlots,
// sized for n groups.
func (t *Table) toLargeInts(n int) {
	t.islots.init(n)
	t.islots.fill(&t.ints, t.n)
	t.slots = nil
}

// lookupIntsLarge is lookupInts for a table larger than the caches.
func (t *Table) lookupIntsLarge(vals []int64, rows []int32, groups []int32) []int32 {
	s := &t.islots
	tags := t.scratch[:0]
	for _, r := range rows {
		tags = append(tags, uint64(uint32(runtime.HashInt64(uint64(vals[r])))))
	}
	t.scratch = tags
	t.prefetchInts(tags)
	slots, shift, mask := s.s, s.shift, uint64(len(s.s)-1)
	for k, r := range rows {
		x, tag := vals[r], tags[k]
		want := tag << 32
		for i := tag >> shift; ; i = (i + 1) & mask {
			e := slots[i]
			if e == 0 {
				t.ints.setKey(int32(t.n), x)
				t.n++
				slots[i] = want | uint64(t.n)
				groups = append(groups, int32(t.n-1))
				if t.n > s.limit {
					s.grow()
					slots, shift, mask = s.s, s.shift, uint64(len(s.s)-1)
				}
				break
			}
			if e&^0xffffffff == want {
				if g := int32(uint32(e)) - 1; t.ints.key(g) == x {
					groups = append(groups, g)
					break
				}
			}
		}
	}
	return groups
}

// prefetchInts reads the home slot of every tag, then the key of every home
// slot whose tag matches: loads that do not depend on each other, so the
// processor keeps many cache misses in flight instead of waiting for each
// row's in turn. The sum keeps the loads from being optimised away.
func (t *Table) prefetchInts(tags []uint64) {
	s := &t.islots
	slots, shift := s.s, s.shift
	var sum uint64
	for _, tag := range tags {
		sum += slots[tag>>shift]
	}
	keys, kshift, kmask := t.ints.c, t.ints.shift, t.ints.mask
	for _, tag := range tags {
		e := slots[tag>>shift]
		if e != 0 && e>>32 == tag {
			g := int32(uint32(e)) - 1
			sum += uint64(keys[g>>kshift][g&kmask])
		}
	}
	s.touch += sum
}
