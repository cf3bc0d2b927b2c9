package format

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// schema has one column of every type; id is NOT NULL.
var schema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "n", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "b", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

// quoted formats the rows of b with rttest.Quote, one row per line.
func quoted(b *runtime.Batch) string {
	var rows []string
	for i := 0; i < b.Len(); i++ {
		var vals []string
		for _, v := range b.Values(i) {
			vals = append(vals, rttest.Quote(v))
		}
		rows = append(rows, strings.Join(vals, ","))
	}
	return strings.Join(rows, "\n")
}

// checkDecode decodes line with decode into a batch holding one row
// already, and checks the new row (want: its values by rttest.Quote) or the
// error (want: "error: " and a part of the message), and that a failure
// leaves the batch as it was.
func checkDecode(t *testing.T, decode func([]byte, *runtime.Batch) error, line, want string) {
	t.Helper()
	b := rttest.NewBatch(schema, []runtime.Value{runtime.IntValue(7), runtime.NullValue(runtime.Int),
		runtime.FloatValue(1), runtime.StringValue("x"), runtime.BoolValue(true), runtime.TimeValue(0)})
	before := quoted(b)
	err := decode([]byte(line), b)
	if err := rttest.CheckBatch(b, schema); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
		var de *DecodeError
		if err == nil || !errors.As(err, &de) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: got error %v, want a *DecodeError containing %q", line, err, wantErr)
		}
		if got := quoted(b); got != before {
			t.Fatalf("%s: failed decode changed the batch to\n%s", line, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	b.Sel = []int32{1}
	if got := quoted(b); got != want {
		t.Fatalf("%s:\n got %s\nwant %s", line, got, want)
	}
}

func TestJSONDecode(t *testing.T) {
	d := NewJSONDecoder(schema)
	f := func(line, want string) {
		t.Helper()
		checkDecode(t, d.Decode, line, want)
	}
	ts := ms("2026-11-25T10:00:00Z")
	f(`{"id":1,"n":2,"d":2.5,"s":"x","b":true,"ts":"2026-11-25T10:00:00Z"}`, `1,2,2.5,"x",1,`+itoa(ts))
	f(` { "ts" : 1764064800123 , "b":false, "s":"", "d":-1e-3,"n":-2147483648, "id":-9223372036854775808 } `,
		`-9223372036854775808,-2147483648,-0.001,"",0,1764064800123`)
	f(`{"id":1}`, `1,NULL,NULL,NULL,NULL,NULL`)
	f(`{"id":1,"n":null,"d":null,"s":null,"b":null,"ts":null}`, `1,NULL,NULL,NULL,NULL,NULL`)

	// Unknown keys, with values of every kind, are skipped.
	f(`{"x":{"a":[1,{"b":"}]\"{"},[],{}],"c":null},"id":3,"y":[[["]"]]],"z":-0.5e+7,"w":true,"v":"s"}`, `3,NULL,NULL,NULL,NULL,NULL`)
	f(`{"id":1,"x":[1,2,,]}`, `error: at offset 17: unexpected ',', want a value`)
	f(`{"id":1,"x":{"a" 1}}`, `error: at offset 17: unexpected '1', want ':'`)
	f(`{"id":1,"x":[1 2]}`, `error: want ',' or ']'`)
	f(`{"id":1,"x":tru}`, `error: at offset 12`)
	f(`{"id":1,"x":01}`, `error: want ',' or '}'`)
	f(`{"id":1,"x":"\x"}`, `error: bad escape \x`)
	f(`{"id":1,"x":`+strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)+`}`, `1,NULL,NULL,NULL,NULL,NULL`)
	f(`{"id":1,"x":`+strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1)+`}`, `error: nested deeper than 1000`)

	// Keys: exact first, then ignoring case; the last exact match wins.
	f(`{"ID":1,"S":"a"}`, `1,NULL,NULL,"a",NULL,NULL`)
	f(`{"id":1,"ID":2}`, `1,NULL,NULL,NULL,NULL,NULL`)
	f(`{"ID":2,"id":1}`, `1,NULL,NULL,NULL,NULL,NULL`)
	f(`{"id":1,"id":2}`, `2,NULL,NULL,NULL,NULL,NULL`)
	f(`{"id":1,"i\u0064":5,"\u0053":"k"}`, `5,NULL,NULL,"k",NULL,NULL`)

	// Strings.
	f(`{"id":1,"s":"\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 é"}`, `1,NULL,NULL,"\"\\/\b\f\n\r\té€😀 é",NULL,NULL`)
	f(`{"id":1,"s":"\ud83d x \ude00 \ud83d\u0041"}`, `1,NULL,NULL,"� x � �A",NULL,NULL`)
	f("{\"id\":1,\"s\":\"a\xffb\"}", `1,NULL,NULL,"a�b",NULL,NULL`)
	f("{\"id\":1,\"s\":\"a\nb\"}", `error: control character 0xa in a string`)
	f(`{"id":1,"s":"\u12"}`, `error: bad \u escape`)
	f(`{"id":1,"s":"abc`, `error: column "s" at offset 16: unexpected end of record, want '"'`)
	// A VARCHAR column takes the JSON text of other values.
	f(`{"id":1,"s":12.50}`, `1,NULL,NULL,"12.50",NULL,NULL`)
	f(`{"id":1,"s":false}`, `1,NULL,NULL,"false",NULL,NULL`)
	f(`{"id":1,"s":{"a": [1, "\u0041"]}}`, `1,NULL,NULL,"{\"a\": [1, \"\\u0041\"]}",NULL,NULL`)

	// Numbers.
	f(`{"id":1,"n":2147483647,"d":1}`, `1,2147483647,1,NULL,NULL,NULL`)
	f(`{"id":1,"n":2147483648}`, `error: column "n" at offset 12: "2147483648" is out of range for INT`)
	f(`{"id":9223372036854775808}`, `error: column "id" at offset 6: "9223372036854775808" is out of range for BIGINT`)
	f(`{"id":1,"n":1.5}`, `error: column "n" at offset 12: "1.5" is not a whole number (want INT)`)
	f(`{"id":1.0,"n":1e3}`, `1,1000,NULL,NULL,NULL,NULL`)
	f(`{"id":1e19}`, `error: "1e19" is out of range for BIGINT`)
	f(`{"id":1,"n":"42","d":"0.25","b":"false"}`, `1,42,0.25,NULL,0,NULL`)
	f(`{"id":1,"d":"NaN"}`, `error: column "d" at offset 12: want DOUBLE, got the string "NaN"`)
	f(`{"id":1,"d":1e400}`, `error: "1e400" is out of range for DOUBLE`)
	f(`{"id":1,"d":123456789012345678901234567890}`, `1,NULL,1.2345678901234568e+29,NULL,NULL,NULL`)
	f(`{"id":1,"d":0.1}`, `1,NULL,0.1,NULL,NULL,NULL`)
	f(`{"id":-}`, `error: column "id" at offset 7: unexpected '}', want a digit`)
	f(`{"id":1.}`, `error: want a digit`)
	f(`{"id":+1}`, `error: unexpected '+', want a value`)
	f(`{"id":1,"n":true}`, `error: column "n" at offset 12: want INT, got a boolean "true"`)
	f(`{"id":1,"b":1}`, `error: column "b" at offset 12: want BOOLEAN, got a number "1"`)
	f(`{"id":1,"n":[1]}`, `error: column "n" at offset 12: want INT, got an array "[1]"`)
	f(`{"id":"x"}`, `error: column "id" at offset 6: want BIGINT, got the string "x"`)

	// Timestamps.
	f(`{"id":1,"ts":"2026-11-25T10:00:00.123Z"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts+123))
	f(`{"id":1,"ts":"2026-11-25T10:00:00.1239999+01:00"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts+123-3600_000))
	f(`{"id":1,"ts":"2026-11-25t10:00:00.5-0230"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts+500+9000_000))
	f(`{"id":1,"ts":"2026-11-25 10:00:00.000"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts))
	f(`{"id":1,"ts":"2026-11-25T10:00:00"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts))
	f(`{"id":1,"ts":"2026-11-25T10:00"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts))
	f(`{"id":1,"ts":"2026-11-25"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts-10*3600_000))
	f(`{"id":1,"ts":"`+itoa(ts)+`"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ts))
	f(`{"id":1,"ts":-1}`, `1,NULL,NULL,NULL,NULL,-1`)
	f(`{"id":1,"ts":"1969-12-31T23:59:59.999Z"}`, `1,NULL,NULL,NULL,NULL,-1`)
	f(`{"id":1,"ts":"2024-02-29T00:00:00Z"}`, `1,NULL,NULL,NULL,NULL,`+itoa(ms("2024-02-29T00:00:00Z")))
	f(`{"id":1,"ts":"2026-02-29T00:00:00Z"}`, `error: column "ts" at offset 13: "2026-02-29T00:00:00Z" is not a TIMESTAMP (day out of range`)
	f(`{"id":1,"ts":"2026-11-25T24:00:00Z"}`, `error: time out of range`)
	f(`{"id":1,"ts":"2026-11-25T10:00:00Zx"}`, `error: unexpected text after the time`)
	f(`{"id":1,"ts":"2026-11-25T10:00:00+1"}`, `error: bad zone`)
	f(`{"id":1,"ts":"yesterday"}`, `error: bad date`)
	f(`{"id":1,"ts":1.5}`, `error: column "ts" at offset 13: "1.5" is not a whole number`)

	// NOT NULL, and the record's syntax.
	f(`{"n":1}`, `error: column "id" at offset 7: is NOT NULL but missing`)
	f(`{"id":null}`, `error: column "id" at offset 6: is NOT NULL but null`)
	f(``, `error: at offset 0: empty record`)
	f(`  `, `error: at offset 2: empty record`)
	f(`[{"id":1}]`, `error: at offset 0: unexpected '[', want a JSON object`)
	f(`{"id":1}x`, `error: at offset 8: unexpected 'x', want the end of the record`)
	f(`{"id":1`, `error: at offset 7: unexpected end of record, want ',' or '}'`)
	f(`{"id":1,}`, `error: at offset 8: unexpected '}', want a key`)
	f(`{id:1}`, `error: at offset 1: unexpected 'i', want a key`)
	f(`{"id":1 "n":2}`, `error: want ',' or '}'`)
	f(`{}`, `error: column "id" at offset 2: is NOT NULL but missing`)
}

