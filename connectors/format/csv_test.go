package format

import (
	"encoding/csv"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestCSVDecode(t *testing.T) {
	d, err := NewCSVDecoder(schema, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := func(rec, want string) {
		t.Helper()
		checkDecode(t, d.Decode, rec, want)
	}
	ts := ms("2026-11-25T10:00:00Z")
	f(`1,2,2.5,x,true,2026-11-25T10:00:00Z`, `1,2,2.5,"x",1,`+itoa(ts))
	f(`1,,,,,`, `1,NULL,NULL,NULL,NULL,NULL`)
	f(`1,"","","","",""`, `1,NULL,NULL,"",NULL,NULL`)
	f(` 1 , -7 ,1e3, a b ,FALSE, 2026-11-25 10:00:00.000 `, `1,-7,1000," a b ",0,`+itoa(ts))
	f(`1,2,NaN,,True,`+itoa(ts), `1,2,NaN,NULL,1,`+itoa(ts))
	f(`1,2,-Inf,,,`, `1,2,-Inf,NULL,NULL,NULL`)

	// Quoting.
	f(`1,,,"a,b",,`, `1,NULL,NULL,"a,b",NULL,NULL`)
	f(`1,,,"say ""hi"", ""bob""",,`, `1,NULL,NULL,"say \"hi\", \"bob\"",NULL,NULL`)
	f("1,,,\"line\nbreak\r\n\",,", `1,NULL,NULL,"line\nbreak\r\n",NULL,NULL`)
	f(`1,,,"""",,`, `1,NULL,NULL,"\"",NULL,NULL`)
	f(`1,,,5" screen,,`, `1,NULL,NULL,"5\" screen",NULL,NULL`)
	f(`"1","2","2.5","x","true","`+itoa(ts)+`"`, `1,2,2.5,"x",1,`+itoa(ts))
	f(`1,,,"abc"d,,`, `error: at offset 9: unexpected 'd' after a quoted field, want ','`)
	f(`1,,,"abc`, `error: at offset 4: record ends inside a quoted field`)
	f(`1,,,"ab""`, `error: record ends inside a quoted field`)

	// Field counts and types.
	f(`1,2,3`, `error: at offset 5: found 3 fields, want 6 (id,n,d,s,b,ts)`)
	f(`1,2,3,4,5,6,7`, `error: at offset 12: more than 6 fields`)
	f(``, `error: found 1 fields, want 6`)
	f(`,,,,,`, `error: column "id" at offset 0: is NOT NULL but empty`)
	f(`"",,,,,`, `error: column "id" at offset 0: is NOT NULL but empty`)
	f(`1,2147483648,,,,`, `error: column "n" at offset 2: "2147483648" is out of range for INT`)
	f(`1,1.5,,,,`, `error: column "n" at offset 2: "1.5" is not a whole number (want INT)`)
	f(`1,x,,,,`, `error: column "n" at offset 2: "x" is not a number (want INT)`)
	f(`1,,1.2.3,,,`, `error: column "d" at offset 3: want DOUBLE, got "1.2.3"`)
	f(`1,,,,yes,`, `error: column "b" at offset 5: want BOOLEAN (true or false), got "yes"`)
	f(`1,,,,,2026-13-01`, `error: column "ts" at offset 6: "2026-13-01" is not a TIMESTAMP (month out of range`)

	// Another delimiter.
	tab, err := NewCSVDecoder(schema, CSVOptions{Delimiter: '\t'})
	if err != nil {
		t.Fatal(err)
	}
	checkDecode(t, tab.Decode, "1\t\t\ta,b\t\t", `1,NULL,NULL,"a,b",NULL,NULL`)
	checkDecode(t, tab.Decode, "1\t\t\t\"a\tb\"\t\t", `1,NULL,NULL,"a\tb",NULL,NULL`)

	var de *DecodeError
	if err := d.Decode([]byte(`1,,,"x`), runtime.NewBatch(schema)); !errors.Is(err, ErrIncomplete) || !errors.As(err, &de) {
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
}

func TestCSVOptions(t *testing.T) {
	f := func(s string, want byte, wantErr string) {
		t.Helper()
		got, err := ParseDelimiter(s)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%q: got %q, %v; want an error containing %q", s, got, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("%q: got %q, %v; want %q", s, got, err, want)
		}
	}
	f(",", ',', "")
	f(";", ';', "")
	f(`\t`, '\t', "")
	f("\t", '\t', "")
	f("|", '|', "")
	f(`\|`, '|', "")
	f(`"`, 0, `'"' cannot be a CSV field delimiter`)
	f("", 0, "is not one character")
	f(";;", 0, "is not one character")
	f("é", 0, "is not one character")
	if _, err := NewCSVEncoder(CSVOptions{Delimiter: '\n'}); err == nil {
		t.Fatal("a line break as delimiter")
	}
	if _, err := NewCSVDecoder(schema, CSVOptions{Delimiter: 0xE9}); err == nil {
		t.Fatal("a non-ASCII delimiter")
	}
}

func TestCSVEncode(t *testing.T) {
	e, err := NewCSVEncoder(CSVOptions{Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	b := rttest.NewBatch(schema,
		[]runtime.Value{runtime.IntValue(1), {Type: runtime.Int, I: -2}, runtime.FloatValue(2),
			runtime.StringValue(`a;"b"`), runtime.BoolValue(true), runtime.TimeValue(ms("2026-11-25T10:00:00.5Z"))},
		[]runtime.Value{runtime.IntValue(2), runtime.NullValue(runtime.Int), runtime.NullValue(runtime.Double),
			runtime.StringValue(""), runtime.BoolValue(false), runtime.NullValue(runtime.Timestamp)},
		[]runtime.Value{runtime.IntValue(3), runtime.NullValue(runtime.Int), runtime.FloatValue(0.25),
			runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Boolean), runtime.TimeValue(-1)},
	)
	b.Sel = []int32{2, 0, 1}
	var got []string
	got = append(got, string(e.AppendHeader(nil, schema)))
	for i := range b.Len() {
		got = append(got, string(e.Append(nil, b, i)))
	}
	want := []string{
		"id;n;d;s;b;ts",
		"3;;0.25;;;1969-12-31T23:59:59.999Z",
		`1;-2;2.0;"a;""b""";true;2026-11-25T10:00:00.500Z`,
		`2;;;"";false;`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// encoding/csv reads what we write.
	r := csv.NewReader(strings.NewReader(strings.Join(want, "\n")))
	r.Comma = ';'
	recs, err := r.ReadAll()
	if err != nil || len(recs) != 4 || recs[2][3] != `a;"b"` {
		t.Fatalf("encoding/csv read %q, %v", recs, err)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, delim := range []byte{',', ';', '\t', '|'} {
		e, err := NewCSVEncoder(CSVOptions{Delimiter: delim})
		if err != nil {
			t.Fatal(err)
		}
		d, err := NewCSVDecoder(schema, CSVOptions{Delimiter: delim})
		if err != nil {
			t.Fatal(err)
		}
		var rec []byte
		for range 10_000 {
			in := rttest.NewBatch(schema, randomRow(r, true))
			rec = e.Append(rec[:0], in, 0)
			out := runtime.NewBatch(schema)
			if err := d.Decode(rec, out); err != nil {
				t.Fatalf("%q: %v", rec, err)
			}
			if got, want := quoted(out), quoted(in); got != want {
				t.Fatalf("%q:\n got %s\nwant %s", rec, got, want)
			}
			out.Release()
		}
	}
}
