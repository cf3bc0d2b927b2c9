package format

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// drawTimeText draws TIMESTAMP texts near the form YYYY-MM-DD HH:MM:SS.fff:
// a few bases (so that consecutive draws often share their minute) with
// characters replaced, cut or appended (zones, more fraction digits, junk).
func drawTimeText(t *rapid.T) []byte {
	base := rapid.SampledFrom([]string{
		"2023-11-14 22:13:20.123", "2023-11-14 22:13:59.999", "2023-11-14T22:14:00Z", "2024-02-29 23:59:59.5",
		"2023-02-29 10:00:00.000", "2023-11-14 24:13:20.123", "2023-11-14 22:60:20.123", "2023-11-14 22:13",
		"2023-11-14", "1700000000123", "2023-11-14 22:13:20.123+01:30", "2023-11-14t22:13:20-0200",
	}).Draw(t, "base")
	b := []byte(base)
	for range rapid.IntRange(0, 2).Draw(t, "edits") {
		switch rapid.IntRange(0, 2).Draw(t, "edit") {
		case 0:
			if len(b) > 0 {
				b[rapid.IntRange(0, len(b)-1).Draw(t, "at")] = rapid.SampledFrom([]byte("01569:-. TZz+x")).Draw(t, "char")
			}
		case 1:
			b = b[:rapid.IntRange(0, len(b)).Draw(t, "cut")]
		case 2:
			b = append(b, rapid.SampledFrom([]string{"Z", "+05:00", "-0130", "7", "456", " ", "x"}).Draw(t, "tail")...)
		}
	}
	return b
}

// TestTimeCacheMatchesParseTimestamp: a sequence of texts parsed through
// one timeCache gives what parseTimestamp gives for each, errors included;
// each text in quotes, when quoted takes it, gives the same time.
func TestTimeCacheMatchesParseTimestamp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c timeCache
		for range rapid.IntRange(1, 20).Draw(t, "texts") {
			s := drawTimeText(t)
			want, wantErr := parseTimestamp(s)
			q := append(append([]byte(`x"`), s...), `"}`...)
			if v, end, ok := c.quoted(q, 1); ok && (wantErr != nil || v != want || end != len(q)-1) {
				t.Fatalf("%q: quoted %d (end %d), want %d, %v", s, v, end, want, wantErr)
			}
			got, err := c.parseTimestamp(s)
			if got != want || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("%q: cached %d, %v; want %d, %v", s, got, err, want, wantErr)
			}
		}
	})
}

// TestSmallIntFastPathMatchesGeneralPath: integers decoded into BIGINT and
// TIMESTAMP columns give the same values and errors as through the general
// path (a DOUBLE-looking or long number, a leading zero, a bare sign).
func TestSmallIntFastPathMatchesGeneralPath(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		digits := rapid.StringMatching(`-?[0-9]{0,21}`).Draw(t, "number")
		tail := rapid.SampledFrom([]string{"", ".5", "e3", "E-1", "x", " ", "0"}).Draw(t, "tail")
		text := digits + tail
		line := []byte(`{"k":` + text + `,"v":1,"ts":` + text + `}`)
		decode := func() string {
			b := runtime.NewBatch(eventSchema)
			if err := NewJSONDecoder(eventSchema).Decode(line, b); err != nil {
				return err.Error()
			}
			return fmt.Sprint(b.Cols[0].I64[0], b.Cols[2].I64[0])
		}
		want := decode()
		smallInts = false
		got := decode()
		smallInts = true
		if got != want {
			t.Fatalf("%q: fast path %q, general path %q", text, want, got)
		}
	})
}

