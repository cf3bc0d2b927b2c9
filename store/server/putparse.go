package server

import (
	"bytes"
	"encoding/base64"
	"unicode/utf8"

	"github.com/sluicehq/sluice/store"
)

// The fast request parsers below read PutRecord and PutRecords bodies in
// one pass when they have the shape every SDK sends: one object whose keys
// are spelled exactly as the API names them, each at most once, with string
// values free of escapes, and (for PutRecords) an array of record objects.
// Whitespace may appear anywhere JSON allows it and keys in any order. They
// decode the base64 data of all records into one buffer the caller provides.
//
// They say ok = false for anything else (other or differently-cased keys,
// escapes, null, numbers, empty strings, duplicate keys, invalid JSON or
// base64, trailing data); the caller then decodes the body with encoding/json, so errors and
// unusual requests are answered exactly as before. Whenever they say ok, the
// result equals what encoding/json would produce (FuzzPutRecordsParse checks
// this).

// putRecordsIn is a decoded PutRecords request.
type putRecordsIn struct {
	streamRef
	Records []putEntry
}

// putRecordIn is a decoded PutRecord request.
type putRecordIn struct {
	streamRef
	putEntry
}

// Fields a parser has seen, to refuse duplicates.
const (
	seenStreamName = 1 << iota
	seenStreamARN
	seenRecords
	seenData
	seenPartitionKey
	seenExplicitHashKey
)

var partitionKeyKey = []byte(`"PartitionKey"`)

// span locates a string in putParser.strs; end < 0 means absent.
type span struct{ start, end int }

// putParser holds the state of one fast parse.
type putParser struct {
	b    []byte // the body
	i    int    // read position in b
	data []byte // decoded record data; its capacity is never exceeded
	strs []byte // every string value, back to back
}

// parsePutRecords parses a PutRecords body. data must have room (capacity)
// for putDataCap(len(body)) bytes; the records' Data alias it, so the caller
// owns data and must keep it until it no longer uses the records.
func parsePutRecords(body, data []byte) (in putRecordsIn, ok bool) {
	p := putParser{b: body, data: data[:0]}
	var (
		seen      int
		name, arn = span{0, -1}, span{0, -1}
		keys      []span // PartitionKey, ExplicitHashKey per record
	)
	if !p.consume('{') {
		return in, false
	}
	if !p.consume('}') {
		for {
			key, ok := p.str()
			if !ok || !p.consume(':') {
				return in, false
			}
			switch string(key) {
			case "StreamName":
				if seen&seenStreamName != 0 {
					return in, false
				}
				seen |= seenStreamName
				if name, ok = p.strValue(); !ok {
					return in, false
				}
			case "StreamARN":
				if seen&seenStreamARN != 0 {
					return in, false
				}
				seen |= seenStreamARN
				if arn, ok = p.strValue(); !ok {
					return in, false
				}
			case "Records":
				if seen&seenRecords != 0 || !p.consume('[') {
					return in, false
				}
				seen |= seenRecords
				// Size for the records the body seems to hold (a guess:
				// the key may occur inside other strings too).
				n := min(bytes.Count(p.b[p.i:], partitionKeyKey), store.MaxPutRecords) + 1
				in.Records = make([]putEntry, 0, n)
				keys = make([]span, 0, 2*n)
				if !p.consume(']') {
					for {
						var e putEntry
						pk, eh := span{0, -1}, span{0, -1}
						if !p.consume('{') || !p.fields(&e, &pk, &eh, nil, nil) {
							return in, false
						}
						in.Records = append(in.Records, e)
						keys = append(keys, pk, eh)
						if p.consume(',') {
							continue
						}
						if p.consume(']') {
							break
						}
						return in, false
					}
				}
			default:
				return in, false
			}
			if p.consume(',') {
				continue
			}
			if p.consume('}') {
				break
			}
			return in, false
		}
	}
	if !p.end() {
		return in, false
	}
	all := string(p.strs)
	in.StreamName, in.StreamARN = name.of(all), arn.of(all)
	for i := range in.Records {
		in.Records[i].PartitionKey = keys[2*i].of(all)
		in.Records[i].ExplicitHashKey = keys[2*i+1].of(all)
	}
	return in, true
}

