package agg

// accChunkBytes is the size of a full chunk of accumulator slots: large
// enough that a chunk spans whole 2 MB huge pages (see hugePages), small
// enough that the unused room of a table's last chunk stays a few MB.
const accChunkBytes = 4 << 20

// accSlots holds the int64 (or float64) accumulator slots of groups, w per
// group, in chunks of 1<<shift groups: chunk g>>shift holds group g. The
// first chunk grows by doubling while the table is small; past it, every
// chunk is allocated at its full size, once. Growing a table therefore
// never copies what it holds beyond the first chunk (a flat array copies
// all of it at every step, into memory the process has never touched),
// and a table reset for a later window keeps its chunks.
type accSlots[T int64 | float64] struct {
	c     [][]T
	w     int
	shift uint8
	mask  int32
	// capG is the number of groups the chunks have room for; hi bounds
	// the groups that may hold values: storage from hi on is zero.
	capG, hi int
}

func newAccSlots[T int64 | float64](w int) accSlots[T] {
	shift := uint8(log2(accChunkBytes/8/max(w, 1)+1) - 1)
	return accSlots[T]{w: w, shift: shift, mask: 1<<shift - 1}
}

// at returns the w slots of group g.
func (s *accSlots[T]) at(g int32) []T {
	o := int(g&s.mask) * s.w
	return s.c[g>>s.shift][o : o+s.w : o+s.w]
}

// ensure makes room for n groups.
func (s *accSlots[T]) ensure(n int) {
	full := 1 << s.shift
	for s.capG < n {
		if s.capG < full { // the first chunk, not yet full: double it
			size := min(full, max(n, 2*s.capG, 16))
			c := make([]T, size*s.w)
			if len(s.c) > 0 {
				copy(c, s.c[0])
				s.c[0] = c
			} else {
				s.c = append(s.c, c)
			}
			if size == full {
				hugePages(c)
			}
			s.capG = size
			continue
		}
		c := make([]T, full*s.w)
		hugePages(c)
		s.c = append(s.c, c)
		s.capG += full
	}
}

// grow makes groups from..to-1 (from being the current number of groups)
// exist, zero.
func (s *accSlots[T]) grow(from, to int) {
	s.ensure(to)
	if from < s.hi {
		s.clearRange(from, min(to, s.hi))
	}
	s.hi = max(s.hi, to)
}

// clearRange zeroes the slots of groups from..to-1.
func (s *accSlots[T]) clearRange(from, to int) {
	full := 1 << s.shift
	for g := from; g < to; {
		k, o := g>>s.shift, g&(full-1)
		end := min(to-g, full-o)
		clear(s.c[k][o*s.w : (o+end)*s.w])
		g += end
	}
}

// each calls f with the slots of groups 0..n-1, a chunk at a time.
func (s *accSlots[T]) each(n int, f func([]T)) {
	full := 1 << s.shift
	for k := 0; k*full < n; k++ {
		f(s.c[k][:min(full, n-k*full)*s.w])
	}
}

func (s *accSlots[T]) bytes() int { return s.capG * s.w * 8 }
