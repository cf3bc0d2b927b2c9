package state

import (
	"math"
	"reflect"
	"testing"
)

func roundTrip[T any](t *testing.T, c Codec[T], vals ...T) {
	t.Helper()
	for _, v := range vals {
		enc, err := c.Append([]byte("prefix"), v)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		got, err := c.Decode(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip of %#v gave %#v", v, got)
		}
	}
}

func TestCodecs(t *testing.T) {
	roundTrip(t, Int64Codec, 0, -1, math.MaxInt64, math.MinInt64)
	roundTrip(t, IntCodec, 0, 42, -7)
	roundTrip(t, Float64Codec, 0, -1.5, math.Inf(-1), math.SmallestNonzeroFloat64)
	roundTrip(t, StringCodec, "", "héllo", "\x00\xff")
	roundTrip(t, BoolCodec, true, false)
	roundTrip(t, BytesCodec, []byte("abc"), nil)
	roundTrip(t, GobCodec[point](), point{}, point{1, -2, "x"})
	roundTrip(t, GobCodec[map[string][]int](), map[string][]int{"a": {1, 2}})
	if reflect.TypeOf(DefaultCodec[int64]()) != reflect.TypeOf(Int64Codec) || reflect.TypeOf(DefaultCodec[[]byte]()) != reflect.TypeOf(BytesCodec) {
		t.Fatal("DefaultCodec does not pick the built-in codecs")
	}
	bad := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: bad input accepted", name)
		}
	}
	_, err := Int64Codec.Decode([]byte{0x02, 0x00})
	bad("int64 with a stray byte", err)
	_, err = Int64Codec.Decode(nil)
	bad("empty int64", err)
	_, err = Float64Codec.Decode([]byte{1, 2, 3})
	bad("short float64", err)
	_, err = BoolCodec.Decode([]byte{2})
	bad("bool 2", err)
	_, err = GobCodec[point]().Decode([]byte{0xff, 0x00})
	bad("gob garbage", err)
	_, err = GobCodec[func()]().Append(nil, func() {})
	bad("gob of a func", err)
}