func itoa(v int64) string { return rttest.Quote(runtime.IntValue(v)) }

// TestJSONStringsAsEncodingJSON checks escapes against encoding/json.
func TestJSONStringsAsEncodingJSON(t *testing.T) {
	s1 := runtime.NewSchema(runtime.Field{Name: "s", Type: runtime.Varchar})
	d := NewJSONDecoder(s1)
	for _, lit := range []string{`"plain"`, `""`, `"\u0000\u001f\u007f\u0080"`, `"\ud800"`, `"\udc00\ud800"`,
		`"\uD834\uDD1E"`, `"\ud834\u0041"`, "\"\xe2\x82\"", "\"\xed\xa0\x80\"", `"\/\\\""`, `"日本語"`} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", lit, err)
		}
		b := runtime.NewBatch(s1)
		if err := d.Decode([]byte(`{"s":`+lit+`}`), b); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if got := b.Cols[0].Str[0]; got != want {
			t.Fatalf("%s: got %q, encoding/json %q", lit, got, want)
		}
		// And back: our encoding of it is what encoding/json reads.
		var back map[string]string
		if err := json.Unmarshal(AppendJSON(nil, b, 0), &back); err != nil || back["s"] != want {
			t.Fatalf("%s: encoded as %s (%v)", lit, AppendJSON(nil, b, 0), err)
		}
		b.Release()
	}
}

