package format

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Changelog formats: records that carry a row together with its changelog
// kind, decoded into a batch with runtime.Batch.SetKind (retract mode, as
// Flink's: an update is -U of the old row then +U of the new one).
//
// changelog-json is what the file sink writes for an updating result, one
// object per record:
//
//	{"op":"+I","row":{"user":"ann","n":1}}
//
// "op" is one of +I, -U, +U, -D; "row" is an object decoded as JSON lines
// are (see the package comment). Other keys are skipped; a key given twice
// counts the last time. A record without a valid "op" or without an object
// "row" is an error.
//
// debezium-json is Debezium's change event, as Flink's format of that name
// reads it:
//
//	{"before":{…}|null,"after":{…}|null,"op":"c|r|u|d","source":{…},"ts_ms":…}
//
// with DebeziumOptions.SchemaInclude the event is the "payload" of
// {"schema":{…},"payload":{…}} (Kafka Connect's JSON converter with
// schemas enabled). "c" (create) and "r" (snapshot read) give +I of
// "after"; "u" gives -U of "before" then +U of "after"; "d" gives -D of
// "before". An update or delete without a "before" image is an error (for
// Postgres, the table needs REPLICA IDENTITY FULL), as is an unknown op
// (Debezium's "t" truncate and "m" message events included). An empty
// record — a Kafka tombstone, which Debezium writes after a delete — gives
// no row and no error.

// ChangelogJSONDecoder decodes changelog-json records. It is not safe for
// concurrent use.
type ChangelogJSONDecoder struct {
	row *JSONDecoder
}

// NewChangelogJSONDecoder returns a decoder of changelog-json records into
// rows of schema.
func NewChangelogJSONDecoder(schema *runtime.Schema) *ChangelogJSONDecoder {
	return &ChangelogJSONDecoder{row: NewJSONDecoder(schema)}
}

