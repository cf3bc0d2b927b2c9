package expr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// datePieces pair a piece of a Java pattern with the Go layout that
// formats the same text (Go's time.Format is the reference).
var datePieces = [][2]string{
	{"yyyy", "2006"}, {"yy", "06"}, {"MM", "01"}, {"M", "1"}, {"MMM", "Jan"}, {"MMMM", "January"},
	{"dd", "02"}, {"d", "2"}, {"HH", "15"}, {"hh", "03"}, {"h", "3"}, {"mm", "04"}, {"m", "4"},
	{"ss", "05"}, {"s", "5"}, {"ss.SSS", "05.000"}, {"a", "PM"}, {"EEE", "Mon"}, {"EEEE", "Monday"},
	{"DDD", "002"}, {"-", "-"}, {" ", " "}, {"/", "/"}, {":", ":"}, {"'T'", "T"}, {"'at'", "at"},
}

// evalColumn evaluates e over the rows of a one-column batch of the
// values vs (through a selection vector between junk rows) and returns
// the results as strings.
func evalColumn(t interface {
	Helper()
	Fatalf(string, ...any)
}, e Expr, typ runtime.Type, vs []runtime.Value, junk runtime.Value) []string {
	t.Helper()
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: typ, Nullable: true})
	rows := make([][]runtime.Value, len(vs))
	for i, v := range vs {
		rows[i] = []runtime.Value{v}
	}
	c, err := Compile(e, s)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	var out runtime.Vector
	c.Eval(makeSelBatch(s, rows, []runtime.Value{junk}), &out)
	got := make([]string, len(vs))
	for i := range got {
		got[i] = out.Value(i).String()
	}
	return got
}

// TestDateFormatMatchesGoLayouts formats random times (NULLs among them)
// with random patterns and compares with Go's time.Format of the
// equivalent layout.
func TestDateFormatMatchesGoLayouts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "pieces")
		var java, goLayout strings.Builder
		for range n {
			p := rapid.SampledFrom(datePieces).Draw(t, "piece")
			java.WriteString(p[0])
			goLayout.WriteString(p[1])
			java.WriteString(" ")
			goLayout.WriteString(" ")
		}
		ms := rapid.SliceOfN(rapid.Int64Range(-2_000_000_000_000, 4_000_000_000_000), 1, 20).Draw(t, "ms")
		nulls := rapid.SliceOfN(rapid.Bool(), len(ms), len(ms)).Draw(t, "nulls")
		vs := make([]runtime.Value, len(ms))
		want := make([]string, len(ms))
		for i, m := range ms {
			vs[i] = runtime.TimeValue(m)
			want[i] = time.UnixMilli(m).UTC().Format(goLayout.String())
			if nulls[i] {
				vs[i], want[i] = runtime.NullValue(runtime.Timestamp), "NULL"
			}
		}
		got := evalColumn(t, Call("DATE_FORMAT", Col("x"), Str(java.String())), runtime.Timestamp, vs, runtime.TimeValue(-1))
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("DATE_FORMAT(%d, '%s') = %q, want %q", ms[i], java.String(), got[i], want[i])
			}
		}
	})
}

// TestDatePatternsParseWhatTheyFormat checks that TO_TIMESTAMP(DATE_FORMAT
// (ts, p), p) gives ts back for patterns that hold a whole time, and
// UNIX_TIMESTAMP and FROM_UNIXTIME agree with it.
func TestDatePatternsParseWhatTheyFormat(t *testing.T) {
	patterns := []string{"yyyy-MM-dd HH:mm:ss.SSS", "yyyyMMddHHmmssSSS", "dd/MM/yyyy hh:mm:ss.SSS a",
		"EEE, d MMM yyyy H:m:s.SSS", "yyyy-DDD'T'HH:mm:ss.SSS", "MMMM d yyyy k:mm:ss.SSS", "yyyy-M-d K:m:s.SSS a"}
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.SampledFrom(patterns).Draw(t, "pattern")
		ms := rapid.Int64Range(0, 253402300799999).Draw(t, "ms") // years 1970 to 9999
		var s runtime.Value
		f := Call("DATE_FORMAT", Timestamp(ms), Str(p))
		c, err := Compile(Call("TO_TIMESTAMP", f, Str(p)), nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ = c.Const()
		if s.Null || s.I != ms {
			t.Fatalf("TO_TIMESTAMP(DATE_FORMAT(%d, '%s')) = %v", ms, p, s)
		}
		u, _ := Compile(Call("FROM_UNIXTIME", Call("UNIX_TIMESTAMP", f, Str(p)), Str(p)), nil)
		v, _ := u.Const()
		sec := Call("DATE_FORMAT", Timestamp(ms-ms%1000), Str(p))
		w, _ := Compile(sec, nil)
		wv, _ := w.Const()
		if v.S != wv.S {
			t.Fatalf("FROM_UNIXTIME(UNIX_TIMESTAMP(…, '%s')) = %q, want %q", p, v.S, wv.S)
		}
	})
}

