package agg

import (
	"slices"
	"testing"
	"time"
)

func TestExpiryPurgesAQuarterTTLApartAndKeepsTheLiveGroupsTimes(t *testing.T) {
	clock := int64(1000)
	e := NewExpiry(time.Second, func() int64 { return clock })
	if !e.On() || e.TTL() != 1000 {
		t.Fatalf("On %v, TTL %d", e.On(), e.TTL())
	}
	e.Start(nil)
	if e.Due(clock + 249) {
		t.Fatal("a purge due before a quarter of the TTL")
	}
	if !e.Due(clock+250) || e.Due(clock+251) {
		t.Fatal("the purge a quarter of the TTL after the start is not due once")
	}
	e.Grow(3, 1000)
	e.Last[1] = 1900
	if !e.Expired(0, 2000) || e.Expired(1, 2000) {
		t.Fatalf("expired at 2000: %v %v", e.Expired(0, 2000), e.Expired(1, 2000))
	}
	e.Compact([]bool{false, true, true})
	if !slices.Equal(e.Last, []int64{1900, 1000}) {
		t.Fatalf("after compaction: %v", e.Last)
	}
	e.Reset(4, 5000)
	if !slices.Equal(e.Last, []int64{5000, 5000, 5000, 5000}) {
		t.Fatalf("after reset: %v", e.Last)
	}
}

func TestExpiryWithoutTTLKeepsNothing(t *testing.T) {
	var e Expiry
	e.Start(nil)
	e.Grow(10, 1)
	e.Reset(10, 1)
	e.Compact([]bool{true})
	if e.On() || e.Due(1<<40) || len(e.Last) != 0 || e.Bytes() != 0 {
		t.Fatalf("an expiry without TTL holds %d times, due %v", len(e.Last), e.Due(1<<40))
	}
	if e := NewExpiry(time.Microsecond, nil); e.TTL() != 1 {
		t.Fatal("a TTL under a millisecond is not 1 ms")
	}
}
