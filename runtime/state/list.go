package state

import (
	"encoding/binary"
	"fmt"
)

// ListState holds a list per key. With a TTL, every element expires on
// its own.
type ListState[T any] struct {
	header
	codec Codec[T]
	size  func(T) int64
	lists []*listSlot[T] // by slot
}

type listSlot[T any] struct {
	vals  []T
	exps  []int64 // parallel to vals when the state has a TTL
	bytes int64
}

// RegisterList registers a ListState on b, or returns the one already
// registered under d.Name (an error if its kind, type or TTL differ).
func RegisterList[T any](b *Backend, d Descriptor[T]) (*ListState[T], error) {
	codec := d.Codec
	if codec == nil {
		codec = DefaultCodec[T]()
	}
	return register(b, d.Name, KindList, d.TTL, func(h header) *ListState[T] {
		return &ListState[T]{header: h, codec: codec, size: sizerFor[T]()}
	})
}

func (s *ListState[T]) slot() *listSlot[T] {
	c := s.b.cur
	if c == noSlot || int(c) >= len(s.lists) {
		return nil
	}
	return s.lists[c]
}

// Get returns the current key's list (nil when empty), oldest first. The
// slice belongs to the state: the caller must not modify it, and it is
// valid until the next write to this state. Appending to it copies.
func (s *ListState[T]) Get() []T {
	l := s.slot()
	if l == nil {
		return nil
	}
	if s.ttl > 0 {
		now := s.b.Now()
		s.purgeList(s.b.cur, l, now)
		s.afterAccess(s, now)
		if l = s.slot(); l == nil {
			return nil
		}
	}
	return l.vals[:len(l.vals):len(l.vals)]
}

// Add appends v to the current key's list. It fails, changing nothing,
// when it would exceed a limit of the backend.
func (s *ListState[T]) Add(v T) error {
	now := s.now()
	l := s.slot()
	delta := EntryOverhead + s.size(v)
	if l == nil {
		delta += KeyOverhead + int64(s.b.curKeyLen())
	}
	if err := s.b.checkGrow(s.name, delta); err != nil {
		return err
	}
	if l == nil {
		c, err := s.b.acquire(s.name)
		if err != nil {
			return err
		}
		s.lists = growTo(s.lists, c, len(s.b.slots))
		l = &listSlot[T]{}
		s.lists[c] = l
		s.keys++
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
		delta -= KeyOverhead + int64(len(s.b.slots[c].key))
	}
	l.vals = append(l.vals, v)
	if s.ttl > 0 {
		l.exps = append(l.exps, s.expiry(now))
	}
	l.bytes += delta
	s.entries++
	s.addBytes(delta)
	s.afterAccess(s, now)
	return nil
}

// Update replaces the current key's list with a copy of vs; an empty vs
// clears it. It fails, changing nothing, when it would exceed a limit of
// the backend.
func (s *ListState[T]) Update(vs []T) error {
	if len(vs) == 0 {
		s.Clear()
		return nil
	}
	now := s.now()
	l := s.slot()
	var size int64
	for _, v := range vs {
		size += EntryOverhead + s.size(v)
	}
	delta := size
	if l == nil {
		delta += KeyOverhead + int64(s.b.curKeyLen())
	} else {
		delta -= l.bytes
	}
	if err := s.b.checkGrow(s.name, delta); err != nil {
		return err
	}
	if l == nil {
		c, err := s.b.acquire(s.name)
		if err != nil {
			return err
		}
		s.lists = growTo(s.lists, c, len(s.b.slots))
		l = &listSlot[T]{}
		s.lists[c] = l
		s.keys++
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
	}
	// vs may alias l.vals (Update(Get()[1:])): copy before clearing.
	old := len(l.vals)
	s.entries += len(vs) - old
	l.vals = append(l.vals[:0], vs...)
	if old > len(vs) {
		clear(l.vals[len(vs):old])
	}
	if s.ttl > 0 {
		exp := s.expiry(now)
		l.exps = l.exps[:0]
		for range vs {
			l.exps = append(l.exps, exp)
		}
	}
	s.addBytes(size - l.bytes)
	l.bytes = size
	s.afterAccess(s, now)
	return nil
}

