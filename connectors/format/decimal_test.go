package format

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// TestDecimalDecodeExact checks that DECIMAL columns are read exactly from
// JSON (numbers and strings) and CSV, rounded half away from zero, and that
// values too wide for the type are errors naming the column.
func TestDecimalDecodeExact(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "price", Type: runtime.DecimalType(10, 2), Nullable: true})
	jd := NewJSONDecoder(s)
	cd, err := NewCSVDecoder(s, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"12.34": "12.34", "-0.5": "-0.50", "7": "7.00", "0.005": "0.01", "-0.005": "-0.01", "1.2e2": "120.00",
		"99999999.994": "99999999.99", "0.1": "0.10", "12345678.9": "12345678.90",
	} {
		for _, c := range []struct {
			name string
			dec  func([]byte, *runtime.Batch) error
			rec  string
		}{{"json", jd.Decode, `{"price":` + text + `}`}, {"json string", jd.Decode, `{"price":"` + text + `"}`}, {"csv", cd.Decode, text}} {
			b := runtime.NewBatch(s)
			if err := c.dec([]byte(c.rec), b); err != nil {
				t.Fatalf("%s %s: %v", c.name, c.rec, err)
			}
			if got := b.Values(0)[0].String(); got != want {
				t.Errorf("%s %s: got %s, want %s", c.name, c.rec, got, want)
			}
		}
	}
	for _, bad := range []string{"123456789", "1e10", "-99999999.995", "abc"} {
		b := runtime.NewBatch(s)
		if err := cd.Decode([]byte(bad), b); err == nil || !strings.Contains(err.Error(), "price") {
			t.Errorf("csv %s: error %v, want one naming price", bad, err)
		}
		if err := jd.Decode([]byte(`{"price":"`+bad+`"}`), b); err == nil || !strings.Contains(err.Error(), "price") {
			t.Errorf("json %s: error %v, want one naming price", bad, err)
		}
	}
}

// TestDecimalRoundTrip checks that random DECIMALs written as JSON and CSV
// read back to the same values, and are written with exactly s fraction
// digits.
func TestDecimalRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.IntRange(1, 18).Draw(t, "p")
		sc := rapid.IntRange(0, p).Draw(t, "s")
		typ := runtime.DecimalType(p, sc)
		s := runtime.NewSchema(runtime.Field{Name: "d", Type: typ, Nullable: true})
		lim := runtime.Pow10(p) - 1
		x := rapid.OneOf(rapid.Int64Range(-lim, lim), rapid.SampledFrom([]int64{0, lim, -lim, 1, -1})).Draw(t, "x")
		b := runtime.NewBatch(s)
		b.Cols[0].AppendInt(x)
		b.N++
		js := AppendJSON(nil, b, 0)
		enc, _ := NewCSVEncoder(CSVOptions{})
		cs := enc.Append(nil, b, 0)
		want := runtime.FormatDecimal(x, sc)
		if string(js) != `{"d":`+want+`}` || string(cs) != want {
			t.Fatalf("encoded %s and %s, want %s", js, cs, want)
		}
		if sc > 0 && !strings.Contains(want, ".") || sc > 0 && len(want)-strings.IndexByte(want, '.')-1 != sc {
			t.Fatalf("%s has not %d fraction digits", want, sc)
		}
		cd, _ := NewCSVDecoder(s, CSVOptions{})
		back := runtime.NewBatch(s)
		if err := NewJSONDecoder(s).Decode(js, back); err != nil {
			t.Fatal(err)
		}
		if err := cd.Decode(cs, back); err != nil {
			t.Fatal(err)
		}
		if back.Cols[0].I64[0] != x || back.Cols[0].I64[1] != x {
			t.Fatalf("read back %v, want %d", back.Cols[0].I64, x)
		}
	})
}
