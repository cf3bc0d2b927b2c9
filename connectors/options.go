package connectors

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/internal/suggest"
)

// Option specs. A connector declares each WITH option it takes once — its
// key, the type of its value, its default, its range or allowed values,
// where it applies and its documentation — and Parse checks a table's
// options against them: unknown keys (with "did you mean"), missing
// required options, and every value given, typed and range-checked, with
// errors of one form: table T: option "key": "value" is not a duration
// (e.g. 500ms, 10 s, 1 min). The README's option tables are rendered from
// the same specs (MarkdownTable).

// Type is the type of an option's value.
type Type int

// The option types. Values are trimmed of spaces before they are parsed.
const (
	String    Type = iota // any text, as written
	Int                   // an integer
	Float                 // a number
	Bool                  // true or false (any case)
	Duration              // 500ms, 1m30s, Flink's 10 s, 1 min, 2 h, 1 d; a bare number is milliseconds
	Seconds               // as Duration, but a bare number is seconds (Firehose's hints)
	Size                  // 128MB, 512kb, 1048576 (ParseSize)
	Enum                  // one of Values, any case
	Column                // the name of a column of the table
	Columns               // column names separated by commas
	Delimiter             // a CSV field delimiter: one character, or tab, \t, \| (format.ParseDelimiter)
)

// Use says which side of a connector an option is for.
type Use int

// Option uses.
const (
	Both       Use = iota
	SourceOnly     // read by the source; documented "source: …"
	SinkOnly       // read by the sink; documented "sink: …"
)

// Option is the spec of one WITH option of a connector.
type Option struct {
	Key      string // e.g. "path"; a pattern with <f> for a column name, e.g. "fields.<f>.kind"
	Type     Type
	Required bool
	// Default is the value taken when the option is absent, in the
	// option's own form ("" for none); DefaultDoc, when set, is how the
	// docs show a default that is not one value ("unbounded").
	Default    string
	DefaultDoc string
	// Values are, for an Enum, the values it takes (as documented: the
	// accessors return them so); for other types, words taken besides
	// values of the type, such as "off" for a duration (Word returns them).
	Values []string
	// Min and Max bound an Int, Float, Duration, Seconds or Size option
	// (inclusive; "" for no bound), written in the option's own form.
	Min, Max string
	Use      Use
	// With, "key=value" (or "key=v1|v2"), makes the option apply only
	// when option key has one of those values (given, or as its default):
	// given otherwise, it is an error; and, when Required, it is required
	// only then.
	With string
	Doc  string
	// Parse, when set, parses and checks the value of a String option
	// (trimmed of spaces); Values.Value returns what it returns, and Parse
	// names the table and option in its errors.
	Parse func(s string) (any, error)
}

// Values are a table's options, checked against its connector's specs,
// with typed accessors. An accessor called with a key that is not in the
// spec, or with the wrong type, is a bug of the connector: it panics.
type Values struct {
	what  string // "table T": what errors name
	t     Table
	specs []Option
	vals  map[string]any // parsed values of the options given, by key
	words map[string]string
}

