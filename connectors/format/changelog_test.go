package format

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// changelog formats the rows of b as "kind values", one per line.
func changelog(b *runtime.Batch) string {
	var rows []string
	for i := 0; i < b.Len(); i++ {
		var vals []string
		for _, v := range b.Values(i) {
			vals = append(vals, rttest.Quote(v))
		}
		rows = append(rows, b.Kind(b.Row(i)).String()+" "+strings.Join(vals, ","))
	}
	return strings.Join(rows, "\n")
}

// checkChangelog decodes rec into a batch holding one +I row already and
// checks the rows appended (want: "kind values" lines) or the error (want:
// "error: " and a part of the message, "@N" the offset), and that a
// failure leaves the batch as it was.
func checkChangelog(t *testing.T, decode func([]byte, *runtime.Batch) error, rec, want string) {
	t.Helper()
	b := rttest.NewBatch(schema, []runtime.Value{runtime.IntValue(7), runtime.NullValue(runtime.Int),
		runtime.FloatValue(1), runtime.StringValue("x"), runtime.BoolValue(true), runtime.TimeValue(0)})
	before := changelog(b)
	err := decode([]byte(rec), b)
	if err := rttest.CheckBatch(b, schema); err != nil {
		t.Fatalf("%s: %v", rec, err)
	}
	if b.Kinds != nil && len(b.Kinds) != b.N {
		t.Fatalf("%s: %d kinds for %d rows", rec, len(b.Kinds), b.N)
	}
	if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
		wantErr, offset, _ := strings.Cut(wantErr, " @")
		var de *DecodeError
		if err == nil || !errors.As(err, &de) || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: got error %v, want a *DecodeError containing %q", rec, err, wantErr)
		}
		if offset != "" && itoa(int64(de.Offset)) != offset {
			t.Fatalf("%s: error %v at offset %d, want %s", rec, err, de.Offset, offset)
		}
		if got := changelog(b); got != before {
			t.Fatalf("%s: failed decode changed the batch to\n%s", rec, got)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", rec, err)
	}
	sel := []int32{}
	for r := 1; r < b.N; r++ {
		sel = append(sel, int32(r))
	}
	b.Sel = sel
	if got := changelog(b); got != want {
		t.Fatalf("%s:\n got %s\nwant %s", rec, got, want)
	}
}

func TestChangelogJSONDecodesKindsAndRows(t *testing.T) {
	d := NewChangelogJSONDecoder(schema)
	f := func(rec, want string) {
		t.Helper()
		checkChangelog(t, d.Decode, rec, want)
	}
	f(`{"op":"+I","row":{"id":1,"n":2,"s":"a"}}`, `+I 1,2,NULL,"a",NULL,NULL`)
	f(`{"op":"-U","row":{"id":1,"n":2}}`, `-U 1,2,NULL,NULL,NULL,NULL`)
	f(` { "row" : {"id":1,"n":3} , "op" : "+U" } `, `+U 1,3,NULL,NULL,NULL,NULL`)
	f(`{"op":"-D","row":{"id":1,"b":false},"ts":5,"extra":[1,{"op":"+I"}]}`, `-D 1,NULL,NULL,NULL,0,NULL`)
	f(`{"op":"+I","op":"-D","row":{"id":2},"row":{"id":3}}`, `-D 3,NULL,NULL,NULL,NULL,NULL`)
	f(`{"\u006fp":"-D","row":{"id":3}}`, `-D 3,NULL,NULL,NULL,NULL,NULL`)

	f(`{"row":{"id":1}}`, `error: missing "op" @16`)
	f(`{"op":"+X","row":{"id":1}}`, `error: bad "op" "+X" @6`)
	f(`{"op":1,"row":{"id":1}}`, `error: bad "op" 1 @6`)
	f(`{"op":"-U"}`, `error: want "row" to be a JSON object @11`)
	f(`{"op":"-U","row":null}`, `error: want "row" to be a JSON object @17`)
	f(`{"op":"-U","row":[1]}`, `error: want "row" to be a JSON object @17`)
	f(`{"op":"+I","row":{"id":"x"}}`, `error: column "id" at offset 23 @23`)
	f(`{"op":"+I","row":{"n":1}}`, `error: "id" at offset 24: is NOT NULL but missing @24`)
	f(`{"op":"+I","row":{"id":1}`, `error: want ',' or '}' @25`)
	f(`{"op":"+I","row":{"id":1}} x`, `error: want the end of the record @27`)
	f(``, `error: empty record`)
	f(`[]`, `error: want a JSON object @0`)
}

