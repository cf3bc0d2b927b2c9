package state

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestValueTTL(t *testing.T) {
	b, clk := newBackend(t, Options{PurgePerAccess: -1})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: 100 * time.Millisecond}))
	b.SetCurrentKey("k")
	must(0, v.Update(1)) // expires at 1100
	clk.now = 1099
	if _, ok := v.Value(); !ok {
		t.Fatal("expired before its TTL")
	}
	// Reads do not extend the TTL; writes do.
	clk.now = 1100
	if _, ok := v.Value(); ok {
		t.Fatal("visible at write time + TTL")
	}
	if b.Keys() != 0 || b.Bytes() != 0 {
		t.Fatalf("expired entry read but kept: %d keys, %d bytes", b.Keys(), b.Bytes())
	}
	must(0, v.Update(2)) // expires at 1200
	clk.now = 1150
	must(0, v.Update(3)) // expires at 1250
	clk.now = 1249
	if x, ok := v.Value(); !ok || x != 3 {
		t.Fatalf("got %d, %v", x, ok)
	}
	// An expired entry is invisible even before it is purged.
	clk.now = 5000
	if _, ok := v.Value(); ok {
		t.Fatal("expired value returned")
	}
}

func TestMapAndListTTLPerEntry(t *testing.T) {
	b, clk := newBackend(t, Options{PurgePerAccess: -1})
	m := must(RegisterMap(b, MapDescriptor[string, int64]{Name: "m", TTL: 100 * time.Millisecond}))
	l := must(RegisterList(b, Descriptor[int64]{Name: "l", TTL: 100 * time.Millisecond}))
	b.SetCurrentKey("k")
	must(0, m.Put("old", 1))
	must(0, l.Add(1))
	clk.now += 50
	must(0, m.Put("new", 2))
	must(0, l.Add(2))
	clk.now += 50 // "old" and element 1 expire now
	if m.Contains("old") || !m.Contains("new") || m.Len() != 1 {
		t.Fatalf("map: old %v new %v len %d", m.Contains("old"), m.Contains("new"), m.Len())
	}
	var keys []string
	m.Range(func(k string, _ int64) bool { keys = append(keys, k); return true })
	if !slices.Equal(keys, []string{"new"}) {
		t.Fatalf("range: %v", keys)
	}
	if g := l.Get(); !slices.Equal(g, []int64{2}) {
		t.Fatalf("list: %v", g)
	}
	clk.now += 50
	if m.Len() != 0 || l.Get() != nil {
		t.Fatal("entries outlived their TTL")
	}
	if b.Keys() != 0 || b.Bytes() != 0 {
		t.Fatalf("left %d keys, %d bytes", b.Keys(), b.Bytes())
	}
}

func TestPurge(t *testing.T) {
	b, clk := newBackend(t, Options{PurgePerAccess: -1})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: time.Second}))
	m := must(RegisterMap(b, MapDescriptor[int64, int64]{Name: "m", TTL: time.Second}))
	keep := must(RegisterValue(b, Descriptor[int64]{Name: "keep"}))
	for i := range 100 {
		b.SetCurrentKey(string(rune('a' + i)))
		must(0, v.Update(1))
		must(0, m.Put(1, 1))
		if i%10 == 0 {
			must(0, keep.Update(1))
		}
	}
	clk.now += 1000
	removed, rounds := 0, 0
	for b.Keys() > 10 {
		n := b.Purge(clk.now, 16)
		if n == 0 && rounds > 0 {
			// Every round must make progress until all expired state is gone.
			t.Fatalf("round %d removed nothing, %d keys left", rounds, b.Keys())
		}
		removed += n
		rounds++
		if rounds > 50 {
			t.Fatal("Purge does not finish")
		}
	}
	if removed != 200 || b.Keys() != 10 {
		t.Fatalf("removed %d entries, %d keys left", removed, b.Keys())
	}
	checkAccounting(t, b)
}

func TestIncrementalPurgeOnAccess(t *testing.T) {
	b, clk := newBackend(t, Options{PurgePerAccess: 4})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: time.Second}))
	for i := range 64 {
		b.SetCurrentKey(string(rune('a' + i)))
		must(0, v.Update(1))
	}
	clk.now += 2000
	b.SetCurrentKey("hot")
	for range 40 {
		must(0, v.Update(1))
	}
	if b.Keys() != 1 {
		t.Fatalf("accesses did not purge: %d keys left", b.Keys())
	}
}

// Event time before the first watermark reads math.MinInt64: entries
// written then live for TTL after the first time the backend sees.
func TestTTLBeforeClockStarts(t *testing.T) {
	wm := int64(math.MinInt64)
	b, err := NewBackend(Options{TTLTime: EventTime, Clock: func() int64 { return wm }})
	if err != nil {
		t.Fatal(err)
	}
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: 100 * time.Millisecond}))
	b.SetCurrentKey("k")
	must(0, v.Update(1))
	wm = 5000
	b.Purge(wm, 10) // the owner purges on each watermark
	wm = 5099
	if _, ok := v.Value(); !ok {
		t.Fatal("expired before first time + TTL")
	}
	wm = 5100
	if _, ok := v.Value(); ok {
		t.Fatal("visible after first time + TTL")
	}
}

func TestNoTTLNeverExpires(t *testing.T) {
	b, clk := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v"}))
	b.SetCurrentKey("k")
	must(0, v.Update(1))
	clk.now = math.MaxInt64
	if _, ok := v.Value(); !ok {
		t.Fatal("state without TTL expired")
	}
	if b.Purge(clk.now, 100) != 0 {
		t.Fatal("purged state without TTL")
	}
}

// A write that hits a limit purges expired entries to make room, but not
// those of its own key, which it has already looked at.
func TestLimitPurgeSparesCurrentKey(t *testing.T) {
	b, clk := newBackend(t, Options{MaxBytes: 700, PurgePerAccess: -1})
	m := must(RegisterMap(b, MapDescriptor[string, string]{Name: "m", TTL: time.Second}))
	b.SetCurrentKey("big")
	must(0, m.Put("x", string(make([]byte, 300))))
	b.SetCurrentKey("k")
	must(0, m.Put("a", "1"))
	clk.now += 1000 // both expire
	must(0, m.Put("b", string(make([]byte, 300))))
	if v, ok := m.Get("b"); !ok || len(v) != 300 || m.Len() != 1 {
		t.Fatalf("write lost: %d bytes, %v, len %d", len(v), ok, m.Len())
	}
	if b.Keys() != 1 {
		t.Fatalf("keys = %d, want 1", b.Keys())
	}
	checkAccounting(t, b)
}