// Parse checks table t's options against the specs of f: every key is
// known (else "did you mean"), every required option is there, every value
// parses as its type and lies in its range or allowed values. Errors name
// the table and the option.
func Parse(f Factory, t Table) (*Values, error) {
	if err := CheckOptions(f, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	if _, ok := f.(Partitioned); !ok && len(t.PartitionKeys) > 0 {
		msg := fmt.Sprintf("table %s: connector %s does not support PARTITIONED BY (%s)", t.Name, f.Name(), strings.Join(t.PartitionKeys, ", "))
		if h, ok := f.(PartitionedByHinter); ok {
			msg += "; " + h.PartitionedByHint()
		}
		return nil, errors.New(msg)
	}
	return parse("table "+t.Name, f.Options(), t)
}

// ParseOptions checks the options of something other than a table — what
// names it in errors, e.g. "topic ops" — against specs, as Parse does
// (keys it does not know are the caller's to refuse).
func ParseOptions(what string, specs []Option, opts map[string]string) (*Values, error) {
	for _, o := range specs {
		if _, ok := opts[o.Key]; !ok && o.Required && o.With == "" {
			msg := fmt.Sprintf("%s needs option %q", what, o.Key)
			if o.Type == Enum {
				msg += " (" + strings.Join(o.Values, ", ") + ")"
			}
			return nil, errors.New(msg)
		}
	}
	return parse(what, specs, Table{Name: what, Options: opts})
}

func parse(what string, specs []Option, t Table) (*Values, error) {
	v := &Values{what: what, t: t, specs: specs, vals: map[string]any{}, words: map[string]string{}}
	for _, key := range sortedKeys(t.Options) {
		if key == "connector" {
			continue
		}
		o, ok := v.lookup(key)
		if !ok { // callers of ParseOptions may leave unknown keys to it
			return nil, v.Err("no option %q%s", key, didYouMean(key, specs))
		}
		raw := t.Options[key]
		if w, ok := word(o, raw); ok {
			v.words[key] = w
			continue
		}
		x, err := o.parse(raw, t)
		if err != nil {
			return nil, v.Errorf(key, "%w", err)
		}
		v.vals[key] = x
	}
	return v, v.checkWith()
}

// checkWith checks the options that apply only with another's value.
func (v *Values) checkWith() error {
	for _, o := range v.specs {
		if o.With == "" || strings.Contains(o.Key, "<") {
			continue
		}
		key, want, _ := strings.Cut(o.With, "=")
		val := v.String(key)
		if v.spec(key).Type == Enum && v.Enum(key) != "" {
			val = v.Enum(key) // as the spec spells it
		}
		on := false
		for _, w := range strings.Split(want, "|") {
			on = on || strings.EqualFold(val, w)
		}
		_, given := v.t.Options[o.Key]
		switch {
		case given && !on:
			return v.ErrAt(o.Key, "option %q is only used with '%s' = '%s'", o.Key, key, strings.ReplaceAll(want, "|", "' or '"))
		case !given && on && o.Required:
			return v.ErrAt(key, "option %q = '%s' needs option %q", key, val, o.Key)
		}
	}
	return nil
}

// ParseValue parses the value s of option o for table t as Parse does,
// with the error naming the table and option: for options whose type a
// connector knows only from the table (datagen's min and max follow
// their column's type).
func ParseValue(o Option, t Table, s string) (any, error) {
	x, err := o.parse(s, t)
	if err != nil {
		return nil, (&Values{what: "table " + t.Name}).Errorf(o.Key, "%w", err)
	}
	return x, nil
}

// wordsErr adds to err, the error of value s of o that is not of its
// type, the words o takes besides ("off"), with the nearest.
func wordsErr(o Option, s string, err error) error {
	if o.Type == Enum || len(o.Values) == 0 {
		return err
	}
	var near string
	if w := nearestValue(strings.TrimSpace(s), o.Values); w != "" {
		near = fmt.Sprintf(" (did you mean %q?)", w)
	}
	return fmt.Errorf("%w, nor %s%s", err, strings.Join(o.Values, ", "), near)
}

func word(o Option, s string) (string, bool) {
	if o.Type == Enum {
		return "", false
	}
	s = strings.TrimSpace(s)
	for _, w := range o.Values {
		if strings.EqualFold(s, w) {
			return w, true
		}
	}
	return "", false
}

// Table is the table the values are of.
func (v *Values) Table() Table { return v.t }

// Errorf returns an error about option key of the table, in the form Parse
// uses: table T: option "key": ….
func (v *Values) Errorf(key, format string, args ...any) error {
	return &OptionError{What: v.what, Key: key, Err: fmt.Errorf(format, args...)}
}

// OptionError is an error about one option: "table T: option "key": …".
type OptionError struct {
	What string // "table T", "topic ops", …
	Key  string
	Err  error
}

func (e *OptionError) Error() string { return fmt.Sprintf("%s: option %q: %v", e.What, e.Key, e.Err) }

func (e *OptionError) Unwrap() error { return e.Err }

// OptionKey is the option the error is about.
func (e *OptionError) OptionKey() string { return e.Key }

// ErrAt returns an error about the table, in the form of Err, that is
// about option key: OptionKey returns key, so that it can be placed at
// the option where the table is defined.
func (v *Values) ErrAt(key, format string, args ...any) error {
	return &keyError{err: v.Err(format, args...), key: key}
}

type keyError struct {
	err error
	key string
}

func (e *keyError) Error() string     { return e.err.Error() }
func (e *keyError) Unwrap() error     { return e.err }
func (e *keyError) OptionKey() string { return e.key }

// OptionErrorf returns an error about option key of table, in the form of
// Values.Errorf (table T: option "key": …), for checks a connector makes
// where it has no Values at hand.
func OptionErrorf(table, key, format string, args ...any) error {
	return &OptionError{What: "table " + table, Key: key, Err: fmt.Errorf(format, args...)}
}

// Err returns an error about the table: table T: ….
func (v *Values) Err(format string, args ...any) error {
	return fmt.Errorf("%s: %w", v.what, fmt.Errorf(format, args...))
}

// Has reports whether option key was given (as a value or a word).
func (v *Values) Has(key string) bool {
	v.spec(key)
	_, ok := v.t.Options[key]
	return ok
}

// Word returns the word of the spec's Values that option key was given
// as, or defaults to ("" when it holds a value).
func (v *Values) Word(key string) string {
	o := v.spec(key)
	if _, ok := v.t.Options[key]; !ok {
		w, _ := word(o, o.Default)
		return w
	}
	return v.words[key]
}

// get returns the parsed value of key, or its parsed default (nil when it
// has none), checking the spec's type.
func (v *Values) get(key string, types ...Type) any {
	o := v.spec(key)
	ok := false
	for _, ty := range types {
		ok = ok || o.Type == ty
	}
	if !ok {
		panic(fmt.Sprintf("connectors: option %q is not read as its type", key))
	}
	if x, ok := v.vals[key]; ok {
		return x
	}
	if _, isWord := word(o, o.Default); o.Default == "" || isWord {
		return nil
	}
	x, err := o.parse(o.Default, v.t)
	if err != nil {
		panic(fmt.Sprintf("connectors: option %q: default: %v", key, err))
	}
	return x
}

// Raw returns option key as written, or its default, whatever its type.
func (v *Values) Raw(key string) string {
	o := v.spec(key)
	if s, ok := v.t.Options[key]; ok {
		return s
	}
	return o.Default
}

// String returns the text of option key (its default when absent); for
// an option of another type, or with a Parse function, its text trimmed
// of spaces.
func (v *Values) String(key string) string {
	if o := v.spec(key); o.Type != String || o.Parse != nil {
		return strings.TrimSpace(v.Raw(key))
	}
	x, _ := v.get(key, String).(string)
	return x
}

// Value returns what the spec's Parse made of option key (nil when it is
// absent and has no default).
func (v *Values) Value(key string) any {
	return v.get(key, String)
}

// Enum returns the value of option key as spelled in its spec's Values.
func (v *Values) Enum(key string) string {
	x, _ := v.get(key, Enum).(string)
	return x
}

// Int returns the integer value of option key.
func (v *Values) Int(key string) int64 {
	x, _ := v.get(key, Int).(int64)
	return x
}

// Float returns the number value of option key.
func (v *Values) Float(key string) float64 {
	x, _ := v.get(key, Float).(float64)
	return x
}

// Bool returns the value of a Bool option key.
func (v *Values) Bool(key string) bool {
	x, _ := v.get(key, Bool).(bool)
	return x
}

// Duration returns the value of a Duration or Seconds option key.
func (v *Values) Duration(key string) time.Duration {
	x, _ := v.get(key, Duration, Seconds).(time.Duration)
	return x
}

// Size returns the value of a Size option key, in bytes.
func (v *Values) Size(key string) int64 {
	x, _ := v.get(key, Size).(int64)
	return x
}

// Column returns the index of the column option key names (-1: absent, or
// given as a word).
func (v *Values) Column(key string) int {
	x, ok := v.get(key, Column).(int)
	if !ok {
		return -1
	}
	return x
}

// Columns returns the indexes of the columns option key names.
func (v *Values) Columns(key string) []int {
	x, _ := v.get(key, Columns).([]int)
	return x
}

// Delimiter returns the field delimiter of option key (0: absent).
func (v *Values) Delimiter(key string) byte {
	x, _ := v.get(key, Delimiter).(byte)
	return x
}

// spec returns the spec of key, which the connector's code names: a key
// that is not there is a bug.
func (v *Values) spec(key string) Option {
	o, ok := v.lookup(key)
	if !ok {
		panic(fmt.Sprintf("connectors: no option %q in the spec", key))
	}
	return o
}

// lookup finds the spec of key (an exact key, or one matching a pattern).
func (v *Values) lookup(key string) (Option, bool) {
	for _, o := range v.specs {
		if o.Key == key {
			return o, true
		}
	}
	for _, o := range v.specs {
		if matchPattern(o.Key, key) {
			return o, true
		}
	}
	return Option{}, false
}

// parse parses s as the value of o, checking its range or allowed values.
func (o Option) parse(s string, t Table) (any, error) {
	raw := s
	s = strings.TrimSpace(s)
	switch o.Type {
	case String:
		if o.Parse != nil {
			return o.Parse(s)
		}
		return raw, nil
	case Enum:
		return o.enum(s)
	case Bool:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", s)
	case Column:
		i, err := column(t, s)
		if err != nil {
			return nil, wordsErr(o, s, err)
		}
		return i, nil
	case Columns:
		var cols []int
		for _, name := range strings.Split(s, ",") {
			i, err := column(t, strings.TrimSpace(name))
			if err != nil {
				return nil, err
			}
			cols = append(cols, i)
		}
		return cols, nil
	case Delimiter:
		return format.ParseDelimiter(raw)
	}
	x, n, err := o.number(s)
	var re *RangeError
	if errors.As(err, &re) {
		// Too large for its type: the range is the option's where it has one.
		return nil, &RangeError{Value: s, Min: cmp.Or(o.Min, re.Min), Max: cmp.Or(o.Max, re.Max)}
	}
	if err != nil {
		return nil, wordsErr(o, s, err)
	}
	if err := o.inRange(s, n); err != nil {
		return nil, err
	}
	return x, nil
}

// number parses a value of a numeric type: the value and, for the range
// check, it as a float64.
func (o Option) number(s string) (any, float64, error) {
	switch o.Type {
	case Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, 0, &RangeError{Value: s, Min: strconv.FormatInt(math.MinInt64, 10), Max: strconv.FormatInt(math.MaxInt64, 10)}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%q is not an integer", s)
		}
		return n, float64(n), nil
	case Float:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, 0, fmt.Errorf("%q is not a number", s)
		}
		return f, f, nil
	case Duration:
		d, err := ParseDuration(s)
		return d, float64(d), err
	case Seconds:
		d, err := ParseSeconds(s)
		return d, float64(d), err
	case Size:
		n, err := ParseSize(s)
		return n, float64(n), err
	}
	panic(fmt.Sprintf("connectors: option %q: unknown type %d", o.Key, o.Type))
}

