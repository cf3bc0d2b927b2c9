package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/jsontext"
	"github.com/sluicehq/sluice/runtime"
)

// MaxDepth bounds the nesting of objects and arrays a JSON decoder skips
// or takes as text.
const MaxDepth = 1000

// JSONDecoder decodes JSON objects, one per record, into rows of a schema
// (see the package comment for the rules). It keeps scratch space between
// calls; it is not safe for concurrent use.
type JSONDecoder struct {
	schema *runtime.Schema
	fields []runtime.Field
	names  [][]byte
	// plainNames[c]: column c's name is written in JSON as it is (valid
	// UTF-8, no quote, backslash or control character).
	plainNames []bool
	// quotedName[c] is column c's plain name of at most 6 bytes in quotes
	// as a little-endian word, the bytes quotedMask[c] keeps (0: longer).
	quotedName, quotedMask []uint64
	// memo[k] is what sameKey needs of the column order[k].
	memo   []keyMemo
	exact  map[string]int
	folded map[string]int // by ASCII-lower-cased name
	order  []int          // the column the i-th key of the last record matched (-1: none)
	// unknown[i] is the i-th key of the last record when it matched no
	// column, so that skipping a field the schema lacks costs one compare.
	unknown [][]byte

	// The current record, column by column.
	level []uint8 // 0: no key yet, matchFolded, matchExact
	null  []bool
	off   []int // offset of the value
	i64   []int64
	f64   []float64
	str   []strRef
	buf   []byte // text of strings that needed unescaping
	key   []byte // an unescaped key, or the text of a quoted value
	lower []byte // a lower-cased key
	times timeCache

	// ROW columns, flattened into columns named row.field: the names of
	// the ROWs (every prefix of a column name up to a dot), nil when there
	// are none, and as ASCII-lower-cased.
	rows, foldedRows map[string]bool
	path             []byte // the ROW being decoded, then the key within it

	inRow func(s, key []byte, plain bool, k, i int) (int, error) // d.rowField

	shape shape // of a recent line, tried first (json_shape.go)
}

const (
	matchFolded = 1
	matchExact  = 2
)

// strRef locates a string value: line[start:end], or buf[start:end].
type strRef struct {
	start, end int
	inBuf      bool
}

// NewJSONDecoder returns a decoder of records into rows of schema.
func NewJSONDecoder(schema *runtime.Schema) *JSONDecoder {
	n := schema.Len()
	d := &JSONDecoder{
		schema: schema,
		fields: schema.Fields,
		exact:  make(map[string]int, n),
		folded: make(map[string]int, n),
		level:  make([]uint8, n),
		null:   make([]bool, n),
		off:    make([]int, n),
		i64:    make([]int64, n),
		f64:    make([]float64, n),
		str:    make([]strRef, n),
		shape:  shape{credit: shapeCredit},
	}
	for _, f := range schema.Fields {
		d.names = append(d.names, []byte(f.Name))
		d.plainNames = append(d.plainNames, plainName(f.Name))
		var word, mask uint64
		if q := `"` + f.Name + `"`; len(q) <= 8 && plainName(f.Name) {
			var b [8]byte
			copy(b[:], q)
			word, mask = binary.LittleEndian.Uint64(b[:]), 1<<(8*len(q))-1
			if len(q) == 8 {
				mask = ^uint64(0)
			}
		}
		d.quotedName, d.quotedMask = append(d.quotedName, word), append(d.quotedMask, mask)
		for j := range len(f.Name) {
			if f.Name[j] == '.' && j > 0 {
				if d.rows == nil {
					d.rows, d.foldedRows = map[string]bool{}, map[string]bool{}
				}
				d.rows[f.Name[:j]] = true
				d.foldedRows[string(asciiLower(nil, []byte(f.Name[:j])))] = true
			}
		}
	}
	d.inRow = d.rowField
	for c := n - 1; c >= 0; c-- { // the first of equal names wins
		name := schema.Fields[c].Name
		d.exact[name] = c
		d.folded[string(asciiLower(nil, []byte(name)))] = c
	}
	return d
}

