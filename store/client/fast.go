package client

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/sluicehq/sluice/internal/jsontext"
)

// The two calls that carry records — PutRecords and GetRecords — are
// encoded and decoded by hand: encoding/json spends most of a reader's or a
// producer's CPU on their base64 Data. Everything else, and any answer the
// fast decoder does not recognise, goes through encoding/json.

// appendPutRecords appends the JSON body of a PutRecords request.
func appendPutRecords(dst []byte, stream string, recs []PutRecordsEntry) []byte {
	dst = append(dst, `{"StreamName":`...)
	dst = jsontext.AppendString(dst, stream)
	dst = append(dst, `,"Records":[`...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"Data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, `","PartitionKey":`...)
		dst = jsontext.AppendString(dst, r.PartitionKey)
		if r.ExplicitHashKey != "" {
			dst = append(dst, `,"ExplicitHashKey":`...)
			dst = jsontext.AppendString(dst, r.ExplicitHashKey)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// decodeGetRecords decodes a GetRecords answer of the usual shape into
// out, with every record's Data in one shared buffer. It reports false —
// out then holds nothing useful — for anything else: keys it does not know
// or that differ in case, escapes in strings, ChildShards, nulls, bad
// base64 or JSON; the caller then decodes with encoding/json.
func decodeGetRecords(data []byte, out *GetRecordsOutput) bool {
	return decodeRecords(data, out, nil)
}

// decodeEvent decodes a SubscribeToShardEvent of the usual shape (as
// decodeGetRecords, with ContinuationSequenceNumber in place of
// NextShardIterator) into ev; false for anything else.
func decodeEvent(data []byte, ev *SubscribeToShardEvent) bool {
	var out GetRecordsOutput
	var cont string
	if !decodeRecords(data, &out, &cont) {
		return false
	}
	*ev = SubscribeToShardEvent{Records: out.Records, ContinuationSequenceNumber: cont, MillisBehindLatest: out.MillisBehindLatest}
	return true
}

// decodeRecords is decodeGetRecords, or, with cont, decodeEvent.
func decodeRecords(data []byte, out *GetRecordsOutput, cont *string) bool {
	*out = GetRecordsOutput{Records: make([]Record, 0, bytes.Count(data, []byte(`"Data"`)))}
	d := scanner{b: data}
	var enc [][]byte // each record's base64 Data, decoded at the end
	total := 0
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "Records":
			return d.array(func() bool {
				var r Record
				var e []byte
				if !d.record(&r, &e) {
					return false
				}
				out.Records = append(out.Records, r)
				enc = append(enc, e)
				total += len(e)
				return true
			})
		case "NextShardIterator":
			v, ok := d.str()
			out.NextShardIterator = string(v)
			return ok && cont == nil
		case "ContinuationSequenceNumber":
			v, ok := d.str()
			if cont != nil {
				*cont = string(v)
			}
			return ok && cont != nil
		case "MillisBehindLatest":
			v, ok := d.num()
			if !ok {
				return false
			}
			n, err := strconv.ParseInt(string(v), 10, 64)
			out.MillisBehindLatest = n
			return err == nil
		}
		return false
	})
	if d.ws(); !ok || d.i != len(d.b) {
		return false
	}
	// One decode for every record's data; each record takes its slice.
	buf := make([]byte, base64.StdEncoding.DecodedLen(total))
	at := 0
	for k := range out.Records {
		n, err := base64.StdEncoding.Decode(buf[at:], enc[k])
		if err != nil {
			return false
		}
		out.Records[k].Data = buf[at : at+n : at+n]
		at += n
	}
	return true
}

// scanner reads the JSON of the fast paths.
type scanner struct {
	b         []byte
	i         int
	prevComma bool // the last token read was a comma
}

func (d *scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// lit consumes byte c (after white space).
func (d *scanner) lit(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		d.prevComma = c == ','
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid
// UTF-8, and returns its bytes (a slice of the input).
func (d *scanner) str() ([]byte, bool) {
	if !d.lit('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			d.prevComma = false
			if !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// num reads a JSON number and returns its text.
func (d *scanner) num() ([]byte, bool) {
	d.ws()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if n := digits(); n == 0 || n > 1 && d.b[intStart] == '0' {
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	d.prevComma = false
	return d.b[start:d.i], true
}

// object reads a JSON object, calling field with each key once the
// scanner stands at its value; field reads the value and reports whether
// it could. A key seen twice, a field that fails or a syntax error make
// object false (encoding/json then decides).
func (d *scanner) object(field func(key []byte) bool) bool {
	if !d.lit('{') {
		return false
	}
	var seen [8][]byte
	n := 0
	for first := true; ; first = false {
		if d.lit('}') {
			return first || !d.prevComma
		}
		if !first && !d.lit(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.lit(':') || n == len(seen) {
			return false
		}
		for _, k := range seen[:n] {
			if bytes.Equal(k, key) {
				return false
			}
		}
		seen[n] = key
		n++
		if !field(key) {
			return false
		}
	}
}

// array reads a JSON array, calling elem for each element.
func (d *scanner) array(elem func() bool) bool {
	if !d.lit('[') {
		return false
	}
	for i := 0; ; i++ {
		if d.lit(']') {
			return i == 0 || !d.prevComma
		}
		if i > 0 && !d.lit(',') {
			return false
		}
		if !elem() {
			return false
		}
	}
}

// record reads one record object and returns its base64 Data in *data.
func (d *scanner) record(r *Record, data *[]byte) bool {
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "SequenceNumber":
			v, ok := d.str()
			r.SequenceNumber = string(v)
			return ok
		case "ApproximateArrivalTimestamp":
			v, ok := d.num()
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(v), 64)
			r.ApproximateArrivalTimestamp = f
			return err == nil
		case "Data":
			v, ok := d.str()
			*data = v
			return ok && len(v)%4 == 0
		case "PartitionKey":
			v, ok := d.str()
			r.PartitionKey = string(v)
			return ok
		case "EncryptionType":
			_, ok := d.str()
			return ok
		}
		return false
	})
	return ok && *data != nil
}

// decodePutRecords decodes a PutRecords answer of the usual shape into
// out; false (out then holds nothing useful) for anything else, which the
// caller decodes with encoding/json.
func decodePutRecords(data []byte, out *PutRecordsOutput) bool {
	*out = PutRecordsOutput{Records: make([]PutRecordsResultEntry, 0, bytes.Count(data, []byte(`"ShardId"`))+bytes.Count(data, []byte(`"ErrorCode"`)))}
	d := scanner{b: data}
	records := false
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "FailedRecordCount":
			v, ok := d.num()
			if !ok {
				return false
			}
			n, err := strconv.Atoi(string(v))
			out.FailedRecordCount = n
			return err == nil
		case "EncryptionType":
			_, ok := d.str()
			return ok
		case "Records":
			records = true
			return d.array(func() bool {
				var r PutRecordsResultEntry
				if !d.result(&r) {
					return false
				}
				out.Records = append(out.Records, r)
				return true
			})
		}
		return false
	})
	d.ws()
	return ok && records && d.i == len(d.b)
}

// result reads one PutRecords result object.
func (d *scanner) result(r *PutRecordsResultEntry) bool {
	return d.object(func(key []byte) bool {
		v, ok := d.str()
		switch string(key) {
		case "SequenceNumber":
			r.SequenceNumber = string(v)
		case "ShardId":
			r.ShardId = string(v)
		case "ErrorCode":
			r.ErrorCode = string(v)
		case "ErrorMessage":
			r.ErrorMessage = string(v)
		default:
			return false
		}
		return ok
	})
}
