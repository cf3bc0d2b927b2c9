package connectors

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// specFactory has one option of every type.
type specFactory struct{}

func (specFactory) Name() string { return "spec" }
func (specFactory) Options() []Option {
	return []Option{
		{Key: "name", Required: true, Doc: "a name"},
		{Key: "lanes", Type: Int, Default: "4", Min: "1", Max: "64", Doc: "lanes"},
		{Key: "ratio", Type: Float, Default: "0.5", Min: "0", Max: "1", Doc: "a fraction"},
		{Key: "strict", Type: Bool, Default: "false", Doc: "strict"},
		{Key: "every", Type: Duration, Default: "10 s", Min: "1ms", Values: []string{"off"}, Doc: "how often"},
		{Key: "hint", Type: Seconds, Default: "300", Min: "0", Max: "900", Doc: "seconds"},
		{Key: "roll", Type: Size, Default: "128MB", Max: "1GB", Doc: "a size"},
		{Key: "format", Type: Enum, Default: "json", Values: []string{"json", "csv"}, Doc: "the format"},
		{Key: "mode", Type: Enum, Values: []string{"earliest-offset", "latest-offset", "timestamp"}, Doc: "where to start"},
		{Key: "at", Type: Int, Required: true, With: "mode=timestamp", Doc: "epoch ms"},
		{Key: "key", Type: Column, Default: "none", Values: []string{"none"}, Doc: "a column"},
		{Key: "keys", Type: Columns, Doc: "columns"},
		CSVDelimiterOption,
		{Key: "fields.<f>.max", Type: Int, Default: "9", Min: "0", Doc: "per column"},
		{Key: "pair", Doc: "a:b", Parse: func(s string) (any, error) {
			a, b, ok := strings.Cut(s, ":")
			if !ok {
				return nil, fmt.Errorf("%q is not a:b", s)
			}
			return [2]string{a, b}, nil
		}},
	}
}

var specSchema = runtime.NewSchema(runtime.Field{Name: "page_id", Type: runtime.BigInt}, runtime.Field{Name: "ts", Type: runtime.Timestamp})

func parseSpec(opts map[string]string) (*Values, error) {
	all := map[string]string{"name": "n"}
	for k, v := range opts {
		all[k] = v
	}
	return Parse(specFactory{}, Table{Name: "T", Schema: specSchema, Options: all})
}

