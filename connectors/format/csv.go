package format

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// CSVOptions configure CSV decoders and encoders.
type CSVOptions struct {
	// Delimiter separates fields (default ','): one ASCII byte other than
	// '"', '\r' and '\n'.
	Delimiter byte
}

func (o CSVOptions) delimiter() (byte, error) {
	switch d := o.Delimiter; {
	case d == 0:
		return ',', nil
	case d == '"' || d == '\r' || d == '\n' || d >= 0x80:
		return 0, fmt.Errorf("%q cannot be a CSV field delimiter", d)
	default:
		return d, nil
	}
}

// ParseDelimiter parses a field delimiter as Flink's 'csv.field-delimiter'
// takes it: one character, or an escape such as \t.
func ParseDelimiter(s string) (byte, error) {
	switch s {
	case `\t`, "tab":
		return '\t', nil
	case `\|`:
		return '|', nil
	}
	if unq, err := strconv.Unquote(`'` + s + `'`); err == nil && len(unq) == 1 {
		s = unq
	}
	if len(s) != 1 {
		return 0, fmt.Errorf("field delimiter %q is not one character (e.g. ',', ';', '|', '\\t')", s)
	}
	return CSVOptions{Delimiter: s[0]}.delimiter()
}

// CSVDecoder decodes CSV records into rows of a schema (see the package
// comment for the rules). It is not safe for concurrent use.
type CSVDecoder struct {
	schema *runtime.Schema
	fields []runtime.Field
	delim  byte
	spans  []csvField
	i64    []int64
	f64    []float64
	buf    []byte // unquoted text
	times  timeCache
}

type csvField struct {
	start, end int // in the record, or in buf when inBuf
	off        int // where the field starts in the record
	quoted     bool
	inBuf      bool
}

// NewCSVDecoder returns a decoder of records into rows of schema.
func NewCSVDecoder(schema *runtime.Schema, opt CSVOptions) (*CSVDecoder, error) {
	delim, err := opt.delimiter()
	if err != nil {
		return nil, err
	}
	n := schema.Len()
	return &CSVDecoder{schema: schema, fields: schema.Fields, delim: delim,
		spans: make([]csvField, 0, n), i64: make([]int64, n), f64: make([]float64, n)}, nil
}

// Decode appends the row held by rec, one CSV record without its final line
// break, to b, whose schema must be the decoder's. On error b is left
// unchanged and the error is a *DecodeError; errors.Is(err, ErrIncomplete)
// when rec ends inside a quoted field.
func (d *CSVDecoder) Decode(rec []byte, b *runtime.Batch) error {
	if b.Schema != d.schema {
		return errBatchSchema(d.schema, b.Schema)
	}
	if err := d.split(rec); err != nil {
		return err
	}
	if len(d.spans) != len(d.fields) {
		return &DecodeError{Offset: len(rec), Err: fmt.Errorf("found %d fields, want %d (%s)", len(d.spans), len(d.fields), strings.Join(d.schema.Names(), string(d.delim)))}
	}
	for c := range d.fields {
		if err := d.parse(rec, c); err != nil {
			return err
		}
	}
	for c := range d.fields {
		v := &b.Cols[c]
		if d.isNull(c) {
			v.AppendNull()
			continue
		}
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			v.AppendFloat(d.f64[c])
		case runtime.PhysString:
			v.AppendString(string(d.text(rec, c)))
		default:
			v.AppendInt(d.i64[c])
		}
	}
	b.N++
	return nil
}

// split finds the fields of rec.
func (d *CSVDecoder) split(rec []byte) error {
	d.spans, d.buf = d.spans[:0], d.buf[:0]
	i := 0
	for {
		if len(d.spans) == len(d.fields) {
			return &DecodeError{Offset: i, Err: fmt.Errorf("more than %d fields", len(d.fields))}
		}
		if i < len(rec) && rec[i] == '"' {
			f := csvField{off: i, quoted: true, start: i + 1}
			j := i + 1
			for {
				k := bytes.IndexByte(rec[j:], '"')
				if k < 0 {
					return &DecodeError{Offset: i, Err: ErrIncomplete}
				}
				j += k
				if j+1 < len(rec) && rec[j+1] == '"' { // "" is one quote
					if !f.inBuf {
						f.inBuf, f.start = true, len(d.buf)
						d.buf = append(d.buf, rec[i+1:j+1]...)
					} else {
						d.buf = append(d.buf, rec[f.end:j+1]...)
					}
					j += 2
					f.end = j
					continue
				}
				break
			}
			if f.inBuf {
				d.buf = append(d.buf, rec[f.end:j]...)
				f.end = len(d.buf)
			} else {
				f.end = j
			}
			d.spans = append(d.spans, f)
			i = j + 1
			if i == len(rec) {
				return nil
			}
			if rec[i] != d.delim {
				return &DecodeError{Offset: i, Err: fmt.Errorf("unexpected %q after a quoted field, want %q", rec[i], d.delim)}
			}
			i++
			continue
		}
		k := bytes.IndexByte(rec[i:], d.delim)
		if k < 0 {
			d.spans = append(d.spans, csvField{off: i, start: i, end: len(rec)})
			return nil
		}
		d.spans = append(d.spans, csvField{off: i, start: i, end: i + k})
		i += k + 1
	}
}