// plainName reports whether name is written in a JSON string as it is.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(name)
}

func asciiLower(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Decode appends the row held by line, a JSON object, to b, whose schema
// must be the decoder's. On error b is left unchanged and the error is a
// *DecodeError naming the column (when there is one) and the byte offset.
// The strings of the row are copies: line may be reused afterwards.
func (d *JSONDecoder) Decode(line []byte, b *runtime.Batch) error {
	if b.Schema != d.schema {
		return errBatchSchema(d.schema, b.Schema)
	}
	if shapes && d.shape.try() {
		hit := d.decodeShape(line, b)
		d.shape.tried(hit)
		if hit {
			return nil
		}
	}
	clear(d.level)
	d.buf = d.buf[:0]
	if err := d.object(line); err != nil {
		return err
	}
	for c := range d.fields {
		if (d.level[c] == 0 || d.null[c]) && !d.fields[c].Nullable {
			if d.level[c] == 0 {
				return &DecodeError{Column: d.fields[c].Name, Offset: len(line), Err: errors.New("is NOT NULL but missing")}
			}
			return &DecodeError{Column: d.fields[c].Name, Offset: d.off[c], Err: errors.New("is NOT NULL but null")}
		}
	}
	for c := range d.fields {
		v := &b.Cols[c]
		if d.level[c] == 0 || d.null[c] {
			v.AppendNull()
			continue
		}
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.AppendFloat(d.f64[c])
		case runtime.PhysString:
			r := d.str[c]
			if r.inBuf {
				v.AppendString(string(d.buf[r.start:r.end]))
			} else {
				v.AppendString(string(line[r.start:r.end]))
			}
		default:
			v.AppendInt(d.i64[c])
		}
	}
	b.N++
	if shapes {
		d.learnShape(line)
	}
	return nil
}

func syntaxErr(s []byte, i int, want string) error {
	if i >= len(s) {
		return &DecodeError{Offset: i, Err: fmt.Errorf("unexpected end of record, want %s", want)}
	}
	r, _ := utf8.DecodeRune(s[i:])
	return &DecodeError{Offset: i, Err: fmt.Errorf("unexpected %q, want %s", r, want)}
}

func skipWS(s []byte, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// object decodes the record's top-level object into the column slots. Its
// loop is walkObject's, written out: on the hot path a call per key costs
// several percent.
func (d *JSONDecoder) object(s []byte) error {
	i := skipWS(s, 0)
	if i == len(s) {
		return &DecodeError{Offset: i, Err: errors.New("empty record, want a JSON object")}
	}
	if s[i] != '{' {
		return syntaxErr(s, i, "a JSON object")
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for k := 0; ; k++ {
			if i >= len(s) || s[i] != '"' {
				return syntaxErr(s, i, "a key")
			}
			var key []byte
			var end, col int
			var plain bool
			var level uint8
			if e, c := d.sameKey(s, i, k); e > 0 {
				// The column of the key at this position on the last
				// line, its name written plainly: what scanString and
				// lookup would find.
				key, end, plain, col, level = s[i+1:e], e+1, true, c, matchExact
			} else {
				var err error
				if end, plain, err = scanString(s, i+1); err != nil {
					return err
				}
				key = s[i+1 : end-1]
				col, level = d.lookup(key, plain, k)
			}
			var err error
			i = skipWS(s, end)
			if i >= len(s) || s[i] != ':' {
				return syntaxErr(s, i, "':'")
			}
			i = skipWS(s, i+1)
			if col >= 0 {
				if i, err = d.value(s, i, col, level); err != nil {
					var de *DecodeError
					if errors.As(err, &de) && de.Column == "" {
						de.Column = d.fields[col].Name // a syntax error in the column's value
					}
					return err
				}
			} else if d.rows != nil && i < len(s) && s[i] == '{' && d.isRowKey(key, plain) {
				if i, err = d.row(s, i); err != nil {
					return err
				}
			} else if i, err = skipValue(s, i, 0); err != nil {
				return err
			}
			i = skipWS(s, i)
			if i < len(s) && s[i] == ',' {
				i = skipWS(s, i+1)
				continue
			}
			if i < len(s) && s[i] == '}' {
				i++
				break
			}
			return syntaxErr(s, i, "',' or '}'")
		}
	}
	if i = skipWS(s, i); i != len(s) {
		return syntaxErr(s, i, "the end of the record")
	}
	return nil
}

// isRowKey reports whether key, a top-level key that matched no column, is
// a ROW column's name; if so, d.path holds it for d.row.
func (d *JSONDecoder) isRowKey(key []byte, plain bool) bool {
	if !plain {
		key = d.key // lookup unescaped it
	}
	d.path = append(d.path[:0], key...)
	return d.isRow(d.path)
}

// columnValue decodes the value at s[i] into column col's slot, naming the
// column in a syntax error.
func (d *JSONDecoder) columnValue(s []byte, i, col int, level uint8) (int, error) {
	i, err := d.value(s, i, col, level)
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) && de.Column == "" {
			de.Column = d.fields[col].Name // a syntax error in the column's value
		}
	}
	return i, err
}