// TestOptionSpecRejectsBadValuesNamingTableAndOption: every type's parse
// error, range, allowed values (with did you mean), required and
// conditional options, in one form.
func TestOptionSpecRejectsBadValuesNamingTableAndOption(t *testing.T) {
	f := func(opts map[string]string, want string) {
		t.Helper()
		_, err := parseSpec(opts)
		if err == nil || err.Error() != want {
			t.Errorf("%v:\n got  %v\n want %s", opts, err, want)
		}
	}
	f(map[string]string{"lanes": "many"}, `table T: option "lanes": "many" is not an integer`)
	f(map[string]string{"lanes": "0"}, `table T: option "lanes": "0" must be between 1 and 64`)
	f(map[string]string{"lanes": "65"}, `table T: option "lanes": "65" must be between 1 and 64`)
	f(map[string]string{"ratio": "half"}, `table T: option "ratio": "half" is not a number`)
	f(map[string]string{"ratio": "NaN"}, `table T: option "ratio": "NaN" is not a number`)
	f(map[string]string{"ratio": "1.5"}, `table T: option "ratio": "1.5" must be between 0 and 1`)
	f(map[string]string{"strict": "yes"}, `table T: option "strict": "yes" is not true or false`)
	f(map[string]string{"every": "abc"}, `table T: option "every": "abc" is not a duration (e.g. 500ms, 10 s, 1 min), nor off`)
	f(map[string]string{"every": "0"}, `table T: option "every": "0" must be at least 1ms`)
	f(map[string]string{"hint": "901"}, `table T: option "hint": "901" must be between 0 and 900`)
	f(map[string]string{"hint": "16 min"}, `table T: option "hint": "16 min" must be between 0 and 900`)
	f(map[string]string{"roll": "lots"}, `table T: option "roll": "lots" is not a size (e.g. 128MB, 512kb, 1048576)`)
	f(map[string]string{"roll": "2 GB"}, `table T: option "roll": "2 GB" must be at most 1GB`)
	f(map[string]string{"format": "cvs"}, `table T: option "format": "cvs" is not one of json, csv (did you mean "csv"?)`)
	f(map[string]string{"format": "avro"}, `table T: option "format": "avro" is not one of json, csv`)
	f(map[string]string{"mode": "earliest"}, `table T: option "mode": "earliest" is not one of earliest-offset, latest-offset, timestamp (did you mean "earliest-offset"?)`)
	f(map[string]string{"mode": "timestamp"}, `table T: option "mode" = 'timestamp' needs option "at"`)
	f(map[string]string{"at": "5"}, `table T: option "at" is only used with 'mode' = 'timestamp'`)
	f(map[string]string{"key": "pgae_id"}, `table T: option "key": "pgae_id" is not a column of table T (did you mean "page_id"?), nor none`)
	f(map[string]string{"keys": "page_id, tss"}, `table T: option "keys": "tss" is not a column of table T (did you mean "ts"?)`)
	f(map[string]string{"csv.field-delimiter": "ab"}, `table T: option "csv.field-delimiter": field delimiter "ab" is not one character (e.g. ',', ';', '|', '\t')`)
	f(map[string]string{"fields.page_id.max": "-1"}, `table T: option "fields.page_id.max": "-1" must be at least 0`)
	f(map[string]string{"pair": "ab"}, `table T: option "pair": "ab" is not a:b`)
	f(map[string]string{"fields.page_id.maxx": "1"}, `table T: connector "spec" has no option "fields.page_id.maxx" (did you mean "fields.page_id.max"?); `+
		`its options: name, lanes, ratio, strict, every, hint, roll, format, mode, at, key, keys, csv.field-delimiter, fields.<f>.max, pair`)
	f(map[string]string{"laness": "1"}, `table T: connector "spec" has no option "laness" (did you mean "lanes"?); `+
		`its options: name, lanes, ratio, strict, every, hint, roll, format, mode, at, key, keys, csv.field-delimiter, fields.<f>.max, pair`)
	if _, err := ParseOptions("topic t", specFactory{}.Options(), map[string]string{"name": "n", "nmae": "x"}); err == nil ||
		err.Error() != `topic t: no option "nmae" (did you mean "name"?)` {
		t.Errorf("ParseOptions with an unknown key: %v", err)
	}
	if _, err := ParseOptions("topic t", specFactory{}.Options(), map[string]string{"lanes": "2"}); err == nil ||
		err.Error() != `topic t needs option "name"` {
		t.Errorf("ParseOptions without a required key: %v", err)
	}
	_, err := Parse(specFactory{}, Table{Name: "T", Options: map[string]string{}})
	if err == nil || err.Error() != `table T: connector "spec" needs option "name": a name` {
		t.Errorf("required: %v", err)
	}
}

