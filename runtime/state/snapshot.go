package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Snapshot format, version 1. Integers are (u)varints unless noted.
//
//	"SLST" version:byte
//	nstates, then per state: name (len, bytes), kind:byte, flags:byte
//	    (bit 0: entries carry expiry stamps), ttl ms
//	per non-empty key group, ascending: kg+1, section length, section
//	    section: nkeys, then per key: key (len, bytes), nentries, then per
//	    entry: state index, payload (len, bytes); payload as the state
//	    kind's appendPayload writes it
//	0 (end of groups)
//	CRC-32C (Castagnoli) of everything before it: 4 bytes little endian
//
// A key group's section can be skipped without decoding it, so a restore
// can keep only the key groups its subtask owns.
const (
	snapMagic   = "SLST"
	snapVersion = 1
	flagExpiry  = 1
)

// ErrCorruptSnapshot is matched (errors.Is) by the error Restore returns
// for a snapshot that is truncated, fails its checksum or is malformed.
var ErrCorruptSnapshot = errors.New("corrupt state snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type crcWriter struct {
	w   *bufio.Writer
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	return c.w.Write(p)
}

// Snapshot writes every key's state to w. Expired entries are left out.
// Restored state whose descriptor was never registered is written back as
// it was read. The caller owns w.
func (b *Backend) Snapshot(w io.Writer) error {
	now := b.Now()
	cw := &crcWriter{w: bufio.NewWriterSize(w, 64<<10)}
	buf := append([]byte(nil), snapMagic...)
	buf = append(buf, snapVersion)
	buf = binary.AppendUvarint(buf, uint64(len(b.states)))
	for _, s := range b.states {
		h := s.info()
		ttl, flags := h.ttl, byte(0)
		if raw, ok := s.(*rawState); ok {
			ttl = raw.snapTTL
			if raw.expiry {
				flags |= flagExpiry
			}
		} else if h.ttl > 0 {
			flags |= flagExpiry
		}
		buf = appendString(buf, h.name)
		buf = append(buf, byte(h.kind), flags)
		buf = binary.AppendUvarint(buf, uint64(ttl))
	}
	if _, err := cw.Write(buf); err != nil {
		return fmt.Errorf("cannot write state snapshot: %w", err)
	}
	live := make([]int32, 0, len(b.keys))
	for _, s := range b.keys {
		live = append(live, s)
	}
	slices.SortFunc(live, func(x, y int32) int {
		a, c := &b.slots[x], &b.slots[y]
		if a.kg != c.kg {
			return int(a.kg - c.kg)
		}
		return strings.Compare(a.key, c.key)
	})
	var sec, ent []byte
	for i := 0; i < len(live); {
		kg := b.slots[live[i]].kg
		sec = sec[:0]
		nkeys := 0
		for ; i < len(live) && b.slots[live[i]].kg == kg; i++ {
			sl := live[i]
			ent = ent[:0]
			nent := 0
			for si, s := range b.states {
				if !s.has(sl) {
					continue
				}
				mark := len(ent)
				ent = binary.AppendUvarint(ent, uint64(si))
				var ok bool
				var err error
				if ent, ok, err = appendPayloadWith(ent, s, sl, now); err != nil {
					return fmt.Errorf("cannot snapshot state: %w", err)
				}
				if !ok {
					ent = ent[:mark]
					continue
				}
				nent++
			}
			if nent == 0 {
				continue
			}
			sec = appendString(sec, b.slots[sl].key)
			sec = binary.AppendUvarint(sec, uint64(nent))
			sec = append(sec, ent...)
			nkeys++
		}
		if nkeys == 0 {
			continue
		}
		hdr := binary.AppendUvarint(buf[:0], uint64(kg)+1)
		var tmp [binary.MaxVarintLen64]byte
		cnt := binary.AppendUvarint(tmp[:0], uint64(nkeys))
		hdr = binary.AppendUvarint(hdr, uint64(len(cnt)+len(sec)))
		hdr = append(hdr, cnt...)
		buf = hdr
		if _, err := cw.Write(hdr); err != nil {
			return fmt.Errorf("cannot write state snapshot: %w", err)
		}
		if _, err := cw.Write(sec); err != nil {
			return fmt.Errorf("cannot write state snapshot: %w", err)
		}
	}
	if _, err := cw.Write([]byte{0}); err != nil {
		return fmt.Errorf("cannot write state snapshot: %w", err)
	}
	if _, err := cw.w.Write(binary.LittleEndian.AppendUint32(nil, cw.crc)); err != nil {
		return fmt.Errorf("cannot write state snapshot: %w", err)
	}
	if err := cw.w.Flush(); err != nil {
		return fmt.Errorf("cannot write state snapshot: %w", err)
	}
	return nil
}

