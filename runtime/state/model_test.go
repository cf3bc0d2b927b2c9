package state

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestModel runs random operations against a backend and against plain
// maps, with TTL on a fake clock, incremental and explicit purges, and
// snapshot/restore cycles, and compares what each shows.
func TestModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed, 3000) })
	}
}

type expiring[T any] struct {
	v   T
	exp int64 // 0: never
}

func (e expiring[T]) live(now int64) bool { return e.exp == 0 || e.exp > now }

type model struct {
	val  map[string]expiring[int64]            // value state, TTL
	perm map[string]expiring[string]           // value state, no TTL
	m    map[string]map[int64]expiring[string] // map state, TTL
	l    map[string][]expiring[int64]          // list state, TTL
}

type modelStates struct {
	val  *ValueState[int64]
	perm *ValueState[string]
	m    *MapState[int64, string]
	l    *ListState[int64]
}

const modelTTL = 100

func registerModel(t *testing.T, b *Backend) modelStates {
	t.Helper()
	ttl := modelTTL * time.Millisecond
	return modelStates{
		val:  must(RegisterValue(b, Descriptor[int64]{Name: "val", TTL: ttl})),
		perm: must(RegisterValue(b, Descriptor[string]{Name: "perm"})),
		m:    must(RegisterMap(b, MapDescriptor[int64, string]{Name: "m", TTL: ttl})),
		l:    must(RegisterList(b, Descriptor[int64]{Name: "l", TTL: ttl})),
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	clk := &fakeClock{now: 1000}
	opts := Options{Clock: clk.Now, PurgePerAccess: rng.IntN(6) - 1}
	if seed%3 == 1 {
		// Limits: refused writes must change nothing visible.
		opts.MaxKeys, opts.MaxBytes = 8, 2500
	}
	b := must(NewBackend(opts))
	st := registerModel(t, b)
	ref := model{val: map[string]expiring[int64]{}, perm: map[string]expiring[string]{}, m: map[string]map[int64]expiring[string]{}, l: map[string][]expiring[int64]{}}
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	key := keys[0]
	b.SetCurrentKey(key)
	exp := func() int64 { return clk.now + modelTTL }
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d after %v: %s", seed, log[max(0, len(log)-12):], fmt.Sprintf(format, args...))
	}
	refused := 0
	defer func() {
		if opts.MaxKeys > 0 && refused == 0 {
			t.Errorf("seed %d: limits never refused a write", seed)
		}
	}()
	// ok reports whether a write was applied; only limits may refuse one.
	ok := func(err error) bool {
		t.Helper()
		if err != nil && !errors.Is(err, ErrStateLimit) {
			fail("write failed: %v", err)
		}
		if err != nil {
			refused++
		}
		return err == nil
	}
	for step := range steps {
		op := rng.IntN(20)
		x := rng.Int64N(8)
		log = append(log, fmt.Sprintf("%d:op%d(%d)@%d", step, op, x, clk.now))
		switch op {
		case 0, 1:
			key = keys[rng.IntN(len(keys))]
			if rng.IntN(2) == 0 {
				b.SetCurrentKey(key)
			} else {
				b.SetCurrentKeyBytes([]byte(key), -1)
			}
		case 2:
			if ok(st.val.Update(x)) {
				ref.val[key] = expiring[int64]{x, exp()}
			}
		case 3:
			st.val.Clear()
			delete(ref.val, key)
		case 4:
			s := fmt.Sprint("p", x)
			if ok(st.perm.Update(s)) {
				ref.perm[key] = expiring[string]{s, 0}
			}
		case 5:
			st.perm.Clear()
			delete(ref.perm, key)
		case 6, 7:
			s := fmt.Sprint("v", x, "-", step)
			if ok(st.m.Put(x, s)) {
				if ref.m[key] == nil {
					ref.m[key] = map[int64]expiring[string]{}
				}
				ref.m[key][x] = expiring[string]{s, exp()}
			}
		case 8:
			st.m.Remove(x)
			delete(ref.m[key], x)
		case 9:
			if rng.IntN(4) == 0 {
				st.m.Clear()
				delete(ref.m, key)
			} else {
				// Remove odd user keys while ranging.
				st.m.Range(func(k int64, _ string) bool {
					if k%2 == 1 {
						st.m.Remove(k)
					}
					return true
				})
				for k := range ref.m[key] {
					if k%2 == 1 {
						delete(ref.m[key], k)
					}
				}
			}
		case 10, 11:
			if ok(st.l.Add(x)) {
				ref.l[key] = append(ref.l[key], expiring[int64]{x, exp()})
			}
		case 12:
			var vs []int64
			for range rng.IntN(3) {
				vs = append(vs, rng.Int64N(100))
			}
			if ok(st.l.Update(vs)) {
				ref.l[key] = nil
				for _, v := range vs {
					ref.l[key] = append(ref.l[key], expiring[int64]{v, exp()})
				}
			}
		case 13:
			st.l.Clear()
			delete(ref.l, key)
		case 14, 15:
			clk.now += rng.Int64N(40)
		case 16:
			b.Purge(clk.now, rng.IntN(10))
		case 17:
			// Snapshot, then restore into a fresh backend, registering
			// before or after the restore.
			var buf bytes.Buffer
			must(0, b.Snapshot(&buf))
			nb := must(NewBackend(opts))
			before := rng.IntN(2) == 0
			if before {
				st = registerModel(t, nb)
			}
			must(0, nb.Restore(&buf))
			if !before {
				st = registerModel(t, nb)
			}
			b = nb
			b.SetCurrentKey(key)
		default:
			// Reads, which may purge.
			checkKey(t, st, ref, key, clk.now, fail)
		}
		if step%50 == 0 {
			for _, k := range keys {
				b.SetCurrentKey(k)
				checkKey(t, st, ref, k, clk.now, fail)
			}
			b.SetCurrentKey(key)
			checkAccounting(t, b)
			if opts.MaxKeys > 0 && (b.Keys() > opts.MaxKeys || b.Bytes() > opts.MaxBytes) {
				// Restores do not enforce limits; writes never pass them.
				fail("over limits: %d keys, %d bytes", b.Keys(), b.Bytes())
			}
			if live := liveKeys(ref, clk.now); b.Keys() < live {
				fail("backend has %d keys, model %d live", b.Keys(), live)
			}
		}
	}
	// Expire everything with TTL, clear the rest: nothing may remain.
	clk.now += modelTTL
	for _, k := range keys {
		b.SetCurrentKey(k)
		st.perm.Clear()
	}
	b.Purge(clk.now, 1000)
	if b.Keys() != 0 || b.Bytes() != 0 {
		fail("after expiring and clearing all: %d keys, %d bytes", b.Keys(), b.Bytes())
	}
}