// RangeError is a value outside its allowed range, which it names: Min
// and Max as an option spec writes them ("" for no bound).
type RangeError struct {
	Value, Min, Max string
}

func (e *RangeError) Error() string {
	switch {
	case e.Min != "" && e.Max != "":
		return fmt.Sprintf("%q must be between %s and %s", e.Value, e.Min, e.Max)
	case e.Min != "":
		return fmt.Sprintf("%q must be at least %s", e.Value, e.Min)
	}
	return fmt.Sprintf("%q must be at most %s", e.Value, e.Max)
}

// The ranges of the types themselves, for values too large for them.
var (
	sizeMin     = "1b"
	sizeMax     = "4194304tb" // 1<<62 bytes
	durationMin = time.Duration(-math.MaxInt64).String()
	durationMax = time.Duration(math.MaxInt64).String()
)

// inRange checks n (the value s) against Min and Max.
func (o Option) inRange(s string, n float64) error {
	bound := func(b string) float64 {
		if b == "" {
			return math.NaN()
		}
		_, x, err := o.number(b)
		if err != nil {
			panic(fmt.Sprintf("connectors: option %q: bound %q: %v", o.Key, b, err))
		}
		return x
	}
	lo, hi := bound(o.Min), bound(o.Max)
	if o.Min != "" && n < lo || o.Max != "" && n > hi {
		return &RangeError{Value: s, Min: o.Min, Max: o.Max}
	}
	return nil
}

