package server

// CBOR requests and answers (Content-Type application/x-amz-cbor-1.1), the
// encoding the AWS SDK for Java (v1 and v2, and so KCL) speaks to Kinesis by
// default.
//
// What the Java SDKs write and read, from their sources (v1's and v2's
// SdkCborGenerator and AwsCborProtocolFactory, over Jackson's CBOR
// generator and parser):
//   - the same document as the JSON 1.1 protocol, field for field, with the
//     same X-Amz-Target; maps and arrays as Jackson writes them (of
//     indefinite length), so any length encoding must be read;
//   - blobs (Data) as byte strings (major type 2);
//   - timestamps as tag 1 over a whole number of epoch MILLISECONDS
//     (instant.toEpochMilli()), not the seconds RFC 8949 gives tag 1; and
//     read back with the UNIX_TIMESTAMP_MILLIS format (Long.parseLong of the
//     number: a float or a number of seconds there is misread or refused), the
//     tag itself being skipped by Jackson;
//   - errors by X-Amzn-ErrorType, else __type, with the message in
//     "message", as in JSON.
//
// So the store answers timestamps as tag 1 over whole epoch milliseconds,
// and reads a timestamp (tag 1, or an untagged number in a timestamp field)
// as epoch milliseconds. A tag 0 (an RFC 3339 text date) is read too. Any
// other tag is skipped, as Jackson does. Answers carry Content-Type
// application/x-amz-cbor-1.1, as kinesalite's do.
//
// The operations themselves only speak JSON: a CBOR request is transcoded
// at the edge into the JSON its handler parses (byte strings become base64
// strings, timestamps seconds as JSON numbers), and the JSON answer into
// CBOR (the blob fields of the Kinesis API model become byte strings, its
// timestamp fields tag 1). Both transcoders stream, in one pass and without
// a tree of values, so every operation, present or added later, speaks
// CBOR with no code of its own; fxamacker/cbor checks that a request is
// well-formed (and bounds its nesting) first.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/x448/float16"

	"github.com/sluicehq/sluice/store"
)

// CBORContentType is the Content-Type of CBOR requests and answers.
const CBORContentType = "application/x-amz-cbor-1.1"

// isCBOR reports whether r asks for the CBOR protocol.
func isCBOR(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == CBORContentType {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == CBORContentType
}

// answersCBOR reports whether the answer being written on w is CBOR: ServeHTTP
// sets the answer's Content-Type first thing for a CBOR request.
func answersCBOR(w http.ResponseWriter) bool {
	return w.Header().Get("Content-Type") == CBORContentType
}

// cborTimestampFields are the members of type Timestamp in the Kinesis API
// model (requests and answers, at any depth).
var cborTimestampFields = map[string]bool{
	"ApproximateArrivalTimestamp": true,
	"ChannelCreationTimestamp":    true,
	"ConsumerCreationTimestamp":   true,
	"EarliestAllowedEndAt":        true,
	"EndedAt":                     true,
	"StartedAt":                   true,
	"StreamCreationTimestamp":     true,
	"Timestamp":                   true,
}

// cborBlobFields are the members of type Blob in the Kinesis API model.
var cborBlobFields = map[string]bool{"Data": true}

// cborCheck checks requests' well-formedness; its limits bound the
// transcoders' recursion.
var cborCheck = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxNestedLevels: 32}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// cborToJSON appends to dst the JSON of the CBOR document src: the body a
// handler parses. Its errors are SerializationException's messages.
func cborToJSON(dst, src []byte) ([]byte, error) {
	if err := cborCheck.Wellformed(src); err != nil {
		return dst, fmt.Errorf(store.MsgCBORParse, strings.TrimPrefix(err.Error(), "cbor: "))
	}
	t := cborReader{b: src}
	return t.value(dst, nil)
}

// cborReader walks a well-formed CBOR document.
type cborReader struct {
	b   []byte
	off int
}