// TestKeyMemoMatchesFreshDecoder: lines decoded one after the other by one
// decoder (which takes a key at the position of the last line's column
// without scanning it when it is written the same) give what a fresh
// decoder gives for each line — keys reordered, cased differently,
// escaped, prefixes of names, unknown — and TIMESTAMP texts sharing the
// minute of the last one (taken without scanning the string when plain).
func TestKeyMemoMatchesFreshDecoder(t *testing.T) {
	keys := []string{`"k"`, `"v"`, `"ts"`, `"K"`, `"\u006b"`, `"t"`, `"tss"`, `"x"`, `"k\""`, `"TS"`}
	rapid.Check(t, func(t *rapid.T) {
		d := NewJSONDecoder(eventSchema)
		for range rapid.IntRange(1, 12).Draw(t, "lines") {
			var sb []byte
			sb = append(sb, '{')
			for j := range rapid.IntRange(0, 4).Draw(t, "keys") {
				if j > 0 {
					sb = append(sb, ',')
				}
				sb = append(sb, rapid.SampledFrom(keys).Draw(t, "key")...)
				sb = append(sb, ':')
				sb = append(sb, rapid.SampledFrom([]string{`1`, `-20`, `null`, `{}`,
					`"2023-11-14 22:13:20.123"`, `"2023-11-14 22:13:59.9Z"`, `"2023-11-14 22:13:20.123+01:00"`, `"2023-11-14 22:13"`,
					`"2023-11-14 22:13:61"`, `"2023-11-14 22:13:20.12\u0033"`, `"2023-11-14 22:13:20.1\"x"`, `"2023-11-14 22:13:2é"`,
					`"2023-11-14 22:13:20.123`, `"2023-11-14T22:13:20"`}).Draw(t, "value")...)
			}
			sb = append(sb, '}')
			decode := func(d *JSONDecoder) string {
				b := runtime.NewBatch(eventSchema)
				if err := d.Decode(sb, b); err != nil {
					return err.Error()
				}
				var out []string
				for c := range b.Cols {
					if b.Cols[c].IsNull(0) {
						out = append(out, "NULL")
					} else {
						out = append(out, fmt.Sprint(b.Cols[c].I64[0]))
					}
				}
				return fmt.Sprint(out)
			}
			if got, want := decode(d), decode(NewJSONDecoder(eventSchema)); got != want {
				t.Fatalf("%s: %s, fresh decoder %s", sb, got, want)
			}
		}
	})
}

// TestScanSmallIntMatchesStrconv: scanSmallInt, whether the number is
// followed by a word of bytes (scanned eight at a time) or ends near the
// end of the text (one at a time), takes an integer of at most 18 digits
// without a leading zero, not followed by a fraction or exponent, at the
// value strconv gives it, and leaves anything else to the general path.
func TestScanSmallIntMatchesStrconv(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		num := rapid.StringMatching(`-?[0-9]{0,20}`).Draw(t, "number")
		tail := rapid.SampledFrom([]string{"", ",", "}", " ", ".5", "e3", "E", "x", "\xff", "/", ":", "\x00"}).Draw(t, "tail")
		pad := strings.Repeat(rapid.SampledFrom([]string{" ", "}", "a"}).Draw(t, "pad"), rapid.IntRange(0, 12).Draw(t, "padding"))
		s := []byte("x" + num + tail + pad)
		if len(s) == 1 {
			return // callers pass a value's first byte
		}
		digits := strings.TrimPrefix(num, "-")
		next := byte(0)
		if len(num)+1 < len(s) {
			next = s[len(num)+1]
		}
		wantOK := len(digits) >= 1 && len(digits) <= 18 && (digits[0] != '0' || len(digits) == 1) &&
			!(next >= '0' && next <= '9' || next == '.' || next == 'e' || next == 'E')
		v, end, ok := scanSmallInt(s, 1)
		if ok != wantOK {
			t.Fatalf("%q: ok %v, want %v", s, ok, wantOK)
		}
		if !ok {
			return
		}
		want, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v != want || end != 1+len(num) {
			t.Fatalf("%q: %d (end %d), want %d (end %d)", s, v, end, want, 1+len(num))
		}
	})
}