// Clear removes the current key's list.
func (s *ListState[T]) Clear() {
	if l := s.slot(); l != nil {
		s.clearSlot(s.b.cur)
	}
}

func (s *ListState[T]) info() *header { return &s.header }

func (s *ListState[T]) reset() {
	clear(s.lists)
	s.lists = s.lists[:0]
	s.zero()
}

func (s *ListState[T]) has(c int32) bool { return int(c) < len(s.lists) && s.lists[c] != nil }

func (s *ListState[T]) clearSlot(c int32) {
	l := s.lists[c]
	s.addBytes(-(l.bytes + KeyOverhead + int64(len(s.b.slots[c].key))))
	s.entries -= len(l.vals)
	s.keys--
	s.lists[c] = nil
	s.b.release(c)
}

// purgeList removes the expired elements of a list, keeping the order of
// the others.
func (s *ListState[T]) purgeList(c int32, l *listSlot[T], now int64) {
	if s.ttl == 0 {
		return
	}
	j := 0
	var freed int64
	for i, v := range l.vals {
		if s.expired(l.exps[i], now) {
			freed += EntryOverhead + s.size(v)
			continue
		}
		l.vals[j], l.exps[j] = v, l.exps[i]
		j++
	}
	if j == len(l.vals) {
		return
	}
	s.entries -= len(l.vals) - j
	clear(l.vals[j:])
	l.vals, l.exps = l.vals[:j], l.exps[:j]
	l.bytes -= freed
	s.addBytes(-freed)
	if j == 0 {
		s.clearSlot(c)
	}
}

func (s *ListState[T]) purgeSlot(c int32, now int64) int {
	l := s.lists[c]
	n := len(l.vals)
	s.purgeList(c, l, now)
	return n
}

// Payload: uvarint count, then per element [varint expiry, when the state
// has a TTL] uvarint len, value.
func (s *ListState[T]) appendPayload(dst []byte, c int32, now int64) ([]byte, bool, error) {
	l := s.lists[c]
	if l == nil {
		return dst, false, nil
	}
	n := 0
	for i := range l.vals {
		if s.ttl == 0 || !s.expired(l.exps[i], now) {
			n++
		}
	}
	if n == 0 {
		return dst, false, nil
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	var err error
	for i, v := range l.vals {
		if s.ttl > 0 {
			if s.expired(l.exps[i], now) {
				continue
			}
			dst = binary.AppendVarint(dst, s.resolve(l.exps[i]))
		}
		if dst, err = appendWith(dst, s.codec, v); err != nil {
			return dst, false, fmt.Errorf("state %q: list element: %w", s.name, err)
		}
	}
	return dst, true, nil
}

func (s *ListState[T]) setPayload(c int32, p []byte, ttl bool, now int64) error {
	d := decoder{buf: p}
	n := d.uvarint()
	if d.err != nil || n == 0 || n > uint64(len(p)) {
		return fmt.Errorf("state %q: bad list length", s.name)
	}
	l := &listSlot[T]{vals: make([]T, 0, n)}
	if s.ttl > 0 {
		l.exps = make([]int64, 0, n)
	}
	for range n {
		exp := s.expiry(now)
		if ttl {
			exp = d.varint()
		}
		vb := d.bytes()
		if d.err != nil {
			return fmt.Errorf("state %q: list element: %w", s.name, d.err)
		}
		v, err := s.codec.Decode(vb)
		if err != nil {
			return fmt.Errorf("state %q: list element: %w", s.name, err)
		}
		l.vals = append(l.vals, v)
		if s.ttl > 0 {
			l.exps = append(l.exps, exp)
		}
		l.bytes += EntryOverhead + s.size(v)
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("state %q: %d stray bytes after list elements", s.name, len(d.buf))
	}
	s.lists = growTo(s.lists, c, len(s.b.slots))
	if old := s.lists[c]; old != nil {
		s.addBytes(-old.bytes)
		s.entries -= len(old.vals)
	} else {
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
		s.keys++
	}
	s.lists[c] = l
	s.addBytes(l.bytes)
	s.entries += len(l.vals)
	return nil
}