// row decodes the object at s[i], the value of the ROW column named
// d.path: its keys are the ROW's fields, columns named d.path + "." + key.
func (d *JSONDecoder) row(s []byte, i int) (int, error) {
	d.path = append(d.path, '.')
	end, err := walkObject(s, i, d.inRow)
	d.path = d.path[:len(d.path)-1]
	return end, err
}

// rowField decodes the value at s[i] of key, a field of the ROW named by
// d.path (which ends with a dot).
func (d *JSONDecoder) rowField(s, key []byte, plain bool, _, i int) (int, error) {
	mark := len(d.path)
	if plain {
		d.path = append(d.path, key...)
	} else {
		d.path = appendUnescaped(d.path, key)
	}
	defer func() { d.path = d.path[:mark] }()
	if col, level := d.match(d.path); col >= 0 {
		return d.columnValue(s, i, col, level)
	}
	if i < len(s) && s[i] == '{' && d.isRow(d.path) {
		return d.row(s, i)
	}
	return skipValue(s, i, 0)
}

// isRow reports whether name (exactly, or else ignoring ASCII case) is a
// ROW column: a prefix, up to a dot, of a column's name.
func (d *JSONDecoder) isRow(name []byte) bool {
	if d.rows[string(name)] {
		return true
	}
	d.lower = asciiLower(d.lower[:0], name)
	return d.foldedRows[string(d.lower)]
}

// walkObject scans the JSON object whose '{' is s[i], checking its syntax,
// and returns the offset after its '}'. For the k-th key it calls value
// with the key's text between the quotes (escaped unless plain) and the
// offset of the key's value; value returns the offset after that value.
func walkObject(s []byte, i int, value func(s, key []byte, plain bool, k, at int) (int, error)) (int, error) {
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, nil
	}
	for k := 0; ; k++ {
		if i >= len(s) || s[i] != '"' {
			return i, syntaxErr(s, i, "a key")
		}
		end, plain, err := scanString(s, i+1)
		if err != nil {
			return i, err
		}
		key := s[i+1 : end-1]
		i = skipWS(s, end)
		if i >= len(s) || s[i] != ':' {
			return i, syntaxErr(s, i, "':'")
		}
		if i, err = value(s, key, plain, k, skipWS(s, i+1)); err != nil {
			return i, err
		}
		i = skipWS(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipWS(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			return i + 1, nil
		}
		return i, syntaxErr(s, i, "',' or '}'")
	}
}

// keyMemo is the column a key position matched exactly on the last line,
// for sameKey: col (-1: none, or its name is not plain), the length of its
// name, and its quoted name as a word (mask 0: longer than a word).
type keyMemo struct {
	word, mask uint64
	col, n     int
}