func TestAppendJSON(t *testing.T) {
	b := rttest.NewBatch(schema,
		[]runtime.Value{runtime.IntValue(1), runtime.NullValue(runtime.Int), runtime.FloatValue(2),
			runtime.StringValue("a\"b\\\n\x01\xff€"), runtime.BoolValue(true), runtime.TimeValue(ms("2026-11-25T10:00:00.5Z"))},
		[]runtime.Value{{Type: runtime.BigInt, I: -3}, {Type: runtime.Int, I: 4}, runtime.FloatValue(math.NaN()),
			runtime.StringValue(""), runtime.BoolValue(false), runtime.TimeValue(-1)},
		[]runtime.Value{runtime.IntValue(0), runtime.NullValue(runtime.Int), runtime.FloatValue(math.Inf(-1)),
			runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Boolean), runtime.TimeValue(300_000_000_000_000)},
		[]runtime.Value{runtime.IntValue(0), runtime.NullValue(runtime.Int), runtime.FloatValue(1e21),
			runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Boolean), runtime.NullValue(runtime.Timestamp)},
	)
	b.Sel = []int32{0, 1, 2, 3}
	f := func(i int, want string) {
		t.Helper()
		got := string(AppendJSON([]byte("x"), b, i))
		if got != "x"+want {
			t.Fatalf("row %d:\n got %s\nwant x%s", i, got, want)
		}
		if !json.Valid([]byte(want)) {
			t.Fatalf("row %d: %s is not valid JSON", i, want)
		}
	}
	f(0, `{"id":1,"n":null,"d":2.0,"s":"a\"b\\\n\u0001\ufffd€","b":true,"ts":"2026-11-25T10:00:00.500Z"}`)
	f(1, `{"id":-3,"n":4,"d":null,"s":"","b":false,"ts":"1969-12-31T23:59:59.999Z"}`)
	f(2, `{"id":0,"n":null,"d":null,"s":null,"b":null,"ts":300000000000000}`)
	f(3, `{"id":0,"n":null,"d":1e+21,"s":null,"b":null,"ts":null}`)
}

