package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// states is the set of states the snapshot tests use.
type states struct {
	v   *ValueState[int64]
	s   *ValueState[string]
	m   *MapState[string, float64]
	l   *ListState[[]byte]
	ttl *ValueState[bool]
}

func registerAll(t testing.TB, b *Backend) states {
	t.Helper()
	return states{
		v:   must(RegisterValue(b, Descriptor[int64]{Name: "v"})),
		s:   must(RegisterValue(b, Descriptor[string]{Name: "s"})),
		m:   must(RegisterMap(b, MapDescriptor[string, float64]{Name: "m"})),
		l:   must(RegisterList(b, Descriptor[[]byte]{Name: "l"})),
		ttl: must(RegisterValue(b, Descriptor[bool]{Name: "ttl", TTL: time.Second})),
	}
}

func fill(t testing.TB, b *Backend, st states, keys int) {
	t.Helper()
	for i := range keys {
		b.SetCurrentKey(fmt.Sprintf("key-%d", i))
		must(0, st.v.Update(int64(i)*1000003))
		if i%2 == 0 {
			must(0, st.s.Update(fmt.Sprint("name ", i)))
		}
		if i%3 == 0 {
			for j := range i % 7 {
				must(0, st.m.Put(fmt.Sprint("f", j), float64(i)/float64(j+1)))
			}
		}
		if i%5 == 0 {
			must(0, st.l.Add([]byte{byte(i)}))
			must(0, st.l.Add(nil))
			must(0, st.l.Add([]byte("x")))
		}
		if i%4 == 0 {
			must(0, st.ttl.Update(i%8 == 0))
		}
	}
}

// dump renders every key's visible state, for comparisons.
func dump(b *Backend, st states, keys int) map[string]string {
	out := make(map[string]string)
	for i := range keys {
		k := fmt.Sprintf("key-%d", i)
		b.SetCurrentKey(k)
		var s string
		if v, ok := st.v.Value(); ok {
			s += fmt.Sprint("v=", v, ";")
		}
		if v, ok := st.s.Value(); ok {
			s += fmt.Sprintf("s=%q;", v)
		}
		var mk []string
		st.m.Range(func(k string, v float64) bool { mk = append(mk, fmt.Sprint(k, ":", v)); return true })
		slices.Sort(mk)
		if len(mk) > 0 {
			s += fmt.Sprint("m=", mk, ";")
		}
		if l := st.l.Get(); l != nil {
			s += fmt.Sprintf("l=%q;", l)
		}
		if v, ok := st.ttl.Value(); ok {
			s += fmt.Sprint("ttl=", v, ";")
		}
		if s != "" {
			out[k] = s
		}
	}
	return out
}

func takeSnapshot(t testing.TB, b *Backend) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	const keys = 300
	b, _ := newBackend(t, Options{})
	st := registerAll(t, b)
	fill(t, b, st, keys)
	want := dump(b, st, keys)
	snap := takeSnapshot(t, b)

	// Registered before Restore.
	b1, _ := newBackend(t, Options{})
	st1 := registerAll(t, b1)
	b1.SetCurrentKey("key-1")
	must(0, st1.v.Update(-1)) // replaced by the restore
	must(0, b1.Restore(bytes.NewReader(snap)))
	if got := dump(b1, st1, keys); !maps.Equal(got, want) {
		t.Fatalf("restore into registered states differs:\n%v\n%v", got, want)
	}
	if b1.Keys() != b.Keys() || b1.Bytes() != b.Bytes() {
		t.Fatalf("restored %d keys, %d bytes; had %d, %d", b1.Keys(), b1.Bytes(), b.Keys(), b.Bytes())
	}
	checkAccounting(t, b1)

	// Registered after Restore; a snapshot taken in between keeps the
	// undecoded states as they were.
	b2, _ := newBackend(t, Options{})
	must(0, b2.Restore(bytes.NewReader(snap)))
	if b2.Keys() != b.Keys() {
		t.Fatalf("restored %d keys, want %d", b2.Keys(), b.Keys())
	}
	for _, s := range b2.Stats() {
		if !s.Restored {
			t.Fatalf("state %q not marked restored", s.Name)
		}
	}
	if again := takeSnapshot(t, b2); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of undecoded restored state differs from the original")
	}
	st2 := registerAll(t, b2)
	if got := dump(b2, st2, keys); !maps.Equal(got, want) {
		t.Fatalf("restore before registration differs:\n%v\n%v", got, want)
	}
	if b2.Bytes() != b.Bytes() {
		t.Fatalf("bytes %d, want %d", b2.Bytes(), b.Bytes())
	}
	checkAccounting(t, b2)
	// Snapshots are deterministic.
	if again := takeSnapshot(t, b2); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of restored state differs from the original")
	}
}