// Decode appends the row of rec to b with its kind. On error b is left
// unchanged and the error is a *DecodeError with the byte offset within
// rec (and the column, when there is one).
func (d *ChangelogJSONDecoder) Decode(rec []byte, b *runtime.Batch) error {
	var op, row span
	err := envelope(rec, func(key []byte, v span) error {
		switch string(key) {
		case "op":
			op = v
		case "row":
			row = v
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !op.ok {
		return &DecodeError{Offset: len(rec), Err: errors.New(`missing "op", want one of +I, -U, +U, -D`)}
	}
	kind, ok := parseKind(rec[op.start:op.end])
	if !ok {
		return &DecodeError{Offset: op.start, Err: fmt.Errorf(`bad "op" %s, want one of "+I", "-U", "+U", "-D"`, jsonExcerpt(rec[op.start:op.end]))}
	}
	if !row.ok || rec[row.start] != '{' {
		at := len(rec)
		if row.ok {
			at = row.start
		}
		return &DecodeError{Offset: at, Err: errors.New(`want "row" to be a JSON object`)}
	}
	return appendKind(d.row, rec, row, kind, b)
}

func parseKind(s []byte) (runtime.RowKind, bool) {
	switch string(s) {
	case `"+I"`:
		return runtime.Insert, true
	case `"-U"`:
		return runtime.UpdateBefore, true
	case `"+U"`:
		return runtime.UpdateAfter, true
	case `"-D"`:
		return runtime.Delete, true
	}
	return 0, false
}

// appendKind decodes the object rec[v.start:v.end] as a row of b and sets
// its kind. Error offsets are made relative to rec.
func appendKind(d *JSONDecoder, rec []byte, v span, kind runtime.RowKind, b *runtime.Batch) error {
	if err := d.Decode(rec[v.start:v.end], b); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Offset += v.start
		}
		return err
	}
	b.SetKind(b.N-1, kind)
	return nil
}

// span is the place of a JSON value in a record: rec[start:end].
type span struct {
	start, end int
	ok         bool // the key was there
}

// isNull reports whether the value is absent or null.
func (v span) isNull(rec []byte) bool {
	return !v.ok || string(rec[v.start:v.end]) == "null"
}

// envelope scans the JSON object s (with nothing but white space around
// it), checking its syntax, and calls f with each key (unescaped) and the
// span of its value.
func envelope(s []byte, f func(key []byte, v span) error) error {
	i := skipWS(s, 0)
	if i == len(s) {
		return &DecodeError{Offset: i, Err: errors.New("empty record, want a JSON object")}
	}
	if s[i] != '{' {
		return syntaxErr(s, i, "a JSON object")
	}
	i = skipWS(s, i+1)
	var key []byte
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i >= len(s) || s[i] != '"' {
				return syntaxErr(s, i, "a key")
			}
			end, plain, err := scanString(s, i+1)
			if err != nil {
				return err
			}
			k := s[i+1 : end-1]
			if !plain {
				key = appendUnescaped(key[:0], k)
				k = key
			}
			i = skipWS(s, end)
			if i >= len(s) || s[i] != ':' {
				return syntaxErr(s, i, "':'")
			}
			i = skipWS(s, i+1)
			start := i
			if i, err = skipValue(s, i, 0); err != nil {
				return err
			}
			if err := f(k, span{start: start, end: i, ok: true}); err != nil {
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

// DebeziumOptions are the options of the debezium-json format.
type DebeziumOptions struct {
	// SchemaInclude: each event is the "payload" of an object that also
	// holds its "schema" ('debezium-json.schema-include').
	SchemaInclude bool
	// IgnoreParseErrors: a record that cannot be decoded gives no row and
	// no error ('debezium-json.ignore-parse-errors'). Flink sets the fields
	// it cannot parse to NULL; here the whole record is skipped.
	IgnoreParseErrors bool
}

// DebeziumJSONDecoder decodes Debezium change events (see the comment on
// changelog formats). It is not safe for concurrent use.
type DebeziumJSONDecoder struct {
	row     *JSONDecoder
	opts    DebeziumOptions
	ignored int64
}

// NewDebeziumJSONDecoder returns a decoder of Debezium change events into
// rows of schema.
func NewDebeziumJSONDecoder(schema *runtime.Schema, opts DebeziumOptions) *DebeziumJSONDecoder {
	return &DebeziumJSONDecoder{row: NewJSONDecoder(schema), opts: opts}
}

// Ignored is the number of records skipped for IgnoreParseErrors.
func (d *DebeziumJSONDecoder) Ignored() int64 { return d.ignored }

// Decode appends the rows of the event rec to b (none, one, or -U and +U
// for an update) with their kinds. On error b is left unchanged and the
// error is a *DecodeError with the byte offset within rec.
func (d *DebeziumJSONDecoder) Decode(rec []byte, b *runtime.Batch) error {
	if skipWS(rec, 0) == len(rec) {
		return nil // a tombstone
	}
	n := b.N
	err := d.decode(rec, b)
	if err != nil {
		truncate(b, n)
		if d.opts.IgnoreParseErrors && b.Schema == d.row.schema {
			d.ignored++
			return nil
		}
	}
	return err
}

func (d *DebeziumJSONDecoder) decode(rec []byte, b *runtime.Batch) error {
	if b.Schema != d.row.schema {
		return errBatchSchema(d.row.schema, b.Schema)
	}
	ev := span{start: 0, end: len(rec), ok: true}
	if d.opts.SchemaInclude {
		var payload span
		err := envelope(rec, func(key []byte, v span) error {
			if string(key) == "payload" {
				payload = v
			}
			return nil
		})
		if err != nil {
			return err
		}
		if payload.isNull(rec) || rec[payload.start] != '{' {
			return &DecodeError{Offset: len(rec), Err: errors.New(`want "payload" to be a JSON object ('debezium-json.schema-include' is true)`)}
		}
		ev = payload
	}
	s := rec[ev.start:ev.end]
	var before, after, op span
	var hasPayload bool
	err := envelope(s, func(key []byte, v span) error {
		v.start += ev.start
		v.end += ev.start
		switch string(key) {
		case "before":
			before = v
		case "after":
			after = v
		case "op":
			op = v
		case "payload":
			hasPayload = true
		}
		return nil
	})
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Offset += ev.start
		}
		return err
	}
	if !op.ok {
		msg := `missing "op", want one of "c", "r", "u", "d"`
		if hasPayload {
			msg += ` (the event has a "payload": set 'debezium-json.schema-include' = 'true')`
		}
		return &DecodeError{Offset: ev.end, Err: errors.New(msg)}
	}
	need := func(v span, name, what string) error {
		if v.isNull(rec) {
			at := ev.end
			if v.ok {
				at = v.start
			}
			return &DecodeError{Offset: at, Err: fmt.Errorf(`%s event without %q%s`, what, name, replicaHint(name))}
		}
		if rec[v.start] != '{' {
			return &DecodeError{Offset: v.start, Err: fmt.Errorf("want %q to be a JSON object or null", name)}
		}
		return nil
	}
	switch string(rec[op.start:op.end]) {
	case `"c"`, `"r"`:
		if err := need(after, "after", "a create"); err != nil {
			return err
		}
		return appendKind(d.row, rec, after, runtime.Insert, b)
	case `"u"`:
		if err := need(before, "before", "an update"); err != nil {
			return err
		}
		if err := need(after, "after", "an update"); err != nil {
			return err
		}
		if err := appendKind(d.row, rec, before, runtime.UpdateBefore, b); err != nil {
			return err
		}
		return appendKind(d.row, rec, after, runtime.UpdateAfter, b)
	case `"d"`:
		if err := need(before, "before", "a delete"); err != nil {
			return err
		}
		return appendKind(d.row, rec, before, runtime.Delete, b)
	}
	return &DecodeError{Offset: op.start, Err: fmt.Errorf(`unknown "op" %s, want one of "c", "r", "u", "d"`, jsonExcerpt(rec[op.start:op.end]))}
}

func replicaHint(name string) string {
	if name == "before" {
		return ` (Debezium sends the old row only when the database logs it: for Postgres, set the table's REPLICA IDENTITY to FULL)`
	}
	return ""
}

// truncate removes the physical rows of b from n on (b has no selection).
func truncate(b *runtime.Batch, n int) {
	if b.N <= n {
		return
	}
	for c := range b.Cols {
		b.Cols[c].Truncate(n)
	}
	if len(b.Kinds) > n {
		b.Kinds = b.Kinds[:n]
	}
	b.N = n
}

// jsonExcerpt is at most 40 bytes of the JSON text s (checked JSON: no
// control characters), for an error message.
func jsonExcerpt(s []byte) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(string(s[:40]), "") + "…"
	}
	return string(s)
}