// TestOptionSpecTypedValuesAndDefaults: values given are typed (any case,
// spaces trimmed, Flink's forms), absent ones take their defaults.
func TestOptionSpecTypedValuesAndDefaults(t *testing.T) {
	v, err := parseSpec(map[string]string{"lanes": " 8 ", "strict": "TRUE", "every": "1 min", "hint": "2.5", "roll": "64 kb",
		"format": "CSV", "mode": "timestamp", "at": "42", "key": "ts", "keys": "ts,page_id", "csv.field-delimiter": "tab", "fields.ts.max": "3", "pair": " x:y "})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("lanes", v.Int("lanes"), int64(8))
	check("ratio", v.Float("ratio"), 0.5)
	check("strict", v.Bool("strict"), true)
	check("every", v.Duration("every"), time.Minute)
	check("hint", v.Duration("hint"), 2500*time.Millisecond)
	check("roll", v.Size("roll"), int64(64<<10))
	check("format", v.Enum("format"), "csv")
	check("mode", v.Enum("mode"), "timestamp")
	check("at", v.Int("at"), int64(42))
	check("key", v.Column("key"), 1)
	check("keys", len(v.Columns("keys")), 2)
	check("delimiter", v.Delimiter("csv.field-delimiter"), byte('\t'))
	check("fields.ts.max", v.Int("fields.ts.max"), int64(3))
	check("fields.page_id.max", v.Int("fields.page_id.max"), int64(9))
	check("pair", v.Value("pair"), [2]string{"x", "y"})
	check("pair text", v.String("pair"), "x:y")
	check("has at", v.Has("at"), true)
	check("has ratio", v.Has("ratio"), false)

	d, err := parseSpec(map[string]string{"every": "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	check("word every", d.Word("every"), "off")
	check("default word key", d.Word("key"), "none")
	check("default column", d.Column("key"), -1)
	check("default lanes", d.Int("lanes"), int64(4))
	check("default hint", d.Duration("hint"), 300*time.Second)
	check("default roll", d.Size("roll"), int64(128<<20))
	check("default format", d.Enum("format"), "json")
	check("no mode", d.Enum("mode"), "")
	check("default delimiter", d.Delimiter("csv.field-delimiter"), byte(','))
}

// TestOptionSpecDefaultsAndBoundsParse: every default and bound written
// in a spec parses as its option's type (a typo there would only show
// when the option is read).
func TestOptionSpecDefaultsAndBoundsParse(t *testing.T) {
	for _, o := range (specFactory{}).Options() {
		for _, s := range []string{o.Default, o.Min, o.Max} {
			if _, isWord := word(o, s); s == "" || isWord {
				continue
			}
			if _, err := o.parse(s, Table{Name: "T", Schema: specSchema}); err != nil {
				t.Errorf("option %q: %q: %v", o.Key, s, err)
			}
		}
	}
}

// TestMarkdownTableRendersSpecs: key, default (required, a value, a
// described default or none), where it applies and the range.
func TestMarkdownTableRendersSpecs(t *testing.T) {
	got := MarkdownTable(specFactory{}.Options())
	for _, want := range []string{
		"| key | default | meaning |\n| --- | --- | --- |\n| `name` | required | a name |\n",
		"| `lanes` | `4` | lanes (1–64) |\n",
		"| `every` | `10 s` | how often (at least 1ms) |\n",
		"| `roll` | `128MB` | a size (at most 1GB) |\n",
		"| `mode` | — | where to start |\n",
		"| `at` | required | with `mode` = `timestamp`: epoch ms |\n",
		"| `csv.field-delimiter` | `,` | with `format` = `csv`: the CSV field delimiter: one character, or `tab` (also `\\t`), `\\\\|` |\n",
		"| `ratio` | `0.5` | a fraction (0–1) |\n",
		"| `fields.<f>.max` | `9` | per column |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

// TestNegativeDurationIsOutOfRangeNotMalformed: "-1 s" is a negative
// duration, which an option's range refuses as such, like "-1s".
func TestNegativeDurationIsOutOfRangeNotMalformed(t *testing.T) {
	o := Option{Key: "wait", Type: Duration, Min: "0"}
	for _, s := range []string{"-1s", "-1 s", "-2 min"} {
		_, err := ParseValue(o, Table{Name: "T"}, s)
		want := fmt.Sprintf(`table T: option "wait": %q must be at least 0`, s)
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", s, err, want)
		}
	}
	if _, err := ParseDuration("--1 s"); err == nil {
		t.Error(`"--1 s" parsed`)
	}
}

// TestValueThatIsNeitherTypeNorWordNamesTheWords: an option that takes
// words besides values of its type ("off" for a duration) names them when
// a value is neither, with the nearest; a value out of range does not.
func TestValueThatIsNeitherTypeNorWordNamesTheWords(t *testing.T) {
	o := Option{Key: "max", Type: Duration, Min: "0", Values: []string{"off"}}
	for s, want := range map[string]string{
		"of":  `table T: option "max": "of" is not a duration (e.g. 500ms, 10 s, 1 min), nor off (did you mean "off"?)`,
		"xyz": `table T: option "max": "xyz" is not a duration (e.g. 500ms, 10 s, 1 min), nor off`,
		"-1s": `table T: option "max": "-1s" must be at least 0`,
	} {
		v, err := ParseOptions("table T", []Option{o}, map[string]string{"max": s})
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v (%v), want %s", s, err, v, want)
		}
	}
}

// TestHugeValuesAreOutOfRangeNotWrapped: an integer or a duration too
// large for its type is refused as out of range, not wrapped around (a
// duration of 99999999999 days read as negative) nor called malformed.
func TestHugeValuesAreOutOfRangeNotWrapped(t *testing.T) {
	for _, c := range []struct {
		o    Option
		s    string
		want string
	}{
		{Option{Key: "every", Type: Duration, Min: "1ms"}, "99999999999 d", `table T: option "every": "99999999999 d" must be between 1ms and 2562047h47m16.854775807s`},
		{Option{Key: "every", Type: Duration, Min: "1ms"}, "99999999999h", `table T: option "every": "99999999999h" must be between 1ms and 2562047h47m16.854775807s`},
		{Option{Key: "rows", Type: Int, Min: "1"}, "99999999999999999999", `table T: option "rows": "99999999999999999999" must be between 1 and 9223372036854775807`},
		{Option{Key: "rows", Type: Int}, "-99999999999999999999", `table T: option "rows": "-99999999999999999999" must be between -9223372036854775808 and 9223372036854775807`},
		{Option{Key: "wait", Type: Seconds, Min: "0"}, "1e300", `table T: option "wait": "1e300" must be between 0 and 2562047h47m16.854775807s`},
	} {
		if _, err := ParseValue(c.o, Table{Name: "T"}, c.s); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.s, err, c.want)
		}
	}
}