// parsePutRecord parses a PutRecord body; data is as for parsePutRecords.
func parsePutRecord(body, data []byte) (in putRecordIn, ok bool) {
	p := putParser{b: body, data: data[:0]}
	name, arn, pk, eh := span{0, -1}, span{0, -1}, span{0, -1}, span{0, -1}
	if !p.consume('{') || !p.fields(&in.putEntry, &pk, &eh, &name, &arn) || !p.end() {
		return in, false
	}
	all := string(p.strs)
	in.StreamName, in.StreamARN = name.of(all), arn.of(all)
	in.PartitionKey, in.ExplicitHashKey = pk.of(all), eh.of(all)
	return in, true
}

// putDataCap is the data capacity the parsers need for a body of n bytes:
// base64 decodes 4 bytes into at most 3.
func putDataCap(n int) int { return n/4*3 + 3 }

func (s span) of(all string) string {
	if s.end < 0 {
		return ""
	}
	return all[s.start:s.end]
}

// fields reads the members of an object (after its '{') up to and including
// its '}': Data, PartitionKey, ExplicitHashKey and, when name and arn are
// not nil, StreamName and StreamARN.
func (p *putParser) fields(e *putEntry, pk, eh, name, arn *span) bool {
	if p.consume('}') {
		return true
	}
	seen := 0
	for {
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return false
		}
		var bit int
		var dst *span
		switch string(key) {
		case "Data":
			bit = seenData
		case "PartitionKey":
			bit, dst = seenPartitionKey, pk
		case "ExplicitHashKey":
			bit, dst = seenExplicitHashKey, eh
		case "StreamName":
			bit, dst = seenStreamName, name
		case "StreamARN":
			bit, dst = seenStreamARN, arn
		}
		if (bit == seenStreamName || bit == seenStreamARN) && name == nil {
			return false
		}
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if bit == seenData {
			if e.Data, ok = p.base64(); !ok {
				return false
			}
		} else if *dst, ok = p.strValue(); !ok {
			return false
		}
		if p.consume(',') {
			continue
		}
		return p.consume('}')
	}
}

// ws skips JSON whitespace.
func (p *putParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then c, if c is next.
func (p *putParser) consume(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end says whether only whitespace is left.
func (p *putParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// rawStr reads a string token and returns its content, aliasing the body,
// without checking it.
func (p *putParser) rawStr() ([]byte, bool) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	n := bytes.IndexByte(p.b[start:], '"')
	if n < 0 {
		return nil, false
	}
	p.i = start + n + 1
	return p.b[start : start+n], true
}

// str reads a string without escapes or control characters, in valid UTF-8
// (encoding/json would replace invalid bytes), aliasing the body.
func (p *putParser) str() ([]byte, bool) {
	s, ok := p.rawStr()
	if !ok {
		return nil, false
	}
	ascii := true
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && !utf8.Valid(s) {
		return nil, false
	}
	return s, true
}

// strValue reads a string value into strs and returns where it is.
func (p *putParser) strValue() (span, bool) {
	s, ok := p.str()
	if !ok || len(s) == 0 { // an empty string fails validation: encoding/json tells it from an absent one
		return span{}, false
	}
	start := len(p.strs)
	p.strs = append(p.strs, s...)
	return span{start, len(p.strs)}, true
}

// strictBase64 refuses what AWS refuses: nonzero bits after the last
// character's data.
var strictBase64 = base64.StdEncoding.Strict()

// base64 reads a string value holding standard padded base64 and decodes it
// into p.data. Control characters in the string make it invalid JSON, but
// the decoder would skip CR and LF, so those are refused here; a backslash
// or any other character is refused by the decoder.
func (p *putParser) base64() ([]byte, bool) {
	s, ok := p.rawStr()
	if !ok || bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	off := len(p.data)
	room := base64.StdEncoding.DecodedLen(len(s))
	if cap(p.data)-off < room {
		return nil, false
	}
	n, err := strictBase64.Decode(p.data[off:off+room], s)
	if err != nil {
		return nil, false
	}
	p.data = p.data[:off+n]
	return p.data[off : off+n : off+n], true
}