// memoFor returns the keyMemo of column c (-1: none).
func (d *JSONDecoder) memoFor(c int) keyMemo {
	if c < 0 || !d.plainNames[c] {
		return keyMemo{col: -1}
	}
	return keyMemo{word: d.quotedName[c], mask: d.quotedMask[c], col: c, n: len(d.names[c])}
}

// sameKey reports whether the key whose opening quote is s[i] is, as
// written, the name of the column the k-th key of the last line matched
// exactly, when that name needs no escaping (plainNames): it returns the
// offset of the closing quote and the column, or 0 and -1.
func (d *JSONDecoder) sameKey(s []byte, i, k int) (int, int) {
	if k >= len(d.memo) {
		return 0, -1
	}
	m := &d.memo[k]
	if m.mask != 0 && i+8 <= len(s) {
		// The quoted name in one word.
		if binary.LittleEndian.Uint64(s[i:])&m.mask != m.word {
			return 0, -1
		}
		return i + 1 + m.n, m.col
	}
	if m.col < 0 {
		return 0, -1
	}
	e := i + 1 + m.n
	if e >= len(s) || s[e] != '"' || string(s[i+1:e]) != string(d.names[m.col]) {
		return 0, -1
	}
	return e, m.col
}

// lookup returns the column key names (-1: none) and how it matched. k is
// the key's position in the object: keys usually come in the same order on
// every line, so the column matched at position k last time is tried first.
func (d *JSONDecoder) lookup(key []byte, plain bool, k int) (int, uint8) {
	if !plain {
		d.key = appendUnescaped(d.key[:0], key)
		key = d.key
	}
	if k < len(d.order) {
		c := d.order[k]
		if c >= 0 && string(key) == d.fields[c].Name {
			return c, matchExact
		}
		if c < 0 && len(d.unknown[k]) > 0 && bytes.Equal(key, d.unknown[k]) {
			return -1, 0
		}
	} else if k < 4*len(d.fields)+16 {
		for len(d.order) <= k {
			d.order = append(d.order, -1)
			d.unknown = append(d.unknown, nil)
			d.memo = append(d.memo, keyMemo{col: -1})
		}
	}
	c, level := d.match(key)
	if k < len(d.order) {
		d.order[k] = -1
		d.unknown[k] = d.unknown[k][:0]
		switch {
		case level == matchExact:
			d.order[k] = c
		case c < 0 && len(key) <= 64:
			d.unknown[k] = append(d.unknown[k], key...)
		}
		d.memo[k] = d.memoFor(d.order[k])
	}
	return c, level
}

// match looks key up among the column names: exactly, then ignoring case.
func (d *JSONDecoder) match(key []byte) (int, uint8) {
	if c, ok := d.exact[string(key)]; ok {
		return c, matchExact
	}
	ascii := true
	for _, ch := range key {
		if ch >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		d.lower = asciiLower(d.lower[:0], key)
		if c, ok := d.folded[string(d.lower)]; ok {
			return c, matchFolded
		}
		return -1, 0
	}
	for c, name := range d.names {
		if bytes.EqualFold(key, name) {
			return c, matchFolded
		}
	}
	return -1, 0
}

