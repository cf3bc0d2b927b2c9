// Package state is Sluice's keyed state for user-defined keyed operators,
// in the manner of Flink's heap keyed state backend.
//
// One Backend belongs to one operator subtask and is used only from that
// subtask's goroutine, so nothing in it is locked. The operator sets the
// current key (SetCurrentKey, SetCurrentKeyBytes) before it reads or writes
// state; every state registered on the backend — ValueState, MapState,
// ListState — then reads and writes the entry of that key.
//
// A state may have a time-to-live: writes stamp an entry with clock+TTL
// (Flink's OnCreateAndWrite), an expired entry is never returned, and
// expired entries are removed incrementally, a few per access and on
// Purge. The backend estimates the bytes each state holds and enforces
// MaxKeys and MaxBytes: a write that would exceed one fails with an error
// matching ErrStateLimit instead of growing memory without bound.
//
// Snapshot and Restore write and read the whole backend in a versioned,
// checksummed format whose entries are grouped by key group, so a later
// rescale can hand each subtask the key groups it owns (RestoreKeyGroups).
package state

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// TimeDomain says which clock state TTL is measured on.
type TimeDomain uint8

// Time domains for TTL.
const (
	// ProcessingTime measures TTL on the wall clock (the default).
	ProcessingTime TimeDomain = iota
	// EventTime measures TTL on event time: the backend's owner supplies
	// the clock, typically the current watermark (the process operator
	// does this itself when Options.Clock is nil).
	EventTime
)

// Options configure a Backend. The zero value is a backend without limits
// whose TTL runs on the wall clock.
type Options struct {
	// MaxKeys bounds the number of distinct keys holding state (0: no
	// limit). A write that would add a key beyond it fails.
	MaxKeys int
	// MaxBytes bounds the estimated size of all state, keys and values (0:
	// no limit). A write that would grow the estimate beyond it fails;
	// writes that shrink state always succeed.
	MaxBytes int64
	// TTLTime is the time domain of TTL. With EventTime, Clock must be set
	// (the process operator sets it from the watermark).
	TTLTime TimeDomain
	// Clock returns the current time in milliseconds for TTL. nil: the wall
	// clock. The clock should not go backwards.
	Clock func() int64
	// PurgePerAccess is how many entries of a TTL state (at least one
	// key's) are checked for expiry on each access to that state (0: 4;
	// negative: none).
	PurgePerAccess int
}

// ErrStateLimit is matched (errors.Is) by the error of a write that would
// exceed Options.MaxKeys or Options.MaxBytes; the error is a *LimitError.
var ErrStateLimit = errors.New("state limit exceeded")

// LimitError reports a write refused because it would exceed a limit.
type LimitError struct {
	State   string // the state written to
	Limit   string // "MaxKeys" or "MaxBytes"
	Max     int64  // the configured limit
	Current int64  // keys or estimated bytes held before the write
	Need    int64  // keys or bytes the write would add
}

func (e *LimitError) Error() string {
	unit := "bytes"
	if e.Limit == "MaxKeys" {
		unit = "keys"
	}
	return fmt.Sprintf("%v: state %q: %s is %d, %d %s held, write needs %d more", ErrStateLimit, e.State, e.Limit, e.Max, e.Current, unit, e.Need)
}

// Is makes errors.Is(err, ErrStateLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrStateLimit }

// Size estimates, in bytes. They approximate the Go heap a Backend uses;
// they are not exact.
const (
	// KeyOverhead is charged per key per state holding it, on top of the
	// key's length: slot, map and slice bookkeeping.
	KeyOverhead = 48
	// EntryOverhead is charged per MapState entry and per ListState
	// element on top of the value sizes (map bucket, expiry stamp).
	EntryOverhead = 16
)