func TestSnapshotDropsExpired(t *testing.T) {
	b, clk := newBackend(t, Options{PurgePerAccess: -1})
	st := registerAll(t, b)
	fill(t, b, st, 40)
	clk.now += 1000
	want := dump(b, st, 40)
	b1, _ := newBackend(t, Options{})
	must(0, b1.Restore(bytes.NewReader(takeSnapshot(t, b))))
	st1 := registerAll(t, b1)
	if got := dump(b1, st1, 40); !maps.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if s := b1.Stats()[4]; s.Name != "ttl" || s.Keys != 0 {
		t.Fatalf("expired entries restored: %+v", s)
	}
}

func TestSnapshotKeepsExpiry(t *testing.T) {
	b, clk := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: time.Second}))
	b.SetCurrentKey("k")
	must(0, v.Update(1)) // expires at 2000
	snap := takeSnapshot(t, b)
	b1, clk1 := newBackend(t, Options{})
	v1 := must(RegisterValue(b1, Descriptor[int64]{Name: "v", TTL: time.Second}))
	must(0, b1.Restore(bytes.NewReader(snap)))
	b1.SetCurrentKey("k")
	clk1.now = clk.now + 999
	if _, ok := v1.Value(); !ok {
		t.Fatal("expired early after restore")
	}
	clk1.now = clk.now + 1000
	if _, ok := v1.Value(); ok {
		t.Fatal("restore extended the TTL")
	}
}

func TestRestoreRejectsDamage(t *testing.T) {
	b, _ := newBackend(t, Options{})
	st := registerAll(t, b)
	fill(t, b, st, 12)
	snap := takeSnapshot(t, b)

	// The target holds state of its own, which a rejected restore keeps.
	target, _ := newBackend(t, Options{})
	tst := registerAll(t, target)
	fill(t, target, tst, 3)
	before := dump(target, tst, 3)
	check := func(what string, data []byte) {
		t.Helper()
		err := target.Restore(bytes.NewReader(data))
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: got %v", what, err)
		}
		if got := dump(target, tst, 3); !maps.Equal(got, before) {
			t.Fatalf("%s: rejected restore changed the backend", what)
		}
	}
	for i := range len(snap) * 8 {
		bad := bytes.Clone(snap)
		bad[i/8] ^= 1 << (i % 8)
		check(fmt.Sprintf("bit %d flipped", i), bad)
	}
	for n := range len(snap) {
		check(fmt.Sprintf("truncated to %d bytes", n), snap[:n])
	}
	check("trailing garbage", append(bytes.Clone(snap), 0))
	if err := target.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("intact snapshot: %v", err)
	}
}

func TestRestoreErrorsAreClear(t *testing.T) {
	b, _ := newBackend(t, Options{})
	st := registerAll(t, b)
	fill(t, b, st, 5)
	snap := takeSnapshot(t, b)
	f := func(data []byte, want string) {
		t.Helper()
		err := b.Restore(bytes.NewReader(data))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("got %v, want it to mention %q", err, want)
		}
	}
	f(snap[:len(snap)-10], "checksum mismatch")
	f([]byte("nope"), "truncated")
	f(append([]byte("XXXX"), snap[4:]...), "bad magic")
	f(nil, "truncated")
}

func TestRestoreKindMismatch(t *testing.T) {
	b, _ := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "x"}))
	b.SetCurrentKey("k")
	must(0, v.Update(1))
	snap := takeSnapshot(t, b)

	b1, _ := newBackend(t, Options{})
	must(RegisterList(b1, Descriptor[int64]{Name: "x"}))
	if err := b1.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("restored a value state into a list state")
	}
	b2, _ := newBackend(t, Options{})
	must(0, b2.Restore(bytes.NewReader(snap)))
	if _, err := RegisterMap(b2, MapDescriptor[int64, int64]{Name: "x"}); err == nil {
		t.Fatal("registered a map over a restored value state")
	}
}