// randomRow returns a row of schema with values of every shape: NULLs,
// extremes, strings with escapes and multi-byte runes, timestamps before
// 1970 and after 9999. special allows NaN and infinities.
func randomRow(r *rand.Rand, special bool) []runtime.Value {
	pick := func(vals ...runtime.Value) runtime.Value { return vals[r.IntN(len(vals))] }
	ints := []int64{0, 1, -1, math.MaxInt32, math.MinInt32, r.Int64N(1 << 31)}
	id := pick(runtime.IntValue(math.MaxInt64), runtime.IntValue(math.MinInt64), runtime.IntValue(r.Int64()-r.Int64()))
	n := pick(runtime.NullValue(runtime.Int), runtime.Value{Type: runtime.Int, I: ints[r.IntN(len(ints))]})
	floats := []float64{0, math.Copysign(0, -1), 0.1, 1e15, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64,
		r.NormFloat64() * 1e6, float64(r.Int64N(1e6)), r.Float64()}
	if special {
		floats = append(floats, math.NaN(), math.Inf(1), math.Inf(-1))
	}
	dv := pick(runtime.NullValue(runtime.Double), runtime.FloatValue(floats[r.IntN(len(floats))]))
	var sb strings.Builder
	parts := []string{"a", ",", ";", "\"", "\\", "\n", "\r\n", "\t", "\x00", "\x1f", " ", "é", "€", "😀", "\u2028", "{", "}", "[", "null"}
	for range r.IntN(6) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	s := pick(runtime.NullValue(runtime.Varchar), runtime.StringValue(""), runtime.StringValue(sb.String()))
	bv := pick(runtime.NullValue(runtime.Boolean), runtime.BoolValue(true), runtime.BoolValue(false))
	tsv := pick(runtime.NullValue(runtime.Timestamp), runtime.TimeValue(r.Int64N(4e12)-1e12),
		runtime.TimeValue(r.Int64()-r.Int64()), runtime.TimeValue(ms("9999-12-31T23:59:59.999Z")),
		runtime.TimeValue(ms("0000-01-01T00:00:00Z")), runtime.TimeValue(ms("0000-01-01T00:00:00Z")-1))
	return []runtime.Value{id, n, dv, s, bv, tsv}
}

func TestJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := NewJSONDecoder(schema)
	var line []byte
	for range 20_000 {
		row := randomRow(r, false)
		in := rttest.NewBatch(schema, row)
		line = AppendJSON(line[:0], in, 0)
		out := runtime.NewBatch(schema)
		if err := d.Decode(line, out); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got, want := quoted(out), quoted(in); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", line, got, want)
		}
		out.Release()
	}
}

// TestJSONDecodeAllocs checks that decoding allocates only the strings.
func TestJSONDecodeAllocs(t *testing.T) {
	d := NewJSONDecoder(schema)
	b := runtime.NewBatch(schema)
	lines := [][]byte{
		[]byte(`{"id":1,"n":2,"d":2.5,"s":"x","b":true,"ts":"2026-11-25T10:00:00.123Z","extra":{"a":[1,2]}}`),
		[]byte(`{"ID":1,"N":2,"D":2.5e3,"S":"a\"b","B":true,"TS":1764064800000}`),
	}
	for _, line := range lines {
		for range 3 * runtime.DefaultBatchRows { // grow the batch's columns first
			if err := d.Decode(line, b); err != nil {
				t.Fatal(err)
			}
		}
		b.Reset()
		allocs := testing.AllocsPerRun(1000, func() {
			if b.N == runtime.DefaultBatchRows {
				b.Reset()
			}
			if err := d.Decode(line, b); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1 {
			t.Fatalf("%s: %v allocations per row, want at most 1 (the string)", line, allocs)
		}
	}
}