func (o Option) enum(s string) (string, error) {
	for _, w := range o.Values {
		if strings.EqualFold(s, w) {
			return w, nil
		}
	}
	msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(o.Values, ", "))
	if near := nearestValue(s, o.Values); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return "", fmt.Errorf("%s", msg)
}

// didYouMean is " (did you mean "k"?)" for the key of specs nearest key,
// or "".
func didYouMean(key string, specs []Option) string {
	keys := make([]string, len(specs))
	for i, o := range specs {
		keys[i] = o.Key
	}
	if near := suggest.Nearest(key, instantiate(keys, key)); near != "" {
		return fmt.Sprintf(" (did you mean %q?)", near)
	}
	return ""
}

// nearestValue is the value of values nearest s: a close spelling, or
// else the one value s begins ("earliest" for earliest-offset).
func nearestValue(s string, values []string) string {
	ls := strings.ToLower(s)
	near := suggest.Nearest(ls, lower(values))
	var prefixed []string
	for _, w := range values {
		lw := strings.ToLower(w)
		if near != "" && lw == near {
			return w
		}
		if ls != "" && strings.HasPrefix(lw, ls) {
			prefixed = append(prefixed, w)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// column finds the column name of table t.
func column(t Table, name string) (int, error) {
	if t.Schema != nil {
		if i := t.Schema.Index(name); i >= 0 {
			return i, nil
		}
	}
	var names []string
	if t.Schema != nil {
		for _, f := range t.Schema.Fields {
			names = append(names, f.Name)
		}
	}
	msg := fmt.Sprintf("%q is not a column of table %s", name, t.Name)
	msg += suggest.Hint(name, names)
	return 0, fmt.Errorf("%s", msg)
}

// ParseSeconds parses a duration as Firehose's hints take it: a bare
// number is seconds, else a duration such as 500ms or 2 min.
func ParseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) {
		if d := n * float64(time.Second); d > -math.MaxInt64 && d < math.MaxInt64 {
			return time.Duration(d), nil
		}
		return 0, &RangeError{Value: s, Min: durationMin, Max: durationMax}
	}
	return ParseDuration(s)
}

// Shared options, defined once.

// FormatOption is the 'format' option taking values (the first is the
// default); doc describes them.
func FormatOption(doc string, values ...string) Option {
	return Option{Key: "format", Type: Enum, Default: values[0], Values: values, Doc: doc}
}

// CSVDelimiterOption is 'csv.field-delimiter', taken with 'format' = 'csv'.
var CSVDelimiterOption = Option{Key: "csv.field-delimiter", Type: Delimiter, Default: ",", With: "format=csv",
	Doc: "the CSV field delimiter: one character, or `tab` (also `\\t`), `\\|`"}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Errorf returns an error about table: "table T: …", the form of every
// connector's errors.
func Errorf(table, format string, args ...any) error {
	return fmt.Errorf("table %s: %w", table, fmt.Errorf(format, args...))
}