const (
	noSlot = -1
	// unstarted stamps an entry written while the clock still read
	// math.MinInt64 (event time before the first watermark): it expires
	// TTL after the first time the backend observes.
	unstarted             = math.MinInt64
	defaultPurgePerAccess = 4
	// limitPurgeBudget is how many entries are checked for expiry before
	// a write is refused for a limit.
	limitPurgeBudget = 1024
)

// slot is one key holding state in at least one state.
type slot struct {
	key  string
	kg   int32
	refs int32 // states holding an entry for the key
}

// Backend holds the keyed state of one operator subtask. It is not safe for
// concurrent use: only the subtask's goroutine may call it.
type Backend struct {
	opts  Options
	clock func() int64

	keys  map[string]int32 // key → slot
	slots []slot
	free  []int32

	cur     int32  // slot of the current key, or noSlot
	curKey  string // current key when it has no slot and keyStr is set
	keyBuf  []byte // current key when it has no slot and keyStr is not set
	keyStr  bool
	curKG   int32 // key group of the current key without slot; -1: compute
	hasKey  bool
	bytes   int64
	started bool  // the clock has read something above math.MinInt64
	first   int64 // first such reading
	keepCur bool  // purges skip the current key's slot

	states []state
	byName map[string]state
	purgeI int // next state for Purge
}

// NewBackend returns an empty backend.
func NewBackend(opts Options) (*Backend, error) {
	if opts.MaxKeys < 0 {
		return nil, fmt.Errorf("state: MaxKeys must not be negative, got %d", opts.MaxKeys)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("state: MaxBytes must not be negative, got %d", opts.MaxBytes)
	}
	if opts.TTLTime == EventTime && opts.Clock == nil {
		return nil, errors.New("state: event-time TTL needs Options.Clock")
	}
	if opts.PurgePerAccess == 0 {
		opts.PurgePerAccess = defaultPurgePerAccess
	}
	b := &Backend{opts: opts, clock: opts.Clock, keys: make(map[string]int32), byName: make(map[string]state), cur: noSlot, curKG: -1}
	if b.clock == nil {
		b.clock = func() int64 { return time.Now().UnixMilli() }
	}
	return b, nil
}

// Now reads the TTL clock.
func (b *Backend) Now() int64 {
	now := b.clock()
	if !b.started && now != math.MinInt64 {
		b.started, b.first = true, now
	}
	return now
}

// SetCurrentKey sets the key that state reads and writes apply to. Its key
// group, recorded in snapshots, is runtime.KeyGroup(runtime.HashString(key)).
func (b *Backend) SetCurrentKey(key string) {
	b.hasKey = true
	if b.cur != noSlot && b.slots[b.cur].key == key {
		return
	}
	if s, ok := b.keys[key]; ok {
		b.cur = s
		return
	}
	b.cur, b.curKey, b.keyStr, b.curKG = noSlot, key, true, -1
}

// SetCurrentKeyBytes is SetCurrentKey for a key encoded into a reused
// buffer (see EncodeKey). The backend does not keep key. keyGroup is the key
// group recorded for the key in snapshots; an operator behind a keyed
// exchange passes the group the exchange routed the row by
// (runtime.KeyGroup of runtime.HashColumns), so that a rescale moves the
// state with its rows. -1 computes it from the key as SetCurrentKey does.
// Setting a key that already holds state does not allocate.
func (b *Backend) SetCurrentKeyBytes(key []byte, keyGroup int) {
	b.hasKey = true
	if b.cur != noSlot && b.slots[b.cur].key == string(key) {
		return
	}
	if s, ok := b.keys[string(key)]; ok {
		b.cur = s
		return
	}
	b.cur, b.keyStr, b.curKG = noSlot, false, int32(keyGroup)
	b.keyBuf = append(b.keyBuf[:0], key...)
}

// CurrentKey returns the current key ("" before one is set).
func (b *Backend) CurrentKey() string {
	switch {
	case b.cur != noSlot:
		return b.slots[b.cur].key
	case !b.keyStr:
		b.curKey, b.keyStr = string(b.keyBuf), true
	}
	return b.curKey
}

