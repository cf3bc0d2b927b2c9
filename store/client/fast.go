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
	*out = GetRecordsOutput{Records: make([]Record, 0, bytes.Count(data, []byte(`"Data"`)))}
	d := scanner{b: data}
	var enc [][]byte // each record's base64 Data, decoded at the end
	total := 0
	if !d.lit('{') {
		return false
	}
	seen := 0
	for first := true; ; first = false {
		if d.lit('}') {
			if !first && d.prevComma {
				return false
			}
			break
		}
		if !first && !d.lit(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.lit(':') {
			return false
		}
		switch string(key) {
		case "Records":
			if seen&1 != 0 || !d.lit('[') {
				return false
			}
			seen |= 1
			for i := 0; ; i++ {
				if d.lit(']') {
					if i > 0 && d.prevComma {
						return false
					}
					break
				}
				if i > 0 && !d.lit(',') {
					return false
				}
				var r Record
				var e []byte
				if !d.record(&r, &e) {
					return false
				}
				out.Records = append(out.Records, r)
				enc = append(enc, e)
				total += len(e)
			}
		case "NextShardIterator":
			v, ok := d.str()
			if !ok || seen&2 != 0 {
				return false
			}
			seen |= 2
			out.NextShardIterator = string(v)
		case "MillisBehindLatest":
			v, ok := d.num()
			if !ok || seen&4 != 0 {
				return false
			}
			seen |= 4
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return false
			}
			out.MillisBehindLatest = n
		default:
			return false
		}
	}
	if d.ws(); d.i != len(d.b) {
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

// record reads one record object and returns its base64 Data in *data.
func (d *scanner) record(r *Record, data *[]byte) bool {
	if !d.lit('{') {
		return false
	}
	seen := 0
	for first := true; ; first = false {
		if d.lit('}') {
			if !first && d.prevComma {
				return false
			}
			break
		}
		if !first && !d.lit(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.lit(':') {
			return false
		}
		var bit int
		switch string(key) {
		case "SequenceNumber":
			bit = 1
			v, ok := d.str()
			if !ok {
				return false
			}
			r.SequenceNumber = string(v)
		case "ApproximateArrivalTimestamp":
			bit = 2
			v, ok := d.num()
			if !ok {
				return false
			}
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return false
			}
			r.ApproximateArrivalTimestamp = f
		case "Data":
			bit = 4
			v, ok := d.str()
			if !ok || len(v)%4 != 0 {
				return false
			}
			*data = v
		case "PartitionKey":
			bit = 8
			v, ok := d.str()
			if !ok {
				return false
			}
			r.PartitionKey = string(v)
		case "EncryptionType":
			bit = 16
			if _, ok := d.str(); !ok {
				return false
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false // a repeated key: let encoding/json decide
		}
		seen |= bit
	}
	return seen&4 != 0
}

// decodePutRecords decodes a PutRecords answer of the usual shape into
// out; false (out then holds nothing useful) for anything else, which the
// caller decodes with encoding/json.
func decodePutRecords(data []byte, out *PutRecordsOutput) bool {
	*out = PutRecordsOutput{Records: make([]PutRecordsResultEntry, 0, bytes.Count(data, []byte(`"ShardId"`))+bytes.Count(data, []byte(`"ErrorCode"`)))}
	d := scanner{b: data}
	if !d.lit('{') {
		return false
	}
	seen := 0
	for first := true; ; first = false {
		if d.lit('}') {
			if !first && d.prevComma {
				return false
			}
			break
		}
		if !first && !d.lit(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.lit(':') {
			return false
		}
		var bit int
		switch string(key) {
		case "FailedRecordCount":
			bit = 1
			v, ok := d.num()
			if !ok {
				return false
			}
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return false
			}
			out.FailedRecordCount = n
		case "EncryptionType":
			bit = 2
			if _, ok := d.str(); !ok {
				return false
			}
		case "Records":
			bit = 4
			if !d.lit('[') {
				return false
			}
			for i := 0; ; i++ {
				if d.lit(']') {
					if i > 0 && d.prevComma {
						return false
					}
					break
				}
				if i > 0 && !d.lit(',') {
					return false
				}
				var r PutRecordsResultEntry
				if !d.result(&r) {
					return false
				}
				out.Records = append(out.Records, r)
			}
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	d.ws()
	return d.i == len(d.b) && seen&4 != 0
}

// result reads one PutRecords result object.
func (d *scanner) result(r *PutRecordsResultEntry) bool {
	if !d.lit('{') {
		return false
	}
	seen := 0
	for first := true; ; first = false {
		if d.lit('}') {
			return first || !d.prevComma
		}
		if !first && !d.lit(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.lit(':') {
			return false
		}
		v, ok := d.str()
		if !ok {
			return false
		}
		var bit int
		switch string(key) {
		case "SequenceNumber":
			bit, r.SequenceNumber = 1, string(v)
		case "ShardId":
			bit, r.ShardId = 2, string(v)
		case "ErrorCode":
			bit, r.ErrorCode = 4, string(v)
		case "ErrorMessage":
			bit, r.ErrorMessage = 8, string(v)
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}
