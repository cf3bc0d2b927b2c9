package agg

import (
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Expiry is the state TTL of the groups of a keyed operator's Table (Flink's
// table.exec.state.ttl): the processing time each group was last updated,
// and when the next purge of the expired ones is due. Its zero value, and
// one made with no TTL, keeps groups forever. Methods that take a group
// need the TTL on (On).
type Expiry struct {
	ttl   int64 // ms, 0: none
	clock func() int64
	// Last is each group's last update (ms), by group.
	Last []int64
	next int64 // the next purge
}

// NewExpiry returns the expiry of groups not updated for ttl (0 or less:
// never), reading processing time from clock (nil: the wall clock, ms).
func NewExpiry(ttl time.Duration, clock func() int64) Expiry {
	e := Expiry{clock: clock}
	if ttl > 0 {
		e.ttl = max(ttl.Milliseconds(), 1)
	}
	return e
}

// On tells whether groups expire.
func (e *Expiry) On() bool { return e.ttl > 0 }

// TTL is the time to live in milliseconds (0: none).
func (e *Expiry) TTL() int64 { return e.ttl }

// Now is the processing time in milliseconds; 0 without a TTL, which
// reads no clock.
func (e *Expiry) Now() int64 {
	if !e.On() {
		return 0
	}
	if e.clock != nil {
		return e.clock()
	}
	return time.Now().UnixMilli()
}

// every is the time between purges: a quarter of the TTL, from 10 ms to a
// minute.
func (e *Expiry) every() int64 { return min(max(e.ttl/4, 10), 60_000) }

// Start schedules the first purge, at Open; ctx may be nil (operators
// driven directly by tests).
func (e *Expiry) Start(ctx *runtime.Context) {
	if !e.On() {
		return
	}
	e.next = e.Now() + e.every()
	if ctx != nil {
		ctx.RegisterProcessingTimer(e.next)
	}
}

// Rearm schedules the processing-time timer of the next purge, after one
// ran at now (OnProcessingTime).
func (e *Expiry) Rearm(ctx *runtime.Context, now int64) {
	if ctx != nil && e.On() {
		ctx.RegisterProcessingTimer(max(now, e.next))
	}
}

// Due tells whether a purge is due at now; when it is, the next one is
// scheduled from now.
func (e *Expiry) Due(now int64) bool {
	if !e.On() || now < e.next {
		return false
	}
	e.next = now + e.every()
	return true
}

// Expired tells whether group g, not updated since Last[g], has expired at
// now; never without a TTL or for a group never updated.
func (e *Expiry) Expired(g int32, now int64) bool {
	return e.ttl > 0 && int(g) < len(e.Last) && e.Last[g] <= now-e.ttl
}

// Touch records an update of group g at now, adding the groups before it
// (updated at now) when g is new.
func (e *Expiry) Touch(g int32, now int64) {
	if !e.On() {
		return
	}
	e.Grow(int(g)+1, now)
	e.Last[g] = now
}

// Grow adds groups, updated at now, until there are n.
func (e *Expiry) Grow(n int, now int64) {
	for e.On() && len(e.Last) < n {
		e.Last = append(e.Last, now)
	}
}

// Reset makes n groups, all updated at now: restored state's TTL starts
// when it is restored.
func (e *Expiry) Reset(n int, now int64) {
	if !e.On() {
		return
	}
	e.Last = e.Last[:0]
	e.Grow(n, now)
}

// Compact keeps the groups g with live[g], in order, as Table.Compact does.
func (e *Expiry) Compact(live []bool) {
	if len(e.Last) == 0 {
		return
	}
	k := 0
	for g, ok := range live {
		if ok {
			e.Last[k] = e.Last[g]
			k++
		}
	}
	e.Last = e.Last[:k]
}

// Bytes is the memory the expiry holds.
func (e *Expiry) Bytes() int { return cap(e.Last) * 8 }

// PurgeAt sets when the next purge is due (ms), instead of a quarter of
// the TTL after the last one.
func (e *Expiry) PurgeAt(at int64) { e.next = at }