func TestRestoreCodecMismatch(t *testing.T) {
	b, _ := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[string]{Name: "x"}))
	b.SetCurrentKey("k")
	must(0, v.Update("not a float"))
	snap := takeSnapshot(t, b)

	b1, _ := newBackend(t, Options{})
	must(RegisterValue(b1, Descriptor[float64]{Name: "x"}))
	err := b1.Restore(bytes.NewReader(snap))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"x"`)) {
		t.Fatalf("got %v", err)
	}
	if b1.Keys() != 0 || b1.Bytes() != 0 {
		t.Fatal("failed restore left state")
	}
	// Registering after Restore fails the same way, and leaves the
	// encoded state in place for a correct registration.
	b2, _ := newBackend(t, Options{})
	must(0, b2.Restore(bytes.NewReader(snap)))
	bytesBefore := b2.Bytes()
	if _, err := RegisterValue(b2, Descriptor[float64]{Name: "x"}); err == nil {
		t.Fatal("decoded a string as a float")
	}
	if b2.Bytes() != bytesBefore || b2.Keys() != 1 {
		t.Fatalf("failed registration changed accounting: %d → %d bytes", bytesBefore, b2.Bytes())
	}
	s := must(RegisterValue(b2, Descriptor[string]{Name: "x"}))
	b2.SetCurrentKey("k")
	if got, _ := s.Value(); got != "not a float" {
		t.Fatalf("got %q", got)
	}
}

func TestRestoreKeyGroups(t *testing.T) {
	const keys = 500
	b, _ := newBackend(t, Options{})
	st := registerAll(t, b)
	fill(t, b, st, keys)
	want := dump(b, st, keys)
	snap := takeSnapshot(t, b)

	// Split into two subtasks by key group, as a rescale to 2 would.
	union := make(map[string]string)
	for sub := range 2 {
		bs, _ := newBackend(t, Options{})
		sts := registerAll(t, bs)
		err := bs.RestoreKeyGroups(bytes.NewReader(snap), func(kg int) bool {
			return runtime.SubtaskForKeyGroup(kg, 2) == sub
		})
		if err != nil {
			t.Fatal(err)
		}
		got := dump(bs, sts, keys)
		for k, v := range got {
			kg := runtime.KeyGroup(runtime.HashString(k))
			if runtime.SubtaskForKeyGroup(kg, 2) != sub {
				t.Fatalf("subtask %d got key %s of key group %d", sub, k, kg)
			}
			union[k] = v
		}
		if len(got) == 0 || len(got) == len(want) {
			t.Fatalf("subtask %d got %d of %d keys", sub, len(got), len(want))
		}
	}
	if !maps.Equal(union, want) {
		t.Fatal("the halves do not add up to the whole")
	}
}

func TestSnapshotWriteError(t *testing.T) {
	b, _ := newBackend(t, Options{})
	st := registerAll(t, b)
	fill(t, b, st, 2000)
	if err := b.Snapshot(failWriter{}); err == nil {
		t.Fatal("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// FuzzRestore feeds Restore arbitrary bodies with a valid checksum, so the
// structural checks behind it are exercised: Restore must return, never
// panic, and an accepted snapshot must snapshot again.
func FuzzRestore(f *testing.F) {
	b, _ := newBackend(f, Options{})
	st := registerAll(f, b)
	fill(f, b, st, 20)
	snap := takeSnapshot(f, b)
	f.Add(snap[:len(snap)-4])
	f.Add([]byte("SLST\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		data := appendCRC(body)
		b1, _ := newBackend(t, Options{})
		if err := b1.Restore(bytes.NewReader(data)); err != nil {
			return
		}
		// Registration may fail to decode; it must not panic.
		_, _ = RegisterValue(b1, Descriptor[int64]{Name: "v"})
		_, _ = RegisterValue(b1, Descriptor[string]{Name: "s"})
		_, _ = RegisterMap(b1, MapDescriptor[string, float64]{Name: "m"})
		_, _ = RegisterList(b1, Descriptor[[]byte]{Name: "l"})
		_, _ = RegisterValue(b1, Descriptor[bool]{Name: "ttl", TTL: time.Second})
		var buf bytes.Buffer
		if err := b1.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
	})
}

func appendCRC(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

// The key group given with SetCurrentKeyBytes (the exchange's) is the one
// snapshots record, and survives a restore.
func TestSnapshotKeepsGivenKeyGroup(t *testing.T) {
	b, _ := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v"}))
	b.SetCurrentKeyBytes([]byte("k"), 5)
	must(0, v.Update(1))
	if b.CurrentKeyGroup() != 5 {
		t.Fatalf("key group %d, want 5", b.CurrentKeyGroup())
	}
	snap := takeSnapshot(t, b)
	for _, kg := range []int{5, runtime.KeyGroup(runtime.HashString("k"))} {
		b1, _ := newBackend(t, Options{})
		v1 := must(RegisterValue(b1, Descriptor[int64]{Name: "v"}))
		b1.SetCurrentKey("k") // before the restore: it must see the restored value
		must(0, b1.RestoreKeyGroups(bytes.NewReader(snap), func(g int) bool { return g == kg }))
		_, ok := v1.Value()
		if ok != (kg == 5) {
			t.Fatalf("keeping key group %d: value present = %v", kg, ok)
		}
		if ok && b1.CurrentKeyGroup() != 5 {
			t.Fatalf("restored key group %d, want 5", b1.CurrentKeyGroup())
		}
	}
}
