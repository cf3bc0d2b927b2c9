package state

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fakeClock is a TTL clock the test moves by hand.
type fakeClock struct{ now int64 }

func (c *fakeClock) Now() int64 { return c.now }

func newBackend(t testing.TB, opts Options) (*Backend, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: 1000}
	if opts.Clock == nil {
		opts.Clock = clk.Now
	}
	b, err := NewBackend(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkAccounting verifies that the per-state figures add up to the
// backend's and that an empty backend holds no bytes.
func checkAccounting(t *testing.T, b *Backend) {
	t.Helper()
	var sum int64
	for _, s := range b.Stats() {
		if s.Bytes < 0 || s.Keys < 0 || s.Entries < 0 {
			t.Fatalf("negative figures in %+v", s)
		}
		if (s.Keys == 0) != (s.Bytes == 0) || (s.Keys == 0) != (s.Entries == 0) {
			t.Fatalf("inconsistent figures in %+v", s)
		}
		sum += s.Bytes
	}
	if sum != b.Bytes() {
		t.Fatalf("states hold %d bytes, backend says %d", sum, b.Bytes())
	}
	if b.Keys() == 0 && b.Bytes() != 0 {
		t.Fatalf("no keys but %d bytes", b.Bytes())
	}
}

func TestValueState(t *testing.T) {
	b, _ := newBackend(t, Options{})
	cnt := must(RegisterValue(b, Descriptor[int64]{Name: "count"}))
	name := must(RegisterValue(b, Descriptor[string]{Name: "name"}))

	b.SetCurrentKey("a")
	if v, ok := cnt.Value(); ok || v != 0 {
		t.Fatalf("fresh key: got %d, %v", v, ok)
	}
	if err := cnt.Update(1); err != nil {
		t.Fatal(err)
	}
	if err := name.Update("alice"); err != nil {
		t.Fatal(err)
	}
	b.SetCurrentKeyBytes([]byte("b"), -1)
	if _, ok := cnt.Value(); ok {
		t.Fatal("key b sees key a's value")
	}
	if err := cnt.Update(7); err != nil {
		t.Fatal(err)
	}
	b.SetCurrentKey("a")
	if v, _ := cnt.Value(); v != 1 {
		t.Fatalf("a: got %d", v)
	}
	if v, _ := name.Value(); v != "alice" {
		t.Fatalf("a: got %q", v)
	}
	if b.Keys() != 2 {
		t.Fatalf("keys = %d, want 2", b.Keys())
	}
	checkAccounting(t, b)
	cnt.Clear()
	if b.Keys() != 2 {
		t.Fatalf("a still has a name: keys = %d", b.Keys())
	}
	name.Clear()
	if b.Keys() != 1 || b.CurrentKey() != "a" {
		t.Fatalf("keys = %d, current %q", b.Keys(), b.CurrentKey())
	}
	if _, ok := name.Value(); ok {
		t.Fatal("cleared value visible")
	}
	b.SetCurrentKey("b")
	cnt.Clear()
	if b.Keys() != 0 || b.Bytes() != 0 {
		t.Fatalf("empty backend: keys %d bytes %d", b.Keys(), b.Bytes())
	}
	checkAccounting(t, b)
}

func TestWriteWithoutKeyFails(t *testing.T) {
	b, _ := newBackend(t, Options{})
	v := must(RegisterValue(b, Descriptor[int64]{Name: "v"}))
	if err := v.Update(1); err == nil {
		t.Fatal("write without a current key succeeded")
	}
}

func TestMapState(t *testing.T) {
	b, _ := newBackend(t, Options{})
	m := must(RegisterMap(b, MapDescriptor[string, int64]{Name: "m"}))
	b.SetCurrentKey("k1")
	for i, k := range []string{"x", "y", "z"} {
		if err := m.Put(k, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Put("y", 10); err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Get("y"); !ok || v != 10 {
		t.Fatalf("y = %d, %v", v, ok)
	}
	if !m.Contains("x") || m.Contains("w") || m.Len() != 3 {
		t.Fatalf("contains/len wrong: len %d", m.Len())
	}
	got := map[string]int64{}
	m.Range(func(k string, v int64) bool { got[k] = v; return true })
	if want := map[string]int64{"x": 0, "y": 10, "z": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("range: %v, want %v", got, want)
	}
	n := 0
	m.Range(func(string, int64) bool { n++; return false })
	if n != 1 {
		t.Fatalf("range did not stop: %d calls", n)
	}
	// Removing every entry while ranging leaves the key without state.
	m.Range(func(k string, _ int64) bool { m.Remove(k); return true })
	if m.Len() != 0 || b.Keys() != 0 || b.Bytes() != 0 {
		t.Fatalf("after removing all: len %d keys %d bytes %d", m.Len(), b.Keys(), b.Bytes())
	}
	b.SetCurrentKey("k2")
	must(0, m.Put("a", 1))
	b.SetCurrentKey("k3")
	must(0, m.Put("a", 2))
	m.Remove("missing")
	m.Clear()
	if b.Keys() != 1 {
		t.Fatalf("keys = %d, want 1", b.Keys())
	}
	b.SetCurrentKey("k2")
	if v, _ := m.Get("a"); v != 1 {
		t.Fatalf("k2/a = %d", v)
	}
	checkAccounting(t, b)
}

func TestListState(t *testing.T) {
	b, _ := newBackend(t, Options{})
	l := must(RegisterList(b, Descriptor[string]{Name: "l"}))
	b.SetCurrentKey("k")
	if l.Get() != nil {
		t.Fatal("fresh list not empty")
	}
	for _, s := range []string{"a", "b", "c"} {
		must(0, l.Add(s))
	}
	got := l.Get()
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("got %v", got)
	}
	// Appending to the borrowed slice must not write into the state.
	_ = append(got, "zzz")
	must(0, l.Add("d"))
	if g := l.Get(); !slices.Equal(g, []string{"a", "b", "c", "d"}) {
		t.Fatalf("got %v", g)
	}
	// Update with a slice of the state's own list.
	must(0, l.Update(l.Get()[1:]))
	if g := l.Get(); !slices.Equal(g, []string{"b", "c", "d"}) {
		t.Fatalf("after Update(Get()[1:]): %v", g)
	}
	must(0, l.Update([]string{"x"}))
	if g := l.Get(); !slices.Equal(g, []string{"x"}) {
		t.Fatalf("after Update: %v", g)
	}
	checkAccounting(t, b)
	must(0, l.Update(nil))
	if l.Get() != nil || b.Keys() != 0 || b.Bytes() != 0 {
		t.Fatalf("Update(nil) left %v, %d keys, %d bytes", l.Get(), b.Keys(), b.Bytes())
	}
}

type point struct {
	X, Y float64
	Tag  string
}

func TestGobValue(t *testing.T) {
	b, _ := newBackend(t, Options{})
	s := must(RegisterValue(b, Descriptor[point]{Name: "p"}))
	b.SetCurrentKey("k")
	must(0, s.Update(point{1, 2, "hello"}))
	if b.Bytes() < KeyOverhead+int64(len("hello")) {
		t.Fatalf("bytes %d do not count the string", b.Bytes())
	}
	var buf bytes.Buffer
	must(0, b.Snapshot(&buf))
	b2, _ := newBackend(t, Options{})
	must(0, b2.Restore(&buf))
	s2 := must(RegisterValue(b2, Descriptor[point]{Name: "p"}))
	b2.SetCurrentKey("k")
	if v, _ := s2.Value(); v != (point{1, 2, "hello"}) {
		t.Fatalf("got %+v", v)
	}
}

func TestRegister(t *testing.T) {
	b, _ := newBackend(t, Options{})
	a := must(RegisterValue(b, Descriptor[int64]{Name: "a", TTL: time.Second}))
	if again := must(RegisterValue(b, Descriptor[int64]{Name: "a", TTL: time.Second})); again != a {
		t.Fatal("registering twice gave a different state")
	}
	f := func(err error) {
		t.Helper()
		if err == nil {
			t.Fatal("want an error")
		}
	}
	_, err := RegisterValue(b, Descriptor[string]{Name: "a", TTL: time.Second})
	f(err)
	_, err = RegisterValue(b, Descriptor[int64]{Name: "a"})
	f(err)
	_, err = RegisterList(b, Descriptor[int64]{Name: "a", TTL: time.Second})
	f(err)
	_, err = RegisterValue(b, Descriptor[int64]{Name: ""})
	f(err)
	_, err = RegisterValue(b, Descriptor[int64]{Name: "x", TTL: time.Microsecond})
	f(err)
	_, err = NewBackend(Options{TTLTime: EventTime})
	f(err)
	_, err = NewBackend(Options{MaxKeys: -1})
	f(err)
}

func TestSizeEstimates(t *testing.T) {
	if n := sizerFor[int64]()(5); n != 8 {
		t.Fatalf("int64: %d", n)
	}
	if n := sizerFor[[4]int32]()([4]int32{}); n != 16 {
		t.Fatalf("[4]int32: %d", n)
	}
	if n := sizerFor[string]()("hello"); n != 21 {
		t.Fatalf("string: %d", n)
	}
	if n := sizerFor[[]byte]()(make([]byte, 10)); n != 34 {
		t.Fatalf("[]byte: %d", n)
	}
	if n := sizerFor[sized]()(sized{}); n != 1234 {
		t.Fatalf("Sizer: %d", n)
	}
	if a, b := sizerFor[[]string]()([]string{"a"}), sizerFor[[]string]()([]string{"a", "bbbbbbbbbbbbbbbbbbbbbb"}); a >= b {
		t.Fatalf("[]string: %d then %d", a, b)
	}
}

type sized struct{ _ *int }

func (sized) StateSize() int { return 1234 }

func TestLimits(t *testing.T) {
	t.Run("MaxKeys", func(t *testing.T) {
		b, _ := newBackend(t, Options{MaxKeys: 2})
		v := must(RegisterValue(b, Descriptor[int64]{Name: "v"}))
		m := must(RegisterMap(b, MapDescriptor[int64, int64]{Name: "m"}))
		for _, k := range []string{"a", "b"} {
			b.SetCurrentKey(k)
			must(0, v.Update(1))
		}
		b.SetCurrentKey("c")
		err := v.Update(1)
		var le *LimitError
		if !errors.Is(err, ErrStateLimit) || !errors.As(err, &le) {
			t.Fatalf("got %v", err)
		}
		if le.State != "v" || le.Limit != "MaxKeys" || le.Max != 2 || le.Current != 2 {
			t.Fatalf("got %+v", le)
		}
		if err := m.Put(1, 1); !errors.Is(err, ErrStateLimit) {
			t.Fatalf("map put on new key: %v", err)
		}
		if _, ok := v.Value(); ok || b.Keys() != 2 {
			t.Fatal("refused write left state behind")
		}
		// Existing keys can still be written, and clearing makes room.
		b.SetCurrentKey("a")
		must(0, v.Update(2))
		must(0, m.Put(1, 1))
		b.SetCurrentKey("b")
		v.Clear()
		b.SetCurrentKey("c")
		must(0, v.Update(3))
		checkAccounting(t, b)
	})
	t.Run("MaxBytes", func(t *testing.T) {
		b, _ := newBackend(t, Options{MaxBytes: 200})
		s := must(RegisterValue(b, Descriptor[string]{Name: "s"}))
		l := must(RegisterList(b, Descriptor[int64]{Name: "l"}))
		b.SetCurrentKey("k")
		must(0, s.Update("short"))
		before := b.Bytes()
		err := s.Update(string(make([]byte, 300)))
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != "MaxBytes" || le.Max != 200 || le.Current != before || le.Need != 295 {
			t.Fatalf("got %v (%+v)", err, le)
		}
		if v, _ := s.Value(); v != "short" || b.Bytes() != before {
			t.Fatalf("refused write changed state: %q, %d bytes", v, b.Bytes())
		}
		var lerr error
		for i := 0; lerr == nil; i++ {
			lerr = l.Add(int64(i))
			if i > 100 {
				t.Fatal("list grew without bound")
			}
		}
		if !errors.Is(lerr, ErrStateLimit) || b.Bytes() > 200 {
			t.Fatalf("got %v with %d bytes", lerr, b.Bytes())
		}
		// Shrinking writes always succeed.
		must(0, s.Update(""))
		must(0, l.Update([]int64{1}))
		checkAccounting(t, b)
	})
	t.Run("ExpiredMakesRoom", func(t *testing.T) {
		b, clk := newBackend(t, Options{MaxKeys: 3, PurgePerAccess: -1})
		v := must(RegisterValue(b, Descriptor[int64]{Name: "v", TTL: time.Second}))
		for _, k := range []string{"a", "b", "c"} {
			b.SetCurrentKey(k)
			must(0, v.Update(1))
		}
		clk.now += 1000
		b.SetCurrentKey("d")
		if err := v.Update(1); err != nil {
			t.Fatalf("expired keys did not make room: %v", err)
		}
		if b.Keys() != 1 {
			t.Fatalf("keys = %d, want 1", b.Keys())
		}
	})
}
