package agg

// chunkBytes is the size of a full chunk of slots: large enough that a
// chunk spans whole 2 MB huge pages (see hugePages), small enough that the
// unused room of a table's last chunk stays a few MB.
const chunkBytes = 4 << 20

// slotChunks holds w int64 (or float64) slots per group — the
// accumulators of groups, or (w = 1) the keys of a table keyed by one
// integer column — in chunks of 1<<shift groups: chunk g>>shift holds
// group g. A table of a few chunks grows its last chunk as append would;
// past that, every chunk is allocated at its full size, once (see ensure).
// Growing a table therefore never copies what it holds beyond one chunk
// (a flat array copies all of it at every step, into memory the process
// has never touched), and a table reset for a later window keeps its
// chunks.
type slotChunks[T int64 | float64] struct {
	c     [][]T
	w     int
	shift uint8
	mask  int32
	// capG is the number of groups the chunks have room for; hi bounds
	// the groups that may hold values: storage from hi on is zero.
	capG, hi int
}

func newSlotChunks[T int64 | float64](w int) slotChunks[T] {
	shift := uint8(log2(chunkBytes/8/max(w, 1)+1) - 1)
	return slotChunks[T]{w: w, shift: shift, mask: 1<<shift - 1}
}

// at returns the w slots of group g.
func (s *slotChunks[T]) at(g int32) []T {
	o := int(g&s.mask) * s.w
	return s.c[g>>s.shift][o : o+s.w : o+s.w]
}

// ensure makes room for n groups. Only the last chunk may be partial;
// it grows by moving to a larger one, the only copy, of at most one chunk.
// Growing (exact false), the chunks make room for a quarter more groups
// than they had (a small table for twice as many), as append would, so
// that a table of a few chunks keeps little spare room, and from four
// chunks on every chunk is allocated whole, once. exact (room for a known
// number of groups: Reserve) asks for no more than n.
func (s *slotChunks[T]) ensure(n int, exact bool) {
	full := 1 << s.shift
	for s.capG < n {
		k := len(s.c) - 1
		if k < 0 || s.capG == (k+1)*full { // the last chunk is full
			k++
			s.c = append(s.c, nil)
		}
		want := n
		if !exact {
			want = max(n, s.capG+s.capG/4, 16)
			if s.capG < 1024 {
				want = max(n, 2*s.capG, 16)
			}
		}
		size := min(full, want-k*full)
		c := make([]T, size*s.w)
		hugePages(c)
		copy(c, s.c[k])
		s.c[k] = c
		s.capG = k*full + size
	}
}

// grow makes groups from..to-1 (from being the current number of groups)
// exist, zero.
func (s *slotChunks[T]) grow(from, to int) {
	s.ensure(to, false)
	if from < s.hi {
		s.clearRange(from, min(to, s.hi))
	}
	s.hi = max(s.hi, to)
}

// clearRange zeroes the slots of groups from..to-1.
func (s *slotChunks[T]) clearRange(from, to int) {
	full := 1 << s.shift
	for g := from; g < to; {
		k, o := g>>s.shift, g&(full-1)
		end := min(to-g, full-o)
		clear(s.c[k][o*s.w : (o+end)*s.w])
		g += end
	}
}

// each calls f with the slots of groups 0..n-1, a chunk at a time.
func (s *slotChunks[T]) each(n int, f func([]T)) {
	full := 1 << s.shift
	for k := 0; k*full < n; k++ {
		f(s.c[k][:min(full, n-k*full)*s.w])
	}
}

func (s *slotChunks[T]) bytes() int { return s.capG * s.w * 8 }

// The key of a table keyed by one integer column: slots with w = 1.

// key returns the value of group g.
func (s *slotChunks[T]) key(g int32) T { return s.c[g>>s.shift][g&s.mask] }

// first returns the first chunk (nil if none).
func (s *slotChunks[T]) first() []T {
	if len(s.c) == 0 {
		return nil
	}
	return s.c[0]
}

// setKey sets the value of group g, making room for it.
func (s *slotChunks[T]) setKey(g int32, x T) {
	if int(g) >= s.capG {
		s.ensure(int(g)+1, false)
	}
	s.c[g>>s.shift][g&s.mask] = x
}

// appendKeys appends the values of groups from..to-1 to dst.
func (s *slotChunks[T]) appendKeys(dst []T, from, to int32) []T {
	for g := from; g < to; {
		c := s.c[g>>s.shift]
		o := g & s.mask
		end := min(to-g, int32(len(c))-o)
		dst = append(dst, c[o:o+end]...)
		g += end
	}
	return dst
}