// refRunes and the functions below are plain references for the string
// functions, on rune slices.
func refLeft(s string, n int64) string {
	r := []rune(s)
	if n <= 0 {
		return ""
	}
	return string(r[:min(int64(len(r)), n)])
}

func refRight(s string, n int64) string {
	r := []rune(s)
	if n <= 0 {
		return ""
	}
	return string(r[max(0, int64(len(r))-n):])
}

func refPad(s string, n int64, pad string, left bool) (string, bool) {
	r, p := []rune(s), []rune(pad)
	if n < 0 || len(p) == 0 {
		return "", false
	}
	if n <= int64(len(r)) {
		return string(r[:n]), true
	}
	var fill []rune
	for int64(len(fill)) < n-int64(len(r)) {
		fill = append(fill, p[len(fill)%len(p)])
	}
	if left {
		return string(fill) + s, true
	}
	return s + string(fill), true
}

func refLocate(needle, hay string, from int64) int64 {
	h, nd := []rune(hay), []rune(needle)
	if from < 1 {
		return 0
	}
	for i := from - 1; i+int64(len(nd)) <= int64(len(h)); i++ {
		if string(h[i:i+int64(len(nd))]) == needle {
			return i + 1
		}
	}
	return 0
}

func refSplit(s, sep string, k int64) (string, bool) {
	if s == "" || k < 0 {
		return "", false
	}
	parts := strings.Split(s, sep)
	if k >= int64(len(parts)) {
		return "", false
	}
	return parts[k], true
}

func refReverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// TestStringFunctionsMatchReferences evaluates the string functions over
// random columns of short strings (multi-byte characters and NULLs among
// them), through a selection vector, against the references above.
func TestStringFunctionsMatchReferences(t *testing.T) {
	s := runtime.NewSchema(
		runtime.Field{Name: "a", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "b", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "n", Type: runtime.BigInt, Nullable: true},
	)
	str := rapid.StringOfN(rapid.SampledFrom([]rune("ab,é€ ")), 0, 8, -1)
	rapid.Check(t, func(t *rapid.T) {
		rows := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) []runtime.Value {
			a, b := runtime.StringValue(str.Draw(t, "a")), runtime.StringValue(str.Draw(t, "b"))
			n := runtime.IntValue(rapid.Int64Range(-3, 12).Draw(t, "n"))
			if rapid.IntRange(0, 9).Draw(t, "anull") == 0 {
				a = runtime.NullValue(runtime.Varchar)
			}
			if rapid.IntRange(0, 9).Draw(t, "nnull") == 0 {
				n = runtime.NullValue(runtime.BigInt)
			}
			return []runtime.Value{a, b, n}
		}), 1, 16).Draw(t, "rows")
		b := makeSelBatch(s, rows, []runtime.Value{runtime.StringValue("junk"), runtime.StringValue("junk"), runtime.IntValue(99)})
		type fn struct {
			e    Expr
			uses string // the arguments whose NULL makes the result NULL
			ref  func(a, b string, n int64) (string, bool)
		}
		A, Bc, N := Col("a"), Col("b"), Col("n")
		for _, f := range []fn{
			{Call("LEFT", A, N), "an", func(a, _ string, n int64) (string, bool) { return refLeft(a, n), true }},
			{Call("RIGHT", A, N), "an", func(a, _ string, n int64) (string, bool) { return refRight(a, n), true }},
			{Call("LPAD", A, N, Bc), "an", func(a, b string, n int64) (string, bool) { return refPad(a, n, b, true) }},
			{Call("RPAD", A, N, Bc), "an", func(a, b string, n int64) (string, bool) { return refPad(a, n, b, false) }},
			{Call("LOCATE", Bc, A, N), "an", func(a, b string, n int64) (string, bool) { return fmt.Sprint(refLocate(b, a, n)), true }},
			{Call("POSITION", Bc, A), "a", func(a, b string, _ int64) (string, bool) { return fmt.Sprint(refLocate(b, a, 1)), true }},
			{Call("SPLIT_INDEX", A, Bc, N), "an", func(a, b string, n int64) (string, bool) {
				if b == "" { // split at every whitespace character
					return refSplit(strings.ReplaceAll(a, " ", "|"), "|", n) // the only whitespace of the alphabet
				}
				return refSplit(a, b, n)
			}},
			{Call("REPLACE", A, Bc, Str("#")), "a", func(a, b string, _ int64) (string, bool) { return strings.ReplaceAll(a, b, "#"), true }},
			{Call("REVERSE", A), "a", func(a, _ string, _ int64) (string, bool) { return refReverse(a), true }},
			{Call("REPEAT", A, N), "an", func(a, _ string, n int64) (string, bool) { return strings.Repeat(a, int(max(n, 0))), true }},
			{Call("CONCAT_WS", Bc, A, Str("z")), "", nil}, // checked below: NULL a is skipped
		} {
			c, err := Compile(f.e, s)
			if err != nil {
				t.Fatalf("%s: %v", f.e, err)
			}
			var out runtime.Vector
			c.Eval(b, &out)
			for i, r := range rows {
				want := "NULL"
				switch {
				case f.ref == nil:
					want = "z"
					if !r[0].Null {
						want = r[0].S + r[1].S + "z"
					}
				case !(strings.Contains(f.uses, "a") && r[0].Null || strings.Contains(f.uses, "n") && r[2].Null):
					if w, ok := f.ref(r[0].S, r[1].S, r[2].I); ok {
						want = w
					}
				}
				if got := out.Value(i).String(); got != want {
					t.Fatalf("%s with a=%v b=%v n=%v: got %q, want %q", f.e, r[0], r[1], r[2], got, want)
				}
			}
		}
	})
}