// value decodes the value at s[i] into column col's slot.
func (d *JSONDecoder) value(s []byte, i, col int, level uint8) (int, error) {
	f := &d.fields[col]
	if i >= len(s) {
		return i, syntaxErr(s, i, "a value")
	}
	keep := level >= d.level[col]
	if keep {
		d.level[col], d.null[col], d.off[col] = level, false, i
	}
	bad := func(what string, text []byte) error {
		return &DecodeError{Column: f.Name, Offset: i, Err: fmt.Errorf("want %s, got %s %s", f.Type, what, excerpt(text))}
	}
	switch c := s[i]; {
	case c == '"':
		if keep && f.Type == runtime.Timestamp {
			if v, end, ok := d.times.quoted(s, i); ok {
				d.i64[col] = v
				return end, nil
			}
		}
		end, plain, err := scanString(s, i+1)
		if err != nil {
			return i, err
		}
		if !keep {
			return end, nil
		}
		text := s[i+1 : end-1]
		if f.Type == runtime.Varchar {
			d.setString(col, s[i+1:end-1], i+1, plain, true)
			return end, nil
		}
		if !plain {
			d.key = appendUnescaped(d.key[:0], text)
			text = d.key
		}
		if err := d.setText(col, text); err != nil {
			return i, &DecodeError{Column: f.Name, Offset: i, Err: err}
		}
		return end, nil
	case c == 'n':
		if !bytes.HasPrefix(s[i:], litNull) {
			return i, syntaxErr(s, i, "a value")
		}
		if keep {
			d.null[col] = true
		}
		return i + 4, nil
	case c == 't' || c == 'f':
		lit := litTrue
		if c == 'f' {
			lit = litFalse
		}
		if !bytes.HasPrefix(s[i:], lit) {
			return i, syntaxErr(s, i, "a value")
		}
		end := i + len(lit)
		switch {
		case !keep:
		case f.Type == runtime.Boolean:
			d.i64[col] = b2i(c == 't')
		case f.Type == runtime.Varchar:
			d.str[col] = strRef{start: i, end: end}
		default:
			return i, bad("a boolean", s[i:end])
		}
		return end, nil
	case c == '-' || c >= '0' && c <= '9':
		if keep && smallInts && (f.Type == runtime.BigInt || f.Type == runtime.Timestamp) {
			if v, end, ok := scanSmallInt(s, i); ok {
				d.i64[col] = v
				return end, nil
			}
		}
		end, isInt, ok := scanNumber(s, i)
		if !ok {
			return i, syntaxErr(s, end, "a digit")
		}
		if !keep {
			return end, nil
		}
		text := s[i:end]
		switch f.Type {
		case runtime.Varchar:
			d.str[col] = strRef{start: i, end: end}
		case runtime.Boolean:
			return i, bad("a number", text)
		case runtime.Double:
			v, ok := parseFloat(text)
			if !ok {
				return i, &DecodeError{Column: f.Name, Offset: i, Err: fmt.Errorf("%s is out of range for DOUBLE", excerpt(text))}
			}
			d.f64[col] = v
		default:
			if f.Type.IsDecimal() {
				v, err := runtime.ParseDecimalBytes(text, f.Type.Precision(), f.Type.Scale())
				if err != nil {
					return i, &DecodeError{Column: f.Name, Offset: i, Err: err}
				}
				d.i64[col] = v
				return end, nil
			}
			var v int64
			var ok, inRange bool
			if isInt {
				v, ok, inRange = parseDigits(text)
			}
			if !ok || !inRange || f.Type == runtime.Int && int64(int32(v)) != v {
				t := f.Type
				if t == runtime.Timestamp {
					t = runtime.BigInt // epoch milliseconds
				}
				var err error
				if v, err = parseIntText(text, t); err != nil {
					return i, &DecodeError{Column: f.Name, Offset: i, Err: err}
				}
			}
			d.i64[col] = v
		}
		return end, nil
	case c == '{' || c == '[':
		end, err := skipValue(s, i, 0)
		if err != nil {
			return i, err
		}
		if !keep {
			return end, nil
		}
		if f.Type != runtime.Varchar {
			what := "an object"
			if c == '[' {
				what = "an array"
			}
			return i, bad(what, s[i:end])
		}
		d.setString(col, s[i:end], i, utf8.Valid(s[i:end]), false)
		return end, nil
	}
	return i, syntaxErr(s, i, "a value")
}

// smallInts enables scanSmallInt (tests compare with it off).
var smallInts = true

