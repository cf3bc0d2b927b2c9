package state

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Descriptor names a ValueState or ListState and says how to encode it.
type Descriptor[T any] struct {
	// Name identifies the state within its backend and in snapshots.
	Name string
	// Codec encodes values for snapshots; nil: DefaultCodec[T]().
	Codec Codec[T]
	// TTL is how long an entry lives after it was last written, on the
	// backend's clock; 0: forever. Reads do not extend it.
	TTL time.Duration
}

// ValueState holds one value per key.
type ValueState[T any] struct {
	header
	codec Codec[T]
	size  func(T) int64
	vals  []valueEntry[T] // by slot
}

type valueEntry[T any] struct {
	v   T
	exp int64
	ok  bool
}

// RegisterValue registers a ValueState on b, or returns the one already
// registered under d.Name (an error if its kind, type or TTL differ).
// Operators register their states once, when they open.
func RegisterValue[T any](b *Backend, d Descriptor[T]) (*ValueState[T], error) {
	codec := d.Codec
	if codec == nil {
		codec = DefaultCodec[T]()
	}
	return register(b, d.Name, KindValue, d.TTL, func(h header) *ValueState[T] {
		return &ValueState[T]{header: h, codec: codec, size: sizerFor[T]()}
	})
}

// Value returns the current key's value and whether it has one.
func (s *ValueState[T]) Value() (T, bool) {
	var zero T
	c := s.b.cur
	if c == noSlot || int(c) >= len(s.vals) || !s.vals[c].ok {
		return zero, false
	}
	e := &s.vals[c]
	if s.ttl == 0 {
		return e.v, true
	}
	now := s.b.Now()
	if s.expired(e.exp, now) {
		s.clearSlot(c)
		s.afterAccess(s, now)
		return zero, false
	}
	v := e.v
	s.afterAccess(s, now)
	return v, true
}

// Update sets the current key's value. It fails, changing nothing, when it
// would exceed a limit of the backend.
func (s *ValueState[T]) Update(v T) error {
	now := s.now()
	c := s.b.cur
	exists := c != noSlot && int(c) < len(s.vals) && s.vals[c].ok
	if exists && s.expired(s.vals[c].exp, now) {
		s.clearSlot(c)
		exists = false
	}
	var delta int64
	if exists {
		delta = s.size(v) - s.size(s.vals[c].v)
	} else {
		delta = KeyOverhead + int64(s.b.curKeyLen()) + s.size(v)
	}
	if err := s.b.checkGrow(s.name, delta); err != nil {
		return err
	}
	if !exists {
		var err error
		if c, err = s.b.acquire(s.name); err != nil {
			return err
		}
		s.vals = growTo(s.vals, c, len(s.b.slots))
		s.keys++
		s.entries++
	}
	s.vals[c] = valueEntry[T]{v: v, exp: s.expiry(now), ok: true}
	s.addBytes(delta)
	s.afterAccess(s, now)
	return nil
}

// Clear removes the current key's value.
func (s *ValueState[T]) Clear() {
	c := s.b.cur
	if c != noSlot && int(c) < len(s.vals) && s.vals[c].ok {
		s.clearSlot(c)
	}
}

func (s *ValueState[T]) info() *header { return &s.header }

func (s *ValueState[T]) reset() {
	clear(s.vals)
	s.vals = s.vals[:0]
	s.zero()
}

func (s *ValueState[T]) has(c int32) bool { return int(c) < len(s.vals) && s.vals[c].ok }

func (s *ValueState[T]) clearSlot(c int32) {
	e := &s.vals[c]
	s.addBytes(-(KeyOverhead + int64(len(s.b.slots[c].key)) + s.size(e.v)))
	*e = valueEntry[T]{}
	s.keys--
	s.entries--
	s.b.release(c)
}

func (s *ValueState[T]) purgeSlot(c int32, now int64) int {
	if s.expired(s.vals[c].exp, now) {
		s.clearSlot(c)
	}
	return 1
}

// Payload: [varint expiry, when the state has a TTL] value bytes.
func (s *ValueState[T]) appendPayload(dst []byte, c int32, now int64) ([]byte, bool, error) {
	e := &s.vals[c]
	if !e.ok || s.expired(e.exp, now) {
		return dst, false, nil
	}
	if s.ttl > 0 {
		dst = binary.AppendVarint(dst, s.resolve(e.exp))
	}
	dst, err := s.codec.Append(dst, e.v)
	if err != nil {
		return dst, false, fmt.Errorf("state %q: %w", s.name, err)
	}
	return dst, true, nil
}

func (s *ValueState[T]) setPayload(c int32, p []byte, ttl bool, now int64) error {
	exp := s.expiry(now)
	if ttl {
		var n int
		if exp, n = binary.Varint(p); n <= 0 {
			return fmt.Errorf("state %q: bad expiry", s.name)
		}
		p = p[n:]
	}
	v, err := s.codec.Decode(p)
	if err != nil {
		return fmt.Errorf("state %q: %w", s.name, err)
	}
	s.vals = growTo(s.vals, c, len(s.b.slots))
	e := &s.vals[c]
	if e.ok {
		s.addBytes(-s.size(e.v))
	} else {
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
		s.keys++
		s.entries++
	}
	*e = valueEntry[T]{v: v, exp: exp, ok: true}
	s.addBytes(s.size(v))
	return nil
}
