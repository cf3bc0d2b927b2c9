package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// MapDescriptor names a MapState and says how to encode it.
type MapDescriptor[K comparable, V any] struct {
	// Name identifies the state within its backend and in snapshots.
	Name string
	// KeyCodec and ValueCodec encode user keys and values for snapshots;
	// nil: DefaultCodec.
	KeyCodec   Codec[K]
	ValueCodec Codec[V]
	// TTL is how long each map entry lives after it was last written, on
	// the backend's clock; 0: forever.
	TTL time.Duration
}

// MapState holds a map per key. With a TTL, every map entry expires on its
// own.
type MapState[K comparable, V any] struct {
	header
	kc    Codec[K]
	vc    Codec[V]
	ksize func(K) int64
	vsize func(V) int64
	maps  []*mapSlot[K, V] // by slot

	scratch []byte   // snapshot encoding
	spans   [][3]int // entry key start, key end, entry end in scratch
}

type mapSlot[K comparable, V any] struct {
	m     map[K]mapValue[V]
	bytes int64
}

type mapValue[V any] struct {
	v   V
	exp int64
}

// RegisterMap registers a MapState on b, or returns the one already
// registered under d.Name (an error if its kind, types or TTL differ).
func RegisterMap[K comparable, V any](b *Backend, d MapDescriptor[K, V]) (*MapState[K, V], error) {
	kc, vc := d.KeyCodec, d.ValueCodec
	if kc == nil {
		kc = DefaultCodec[K]()
	}
	if vc == nil {
		vc = DefaultCodec[V]()
	}
	return register(b, d.Name, KindMap, d.TTL, func(h header) *MapState[K, V] {
		return &MapState[K, V]{header: h, kc: kc, vc: vc, ksize: sizerFor[K](), vsize: sizerFor[V]()}
	})
}

func (s *MapState[K, V]) slot() *mapSlot[K, V] {
	c := s.b.cur
	if c == noSlot || int(c) >= len(s.maps) {
		return nil
	}
	return s.maps[c]
}

func (s *MapState[K, V]) entrySize(k K, v V) int64 { return EntryOverhead + s.ksize(k) + s.vsize(v) }

// Get returns the value of user key k under the current key.
func (s *MapState[K, V]) Get(k K) (V, bool) {
	var zero V
	m := s.slot()
	if m == nil {
		return zero, false
	}
	e, ok := m.m[k]
	if !ok {
		return zero, false
	}
	if s.ttl == 0 {
		return e.v, true
	}
	now := s.b.Now()
	if s.expired(e.exp, now) {
		s.remove(s.b.cur, m, k, e)
		s.afterAccess(s, now)
		return zero, false
	}
	s.afterAccess(s, now)
	return e.v, true
}

// Contains reports whether user key k is present under the current key.
func (s *MapState[K, V]) Contains(k K) bool {
	_, ok := s.Get(k)
	return ok
}

// Put sets user key k to v under the current key. It fails, changing
// nothing, when it would exceed a limit of the backend.
func (s *MapState[K, V]) Put(k K, v V) error {
	now := s.now()
	c := s.b.cur
	m := s.slot()
	var delta int64
	var old mapValue[V]
	exists := false
	if m != nil {
		if old, exists = m.m[k]; exists && s.expired(old.exp, now) {
			s.remove(c, m, k, old)
			exists = false
			if m = s.slot(); m == nil {
				c = noSlot
			}
		}
	}
	if exists {
		delta = s.vsize(v) - s.vsize(old.v)
	} else {
		delta = s.entrySize(k, v)
		if m == nil {
			delta += KeyOverhead + int64(s.b.curKeyLen())
		}
	}
	if err := s.b.checkGrow(s.name, delta); err != nil {
		return err
	}
	if m == nil {
		var err error
		if c, err = s.b.acquire(s.name); err != nil {
			return err
		}
		s.maps = growTo(s.maps, c, len(s.b.slots))
		m = &mapSlot[K, V]{m: make(map[K]mapValue[V])}
		s.maps[c] = m
		s.keys++
		delta -= KeyOverhead + int64(len(s.b.slots[c].key))
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
	}
	if !exists {
		s.entries++
	}
	m.m[k] = mapValue[V]{v: v, exp: s.expiry(now)}
	m.bytes += delta
	s.addBytes(delta)
	s.afterAccess(s, now)
	return nil
}

// Remove deletes user key k under the current key.
func (s *MapState[K, V]) Remove(k K) {
	m := s.slot()
	if m == nil {
		return
	}
	if e, ok := m.m[k]; ok {
		s.remove(s.b.cur, m, k, e)
	}
}

// remove deletes an entry, releasing the key's slot with the last one.
func (s *MapState[K, V]) remove(c int32, m *mapSlot[K, V], k K, e mapValue[V]) {
	d := s.entrySize(k, e.v)
	delete(m.m, k)
	m.bytes -= d
	s.addBytes(-d)
	s.entries--
	if len(m.m) == 0 {
		s.clearSlot(c)
	}
}

// Range calls fn for each unexpired entry under the current key, in no
// particular order, until fn returns false. fn may Put or Remove entries
// of this map; entries put during Range may or may not be visited.
func (s *MapState[K, V]) Range(fn func(k K, v V) bool) {
	m := s.slot()
	if m == nil {
		return
	}
	c := s.b.cur
	now := s.now()
	for k, e := range m.m {
		if s.expired(e.exp, now) {
			if cur, ok := m.m[k]; ok && s.expired(cur.exp, now) && s.maps[c] == m {
				s.remove(c, m, k, cur)
			}
			continue
		}
		if !fn(k, e.v) {
			break
		}
	}
	if s.ttl > 0 {
		s.afterAccess(s, now)
	}
}

