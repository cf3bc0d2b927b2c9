package state

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

var keySchema = runtime.NewSchema(
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "i", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "f", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "t", Type: runtime.Timestamp},
	runtime.Field{Name: "s2", Type: runtime.Varchar},
)

func randomKeyBatch(rng *rand.Rand, n int) *runtime.Batch {
	b := runtime.NewBatch(keySchema)
	strs := []string{"", "a", "ab", "b", "\x00", "a\x00", "\x03\x01"}
	floats := []float64{0, math.Copysign(0, -1), 1.5, -2, math.Inf(1)}
	for range n {
		vals := []runtime.Value{
			runtime.StringValue(strs[rng.IntN(len(strs))]),
			runtime.IntValue(rng.Int64N(3) - 1),
			runtime.FloatValue(floats[rng.IntN(len(floats))]),
			runtime.TimeValue(rng.Int64N(2)),
			runtime.StringValue(strs[rng.IntN(len(strs))]),
		}
		for c := range 3 {
			if rng.IntN(5) == 0 {
				vals[c] = runtime.NullValue(vals[c].Type)
			}
		}
		b.AppendValues(vals...)
	}
	return b
}

func sameKey(b *runtime.Batch, r1, r2 int) bool {
	for c := range b.Cols {
		v1, v2 := b.Cols[c].Value(r1), b.Cols[c].Value(r2)
		if v1.Null || v2.Null {
			if v1.Null != v2.Null {
				return false
			}
			continue
		}
		if v1 != v2 && !(v1.Type == runtime.Double && v1.F == v2.F) {
			return false
		}
	}
	return true
}

// EncodeKey must tell keys apart exactly as the keyed exchange groups
// them, so that equal encodings also route to the same subtask.
func TestEncodeKeyUnambiguous(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	b := randomKeyBatch(rng, 400)
	cols := []int{0, 1, 2, 3, 4}
	hashes := runtime.HashColumns(b, cols, nil)
	keys := make([]string, b.N)
	for r := range b.N {
		keys[r] = string(EncodeKey(b, r, cols, nil))
	}
	for r1 := range b.N {
		for r2 := range b.N {
			eq := keys[r1] == keys[r2]
			if eq != sameKey(b, r1, r2) {
				t.Fatalf("rows %v and %v: encodings equal = %v", b.Values(r1), b.Values(r2), eq)
			}
			if eq && hashes[r1] != hashes[r2] {
				t.Fatalf("rows %v and %v encode equal but hash differently", b.Values(r1), b.Values(r2))
			}
		}
		vals, err := DecodeKey(keys[r1])
		if err != nil {
			t.Fatal(err)
		}
		for c, v := range vals {
			want := b.Cols[c].Value(r1)
			if want.Type == runtime.Double && want.F == 0 {
				want.F = 0
			}
			if v != want {
				t.Fatalf("row %d column %d: decoded %+v, want %+v", r1, c, v, want)
			}
		}
	}
	if got := KeyString(keys[0]); got == "" {
		t.Fatal("empty KeyString")
	}
	if got := KeyString("\xff"); got != `"\xff"` {
		t.Fatalf("KeyString of a bad key: %s", got)
	}
}

func TestEncodeKeyNoAllocs(t *testing.T) {
	b := randomKeyBatch(rand.New(rand.NewPCG(1, 1)), 10)
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf = EncodeKey(b, 3, []int{0, 1, 2, 3, 4}, buf[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per key", allocs)
	}
}

func FuzzDecodeKey(f *testing.F) {
	b := randomKeyBatch(rand.New(rand.NewPCG(2, 2)), 8)
	for r := range b.N {
		f.Add(EncodeKey(b, r, []int{0, 1, 2, 3, 4}, nil))
	}
	f.Add([]byte{byte(runtime.Varchar), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, key []byte) {
		vals, err := DecodeKey(string(key))
		if err != nil {
			return
		}
		// A decodable key re-encodes to itself.
		s := make([]runtime.Field, len(vals))
		for i, v := range vals {
			s[i] = runtime.Field{Name: "c", Type: v.Type, Nullable: true}
		}
		bt := runtime.NewBatch(runtime.NewSchema(s...))
		bt.AppendValues(vals...)
		cols := make([]int, len(vals))
		for i := range cols {
			cols[i] = i
		}
		if got := EncodeKey(bt, 0, cols, nil); string(got) != string(key) && !negZero(vals) {
			t.Fatalf("re-encoded %x as %x", key, got)
		}
	})
}

func negZero(vals []runtime.Value) bool {
	for _, v := range vals {
		if v.Type == runtime.Double && v.F == 0 && math.Signbit(v.F) {
			return true
		}
	}
	return false
}

// TestDecimalKeysKeepTheirType checks that DECIMAL key columns encode
// their precision and scale, so that DecodeKey prints them as decimals,
// NULL ones included.
func TestDecimalKeysKeepTheirType(t *testing.T) {
	typ := runtime.DecimalType(10, 2)
	s := runtime.NewSchema(runtime.Field{Name: "d", Type: typ, Nullable: true}, runtime.Field{Name: "k", Type: runtime.BigInt})
	b := runtime.NewBatch(s)
	b.AppendValues(runtime.DecimalValue(-1250, 10, 2), runtime.IntValue(7))
	b.AppendValues(runtime.NullValue(typ), runtime.IntValue(8))
	for r, want := range []string{"-12.50|7", "NULL|8"} {
		vals, err := DecodeKey(string(EncodeKey(b, r, []int{0, 1}, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if got := vals[0].String() + "|" + vals[1].String(); got != want || vals[0].Type != typ {
			t.Fatalf("row %d: decoded %s (%s), want %s", r, got, vals[0].Type, want)
		}
	}
}
