package repart

import (
	"math"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// schema is the test rows' columns: a user, a number, a price and an
// event time.
var schema = runtime.NewSchema(
	runtime.Field{Name: "user", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "price", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

func TestRowsRoundTripWithKindsNullsAndSelection(t *testing.T) {
	b := rttest.NewBatch(schema,
		[]runtime.Value{runtime.StringValue("ann"), runtime.IntValue(-7), runtime.FloatValue(1.5), runtime.TimeValue(1000)},
		[]runtime.Value{runtime.NullValue(runtime.Varchar), runtime.IntValue(math.MaxInt64), runtime.NullValue(runtime.Double), runtime.TimeValue(2000)},
		[]runtime.Value{runtime.StringValue(""), runtime.NullValue(runtime.BigInt), runtime.FloatValue(math.Inf(-1)), runtime.NullValue(runtime.Timestamp)},
		[]runtime.Value{runtime.StringValue("bob"), runtime.IntValue(math.MinInt64), runtime.FloatValue(-0.25), runtime.TimeValue(3000)},
	)
	b.SetKind(1, runtime.UpdateBefore)
	b.SetKind(2, runtime.UpdateAfter)
	b.SetKind(3, runtime.Delete)
	b.Sel = []int32{1, 2, 3}
	body := appendRows(nil, b)
	out := runtime.NewBatch(schema)
	if err := decodeRows(body, out); err != nil {
		t.Fatal(err)
	}
	if got, want := rttest.Strings(out), rttest.Strings(b); !slices.Equal(got, want) {
		t.Fatalf("rows:\n got %v\nwant %v", got, want)
	}
	for i, k := range []runtime.RowKind{runtime.UpdateBefore, runtime.UpdateAfter, runtime.Delete} {
		if out.Kind(i) != k {
			t.Errorf("row %d: kind %v, want %v", i, out.Kind(i), k)
		}
	}
	// Appended after rows of all +I: the kinds stay per row.
	plain := rttest.NewBatch(schema, []runtime.Value{runtime.StringValue("x"), runtime.IntValue(1), runtime.FloatValue(0), runtime.TimeValue(0)})
	if err := decodeRows(appendRows(nil, plain), out); err != nil {
		t.Fatal(err)
	}
	if out.N != 4 || out.Kind(3) != runtime.Insert || out.Kind(0) != runtime.UpdateBefore {
		t.Fatalf("after an all +I record: %d rows, kinds %v", out.N, out.Kinds)
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	for _, h := range []header{
		{kind: kData, producer: 3, attempt: "a-1", label: 7, seq: 99},
		{kind: kWatermark, producer: 0, attempt: "", label: 0, seq: 1, wm: runtime.MinWatermark},
		{kind: kWatermark, producer: 1, attempt: "x", label: 2, seq: 1, wm: 1_790_000_000_000},
		{kind: kIdle, producer: 1, attempt: "x", label: 2, seq: 5},
		{kind: kActive, producer: 1, attempt: "x", label: 2, seq: 6},
		{kind: kEnd, producer: 1, attempt: "x", label: 9, seq: 7},
		{kind: kCommit, producer: 11, attempt: "zz", label: runtime.EndCheckpoint, prev: 12},
	} {
		got, rest, err := decodeHeader(appendHeader(nil, h))
		if err != nil || got != h || len(rest) != 0 {
			t.Errorf("%+v: got %+v, %d bytes left, %v", h, got, len(rest), err)
		}
	}
}

func TestDecodeRejectsBadBytes(t *testing.T) {
	good := appendHeader(nil, header{kind: kData, producer: 1, attempt: "a", label: 3, seq: 1})
	for name, v := range map[string][]byte{
		"empty":         nil,
		"version":       {9, 1},
		"kind":          {version, 42},
		"truncated":     good[:4],
		"commit extra":  append(appendHeader(nil, header{kind: kCommit, attempt: "a", label: 2}), 0),
		"huge producer": {version, byte(kEnd), 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0},
	} {
		if _, _, err := decodeHeader(v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	b := rttest.NewBatch(schema, []runtime.Value{runtime.StringValue("ann"), runtime.IntValue(1), runtime.FloatValue(2), runtime.TimeValue(3)})
	body := appendRows(nil, b)
	for i := range body {
		if err := decodeRows(body[:i], runtime.NewBatch(schema)); err == nil {
			t.Errorf("rows cut at %d of %d bytes: no error", i, len(body))
		}
	}
	other := runtime.NewSchema(runtime.Field{Name: "n", Type: runtime.BigInt})
	if err := decodeRows(body, runtime.NewBatch(other)); err == nil {
		t.Error("rows of 4 columns into 1: no error")
	}
}

func FuzzDecode(f *testing.F) {
	b := rttest.NewBatch(schema, []runtime.Value{runtime.StringValue("ann"), runtime.NullValue(runtime.BigInt), runtime.FloatValue(2), runtime.TimeValue(3)})
	b.SetKind(0, runtime.Delete)
	f.Add(appendRows(appendHeader(nil, header{kind: kData, producer: 1, attempt: "a", label: 3, seq: 1}), b))
	f.Add(appendHeader(nil, header{kind: kCommit, producer: 1, attempt: "a", label: 3, prev: 1}))
	f.Add(appendHeader(nil, header{kind: kWatermark, producer: 1, attempt: "a", label: 3, wm: -5}))
	f.Fuzz(func(t *testing.T, v []byte) {
		h, body, err := decodeHeader(v)
		if err != nil || h.kind != kData {
			return
		}
		out := runtime.NewBatch(schema)
		if err := decodeRows(body, out); err == nil {
			for c := range out.Cols {
				if out.Cols[c].Len() != out.N {
					t.Fatalf("column %d has %d rows, the batch %d", c, out.Cols[c].Len(), out.N)
				}
			}
		}
	})
}

func TestKeyBytesAreStable(t *testing.T) {
	b := rttest.NewBatch(schema,
		[]runtime.Value{runtime.StringValue("ann"), runtime.IntValue(1), runtime.FloatValue(0), runtime.TimeValue(3)},
		[]runtime.Value{runtime.StringValue("ann"), runtime.IntValue(1), runtime.FloatValue(math.Copysign(0, -1)), runtime.TimeValue(4)},
		[]runtime.Value{runtime.NullValue(runtime.Varchar), runtime.IntValue(1), runtime.FloatValue(0), runtime.TimeValue(3)},
		[]runtime.Value{runtime.StringValue(""), runtime.IntValue(1), runtime.FloatValue(0), runtime.TimeValue(3)},
	)
	k := func(r int) string { return string(appendKey(nil, b, r, []int{0, 1, 2})) }
	if k(0) != k(1) {
		t.Error("0 and -0 give different keys")
	}
	if k(0) == k(2) || k(2) == k(3) {
		t.Error("NULL, '' and 'ann' must give different keys")
	}
	// The bytes are fixed: partitions must not change between versions.
	if got, want := k(0), "\x01\x03ann\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00"; got != want {
		t.Errorf("key bytes %q, want %q", got, want)
	}
}