func (d *CSVDecoder) text(rec []byte, c int) []byte {
	f := &d.spans[c]
	if f.inBuf {
		return d.buf[f.start:f.end]
	}
	return rec[f.start:f.end]
}

func (d *CSVDecoder) isNull(c int) bool {
	f := &d.spans[c]
	return f.start == f.end && (!f.quoted || d.fields[c].Type != runtime.Varchar)
}

// parse converts field c and checks NOT NULL.
func (d *CSVDecoder) parse(rec []byte, c int) error {
	f := &d.fields[c]
	if d.isNull(c) {
		if !f.Nullable {
			return &DecodeError{Column: f.Name, Offset: d.spans[c].off, Err: errors.New("is NOT NULL but empty")}
		}
		return nil
	}
	if f.Type == runtime.Varchar {
		return nil
	}
	text := bytes.Trim(d.text(rec, c), " \t")
	var err error
	switch f.Type {
	case runtime.Boolean:
		switch {
		case bytes.EqualFold(text, litTrue):
			d.i64[c] = 1
		case bytes.EqualFold(text, litFalse):
			d.i64[c] = 0
		default:
			err = fmt.Errorf("want BOOLEAN (true or false), got %s", excerpt(text))
		}
	case runtime.Double:
		v, ok := parseFloat(text)
		if !ok {
			err = fmt.Errorf("want DOUBLE, got %s", excerpt(text))
		}
		d.f64[c] = v
	case runtime.Timestamp:
		d.i64[c], err = d.times.parseTimestamp(text)
	default:
		if f.Type.IsDecimal() {
			d.i64[c], err = runtime.ParseDecimalBytes(text, f.Type.Precision(), f.Type.Scale())
			break
		}
		d.i64[c], err = parseIntText(text, f.Type)
	}
	if err != nil {
		return &DecodeError{Column: f.Name, Offset: d.spans[c].off, Err: err}
	}
	return nil
}

// CSVEncoder writes rows as CSV records.
type CSVEncoder struct {
	delim byte
}

// NewCSVEncoder returns an encoder with the given options.
func NewCSVEncoder(opt CSVOptions) (*CSVEncoder, error) {
	delim, err := opt.delimiter()
	if err != nil {
		return nil, err
	}
	return &CSVEncoder{delim: delim}, nil
}

// AppendHeader appends the column names of s as a record, without a line
// break.
func (e *CSVEncoder) AppendHeader(dst []byte, s *runtime.Schema) []byte {
	for c, f := range s.Fields {
		if c > 0 {
			dst = append(dst, e.delim)
		}
		dst = e.appendText(dst, f.Name)
	}
	return dst
}

// Append appends present row i of b as a record, without a line break:
// NULL as an empty field, the empty string as "", TIMESTAMP as
// 2026-11-25T10:00:00.000Z, DOUBLE as runtime.FormatFloat prints it.
func (e *CSVEncoder) Append(dst []byte, b *runtime.Batch, i int) []byte {
	r := b.Row(i)
	for c := range b.Cols {
		if c > 0 {
			dst = append(dst, e.delim)
		}
		v := &b.Cols[c]
		if v.IsNull(r) {
			continue
		}
		switch v.Type {
		case runtime.Varchar:
			dst = e.appendText(dst, v.Str[r])
		case runtime.Double:
			dst = appendDouble(dst, v.F64[r])
		case runtime.Boolean:
			if v.I64[r] != 0 {
				dst = append(dst, "true"...)
			} else {
				dst = append(dst, "false"...)
			}
		case runtime.Timestamp:
			dst = appendTimestamp(dst, v.I64[r], false)
		default:
			if v.Type.IsDecimal() {
				dst = runtime.AppendDecimal(dst, v.I64[r], v.Type.Scale())
				break
			}
			dst = strconv.AppendInt(dst, v.I64[r], 10)
		}
	}
	return dst
}

// appendText writes s, quoted when it is empty (to tell it from NULL) or
// holds a delimiter, a quote or a line break.
func (e *CSVEncoder) appendText(dst []byte, s string) []byte {
	quote := s == ""
	for i := 0; i < len(s) && !quote; i++ {
		c := s[i]
		quote = c == e.delim || c == '"' || c == '\n' || c == '\r'
	}
	if !quote {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// Split finds the first record of data, a stream of CSV text: n is its
// length without its line break (\n or \r\n), adv its length with it, and
// lines the number of lines it spans (more than one when a quoted field
// holds line breaks). ok is false when data ends before the record does.
func (d *CSVDecoder) Split(data []byte) (n, adv int, lines int64, ok bool) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, 0, 0, false
	}
	if bytes.IndexByte(data[:i], '"') < 0 { // the common case: one line
		n = i
		if n > 0 && data[n-1] == '\r' {
			n--
		}
		return n, i + 1, 1, true
	}
	fieldStart, inQuotes := true, false
	lines = 1
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inQuotes {
			switch {
			case c == '"' && i+1 < len(data) && data[i+1] == '"':
				i++
			case c == '"':
				inQuotes = false
			case c == '\n':
				lines++
			}
			continue
		}
		switch c {
		case '"':
			inQuotes = fieldStart
			fieldStart = false
		case d.delim:
			fieldStart = true
		case '\n':
			n = i
			if n > 0 && data[n-1] == '\r' {
				n--
			}
			return n, i + 1, lines, true
		default:
			fieldStart = false
		}
	}
	return 0, 0, 0, false
}
