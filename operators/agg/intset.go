package agg

// intSet is a set of 64-bit values (COUNT(DISTINCT) of integers, and of
// floats by their bits): open addressing with linear probing in a table
// of a power of two slots, at most three quarters full, 0 marking an
// empty slot (the value 0 is a flag). Adding a value costs a multiply and,
// mostly, one probe — less than a Go map, whose growth dominated COUNT
// DISTINCT over many groups.
type intSet struct {
	slots []uint64
	shift uint8 // 64 - log2(len(slots))
	n     int   // values in slots
	zero  bool
}

func (s *intSet) slot(x uint64) uint64 { return (x * 0x9E3779B97F4A7C15) >> s.shift }

// add adds x and reports whether it is new to the set.
func (s *intSet) add(x uint64) bool {
	if x == 0 {
		if s.zero {
			return false
		}
		s.zero = true
		return true
	}
	if len(s.slots) == 0 {
		s.slots, s.shift = make([]uint64, 8), 64-3
	}
	mask := uint64(len(s.slots) - 1)
	i := s.slot(x)
	for {
		v := s.slots[i]
		if v == x {
			return false
		}
		if v == 0 {
			break
		}
		i = (i + 1) & mask
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
		s.put(x)
	} else {
		s.slots[i] = x
	}
	s.n++
	return true
}

// put stores x, not in the set, in a table with room.
func (s *intSet) put(x uint64) {
	mask := uint64(len(s.slots) - 1)
	i := s.slot(x)
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = x
}

func (s *intSet) grow() {
	old := s.slots
	s.slots, s.shift = make([]uint64, 2*len(old)), s.shift-1
	for _, v := range old {
		if v != 0 {
			s.put(v)
		}
	}
}

func (s *intSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

// each calls f with every value of the set.
func (s *intSet) each(f func(uint64)) {
	if s.zero {
		f(0)
	}
	for _, v := range s.slots {
		if v != 0 {
			f(v)
		}
	}
}