// TestChangelogJSONRoundTripsTheSinkFormat encodes random rows of every
// kind as the file sink writes changelog-json and decodes them back.
func TestChangelogJSONRoundTripsTheSinkFormat(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	in := runtime.NewBatch(schema)
	for r := 0; r < 2000; r++ {
		in.AppendValues(randomRow(rnd, false)...)
		in.SetKind(r, runtime.RowKind(rnd.IntN(4)))
	}
	d := NewChangelogJSONDecoder(schema)
	out := runtime.NewBatch(schema)
	for i := 0; i < in.Len(); i++ {
		rec := append([]byte(`{"op":"`), in.Kind(i).String()...)
		rec = append(rec, `","row":`...)
		rec = append(AppendJSON(rec, in, i), '}')
		if err := d.Decode(rec, out); err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
	}
	if got, want := changelog(out), changelog(in); got != want {
		t.Fatalf("round trip:\n got %.500s\nwant %.500s", got, want)
	}
}

func readSample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "debezium", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestDebeziumJSONSamples decodes events written after Debezium's
// documented envelope (Postgres and MySQL connectors).
func TestDebeziumJSONSamples(t *testing.T) {
	d := NewDebeziumJSONDecoder(schema, DebeziumOptions{})
	f := func(name, want string) {
		t.Helper()
		checkChangelog(t, d.Decode, readSample(t, name), want)
	}
	f("create.json", `+I 1,10,1.5,"ann",1,1764064800000`)
	f("read.json", `+I 2,20,NULL,"bob",0,1764064700000`)
	f("update.json", "-U 1,10,1.5,\"ann\",1,1764064800000\n+U 1,11,2.5,\"ann\",1,1764064860000")
	f("delete.json", `-D 2,20,NULL,"bob",0,1764064700000`)
	f("update-no-before.json", `error: an update event without "before" (Debezium sends the old row only when the database logs it: for Postgres, set the table's REPLICA IDENTITY to FULL) @10`)
	f("truncate.json", `error: unknown "op" "t"`)
	f("schema-include.json", `error: missing "op", want one of "c", "r", "u", "d" (the event has a "payload": set 'debezium-json.schema-include' = 'true')`)

	inc := NewDebeziumJSONDecoder(schema, DebeziumOptions{SchemaInclude: true})
	checkChangelog(t, inc.Decode, readSample(t, "schema-include.json"),
		"-U 3,1,NULL,\"cy\",NULL,NULL\n+U 3,2,NULL,\"cy\",NULL,NULL")
	checkChangelog(t, inc.Decode, readSample(t, "create.json"), `error: want "payload" to be a JSON object`)
}

func TestDebeziumJSONErrors(t *testing.T) {
	d := NewDebeziumJSONDecoder(schema, DebeziumOptions{})
	f := func(rec, want string) {
		t.Helper()
		checkChangelog(t, d.Decode, rec, want)
	}
	f(``, ``) // a tombstone: no row, no error
	f(" \t", ``)
	f(`{"op":"c","after":{"id":1}}`, `+I 1,NULL,NULL,NULL,NULL,NULL`)
	f(`{"op":"c","after":null}`, `error: a create event without "after" @18`)
	f(`{"op":"c"}`, `error: a create event without "after" @10`)
	f(`{"op":"c","after":3}`, `error: want "after" to be a JSON object or null @18`)
	f(`{"op":"d","before":{"n":1}}`, `error: is NOT NULL but missing @26`)
	// An update whose after image is bad gives neither row.
	f(`{"op":"u","before":{"id":1},"after":{"id":"one"}}`, `error: column "id" at offset 42 @42`)
	f(`{"op":"u","before":{"id":1},"after":{"id":2}`, `error: want ',' or '}'`)
	f(`{"op":"x","before":{"id":1}}`, `error: unknown "op" "x" @6`)
	f(`{"before":{"id":1}}`, `error: missing "op"`)

	inc := NewDebeziumJSONDecoder(schema, DebeziumOptions{SchemaInclude: true})
	checkChangelog(t, inc.Decode, `{"schema":null,"payload":{"op":"u","before":{"id":1},"after":{"id":"x"}}}`,
		`error: column "id" at offset 67 @67`)
	checkChangelog(t, inc.Decode, `{"schema":null,"payload":{"op":"u","before":{"id":1}}}`, `error: an update event without "after" @53`)

	ign := NewDebeziumJSONDecoder(schema, DebeziumOptions{IgnoreParseErrors: true})
	checkChangelog(t, ign.Decode, `{"op":"u","before":{"id":1},"after":{"id":"one"}}`, ``)
	checkChangelog(t, ign.Decode, `not json`, ``)
	checkChangelog(t, ign.Decode, `{"op":"d","before":{"id":4}}`, `-D 4,NULL,NULL,NULL,NULL,NULL`)
	if n := ign.Ignored(); n != 2 {
		t.Fatalf("Ignored() = %d, want 2", n)
	}
}