// FuzzDatePattern: any pattern either fails to translate or formats and
// parses any time without panicking, and a time it formats with the
// full-precision pattern parses back.
func FuzzDatePattern(f *testing.F) {
	for _, p := range []string{"yyyy-MM-dd HH:mm:ss", "yyyyMMdd", "EEE, d MMM yyyy h:mm a", "'o''clock' k", "D w S SS SSSS", "yy-M-d", "''", "'", "[yyyy]", "MMMMM EEEEE"} {
		f.Add(p, int64(1772917509042), "2026-03-07 21:05:09")
	}
	f.Fuzz(func(t *testing.T, pattern string, ms int64, text string) {
		dp, err := parseDatePattern(pattern)
		if err != nil {
			return
		}
		s := dp.format(nil, ms)
		dp.parse(string(s))
		dp.parse(text)
		full, _ := parseDatePattern("yyyy-MM-dd HH:mm:ss.SSS")
		if ms >= 0 && ms < 253402300800000 {
			if back, ok := full.parse(string(full.format(nil, ms))); !ok || back != ms {
				t.Fatalf("%d formats as %s and parses as %d (%v)", ms, full.format(nil, ms), back, ok)
			}
		}
	})
}

// TestLowerUpperRememberOnlyTheirOwnResults: LOWER and UPPER, which keep
// their recent results, give strings.ToLower and ToUpper of every row over
// columns of few and many distinct values (NULLs and "" among them), batch
// after batch.
func TestLowerUpperRememberOnlyTheirOwnResults(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "x", Type: runtime.Varchar, Nullable: true})
	rapid.Check(t, func(t *rapid.T) {
		pool := rapid.SliceOfN(rapid.StringMatching(`[aAbBéÉ\x{212A}-]{0,6}`), 1, 40).Draw(t, "pool")
		for _, f := range []struct {
			name string
			want func(string) string
		}{{"LOWER", strings.ToLower}, {"UPPER", strings.ToUpper}} {
			c, err := Compile(Call(f.name, Col("x")), s)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				idx := rapid.SliceOfN(rapid.IntRange(-1, len(pool)-1), 1, 30).Draw(t, "rows")
				rows := make([][]runtime.Value, len(idx))
				want := make([]string, len(idx))
				for i, k := range idx {
					rows[i], want[i] = []runtime.Value{runtime.NullValue(runtime.Varchar)}, "NULL"
					if k >= 0 {
						rows[i], want[i] = []runtime.Value{runtime.StringValue(pool[k])}, f.want(pool[k])
					}
				}
				var out runtime.Vector
				c.Eval(makeSelBatch(s, rows, []runtime.Value{runtime.StringValue("Junk")}), &out)
				for i := range want {
					if got := out.Value(i).String(); got != want[i] {
						t.Fatalf("%s(%v) = %q, want %q", f.name, rows[i][0], got, want[i])
					}
				}
			}
		}
	})
}