// scanSmallInt scans the JSON number at s[i] when it is an integer of at
// most 18 digits (so within int64), as one pass over its digits; ok is
// false for anything else (a longer number, a fraction, an exponent, a
// leading zero, a syntax error), which the general path takes.
func scanSmallInt(s []byte, i int) (v int64, end int, ok bool) {
	j := i
	if s[j] == '-' {
		j++
	}
	start := j
	if j+8 <= len(s) {
		// Up to 7 digits in one word: find the first byte that is not a
		// digit (its high nibble is not 3, or adding 6 carries out of
		// its low nibble; a carry only reaches bytes after it), then
		// add the digits up in pairs, fours and eights.
		x := binary.LittleEndian.Uint64(s[j:])
		const hi, three, six = 0xF0F0F0F0F0F0F0F0, 0x3030303030303030, 0x0606060606060606
		if nd := (x&hi ^ three) | ((x+six)&hi ^ three); nd != 0 {
			n := bits.TrailingZeros64(nd) / 8 // digits
			if n == 0 || s[start] == '0' && n > 1 {
				return 0, i, false
			}
			if c := s[start+n]; c == '.' || c == 'e' || c == 'E' {
				return 0, i, false
			}
			y := x << (64 - 8*n) & 0x0F0F0F0F0F0F0F0F // the digits, the last in the top byte
			y = y * (10<<8 + 1) >> 8 & 0x00FF00FF00FF00FF
			y = y * (100<<16 + 1) >> 16 & 0x0000FFFF0000FFFF
			y = y * (10000<<32 + 1) >> 32
			v = int64(y)
			if start > i {
				v = -v
			}
			return v, start + n, true
		}
	}
	var u uint64
	for j < len(s) && j-start < 18 {
		c := s[j] - '0'
		if c > 9 {
			break
		}
		u = u*10 + uint64(c)
		j++
	}
	if j == start || s[start] == '0' && j-start > 1 {
		return 0, i, false
	}
	if j < len(s) {
		if c := s[j]; c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' {
			return 0, i, false
		}
	}
	v = int64(u)
	if start > i {
		v = -v
	}
	return v, j, true
}

var (
	litNull  = []byte("null")
	litTrue  = []byte("true")
	litFalse = []byte("false")
)

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// setString records text, found at offset start of the record, as the
// value of VARCHAR column col. Unless plain, it is unescaped (quoted: the
// inside of a JSON string) or made valid UTF-8 (raw JSON text) into d.buf.
func (d *JSONDecoder) setString(col int, text []byte, start int, plain, quoted bool) {
	if plain {
		d.str[col] = strRef{start: start, end: start + len(text)}
		return
	}
	n := len(d.buf)
	if quoted {
		d.buf = appendUnescaped(d.buf, text)
	} else {
		d.buf = appendValidUTF8(d.buf, text)
	}
	d.str[col] = strRef{start: n, end: len(d.buf), inBuf: true}
}

// appendValidUTF8 appends s with each invalid UTF-8 byte as U+FFFD.
func appendValidUTF8(dst, s []byte) []byte {
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}

// setText parses the text of a JSON string as a value of non-VARCHAR
// column col (Flink's leniency: "42", "true").
func (d *JSONDecoder) setText(col int, text []byte) error {
	t := d.fields[col].Type
	switch t {
	case runtime.Timestamp:
		v, err := d.times.parseTimestamp(text)
		d.i64[col] = v
		return err
	case runtime.Boolean:
		switch string(text) {
		case "true":
			d.i64[col] = 1
		case "false":
			d.i64[col] = 0
		default:
			return fmt.Errorf("want BOOLEAN, got the string %s", excerpt(text))
		}
		return nil
	}
	if end, _, ok := scanNumber(text, 0); !ok || end != len(text) {
		return fmt.Errorf("want %s, got the string %s", t, excerpt(text))
	}
	if t.IsDecimal() {
		v, err := runtime.ParseDecimalBytes(text, t.Precision(), t.Scale())
		d.i64[col] = v
		return err
	}
	if t == runtime.Double {
		v, ok := parseFloat(text)
		if !ok {
			return fmt.Errorf("%s is out of range for DOUBLE", excerpt(text))
		}
		d.f64[col] = v
		return nil
	}
	v, err := parseIntText(text, t)
	d.i64[col] = v
	return err
}

