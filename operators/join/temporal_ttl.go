package join

import (
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// tjTTL is the state time-to-live of the temporal joins' keys, in
// processing time, as Flink's 'table.exec.state.ttl' and as groupagg's: a
// key whose versioned (build) side has had no change for the TTL is never
// read again — probe rows find no version for it, and a new change starts
// it anew — and its memory is freed by a purge every TTL/4 (10 ms to
// 1 min), also while no rows arrive. Keys restored from a snapshot start
// their TTL at the restore.
type tjTTL struct {
	ttl       int64 // ms; 0: none
	clock     func() int64
	last      []int64 // by key id: the last change's processing time
	nextPurge int64
}

func newTJTTL(ttl time.Duration, clock func() int64) tjTTL {
	t := tjTTL{clock: clock}
	if ttl > 0 {
		t.ttl = max(ttl.Milliseconds(), 1)
	}
	return t
}

// now is the processing time in milliseconds (0 without a TTL).
func (t *tjTTL) now() int64 {
	if t.ttl == 0 {
		return 0
	}
	if t.clock != nil {
		return t.clock()
	}
	return time.Now().UnixMilli()
}

// touch records a change of key k at now.
func (t *tjTTL) touch(k int32, now int64) {
	if t.ttl == 0 {
		return
	}
	for int(k) >= len(t.last) {
		t.last = append(t.last, now)
	}
	t.last[k] = now
}

// expired reports whether key k has had no change for the TTL at now.
func (t *tjTTL) expired(k int32, now int64) bool {
	return t.ttl > 0 && int(k) < len(t.last) && t.last[k] <= now-t.ttl
}

func (t *tjTTL) purgeEvery() int64 { return min(max(t.ttl/4, 10), 60_000) }

// purgeDue reports whether a purge is due at now, and schedules the next.
func (t *tjTTL) purgeDue(now int64) bool {
	if t.ttl == 0 || now < t.nextPurge {
		return false
	}
	t.nextPurge = now + t.purgeEvery()
	return true
}

// open schedules the first purge.
func (t *tjTTL) open(ctx *runtime.Context) {
	if t.ttl == 0 {
		return
	}
	t.nextPurge = t.now() + t.purgeEvery()
	if ctx != nil {
		ctx.RegisterProcessingTimer(t.nextPurge)
	}
}

// rearm registers the timer of the next purge.
func (t *tjTTL) rearm(ctx *runtime.Context, now int64) {
	if ctx != nil && t.ttl > 0 {
		ctx.RegisterProcessingTimer(max(now, t.nextPurge))
	}
}

// restart gives every key the TTL from now (after a restore).
func (t *tjTTL) restart(keys int) {
	if t.ttl == 0 {
		return
	}
	now := t.now()
	t.last = t.last[:0]
	for range keys {
		t.last = append(t.last, now)
	}
}