// CurrentKeyGroup returns the key group of the current key.
func (b *Backend) CurrentKeyGroup() int {
	if b.cur != noSlot {
		return int(b.slots[b.cur].kg)
	}
	if b.curKG < 0 {
		b.curKG = int32(runtime.KeyGroup(runtime.HashString(b.CurrentKey())))
	}
	return int(b.curKG)
}

func (b *Backend) curKeyLen() int {
	switch {
	case b.cur != noSlot:
		return len(b.slots[b.cur].key)
	case b.keyStr:
		return len(b.curKey)
	}
	return len(b.keyBuf)
}

// Keys returns the number of distinct keys holding state.
func (b *Backend) Keys() int { return len(b.keys) }

// Bytes returns the estimated size of all state in bytes.
func (b *Backend) Bytes() int64 { return b.bytes }

// Kind is the kind of a state.
type Kind uint8

// State kinds.
const (
	KindValue Kind = iota + 1
	KindMap
	KindList
)

func (k Kind) String() string {
	switch k {
	case KindValue:
		return "value"
	case KindMap:
		return "map"
	case KindList:
		return "list"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Stats describe one state.
type Stats struct {
	Name    string
	Kind    Kind
	TTL     time.Duration
	Keys    int   // keys holding an entry (expired ones until purged)
	Entries int   // values, map entries or list elements
	Bytes   int64 // estimated size, keys included
	// Restored is true for state restored from a snapshot whose
	// descriptor has not been registered yet; it is kept as encoded bytes.
	Restored bool
}

// Stats returns the statistics of every state, in registration order
// (restored-but-unregistered states last).
func (b *Backend) Stats() []Stats {
	out := make([]Stats, 0, len(b.states))
	for _, s := range b.states {
		h := s.info()
		ttl := h.ttl
		raw, isRaw := s.(*rawState)
		if isRaw {
			ttl = raw.snapTTL
		}
		out = append(out, Stats{Name: h.name, Kind: h.kind, TTL: time.Duration(ttl) * time.Millisecond, Keys: h.keys, Entries: h.entries, Bytes: h.bytes, Restored: isRaw})
	}
	return out
}

// Purge removes expired entries of TTL states as of now, checking about
// budget entries (a key's whole map or list at a time; an empty slot costs
// 1), and returns how many entries it removed. Successive calls continue
// where the last one stopped, so calling it on timers or watermarks
// eventually visits all state. Expired entries are invisible whether purged
// or not.
func (b *Backend) Purge(now int64, budget int) int {
	if !b.started && now != math.MinInt64 {
		b.started, b.first = true, now
	}
	removed := 0
	for tries := 0; tries < len(b.states) && budget > 0; tries++ {
		if b.purgeI >= len(b.states) {
			b.purgeI = 0
		}
		s := b.states[b.purgeI]
		h := s.info()
		if h.ttl == 0 || h.keys == 0 {
			b.purgeI++
			continue
		}
		n, used := h.purgeSome(s, now, budget)
		removed += n
		budget -= used
		if budget > 0 {
			b.purgeI++ // this state had its full pass; visit the next
		}
	}
	return removed
}

// --- slots, limits and accounting, used by the states ---

// acquire returns the slot of the current key, creating it (subject to
// MaxKeys) if needed, and takes a reference on it for state name.
func (b *Backend) acquire(name string) (int32, error) {
	if !b.hasKey {
		return noSlot, fmt.Errorf("state %q: no current key set", name)
	}
	if b.cur == noSlot {
		if b.opts.MaxKeys > 0 && len(b.keys) >= b.opts.MaxKeys {
			b.limitPurge()
			if len(b.keys) >= b.opts.MaxKeys {
				return noSlot, &LimitError{State: name, Limit: "MaxKeys", Max: int64(b.opts.MaxKeys), Current: int64(len(b.keys)), Need: 1}
			}
		}
		key := b.CurrentKey()
		kg := b.CurrentKeyGroup()
		var s int32
		if n := len(b.free); n > 0 {
			s = b.free[n-1]
			b.free = b.free[:n-1]
		} else {
			s = int32(len(b.slots))
			b.slots = append(b.slots, slot{})
		}
		b.slots[s] = slot{key: key, kg: int32(kg)}
		b.keys[key] = s
		b.cur = s
	}
	b.slots[b.cur].refs++
	return b.cur, nil
}

// release drops a state's reference on slot s, freeing it with the last.
func (b *Backend) release(s int32) {
	sl := &b.slots[s]
	sl.refs--
	if sl.refs > 0 {
		return
	}
	if b.cur == s {
		b.cur, b.curKey, b.keyStr, b.curKG = noSlot, sl.key, true, sl.kg
	}
	delete(b.keys, sl.key)
	*sl = slot{}
	b.free = append(b.free, s)
}

// checkGrow returns a *LimitError when growing state name by delta bytes
// would exceed MaxBytes.
func (b *Backend) checkGrow(name string, delta int64) error {
	if delta <= 0 || b.opts.MaxBytes <= 0 || b.bytes+delta <= b.opts.MaxBytes {
		return nil
	}
	b.limitPurge()
	if b.bytes+delta <= b.opts.MaxBytes {
		return nil
	}
	return &LimitError{State: name, Limit: "MaxBytes", Max: b.opts.MaxBytes, Current: b.bytes, Need: delta}
}

// limitPurge removes expired entries before a write is refused for a
// limit. It leaves the current key alone: the write in progress has
// already looked at that key's entries.
func (b *Backend) limitPurge() {
	b.keepCur = true
	b.Purge(b.Now(), limitPurgeBudget)
	b.keepCur = false
}

// --- the part every state shares ---

// state is the type-erased side of a registered (or restored) state.
type state interface {
	info() *header
	// purgeSlot removes the expired entries of slot s and returns how
	// many entries it looked at.
	purgeSlot(s int32, now int64) int
	// appendPayload appends the snapshot payload of slot s; ok is false
	// when the state holds nothing (unexpired) for s.
	appendPayload(dst []byte, s int32, now int64) (out []byte, ok bool, err error)
	// setPayload replaces the entry of slot s (already acquired when the
	// state held nothing there) with a decoded payload.
	setPayload(s int32, p []byte, ttl bool, now int64) error
	// has reports whether the state holds an entry for slot s.
	has(s int32) bool
	// clearSlot drops the entry of slot s, releasing the slot.
	clearSlot(s int32)
	// reset drops every entry without releasing slots (the backend is
	// dropping them all).
	reset()
}

type header struct {
	b       *Backend
	name    string
	kind    Kind
	ttl     int64 // ms; 0: no expiry
	keys    int
	entries int
	bytes   int64
	cursor  int32 // incremental purge position
}

func (h *header) zero() { h.keys, h.entries, h.bytes, h.cursor = 0, 0, 0, 0 }

func (h *header) addBytes(d int64) {
	h.bytes += d
	h.b.bytes += d
}

// now reads the clock for a TTL state.
func (h *header) now() int64 {
	if h.ttl == 0 {
		return 0
	}
	return h.b.Now()
}

// expiry returns the expiry stamp of an entry written at now.
func (h *header) expiry(now int64) int64 {
	if now == math.MinInt64 {
		return unstarted
	}
	return satAdd(now, h.ttl)
}

// expired reports whether an entry stamped exp has expired at now.
func (h *header) expired(exp, now int64) bool {
	if h.ttl == 0 {
		return false
	}
	if exp == unstarted {
		if !h.b.started {
			return false
		}
		exp = satAdd(h.b.first, h.ttl)
	}
	return exp <= now
}

// resolve replaces the unstarted stamp by a real one when the clock has
// started (for snapshots).
func (h *header) resolve(exp int64) int64 {
	if exp == unstarted && h.b.started {
		return satAdd(h.b.first, h.ttl)
	}
	return exp
}

// afterAccess runs the incremental purge of a TTL state.
func (h *header) afterAccess(s state, now int64) {
	if h.ttl == 0 || h.b.opts.PurgePerAccess < 0 {
		return
	}
	h.purgeSome(s, now, h.b.opts.PurgePerAccess)
}

// purgeSome checks keys from the cursor for expired entries until it has
// spent budget (a key costs the entries it holds, at least 1) or visited
// every slot once. It returns the entries removed and the budget used.
func (h *header) purgeSome(s state, now int64, budget int) (removed, used int) {
	before := h.entries
	slots := int32(len(h.b.slots))
	for visited := int32(0); used < budget && visited < slots && h.keys > 0; visited++ {
		if h.cursor >= slots {
			h.cursor = 0
		}
		cost := 1
		if s.has(h.cursor) && !(h.b.keepCur && h.cursor == h.b.cur) {
			cost = max(1, s.purgeSlot(h.cursor, now))
		}
		used += cost
		h.cursor++
	}
	return before - h.entries, used
}

func satAdd(a, b int64) int64 {
	c := a + b
	if b > 0 && c < a {
		return math.MaxInt64
	}
	return c
}

// register adds a new state or returns the one registered under the name.
// A restored-but-unregistered state of that name is decoded into the new
// one.
func register[S state](b *Backend, name string, kind Kind, ttl time.Duration, mk func(h header) S) (S, error) {
	var zero S
	if name == "" {
		return zero, errors.New("state: a state needs a name")
	}
	if ttl < 0 || (ttl > 0 && ttl < time.Millisecond) {
		return zero, fmt.Errorf("state %q: TTL must be 0 or at least 1ms, got %v", name, ttl)
	}
	if old, ok := b.byName[name]; ok {
		if raw, isRaw := old.(*rawState); isRaw {
			if raw.kind != kind {
				return zero, fmt.Errorf("state %q: registered as a %v state but restored as a %v state", name, kind, raw.kind)
			}
			s := mk(header{b: b, name: name, kind: kind, ttl: ttl.Milliseconds()})
			if err := raw.decodeInto(s); err != nil {
				return zero, err
			}
			b.replace(raw, s)
			return s, nil
		}
		s, ok := old.(S)
		if !ok {
			return zero, fmt.Errorf("state %q: already registered as a %v state of another type (%T)", name, old.info().kind, old)
		}
		if h := s.info(); h.ttl != ttl.Milliseconds() {
			return zero, fmt.Errorf("state %q: already registered with TTL %v, not %v", name, time.Duration(h.ttl)*time.Millisecond, ttl)
		}
		return s, nil
	}
	s := mk(header{b: b, name: name, kind: kind, ttl: ttl.Milliseconds()})
	b.states = append(b.states, s)
	b.byName[name] = s
	return s, nil
}

// replace swaps a state for another of the same name, keeping registered
// states ahead of restored ones.
func (b *Backend) replace(old, s state) {
	for i, x := range b.states {
		if x == old {
			b.states = append(b.states[:i], b.states[i+1:]...)
			break
		}
	}
	i := 0
	for i < len(b.states) {
		if _, raw := b.states[i].(*rawState); raw {
			break
		}
		i++
	}
	b.states = append(b.states, nil)
	copy(b.states[i+1:], b.states[i:])
	b.states[i] = s
	b.byName[s.info().name] = s
}

// growTo extends s with zero values so that index i is valid.
func growTo[T any](s []T, i int32, slots int) []T {
	if int(i) < len(s) {
		return s
	}
	n := max(slots, int(i)+1)
	if n <= cap(s) {
		return s[:n]
	}
	return append(s[:cap(s)], make([]T, n-cap(s))...)
}