// head reads an item's initial byte and argument. For an indefinite length
// (additional information 31) it answers indef.
func (r *cborReader) head() (major, ai byte, arg uint64, indef bool) {
	c := r.b[r.off]
	r.off++
	major, ai = c>>5, c&0x1f
	switch {
	case ai < 24:
		arg = uint64(ai)
	case ai == 24:
		arg = uint64(r.b[r.off])
		r.off++
	case ai == 25:
		arg = uint64(binary.BigEndian.Uint16(r.b[r.off:]))
		r.off += 2
	case ai == 26:
		arg = uint64(binary.BigEndian.Uint32(r.b[r.off:]))
		r.off += 4
	case ai == 27:
		arg = binary.BigEndian.Uint64(r.b[r.off:])
		r.off += 8
	case ai == 31:
		indef = true
	}
	return major, ai, arg, indef
}

// atBreak consumes the break that ends an indefinite-length item, if next.
func (r *cborReader) atBreak() bool {
	if r.b[r.off] == 0xff {
		r.off++
		return true
	}
	return false
}

// str reads the content of a byte or text string whose head was read,
// joining the chunks of an indefinite-length one. It aliases the document
// when it can.
func (r *cborReader) str(arg uint64, indef bool) []byte {
	if !indef {
		s := r.b[r.off : r.off+int(arg)]
		r.off += int(arg)
		return s
	}
	s := []byte{} // not nil: an empty blob is "", not null
	for !r.atBreak() {
		_, _, n, _ := r.head() // well-formed: a definite chunk of the same type
		s = append(s, r.b[r.off:r.off+int(n)]...)
		r.off += int(n)
	}
	return s
}