// appendPayloadWith appends a length-prefixed payload of state s for slot c.
func appendPayloadWith(dst []byte, s state, c int32, now int64) ([]byte, bool, error) {
	start := len(dst)
	dst = append(dst, make([]byte, binary.MaxVarintLen64)...)
	body := len(dst)
	dst, ok, err := s.appendPayload(dst, c, now)
	if err != nil || !ok {
		return dst[:start], ok, err
	}
	n := len(dst) - body
	var tmp [binary.MaxVarintLen64]byte
	hdr := binary.AppendUvarint(tmp[:0], uint64(n))
	copy(dst[start:], hdr)
	copy(dst[start+len(hdr):], dst[body:])
	return dst[:start+len(hdr)+n], true, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Restore replaces the backend's contents with a snapshot read from r.
// Registered states take their entries from the snapshot state of the
// same name (a state missing from it ends up empty); snapshot states not
// registered yet are kept encoded and decoded when they are registered.
//
// A snapshot that is truncated, fails its checksum or is malformed is
// rejected with an error matching ErrCorruptSnapshot, and the backend is
// left unchanged (so is it when a snapshot state's kind differs from the
// registered state's of that name). If a registered state's codec
// cannot decode its entries, the error names the state and the backend is
// left empty.
//
// Limits are not enforced on restored state: an over-limit backend refuses
// growing writes until it shrinks.
func (b *Backend) Restore(r io.Reader) error { return b.RestoreKeyGroups(r, nil) }

// RestoreKeyGroups is Restore keeping only the keys whose key group keep
// accepts (all when keep is nil): after a rescale, each subtask restores
// the key groups it owns from the snapshots of the old subtasks. Restoring
// replaces the contents; merging several snapshots is not supported yet.
func (b *Backend) RestoreKeyGroups(r io.Reader, keep func(keyGroup int) bool) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("cannot read state snapshot: %w", err)
	}
	snap, err := parseSnapshot(data)
	if err != nil {
		return err
	}
	// Check kinds before touching anything.
	for _, m := range snap.states {
		if old, ok := b.byName[m.name]; ok {
			if _, raw := old.(*rawState); !raw && old.info().kind != m.kind {
				return fmt.Errorf("cannot restore state %q: snapshot holds a %v state, registered as %v", m.name, m.kind, old.info().kind)
			}
		}
	}
	b.reset()
	now := b.Now()
	targets := make([]state, len(snap.states))
	for i, m := range snap.states {
		if s, ok := b.byName[m.name]; ok {
			targets[i] = s
			continue
		}
		raw := &rawState{header: header{b: b, name: m.name, kind: m.kind}, snapTTL: m.ttl, expiry: m.expiry}
		b.states = append(b.states, raw)
		b.byName[m.name] = raw
		targets[i] = raw
	}
	err = snap.walk(keep, func(kg int, key string, idx int, payload []byte) error {
		s, ok := b.keys[key]
		if !ok {
			if n := len(b.free); n > 0 {
				s = b.free[n-1]
				b.free = b.free[:n-1]
			} else {
				s = int32(len(b.slots))
				b.slots = append(b.slots, slot{})
			}
			b.slots[s] = slot{key: key, kg: int32(kg)}
			b.keys[key] = s
		}
		t := targets[idx]
		if !t.has(s) {
			b.slots[s].refs++
		}
		return t.setPayload(s, payload, snap.states[idx].expiry, now)
	})
	if err != nil {
		b.reset()
		return fmt.Errorf("cannot restore state: %w", err)
	}
	if b.hasKey {
		if s, ok := b.keys[b.CurrentKey()]; ok {
			b.cur = s
		}
	}
	return nil
}