func liveKeys(ref model, now int64) int {
	n := 0
	all := map[string]bool{}
	for k, e := range ref.val {
		all[k] = all[k] || e.live(now)
	}
	for k := range ref.perm {
		all[k] = true
	}
	for k, m := range ref.m {
		for _, e := range m {
			all[k] = all[k] || e.live(now)
		}
	}
	for k, l := range ref.l {
		for _, e := range l {
			all[k] = all[k] || e.live(now)
		}
	}
	for _, live := range all {
		if live {
			n++
		}
	}
	return n
}

func checkKey(t *testing.T, st modelStates, ref model, key string, now int64, fail func(string, ...any)) {
	t.Helper()
	v, ok := st.val.Value()
	if e, rok := ref.val[key]; (rok && e.live(now)) != ok || (ok && v != e.v) {
		fail("key %s val: got %d,%v want %+v", key, v, ok, e)
	}
	p, ok := st.perm.Value()
	if e, rok := ref.perm[key]; rok != ok || p != e.v {
		fail("key %s perm: got %q,%v want %+v", key, p, ok, e)
	}
	want := map[int64]string{}
	for k, e := range ref.m[key] {
		if e.live(now) {
			want[k] = e.v
		}
	}
	got := map[int64]string{}
	st.m.Range(func(k int64, v string) bool { got[k] = v; return true })
	if !maps.Equal(got, want) || st.m.Len() != len(want) {
		fail("key %s map: got %v (len %d) want %v", key, got, st.m.Len(), want)
	}
	for k := range int64(8) {
		gv, gok := st.m.Get(k)
		wv, wok := want[k]
		if gok != wok || gv != wv || st.m.Contains(k) != wok {
			fail("key %s map[%d]: got %q,%v want %q,%v", key, k, gv, gok, wv, wok)
		}
	}
	var wl []int64
	for _, e := range ref.l[key] {
		if e.live(now) {
			wl = append(wl, e.v)
		}
	}
	if gl := st.l.Get(); !slices.Equal(gl, wl) {
		fail("key %s list: got %v want %v", key, gl, wl)
	}
}
