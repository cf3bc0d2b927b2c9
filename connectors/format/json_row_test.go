package format

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// rowSchema is k BIGINT, r ROW<ts TIMESTAMP(3), x INT, in ROW<s VARCHAR>>,
// v DOUBLE as the catalog flattens it.
var rowSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "r.ts", Type: runtime.Timestamp, Nullable: true},
	runtime.Field{Name: "r.x", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "r.in.s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "v", Type: runtime.Double, Nullable: true},
)

// TestJSONDecodeFillsROWColumnsFromNestedObjects: a ROW column's value is
// a nested object whose keys are its fields, at any depth; a flat
// "r.x" key still works, and other nested objects are skipped.
func TestJSONDecodeFillsROWColumnsFromNestedObjects(t *testing.T) {
	d := NewJSONDecoder(rowSchema)
	f := func(line, want string) {
		t.Helper()
		b := runtime.NewBatch(rowSchema)
		defer b.Release()
		if err := d.Decode([]byte(line), b); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := rttest.Strings(b)[0]; got != want {
			t.Fatalf("%s:\n got %s\nwant %s", line, got, want)
		}
	}
	f(`{"k":1,"r":{"ts":"2026-01-01T00:00:00Z","x":1,"in":{"s":"a"}},"v":2.5}`, "1,2026-01-01 00:00:00.000,1,a,2.5")
	f(`{"r":{"x":7},"k":2}`, "2,NULL,7,NULL,NULL")
	f(`{"k":3,"r":null}`, "3,NULL,NULL,NULL,NULL")
	f(`{"k":4,"R":{"X":5,"In":{"S":"b"}}}`, "4,NULL,5,b,NULL")
	f(`{"k":5,"r.x":6}`, "5,NULL,6,NULL,NULL")
	f(`{"k":6,"r":{"x":1,"other":{"a":[1,{"b":2}]},"in":{"zz":1}},"q":{"x":9}}`, "6,NULL,1,NULL,NULL")
	f(`{"k":7,"r":{"x":1},"r":{"x":2}}`, "7,NULL,2,NULL,NULL")
	f(`{"k":8,"r":{"in":{"s":"\u00e9"}}}`, "8,NULL,NULL,é,NULL")

	for _, tc := range []struct{ line, want string }{
		{`{"r":{"x":"no"}}`, `column "r.x"`},
		{`{"r":{"x":1,}}`, `offset 12`},
		{`{"r":{"in":{"s":tru}}}`, `column "r.in.s"`},
	} {
		b := runtime.NewBatch(rowSchema)
		err := d.Decode([]byte(tc.line), b)
		if err == nil || !strings.Contains(err.Error(), tc.want) || b.N != 0 {
			t.Fatalf("%s: %v (rows %d), want an error with %s", tc.line, err, b.N, tc.want)
		}
		b.Release()
	}
}

// TestAppendJSONWritesROWColumnsAsNestedObjects: the flattened fields of a
// ROW are written as one nested object, which the decoder reads back.
func TestAppendJSONWritesROWColumnsAsNestedObjects(t *testing.T) {
	b := rttest.NewBatch(rowSchema,
		[]runtime.Value{runtime.IntValue(1), runtime.TimeValue(0), runtime.Value{Type: runtime.Int, I: 2},
			runtime.StringValue("a"), runtime.FloatValue(0.5)},
		[]runtime.Value{runtime.NullValue(runtime.BigInt), runtime.NullValue(runtime.Timestamp), runtime.NullValue(runtime.Int),
			runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Double)},
	)
	defer b.Release()
	want := []string{
		`{"k":1,"r":{"ts":"1970-01-01T00:00:00.000Z","x":2,"in":{"s":"a"}},"v":0.5}`,
		`{"k":null,"r":{"ts":null,"x":null,"in":{"s":null}},"v":null}`,
	}
	d := NewJSONDecoder(rowSchema)
	back := runtime.NewBatch(rowSchema)
	defer back.Release()
	for i, w := range want {
		got := AppendJSON(nil, b, i)
		if string(got) != w || !json.Valid(got) {
			t.Fatalf("row %d:\n got %s\nwant %s", i, got, w)
		}
		if err := d.Decode(got, back); err != nil {
			t.Fatal(err)
		}
	}
	if got, in := rttest.Strings(back), rttest.Strings(b); strings.Join(got, ";") != strings.Join(in, ";") {
		t.Fatalf("read back %v, want %v", got, in)
	}
	// Fields of one ROW apart in the schema still make one object.
	apart := runtime.NewSchema(rowSchema.Fields[1], rowSchema.Fields[0], rowSchema.Fields[2])
	a := rttest.NewBatch(apart, []runtime.Value{runtime.TimeValue(0), runtime.IntValue(1), runtime.Value{Type: runtime.Int, I: 2}})
	defer a.Release()
	if got := string(AppendJSON(nil, a, 0)); got != `{"r":{"ts":"1970-01-01T00:00:00.000Z","x":2},"k":1}` {
		t.Fatalf("fields apart: %s", got)
	}
}
