package format

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// The seeds run in every go test; go test -fuzz FuzzJSONDecode explores.
func FuzzJSONDecode(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"n":2,"d":2.5,"s":"x","b":true,"ts":"2026-11-25T10:00:00Z"}`,
		`{"id":-9223372036854775808,"ts":1764064800123,"d":-1e-3,"s":"\ud83d\ude00\n","b":null}`,
		`{"ID":1,"S":{"a":[1,"]"]},"x":[[{}]],"ts":"2026-11-25 10:00:00.000"}`,
		`{"id":1e3,"n":"42","d":"0.25","b":"false","ts":"2026-11-25T10:00:00.123456+05:30"}`,
		`{"id":1,"s":"\ud800\u0041 \xff"}`,
		`{"id":1,"n":1.5}`, `{"id":1`, `[]`, ``, `{"id":null}`, `{"id":1,"x":[[[[[[[[`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewJSONDecoder(schema)
		b := runtime.NewBatch(schema)
		err := d.Decode(data, b)
		if cerr := rttest.CheckBatch(b, schema); cerr != nil {
			t.Fatalf("%q: %v", data, cerr)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) || b.N != 0 {
				t.Fatalf("%q: error %v (offset out of the record, or rows appended)", data, err)
			}
			return
		}
		if b.N != 1 {
			t.Fatalf("%q: %d rows", data, b.N)
		}
		if !json.Valid(data) {
			t.Fatalf("%q: accepted, but it is not JSON", data)
		}
		line := AppendJSON(nil, b, 0)
		back := runtime.NewBatch(schema)
		if err := d.Decode(line, back); err != nil {
			t.Fatalf("%q: encoded as %s, which does not decode: %v", data, line, err)
		}
		if got, want := quoted(back), quoted(b); got != want {
			t.Fatalf("%q: encoded as %s, decoded as\n%s\nwant\n%s", data, line, got, want)
		}
	})
}

func FuzzCSVDecode(f *testing.F) {
	for _, seed := range []string{
		`1,2,2.5,x,true,2026-11-25T10:00:00Z`, `1,,,,,`, `1,"","","","",""`,
		"1,,,\"a,b\nc\"\"d\",,", `1,,,5" screen,,`, ` 1 , -7 ,NaN, a ,FALSE, 1764064800000 `,
		`1,,,"abc"d,,`, `1,,,"abc`, `1,2,3`, ``, `1,1.5,,,,`, "1;2;3;4;5;6", "1\t\t\t\t\t",
	} {
		f.Add([]byte(seed), byte(0))
	}
	delims := []byte{',', ';', '\t', '|'}
	f.Fuzz(func(t *testing.T, data []byte, which byte) {
		opt := CSVOptions{Delimiter: delims[int(which)%len(delims)]}
		d, err := NewCSVDecoder(schema, opt)
		if err != nil {
			t.Fatal(err)
		}
		b := runtime.NewBatch(schema)
		err = d.Decode(data, b)
		if cerr := rttest.CheckBatch(b, schema); cerr != nil {
			t.Fatalf("%q: %v", data, cerr)
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) || b.N != 0 {
				t.Fatalf("%q: error %v (offset out of the record, or rows appended)", data, err)
			}
			return
		}
		e, err := NewCSVEncoder(opt)
		if err != nil {
			t.Fatal(err)
		}
		rec := e.Append(nil, b, 0)
		back := runtime.NewBatch(schema)
		if err := d.Decode(rec, back); err != nil {
			t.Fatalf("%q: encoded as %q, which does not decode: %v", data, rec, err)
		}
		if got, want := quoted(back), quoted(b); got != want {
			t.Fatalf("%q: encoded as %q, decoded as\n%s\nwant\n%s", data, rec, got, want)
		}
	})
}

// checkChangelogFuzz checks what a changelog decoder did with data: an
// error leaves the batch empty and names an offset within the record; rows
// decoded have one kind each and encode (as the file sink writes
// changelog-json) to records that decode to the same rows and kinds.
func checkChangelogFuzz(t *testing.T, data []byte, b *runtime.Batch, err error, maxRows int) {
	t.Helper()
	if cerr := rttest.CheckBatch(b, schema); cerr != nil {
		t.Fatalf("%q: %v", data, cerr)
	}
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) || b.N != 0 {
			t.Fatalf("%q: error %v (offset out of the record, or rows appended)", data, err)
		}
		return
	}
	if b.N > maxRows || b.Kinds != nil && len(b.Kinds) != b.N {
		t.Fatalf("%q: %d rows, kinds %v", data, b.N, b.Kinds)
	}
	if b.N > 0 && !json.Valid(data) {
		t.Fatalf("%q: accepted, but it is not JSON", data)
	}
	d := NewChangelogJSONDecoder(schema)
	back := runtime.NewBatch(schema)
	for i := 0; i < b.N; i++ {
		rec := append([]byte(`{"op":"`), b.Kind(i).String()...)
		rec = append(AppendJSON(append(rec, `","row":`...), b, i), '}')
		if err := d.Decode(rec, back); err != nil {
			t.Fatalf("%q: encoded as %s, which does not decode: %v", data, rec, err)
		}
	}
	if got, want := changelog(back), changelog(b); got != want {
		t.Fatalf("%q: decoded as\n%s\nwant\n%s", data, got, want)
	}
}

func FuzzChangelogJSONDecode(f *testing.F) {
	for _, seed := range []string{
		`{"op":"+I","row":{"id":1,"n":2,"d":2.5,"s":"x","b":true,"ts":"2026-11-25T10:00:00Z"}}`,
		`{"op":"-U","row":{"id":1}}`, `{"row":{"id":-1,"s":"\u00e9"},"op":"+U"}`, `{"op":"-D","row":{"id":1},"x":[{}]}`,
		`{"op":"+X","row":{"id":1}}`, `{"op":"+I","row":null}`, `{"op":"+I"`, `{"op":"+I","row":{"id":1}} {}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := runtime.NewBatch(schema)
		err := NewChangelogJSONDecoder(schema).Decode(data, b)
		if err == nil && b.N != 1 {
			t.Fatalf("%q: %d rows", data, b.N)
		}
		checkChangelogFuzz(t, data, b, err, 1)
	})
}

// The seeds include the Debezium samples of testdata/debezium.
func FuzzDebeziumJSONDecode(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("testdata", "debezium", "*.json"))
	if len(names) == 0 {
		f.Fatal("no samples in testdata/debezium")
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	for _, seed := range []string{
		`{"op":"u","before":{"id":1},"after":{"id":"x"}}`, `{"op":"d","before":null}`, `{"payload":{"op":"c","after":{"id":1}}}`,
		``, `null`, `{"op":"c","after":{"id":1}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, include bool) {
		b := runtime.NewBatch(schema)
		err := NewDebeziumJSONDecoder(schema, DebeziumOptions{SchemaInclude: include}).Decode(data, b)
		checkChangelogFuzz(t, data, b, err, 2)
		if b.N == 2 && (b.Kind(0) != runtime.UpdateBefore || b.Kind(1) != runtime.UpdateAfter) {
			t.Fatalf("%q: two rows of kinds %v", data, b.Kinds)
		}
	})
}