// value transcodes one item; key is the map key it is the value of (or the
// element of), which says whether a number is a timestamp.
func (r *cborReader) value(dst, key []byte) ([]byte, error) {
	major, ai, arg, indef := r.head()
	switch major {
	case 0:
		if cborTimestampFields[string(key)] {
			return appendMillisAsSeconds(dst, false, arg), nil
		}
		return strconv.AppendUint(dst, arg, 10), nil
	case 1: // -1 - arg
		if cborTimestampFields[string(key)] {
			return appendMillisAsSeconds(dst, true, arg+1), nil // arg+1 wraps only past every timestamp
		}
		return appendNegative(dst, arg), nil
	case 2:
		return appendJSONBytes(dst, r.str(arg, indef)), nil
	case 3:
		s := r.str(arg, indef)
		if !utf8.Valid(s) {
			return dst, errors.New(store.MsgCBORTextUTF8)
		}
		return appendJSONString(dst, s), nil
	case 4:
		dst = append(dst, '[')
		for i := uint64(0); indef || i < arg; i++ {
			if indef && r.atBreak() {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = r.value(dst, key); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case 5:
		dst = append(dst, '{')
		for i := uint64(0); indef || i < arg; i++ {
			if indef && r.atBreak() {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			km, _, karg, kindef := r.head()
			if km != 3 {
				return dst, errors.New(store.MsgCBORKeyNotText)
			}
			k := r.str(karg, kindef)
			if !utf8.Valid(k) {
				return dst, errors.New(store.MsgCBORKeyUTF8)
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = r.value(dst, k); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case 6:
		switch arg {
		case 1: // epoch milliseconds, as the AWS SDK for Java writes them
			return r.timestamp(dst)
		case 0: // an RFC 3339 date
			m, _, n, sindef := r.head()
			if m != 3 {
				return dst, errors.New(store.MsgCBORTag0Text)
			}
			t, err := time.Parse(time.RFC3339Nano, string(r.str(n, sindef)))
			if err != nil {
				return dst, fmt.Errorf(store.MsgCBORTag0, err)
			}
			return appendMillisAsSeconds(dst, t.UnixMilli() < 0, uint64(max(t.UnixMilli(), -t.UnixMilli()))), nil
		}
		return r.value(dst, key) // other tags are skipped, as Jackson does
	}
	// Major type 7.
	switch ai {
	case 20:
		return append(dst, "false"...), nil
	case 21:
		return append(dst, "true"...), nil
	case 22, 23: // null, undefined
		return append(dst, "null"...), nil
	case 25, 26, 27:
		f := cborFloat(ai, arg)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf(store.MsgCBORNumber, f)
		}
		if cborTimestampFields[string(key)] {
			f /= 1000
		}
		return appendJSONFloat(dst, f), nil
	}
	return dst, fmt.Errorf(store.MsgCBORSimple, arg)
}

// timestamp transcodes the content of a tag 1: a number of epoch
// milliseconds, as seconds.
func (r *cborReader) timestamp(dst []byte) ([]byte, error) {
	major, ai, arg, _ := r.head()
	switch {
	case major == 0:
		return appendMillisAsSeconds(dst, false, arg), nil
	case major == 1:
		return appendMillisAsSeconds(dst, true, arg+1), nil
	case major == 7 && ai >= 25 && ai <= 27:
		f := cborFloat(ai, arg)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf(store.MsgCBORTimestamp, f)
		}
		return appendJSONFloat(dst, f/1000), nil
	}
	return dst, errors.New(store.MsgCBORTag1)
}

func cborFloat(ai byte, arg uint64) float64 {
	switch ai {
	case 25:
		return float64(float16.Frombits(uint16(arg)).Float32())
	case 26:
		return float64(math.Float32frombits(uint32(arg)))
	}
	return math.Float64frombits(arg)
}

// appendNegative appends -1-n in decimal.
func appendNegative(dst []byte, n uint64) []byte {
	if n == math.MaxUint64 {
		return append(dst, "-18446744073709551616"...)
	}
	dst = append(dst, '-')
	return strconv.AppendUint(dst, n+1, 10)
}

// appendMillisAsSeconds appends ±ms milliseconds as a decimal number of
// seconds, exactly (three decimals).
func appendMillisAsSeconds(dst []byte, neg bool, ms uint64) []byte {
	if neg && ms != 0 {
		dst = append(dst, '-')
	}
	dst = strconv.AppendUint(dst, ms/1000, 10)
	frac := ms % 1000
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// jsonToCBOR appends to dst the CBOR of the JSON document src (an answer).
// Maps and arrays are written with indefinite lengths, as Jackson writes
// them; strings of blob fields become byte strings and numbers of
// timestamp fields tag 1 over epoch milliseconds.
func jsonToCBOR(dst, src []byte) ([]byte, error) {
	p := jsonReader{b: src}
	dst, err := p.value(dst, nil, 0)
	if err != nil {
		return dst, err
	}
	p.space()
	if p.i != len(p.b) {
		return dst, fmt.Errorf("cannot encode answer as CBOR: data after the value at offset %d", p.i)
	}
	return dst, nil
}

// jsonReader walks a JSON document (one encoding/json or jsonout.go wrote).
type jsonReader struct {
	b []byte
	i int
}

var errBadJSON = errors.New("cannot encode answer as CBOR: malformed JSON")

func (p *jsonReader) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

// maxJSONDepth bounds jsonReader's recursion.
const maxJSONDepth = 1000

// entry moves to the next entry of an object or array that closes with
// last: end when it closed (and is passed), ok false when an entry after
// the first does not follow a ','.
func (p *jsonReader) entry(last byte, first bool) (end, ok bool) {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == last {
		p.i++
		return true, true
	}
	if !first {
		if p.i >= len(p.b) || p.b[p.i] != ',' {
			return false, false
		}
		p.i++
		p.space()
	}
	return false, true
}

func (p *jsonReader) value(dst, key []byte, depth int) ([]byte, error) {
	p.space()
	if p.i >= len(p.b) || depth > maxJSONDepth {
		return dst, errBadJSON
	}
	var err error
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		dst = append(dst, 0xbf)
		for first := true; ; first = false {
			if end, ok := p.entry('}', first); !ok {
				return dst, errBadJSON
			} else if end {
				return append(dst, 0xff), nil
			}
			k, ok := p.str()
			if !ok {
				return dst, errBadJSON
			}
			dst = appendCBORHead(dst, 3, uint64(len(k)))
			dst = append(dst, k...)
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return dst, errBadJSON
			}
			p.i++
			if dst, err = p.value(dst, k, depth+1); err != nil {
				return dst, err
			}
		}
	case c == '[':
		p.i++
		dst = append(dst, 0x9f)
		for first := true; ; first = false {
			if end, ok := p.entry(']', first); !ok {
				return dst, errBadJSON
			} else if end {
				return append(dst, 0xff), nil
			}
			if dst, err = p.value(dst, key, depth+1); err != nil {
				return dst, err
			}
		}
	case c == '"':
		s, ok := p.str()
		if !ok {
			return dst, errBadJSON
		}
		if cborBlobFields[string(key)] {
			if n, ok := base64DecodedLen(s); ok {
				at := len(dst)
				dst = appendCBORHead(dst, 2, uint64(n))
				body := len(dst)
				if dst, err = base64.StdEncoding.AppendDecode(dst, s); err == nil && len(dst)-body == n {
					return dst, nil
				}
				dst = dst[:at] // not base64 after all: a text string
			}
		}
		dst = appendCBORHead(dst, 3, uint64(len(s)))
		return append(dst, s...), nil
	case c == 't' && bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return append(dst, 0xf5), nil
	case c == 'f' && bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return append(dst, 0xf4), nil
	case c == 'n' && bytes.HasPrefix(p.b[p.i:], []byte("null")):
		p.i += 4
		return append(dst, 0xf6), nil
	case c == '-' || c >= '0' && c <= '9':
		start, integral := p.i, true
		for p.i < len(p.b) {
			c := p.b[p.i]
			if c == '.' || c == 'e' || c == 'E' {
				integral = false
			} else if !(c >= '0' && c <= '9' || c == '-' || c == '+') {
				break
			}
			p.i++
		}
		num := string(p.b[start:p.i])
		if cborTimestampFields[string(key)] {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return dst, errBadJSON
			}
			dst = append(dst, 0xc1) // tag 1
			if ms := math.Round(f * 1000); math.Abs(ms) < 1<<63 {
				return appendCBORInt(dst, int64(ms)), nil
			}
			dst = append(dst, 0xfb) // beyond any time: as a float
			return binary.BigEndian.AppendUint64(dst, math.Float64bits(f*1000)), nil
		}
		if integral {
			if n, err := strconv.ParseInt(num, 10, 64); err == nil {
				return appendCBORInt(dst, n), nil
			}
			if n, err := strconv.ParseUint(num, 10, 64); err == nil {
				return appendCBORHead(dst, 0, n), nil
			}
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return dst, errBadJSON
		}
		dst = append(dst, 0xfb)
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
	}
	return dst, errBadJSON
}

// str reads a JSON string, unescaped, as encoding/json does. It aliases
// the document when the string has no escapes.
func (p *jsonReader) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i
	p.i++
	q := bytes.IndexByte(p.b[p.i:], '"')
	if q < 0 {
		return nil, false
	}
	if bytes.IndexByte(p.b[p.i:p.i+q], '\\') < 0 { // no escapes: the common case, found at memchr speed
		s := p.b[p.i : p.i+q]
		p.i += q + 1
		if utf8.Valid(s) {
			return s, true
		}
		return p.unquote(start)
	}
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			return p.unquote(start)
		}
		p.i++
	}
	return nil, false
}

