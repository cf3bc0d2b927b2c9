package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice/store"
)

// maxValidationErrors is the most failed constraints AWS lists in one
// ValidationException.
const maxValidationErrors = 10

// checker collects the failed constraints of one request, in the order
// AWS checks them, into one ValidationException as AWS words it.
type checker struct {
	errs []string
	// list and member, when member > 0, name the list entry being
	// checked: its fields are at '<list>.<member>.member.<field>'.
	list   string
	member int
}

func (c *checker) fail(value string, quoted bool, field, constraint string) {
	if len(c.errs) == maxValidationErrors {
		return
	}
	if quoted {
		value = "'" + value + "'"
	}
	if c.member > 0 {
		field = c.list + "." + strconv.Itoa(c.member) + ".member." + field
	}
	c.errs = append(c.errs, fmt.Sprintf(store.MsgValueAt, value, field, constraint))
}

// null reports a required field that is absent or null.
func (c *checker) null(field string) { c.fail("null", false, field, store.MsgNotNull) }

// pattern is a regular expression constraint: its text as AWS shows it.
type pattern struct {
	text  string
	match func(string) bool
}

var (
	namePattern    = pattern{`[a-zA-Z0-9_.-]+`, isName}
	seqPattern     = pattern{`0|([1-9]\d{0,128})`, decimal(129)}
	hashKeyPattern = pattern{`0|([1-9]\d{0,38})`, decimal(39)}
	arnPattern     = pattern{`arn:aws.*:kinesis:.*:\d{12}:stream/\S+`,
		regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:stream/\S+$`).MatchString}
)

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}

// decimal matches 0|([1-9]\d{0,most-1}).
func decimal(most int) func(string) bool {
	return func(s string) bool {
		if s == "0" {
			return true
		}
		if s == "" || len(s) > most || s[0] == '0' {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
}

// javaLen is the length of s as AWS counts it: UTF-16 code units.
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// str checks a string field that is set (ok) or absent: required, then
// the pattern (nil: none), then the length bounds (max 0: none).
func (c *checker) str(field, v string, ok, required bool, p *pattern, minLen, maxLen int) {
	if !ok {
		if required {
			c.null(field)
		}
		return
	}
	if p != nil && !p.match(v) {
		c.fail(v, true, field, fmt.Sprintf(store.MsgPattern, p.text))
	}
	n := javaLen(v)
	if n < minLen {
		c.fail(v, true, field, fmt.Sprintf(store.MsgMinLength, minLen))
	}
	if maxLen > 0 && n > maxLen {
		c.fail(v, true, field, fmt.Sprintf(store.MsgMaxLength, maxLen))
	}
}

// name checks a stream name or shard id: [a-zA-Z0-9_.-]+, 1 to 128.
func (c *checker) name(field string, v *string, required bool) {
	c.str(field, deref(v), v != nil, required, &namePattern, 1, store.MaxStreamNameChars)
}

// num checks an integer field between lo and hi.
func (c *checker) num(field string, v *integer, required bool, lo, hi int) {
	switch {
	case v == nil:
		if required {
			c.null(field)
		}
	case int(*v) < lo:
		c.fail(strconv.Itoa(int(*v)), true, field, fmt.Sprintf(store.MsgMinValue, lo))
	case int(*v) > hi:
		c.fail(strconv.Itoa(int(*v)), true, field, fmt.Sprintf(store.MsgMaxValue, hi))
	}
}

// enum checks a string field against its allowed values.
func (c *checker) enum(field string, v *string, required bool, values ...string) {
	if v == nil {
		if required {
			c.null(field)
		}
		return
	}
	for _, ok := range values {
		if *v == ok {
			return
		}
	}
	c.fail(*v, true, field, fmt.Sprintf(store.MsgEnum, strings.Join(values, ", ")))
}

// blob checks a required blob of at most max bytes.
func (c *checker) blob(field string, v []byte, ok bool, maxLen int) {
	if !ok {
		c.null(field)
		return
	}
	if len(v) > maxLen {
		c.fail(fmt.Sprintf(store.MsgBlobValue, len(v), len(v)), true, field, fmt.Sprintf(store.MsgMaxLength, maxLen))
	}
}

// stream checks a request's StreamARN and StreamName, each optional.
func (c *checker) stream(r refPresence) {
	c.str("streamARN", deref(r.StreamARN), r.StreamARN != nil, false, &arnPattern, 1, 2048)
	c.name("streamName", r.StreamName, false)
}

// err is the ValidationException of the failed constraints, or nil.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	s := "s"
	if len(c.errs) == 1 {
		s = ""
	}
	return apiErr(store.ErrValidation, store.MsgValidationErrors, len(c.errs), s, strings.Join(c.errs, "; "))
}

// lengthBounds is how AWS lists an entry's length constraints in
// MsgMapKeys, MsgMapValues and MsgEach: the most, then the least.
func lengthBounds(least, most int) string {
	return fmt.Sprintf(store.MsgMaxLength, most) + ", " + fmt.Sprintf(store.MsgMinLength, least)
}

// validationErr is the ValidationException of one member's value
// failing one constraint.
func validationErr(value, field, constraint string) error {
	var c checker
	c.fail(value, true, field, constraint)
	return c.err()
}

// nullErr is the ValidationException of one required member missing.
func nullErr(field string) error {
	var c checker
	c.null(field)
	return c.err()
}

// errStream is err, or when the constraints hold but neither StreamName
// nor StreamARN is set, AWS's InvalidArgumentException for that.
func (c *checker) errStream(r refPresence) error {
	if err := c.err(); err != nil {
		return err
	}
	if r.StreamName == nil && r.StreamARN == nil {
		return apiErr(store.ErrInvalidArgument, store.MsgNoStream)
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// refPresence is a request's stream reference as sent: nil when absent or null.
type refPresence struct {
	StreamName *string
	StreamARN  *string
}

// presence is the stream reference of body as sent. Decoding body again
// costs little next to the operations that need it; the put fast paths
// know presence from their parse instead.
func presence(body []byte) refPresence {
	var r refPresence
	_ = decode(body, &r) // body decoded once already
	return r
}

// jsonBlob is a JSON blob field: base64, checked as AWS checks it, so bad
// base64 is AWS's SerializationException. JSON null leaves it nil.
type jsonBlob []byte

func (b *jsonBlob) UnmarshalJSON(data []byte) error {
	if data[0] == 'n' {
		return nil
	}
	if err := wrongKind(data, "", store.MsgTypeBlobFromBool, store.MsgTypeBlobFromNumber); err != nil {
		return err
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if n := javaLen(s); n%4 != 0 {
		return serialization(store.MsgBlobBase64Length, s, n)
	}
	for i, c := range s {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' ||
			c == '=' && (i+1 == len(s) || s[i+1] == '=')
		if !ok {
			if c == '=' { // padding before the end: AWS names what follows it
				c, _ = utf8.DecodeRuneInString(s[i+1:])
			}
			return serialization(store.MsgBlobBase64Char, s, c)
		}
	}
	out, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return serialization(store.MsgBlobBase64Last, s)
	}
	*b = out
	return nil
}

// wrongKind is AWS's SerializationException for the JSON value data (not
// null) where a value of another kind belongs, or nil for the kind that
// belongs: fromString, fromBool and fromNumber are AWS's texts for the
// scalar kinds, "" for the one wanted.
func wrongKind(data []byte, fromString, fromBool, fromNumber string) error {
	var msg string
	switch data[0] {
	case '"':
		msg = fromString
	case 't', 'f':
		msg = fromBool
	case '[':
		msg = store.MsgTypeList
	case '{':
		msg = store.MsgTypeStructure
	default:
		msg = fromNumber
	}
	if msg == "" {
		return nil
	}
	return serialization("%s", msg)
}

// serialization is AWS's SerializationException for a value of the wrong
// type; it carries its message in a "Message" member, as AWS's does.
func serialization(format string, args ...any) *store.Error {
	return apiErr(errSerialization, format, args...)
}

const errSerialization = "SerializationException"

// decode parses a request body as AWS does: an empty or unparsable body,
// or one that is not a JSON object, is a SerializationException without a
// message; a value of the wrong type is one with AWS's message.
func decode(body []byte, v any) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return apiErr(errSerialization, "")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var ae *store.Error
	if errors.As(err, &ae) {
		return ae
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return serialization("%s", typeMessage(te.Value, te.Type))
	}
	return apiErr(errSerialization, "")
}

// typeMessage is AWS's text for a JSON value (as encoding/json names its
// kind) where a value of Go type t belongs.
func typeMessage(value string, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case value == "array" && t.Kind() != reflect.Slice:
		return store.MsgTypeList
	case value == "object" && t.Kind() != reflect.Struct && t.Kind() != reflect.Map:
		return store.MsgTypeStructure
	}
	switch t.Kind() {
	case reflect.String:
		if value == "bool" {
			return store.MsgTypeStringFromBool
		}
		return store.MsgTypeStringFromNumber
	case reflect.Int, reflect.Int64, reflect.Int32:
		if value == "bool" {
			return store.MsgTypeIntegerFromBool
		}
		return store.MsgTypeIntegerFromString
	case reflect.Float64:
		if value == "bool" {
			return store.MsgTypeTimeFromBool
		}
		return store.MsgTypeTimeFromString
	case reflect.Slice:
		if value == "object" {
			return store.MsgTypeStructure
		}
		return store.MsgTypeExpectedList
	case reflect.Map:
		return store.MsgTypeExpectedMap
	case reflect.Bool:
		return store.MsgTypeBoolFromNumber
	}
	return store.MsgTypeExpectedNull
}

// shardIndex resolves a shard id as AWS does: the part after the first
// '-' (or the whole id without one) must be decimal digits for an index up
// to 2^31-1, so "shardId-1", "1", "x-1" and "shardId-00001" all name
// shardId-000000000001. ok is false for any other id.
func shardIndex(id string) (idx uint64, ok bool) {
	s := id
	if parts := strings.SplitN(id, "-", 3); len(parts) > 1 && parts[1] != "" {
		s = parts[1]
	}
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > 2147483647 {
		return 0, false
	}
	return n, true
}

// shardNotExist words a ResourceNotFoundException of stream as AWS does
// when a shard of it was asked for; other errors are returned as they are.
func shardNotExist(err error, shard, stream string) error {
	var ae *store.Error
	if errors.As(err, &ae) && ae.Code == store.ErrResourceNotFound {
		return apiErr(store.ErrResourceNotFound, store.MsgShardNotExist, shard, stream, store.AccountID)
	}
	return err
}

// resolveShard is the shard id a request names, resolved as shardIndex
// does, or AWS's ResourceNotFoundException for one of no shard's form.
func resolveShard(id, stream string) (string, error) {
	idx, ok := shardIndex(id)
	if !ok {
		return "", apiErr(store.ErrResourceNotFound, store.MsgShardNotFound, id, stream, store.AccountID)
	}
	return store.ShardID(idx), nil
}

// checkStream checks the stream reference of a request that has no other
// fields to check.
func checkStream(body []byte) error {
	ref := presence(body)
	var c checker
	c.stream(ref)
	return c.errStream(ref)
}

// startShard is the shard id a paging field names, resolved as AWS
// resolves shard ids when it has a shard's form, else as sent ("" when
// absent): shards after it are listed.
func startShard(id *string) string {
	if id == nil {
		return ""
	}
	if idx, ok := shardIndex(*id); ok {
		return store.ShardID(idx)
	}
	return *id
}

// orDefault is *v, or def when v is absent.
func orDefault(v *integer, def int) int {
	if v == nil {
		return def
	}
	return int(*v)
}

// integer is a JSON Integer field as AWS reads it: a fraction is dropped
// (rounding down), and numbers beyond a 32-bit integer are its bounds.
type integer int32

func (n *integer) UnmarshalJSON(data []byte) error {
	if data[0] == 'n' {
		return nil
	}
	if err := wrongKind(data, store.MsgTypeIntegerFromString, store.MsgTypeIntegerFromBool, ""); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf, clamped below
		return apiErr(errSerialization, "")
	}
	*n = integer(max(min(math.Floor(f), math.MaxInt32), math.MinInt32))
	return nil
}