// Len returns the number of unexpired entries under the current key. With
// a TTL it visits every entry.
func (s *MapState[K, V]) Len() int {
	m := s.slot()
	if m == nil {
		return 0
	}
	if s.ttl == 0 {
		return len(m.m)
	}
	n := 0
	s.Range(func(K, V) bool { n++; return true })
	return n
}

// Clear removes every entry under the current key.
func (s *MapState[K, V]) Clear() {
	if m := s.slot(); m != nil {
		s.clearSlot(s.b.cur)
	}
}

func (s *MapState[K, V]) info() *header { return &s.header }

func (s *MapState[K, V]) reset() {
	clear(s.maps)
	s.maps = s.maps[:0]
	s.zero()
}

func (s *MapState[K, V]) has(c int32) bool { return int(c) < len(s.maps) && s.maps[c] != nil }

func (s *MapState[K, V]) clearSlot(c int32) {
	m := s.maps[c]
	s.addBytes(-(m.bytes + KeyOverhead + int64(len(s.b.slots[c].key))))
	s.entries -= len(m.m)
	s.keys--
	s.maps[c] = nil
	s.b.release(c)
}

func (s *MapState[K, V]) purgeSlot(c int32, now int64) int {
	m := s.maps[c]
	n := len(m.m)
	for k, e := range m.m {
		if s.expired(e.exp, now) {
			s.remove(c, m, k, e)
		}
	}
	return n
}

// Payload: uvarint count, then per entry, in the order of the encoded
// keys: uvarint len, key, [varint expiry, when the state has a TTL,]
// uvarint len, value.
func (s *MapState[K, V]) appendPayload(dst []byte, c int32, now int64) ([]byte, bool, error) {
	m := s.maps[c]
	if m == nil {
		return dst, false, nil
	}
	n := 0
	for _, e := range m.m {
		if !s.expired(e.exp, now) {
			n++
		}
	}
	if n == 0 {
		return dst, false, nil
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	// Entries are written in the order of their encoded keys, so equal
	// state gives equal snapshots.
	scratch, spans := s.scratch[:0], s.spans[:0]
	var err error
	for k, e := range m.m {
		if s.expired(e.exp, now) {
			continue
		}
		start := len(scratch)
		if scratch, err = appendWith(scratch, s.kc, k); err != nil {
			return dst, false, fmt.Errorf("state %q: map key: %w", s.name, err)
		}
		keyEnd := len(scratch)
		if s.ttl > 0 {
			scratch = binary.AppendVarint(scratch, s.resolve(e.exp))
		}
		if scratch, err = appendWith(scratch, s.vc, e.v); err != nil {
			return dst, false, fmt.Errorf("state %q: map value: %w", s.name, err)
		}
		spans = append(spans, [3]int{start, keyEnd, len(scratch)})
	}
	slices.SortFunc(spans, func(a, b [3]int) int { return bytes.Compare(scratch[a[0]:a[1]], scratch[b[0]:b[1]]) })
	for _, sp := range spans {
		dst = append(dst, scratch[sp[0]:sp[2]]...)
	}
	s.scratch, s.spans = scratch, spans
	return dst, true, nil
}

func (s *MapState[K, V]) setPayload(c int32, p []byte, ttl bool, now int64) error {
	d := decoder{buf: p}
	n := d.uvarint()
	if d.err != nil || n == 0 || n > uint64(len(p)) {
		return fmt.Errorf("state %q: bad map entry count", s.name)
	}
	m := &mapSlot[K, V]{m: make(map[K]mapValue[V], n)}
	for range n {
		kb := d.bytes()
		exp := s.expiry(now)
		if ttl {
			exp = d.varint()
		}
		vb := d.bytes()
		if d.err != nil {
			return fmt.Errorf("state %q: map entry: %w", s.name, d.err)
		}
		k, err := s.kc.Decode(kb)
		if err != nil {
			return fmt.Errorf("state %q: map key: %w", s.name, err)
		}
		v, err := s.vc.Decode(vb)
		if err != nil {
			return fmt.Errorf("state %q: map value: %w", s.name, err)
		}
		if old, dup := m.m[k]; dup {
			m.bytes -= s.entrySize(k, old.v)
		}
		m.m[k] = mapValue[V]{v: v, exp: exp}
		m.bytes += s.entrySize(k, v)
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("state %q: %d stray bytes after map entries", s.name, len(d.buf))
	}
	s.maps = growTo(s.maps, c, len(s.b.slots))
	if old := s.maps[c]; old != nil {
		s.addBytes(-old.bytes)
		s.entries -= len(old.m)
	} else {
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
		s.keys++
	}
	s.maps[c] = m
	s.addBytes(m.bytes)
	s.entries += len(m.m)
	return nil
}

// appendWith appends a length-prefixed encoding of v.
func appendWith[T any](dst []byte, c Codec[T], v T) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
	body := len(dst)
	dst, err := c.Append(dst, v)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - body
	var tmp [binary.MaxVarintLen64]byte
	hdr := binary.AppendUvarint(tmp[:0], uint64(n))
	// Move the body left so the header sits just before it.
	copy(dst[start:], hdr)
	copy(dst[start+len(hdr):], dst[body:])
	return dst[:start+len(hdr)+n], nil
}