// reset drops every key and entry, keeping registered states (empty) and
// forgetting restored-but-unregistered ones.
func (b *Backend) reset() {
	if b.hasKey {
		key, kg := b.CurrentKey(), b.CurrentKeyGroup()
		b.cur, b.curKey, b.keyStr, b.curKG = noSlot, key, true, int32(kg)
	}
	clear(b.keys)
	b.slots, b.free, b.bytes, b.purgeI = nil, nil, 0, 0
	kept := b.states[:0]
	for _, s := range b.states {
		if _, raw := s.(*rawState); raw {
			delete(b.byName, s.info().name)
			continue
		}
		s.reset()
		kept = append(kept, s)
	}
	clear(b.states[len(kept):])
	b.states = kept
}

type snapState struct {
	name   string
	kind   Kind
	ttl    int64
	expiry bool
}

type snapshot struct {
	states []snapState
	groups []byte // from the first group to the end marker, checked
	base   int    // offset of groups in the snapshot, for errors
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// parseSnapshot checks the framing, checksum and structure of a snapshot
// without decoding payloads.
func parseSnapshot(data []byte) (*snapshot, error) {
	if len(data) < len(snapMagic)+1+1+1+4 {
		return nil, corrupt("truncated: %d bytes", len(data))
	}
	if string(data[:len(snapMagic)]) != snapMagic {
		return nil, corrupt("not a state snapshot (bad magic %q)", data[:len(snapMagic)])
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(tail); got != want {
		return nil, corrupt("checksum mismatch over %d bytes (stored %08x, computed %08x): truncated or damaged", len(body), want, got)
	}
	if v := body[len(snapMagic)]; v != snapVersion {
		return nil, fmt.Errorf("%w: unsupported version %d (this build reads %d)", ErrCorruptSnapshot, v, snapVersion)
	}
	d := decoder{buf: body[len(snapMagic)+1:]}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.buf)) {
		return nil, corrupt("state count %d out of range", n)
	}
	snap := &snapshot{}
	seen := make(map[string]bool)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := string(d.bytes())
		kind, flags := Kind(d.byte()), d.byte()
		ttl := d.uvarint()
		if d.err != nil {
			break
		}
		if name == "" || seen[name] {
			return nil, corrupt("state %d: empty or repeated name %q", i, name)
		}
		if kind < KindValue || kind > KindList || flags&^flagExpiry != 0 || ttl > 1<<62 {
			return nil, corrupt("state %q: bad kind %d, flags %#x or TTL %d", name, kind, flags, ttl)
		}
		seen[name] = true
		snap.states = append(snap.states, snapState{name: name, kind: kind, ttl: int64(ttl), expiry: flags&flagExpiry != 0})
	}
	if d.err != nil {
		return nil, corrupt("state table: %v", d.err)
	}
	snap.base = len(body) - len(d.buf)
	snap.groups = d.buf
	if err := snap.walk(nil, nil); err != nil {
		return nil, err
	}
	return snap, nil
}

// walk visits the entries of the key groups keep accepts (all when nil).
// With fn nil it only checks the structure.
func (s *snapshot) walk(keep func(int) bool, fn func(kg int, key string, state int, payload []byte) error) error {
	d := decoder{buf: s.groups}
	off := func() int { return s.base + len(s.groups) - len(d.buf) }
	last := -1
	used := make([]bool, len(s.states))
	for {
		at := off()
		g := d.uvarint()
		if d.err != nil {
			return corrupt("key group header at byte %d: %v", at, d.err)
		}
		if g == 0 {
			break
		}
		kg := int(min(g-1, runtime.MaxKeyGroups))
		if kg >= runtime.MaxKeyGroups || kg <= last {
			return corrupt("key group %d at byte %d out of order or range", g-1, at)
		}
		last = kg
		sec := d.bytes()
		if d.err != nil {
			return corrupt("key group %d at byte %d: %v", kg, at, d.err)
		}
		if fn != nil && keep != nil && !keep(kg) {
			continue
		}
		if err := s.walkGroup(kg, sec, at, used, fn); err != nil {
			return err
		}
	}
	if len(d.buf) != 0 {
		return corrupt("%d stray bytes after the last key group", len(d.buf))
	}
	return nil
}