// TestEveryRangeErrorNamesOptionValueAndRange: a value outside its range,
// be it the option's or its type's (a size of 0, a size or an integer too
// large to hold), is refused naming the option, the value and the range.
func TestEveryRangeErrorNamesOptionValueAndRange(t *testing.T) {
	for _, c := range []struct {
		o    Option
		s    string
		want string
	}{
		{Option{Key: "roll", Type: Size}, "0", `table T: option "roll": "0" must be between 1b and 4194304tb`},
		{Option{Key: "roll", Type: Size}, "9999999tb", `table T: option "roll": "9999999tb" must be between 1b and 4194304tb`},
		{Option{Key: "roll", Type: Size, Max: "1GB"}, "0 kb", `table T: option "roll": "0 kb" must be between 1b and 1GB`},
		{Option{Key: "roll", Type: Size, Min: "1kb", Max: "1GB"}, "9999999tb", `table T: option "roll": "9999999tb" must be between 1kb and 1GB`},
		{Option{Key: "roll", Type: Size, Min: "1kb", Max: "1GB"}, "2GB", `table T: option "roll": "2GB" must be between 1kb and 1GB`},
		{Option{Key: "lanes", Type: Int, Max: "64"}, "65", `table T: option "lanes": "65" must be at most 64`},
		{Option{Key: "lanes", Type: Int, Max: "64"}, "99999999999999999999", `table T: option "lanes": "99999999999999999999" must be between -9223372036854775808 and 64`},
		{Option{Key: "every", Type: Duration, Values: []string{"off"}}, "99999999999 d", `table T: option "every": "99999999999 d" must be at most 2562047h47m16.854775807s`},
	} {
		_, err := ParseValue(c.o, Table{Name: "T"}, c.s)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.s, err, c.want)
		}
		var re *RangeError
		if !errors.As(err, &re) {
			t.Errorf("%s: %T is not a *RangeError", c.s, err)
		}
	}
	if _, err := ParseSize("0"); err == nil || err.Error() != `"0" must be between 1b and 4194304tb` {
		t.Errorf("ParseSize(0): %v", err)
	}
}