// unquote reads the string from start to p.i with encoding/json: one with
// escapes, or with bytes that are not UTF-8 (which it turns into U+FFFD).
func (p *jsonReader) unquote(start int) ([]byte, bool) {
	var s string
	if json.Unmarshal(p.b[start:p.i], &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// base64DecodedLen is the length of the bytes the padded standard base64 s
// encodes, if its length can be one's.
func base64DecodedLen(s []byte) (int, bool) {
	if len(s)%4 != 0 {
		return 0, false
	}
	n := len(s) / 4 * 3
	if len(s) > 0 && s[len(s)-1] == '=' {
		n--
		if s[len(s)-2] == '=' {
			n--
		}
	}
	return n, true
}

// appendCBORHead appends the head of an item of major type major with
// argument n, in its shortest form.
func appendCBORHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), n)
}

func appendCBORInt(dst []byte, n int64) []byte {
	if n >= 0 {
		return appendCBORHead(dst, 0, uint64(n))
	}
	return appendCBORHead(dst, 1, uint64(-1-n))
}

// appendCBORError appends an error answer: the map {"__type": code,
// "message": msg}, as the JSON protocol's.
func appendCBORError(dst []byte, code, msg string) []byte {
	key := messageKey(code, msg)
	if key == "" {
		dst = append(dst, 0xa1)
	} else {
		dst = append(dst, 0xa2)
	}
	dst = appendCBORHead(dst, 3, 6)
	dst = append(dst, "__type"...)
	dst = appendCBORHead(dst, 3, uint64(len(code)))
	dst = append(dst, code...)
	if key == "" {
		return dst
	}
	dst = appendCBORHead(dst, 3, uint64(len(key)))
	dst = append(dst, key...)
	dst = appendCBORHead(dst, 3, uint64(len(msg)))
	return append(dst, msg...)
}