func (s *snapshot) walkGroup(kg int, sec []byte, at int, used []bool, fn func(int, string, int, []byte) error) error {
	d := decoder{buf: sec}
	nkeys := d.uvarint()
	if d.err != nil || nkeys == 0 || nkeys > uint64(len(sec)) {
		return corrupt("key group %d at byte %d: bad key count", kg, at)
	}
	for range nkeys {
		key := d.bytes()
		nent := d.uvarint()
		if d.err != nil || nent == 0 || nent > uint64(len(s.states)) {
			return corrupt("key group %d at byte %d: bad key entry", kg, at)
		}
		clear(used)
		for range nent {
			idx := d.uvarint()
			p := d.bytes()
			if d.err != nil || idx >= uint64(len(s.states)) || used[idx] {
				return corrupt("key group %d at byte %d: bad state entry", kg, at)
			}
			used[idx] = true
			if fn != nil {
				if err := fn(kg, string(key), int(idx), p); err != nil {
					return err
				}
			}
		}
	}
	if len(d.buf) != 0 {
		return corrupt("key group %d at byte %d: %d stray bytes", kg, at, len(d.buf))
	}
	return nil
}

// decoder reads varints and length-prefixed bytes; the first error sticks.
type decoder struct {
	buf []byte
	err error
}

var errShort = errors.New("unexpected end of data")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errShort
		if n < 0 {
			d.err = errors.New("varint overflows 64 bits")
		}
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.err = errShort
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

// bytes reads a length-prefixed byte string (aliasing the input).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.err = fmt.Errorf("length %d exceeds the %d bytes left", n, len(d.buf))
		return nil
	}
	p := d.buf[:n:n]
	d.buf = d.buf[n:]
	return p
}

// rawState holds restored entries of a state whose descriptor has not been
// registered yet, as their snapshot payloads.
type rawState struct {
	header
	snapTTL int64 // TTL recorded in the snapshot (header.ttl stays 0: no purging)
	expiry  bool  // payloads carry expiry stamps
	data    [][]byte
}

func (s *rawState) info() *header { return &s.header }

func (s *rawState) has(c int32) bool { return int(c) < len(s.data) && s.data[c] != nil }

func (s *rawState) purgeSlot(int32, int64) int { return 1 }

func (s *rawState) appendPayload(dst []byte, c int32, _ int64) ([]byte, bool, error) {
	return append(dst, s.data[c]...), true, nil
}

func (s *rawState) setPayload(c int32, p []byte, _ bool, _ int64) error {
	s.data = growTo(s.data, c, len(s.b.slots))
	if old := s.data[c]; old != nil {
		s.addBytes(-int64(len(old)))
	} else {
		s.addBytes(KeyOverhead + int64(len(s.b.slots[c].key)))
		s.keys++
		s.entries++
	}
	s.data[c] = append([]byte(nil), p...)
	s.addBytes(int64(len(p)))
	return nil
}

func (s *rawState) clearSlot(c int32) {
	s.addBytes(-(KeyOverhead + int64(len(s.b.slots[c].key)) + int64(len(s.data[c]))))
	s.data[c] = nil
	s.keys--
	s.entries--
	s.b.release(c)
}

func (s *rawState) reset() {
	s.data = nil
	s.zero()
}

// decodeInto decodes every entry into the newly registered state t, which
// takes over the slot references. On error t must be dropped; the raw
// state and the backend are as before.
func (s *rawState) decodeInto(t state) error {
	now := s.b.Now()
	for c, p := range s.data {
		if p == nil {
			continue
		}
		if err := t.setPayload(int32(c), p, s.expiry, now); err != nil {
			s.b.bytes -= t.info().bytes
			return fmt.Errorf("cannot decode restored state: %w", err)
		}
	}
	s.b.bytes -= s.bytes
	return nil
}