// SWAR constants: a word whose bytes are all 0x01, or all 0x80. For a word
// x, (x - lows*c) & highs is non-zero when a byte of x is below c, given
// that no byte has its high bit set (checked by the final |x).
const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// scanString scans the string whose opening quote is s[i-1]. It returns the
// offset after the closing quote and whether the bytes between the quotes
// are the string as they are (no escapes, valid UTF-8).
func scanString(s []byte, i int) (end int, plain bool, err error) {
	plain = true
	for i < len(s) {
		// Plain bytes: one at a time for a short run (most strings are
		// short), eight at a time once the run is long.
		j := min(len(s), i+16)
		for i < j && jsontext.Plain(s[i]) {
			i++
		}
		if i == j {
			for i+8 <= len(s) {
				x := binary.LittleEndian.Uint64(s[i:])
				if ((x-lows*0x20)|((x^(lows*'"'))-lows)|((x^(lows*'\\'))-lows)|x)&highs != 0 {
					break
				}
				i += 8
			}
			continue
		}
		c := s[i]
		switch {
		case c == '"':
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(s) {
				return i, false, syntaxErr(s, i+1, "an escape")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(s, i+2); !ok {
					return i, false, &DecodeError{Offset: i, Err: errors.New(`bad \u escape, want four hex digits`)}
				}
				i += 6
			default:
				return i, false, &DecodeError{Offset: i, Err: fmt.Errorf(`bad escape \%c`, s[i+1])}
			}
		case c < 0x20:
			return i, false, &DecodeError{Offset: i, Err: fmt.Errorf("control character %#x in a string", c)}
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
	return i, false, syntaxErr(s, i, `'"'`)
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the text of a string scanned by scanString:
// escapes decoded (surrogate pairs joined, lone surrogates as U+FFFD) and
// invalid UTF-8 replaced by U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		if i+1 >= len(s) {
			break // cannot happen after scanString
		}
		switch e := s[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			i += 6
			if utf16IsHigh(r) && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo, ok := hex4(s, i+2); ok && utf16IsLow(lo) {
					r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r) // a lone surrogate becomes U+FFFD
			continue
		default: // '"', '\\', '/'
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

func utf16IsHigh(r rune) bool { return 0xD800 <= r && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return 0xDC00 <= r && r < 0xE000 }

// skipValue returns the offset after the JSON value at s[i], checking its
// syntax.
func skipValue(s []byte, i, depth int) (int, error) {
	if i >= len(s) {
		return i, syntaxErr(s, i, "a value")
	}
	switch c := s[i]; {
	case c == '"':
		end, _, err := scanString(s, i+1)
		return end, err
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return i, &DecodeError{Offset: i, Err: fmt.Errorf("nested deeper than %d levels", MaxDepth)}
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == closing {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(s) || s[i] != '"' {
					return i, syntaxErr(s, i, "a key")
				}
				if i, _, err = scanString(s, i+1); err != nil {
					return i, err
				}
				i = skipWS(s, i)
				if i >= len(s) || s[i] != ':' {
					return i, syntaxErr(s, i, "':'")
				}
				i = skipWS(s, i+1)
			}
			if i, err = skipValue(s, i, depth+1); err != nil {
				return i, err
			}
			i = skipWS(s, i)
			if i < len(s) && s[i] == ',' {
				i = skipWS(s, i+1)
				continue
			}
			if i < len(s) && s[i] == closing {
				return i + 1, nil
			}
			return i, syntaxErr(s, i, fmt.Sprintf("',' or '%c'", closing))
		}
	case c == 't':
		return skipLit(s, i, litTrue)
	case c == 'f':
		return skipLit(s, i, litFalse)
	case c == 'n':
		return skipLit(s, i, litNull)
	case c == '-' || c >= '0' && c <= '9':
		end, _, ok := scanNumber(s, i)
		if !ok {
			return end, syntaxErr(s, end, "a digit")
		}
		return end, nil
	}
	return i, syntaxErr(s, i, "a value")
}

func skipLit(s []byte, i int, lit []byte) (int, error) {
	if !bytes.HasPrefix(s[i:], lit) {
		return i, syntaxErr(s, i, "a value")
	}
	return i + len(lit), nil
}