func writeCBORError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	b := appendCBORError(getBuf(32+len(code)+len(msg)), code, msg)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	putBuf(b)
}

// cborRequest transcodes a CBOR request body into the JSON body its
// handler parses, in a pooled buffer counted against MaxInflightBytes like
// the body itself (held, bodyTook); done hands it back. As a JSON request,
// a request alone is never refused: the two never count more than the
// limit. An empty body stays empty, to be handled as an empty JSON body
// is. On failure cborRequest answers the request itself and done is nil.
func (s *Server) cborRequest(w http.ResponseWriter, r *http.Request, body []byte, bodyTook int64) (js []byte, done func()) {
	if len(body) == 0 {
		return body, func() {}
	}
	size := len(body) + len(body)/2 + 64 // base64 grows blobs by a third
	n := int64(bufCap(size))
	if s.inflight.max > 0 {
		n = min(n, s.inflight.max-bodyTook)
	}
	took, ok := s.inflight.take(n)
	if !ok {
		s.warn.Printf("refusing requests from %s and others: %d request bytes in flight, the limit (--max-inflight-bytes)", r.RemoteAddr, s.inflight.max)
		writeError(w, http.StatusServiceUnavailable, store.ErrLimitExceeded, store.MsgInflight)
		return nil, nil
	}
	js, err := cborToJSON(getBuf(size), body)
	if err != nil {
		putBuf(js)
		s.inflight.give(took)
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return nil, nil
	}
	return js, func() { putBuf(js); s.inflight.give(took) }
}

// writeCBOR writes an operation's answer out (a jsonBody, whose buffer it
// hands back, or a value to encode) as CBOR.
func (s *Server) writeCBOR(w http.ResponseWriter, r *http.Request, out any) {
	js, ok := out.(jsonBody)
	if !ok {
		m, err := json.Marshal(out)
		if err != nil {
			writeCBORError(w, http.StatusInternalServerError, "InternalFailure", "cannot encode answer: "+err.Error())
			return
		}
		js = m
	}
	b, err := jsonToCBOR(getBuf(len(js)), js)
	if ok {
		putBuf(js)
	}
	if err != nil {
		putBuf(b)
		writeCBORError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	s.writePaced(w, r, b)
	putBuf(b)
}
