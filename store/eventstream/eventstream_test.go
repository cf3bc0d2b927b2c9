package eventstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	awses "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// every holds one header of every type.
var every = Message{
	Headers: []Header{
		{":event-type", StringValue("SubscribeToShardEvent")},
		{"t", Value{Type: BoolTrue}},
		{"f", Value{Type: BoolFalse}},
		{"b", Value{Type: Byte, Int: -7}},
		{"s", Value{Type: Short, Int: -300}},
		{"i", Value{Type: Integer, Int: math.MinInt32}},
		{"l", Value{Type: Long, Int: math.MaxInt64}},
		{"ba", Value{Type: ByteArray, Bytes: []byte{0, 1, 2, 255}}},
		{"ts", Value{Type: Timestamp, Int: 1700000000123}},
		{"u", Value{Type: UUID, Bytes: []byte("0123456789abcdef")}},
		{"", StringValue("")},
	},
	Payload: []byte(`{"Records":[]}`),
}

func equalMessages(a, b Message) bool {
	norm := func(m Message) Message {
		if len(m.Payload) == 0 {
			m.Payload = nil
		}
		hs := make([]Header, len(m.Headers))
		for i, h := range m.Headers {
			if len(h.Value.Bytes) == 0 {
				h.Value.Bytes = nil
			}
			hs[i] = h
		}
		if len(hs) == 0 {
			hs = nil
		}
		m.Headers = hs
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestRoundTripEveryHeaderType(t *testing.T) {
	b, err := AppendMessage(nil, &every)
	if err != nil {
		t.Fatal(err)
	}
	b, err = AppendMessage(b, &Message{}) // an empty message after it
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(bytes.NewReader(b))
	got, err := d.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !equalMessages(got, every) {
		t.Fatalf("decoded %+v, want %+v", got, every)
	}
	if got.HeaderString(":event-type") != "SubscribeToShardEvent" || got.HeaderString("b") != "" || got.HeaderString("missing") != "" {
		t.Fatalf("HeaderString answers wrong")
	}
	empty, err := d.Decode()
	if err != nil || len(empty.Headers) != 0 || len(empty.Payload) != 0 {
		t.Fatalf("empty message: %+v, %v", empty, err)
	}
	if _, err := d.Decode(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
	if d.Offset() != int64(len(b)) {
		t.Fatalf("offset %d, want %d", d.Offset(), len(b))
	}
}

// TestDecodesMessagesOfAWSSDKEncoder decodes what the AWS SDK for Go v2's
// own encoder writes, header types and all.
func TestDecodesMessagesOfAWSSDKEncoder(t *testing.T) {
	var hs awses.Headers
	hs.Set(":message-type", awses.StringValue("event"))
	hs.Set(":event-type", awses.StringValue("SubscribeToShardEvent"))
	hs.Set("t", awses.BoolValue(true))
	hs.Set("f", awses.BoolValue(false))
	hs.Set("b", awses.Int8Value(-7))
	hs.Set("s", awses.Int16Value(-300))
	hs.Set("i", awses.Int32Value(123456))
	hs.Set("l", awses.Int64Value(-1))
	hs.Set("ba", awses.BytesValue([]byte{9, 8, 7}))
	hs.Set("ts", awses.TimestampValue(time.UnixMilli(1700000000123)))
	hs.Set("u", awses.UUIDValue([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}))
	var buf bytes.Buffer
	payload := []byte(`{"ContinuationSequenceNumber":"1"}`)
	if err := awses.NewEncoder().Encode(&buf, awses.Message{Headers: hs, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	got, err := NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Headers: []Header{
		{":message-type", StringValue("event")},
		{":event-type", StringValue("SubscribeToShardEvent")},
		{"t", Value{Type: BoolTrue}},
		{"f", Value{Type: BoolFalse}},
		{"b", Value{Type: Byte, Int: -7}},
		{"s", Value{Type: Short, Int: -300}},
		{"i", Value{Type: Integer, Int: 123456}},
		{"l", Value{Type: Long, Int: -1}},
		{"ba", Value{Type: ByteArray, Bytes: []byte{9, 8, 7}}},
		{"ts", Value{Type: Timestamp, Int: 1700000000123}},
		{"u", Value{Type: UUID, Bytes: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}},
	}, Payload: payload}
	if !equalMessages(got, want) {
		t.Fatalf("decoded %+v\nwant %+v", got, want)
	}
}

// TestAWSSDKDecodesMessagesOfAppendMessage is the other direction: the SDK's
// decoder reads ours, byte for byte the same message.
func TestAWSSDKDecodesMessagesOfAppendMessage(t *testing.T) {
	b, err := AppendMessage(nil, &every)
	if err != nil {
		t.Fatal(err)
	}
	m, err := awses.NewDecoder().Decode(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Payload) != string(every.Payload) || len(m.Headers) != len(every.Headers) {
		t.Fatalf("SDK decoded %+v", m)
	}
	if v := m.Headers.Get(":event-type"); v == nil || v.String() != "SubscribeToShardEvent" {
		t.Fatalf(":event-type %v", v)
	}
	var again bytes.Buffer
	if err := awses.NewEncoder().Encode(&again, m); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), b) {
		t.Fatalf("SDK re-encodes differently:\n%x\n%x", again.Bytes(), b)
	}
}

func TestAppendMessageAllocatesNothingWithRoom(t *testing.T) {
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendMessage(buf[:0], &every); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message", allocs)
	}
}

func TestAppendMessageRefusesWhatCannotBeEncoded(t *testing.T) {
	f := func(m Message, want string) {
		t.Helper()
		dst := []byte("keep")
		out, err := AppendMessage(dst, &m)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one containing %q", err, want)
		}
		if string(out) != "keep" {
			t.Fatalf("dst changed to %q", out)
		}
	}
	f(Message{Headers: []Header{{strings.Repeat("n", 256), StringValue("")}}}, "header name of 256 bytes")
	f(Message{Headers: []Header{{"s", StringValue(strings.Repeat("x", 65536))}}}, "string of 65536 bytes")
	f(Message{Headers: []Header{{"b", Value{Type: ByteArray, Bytes: make([]byte, 65536)}}}}, "byte array of 65536 bytes")
	f(Message{Headers: []Header{{"u", Value{Type: UUID, Bytes: make([]byte, 15)}}}}, "uuid of 15 bytes")
	f(Message{Headers: []Header{{"x", Value{Type: 10}}}}, "unknown value type 10")
	f(Message{Payload: make([]byte, MaxPayloadBytes+1)}, "payload of 16777217 bytes")
	big := make([]Header, 3)
	for i := range big {
		big[i] = Header{"s", StringValue(strings.Repeat("x", 60000))}
	}
	f(Message{Headers: big}, "headers of 180015 bytes")
	_, err := AppendMessage(nil, &Message{Payload: make([]byte, MaxPayloadBytes+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v does not wrap ErrTooLarge", err)
	}
}

func TestDecoderErrorsNameTheOffset(t *testing.T) {
	one, _ := AppendMessage(nil, &every)
	two := append(append([]byte{}, one...), one...)
	f := func(in []byte, wantOff int64, want string, wantErr error) {
		t.Helper()
		d := NewDecoder(bytes.NewReader(in))
		var err error
		for err == nil {
			_, err = d.Decode()
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v, want an *Error", err)
		}
		if e.Offset != wantOff || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q at offset %d, want one containing %q at %d", err, e.Offset, want, wantOff)
		}
		if wantErr != nil && !errors.Is(err, wantErr) {
			t.Fatalf("error %v does not wrap %v", err, wantErr)
		}
	}
	n := int64(len(one))
	f(two[:n+5], n, "cannot read the prelude", io.ErrUnexpectedEOF)
	f(two[:2*n-1], n, "cannot read the message", io.ErrUnexpectedEOF)
	flip := append([]byte{}, two...)
	flip[n+9] ^= 1
	f(flip, n, "prelude CRC", nil)
	flip = append([]byte{}, two...)
	flip[n+20] ^= 1
	f(flip, n, "message CRC", nil)

	frame := func(total, hlen uint32, rest []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, total)
		b = binary.BigEndian.AppendUint32(b, hlen)
		b = binary.BigEndian.AppendUint32(b, crcOf(b))
		b = append(b, rest...)
		return binary.BigEndian.AppendUint32(b, crcOf(b))
	}
	f(frame(15, 0, nil), 0, "under the minimum 16", nil)
	f(frame(16+MaxHeadersBytes+1, MaxHeadersBytes+1, nil), 0, "headers length 131073", ErrTooLarge)
	f(frame(30, 20, nil), 0, "does not fit", nil)
	f(frame(16+MaxPayloadBytes+1, 0, nil), 0, "payload length 16777217", ErrTooLarge)
	f(frame(16+3, 3, []byte{1, 'a', 7}), 0, `header "a": string value past the end`, nil)
	f(frame(16+3, 3, []byte{1, 'a', 11}), 0, `header "a": unknown value type 11`, nil)
	f(frame(16+3, 3, []byte{5, 'a', 7}), 0, "header name or type past the end", nil)
}

func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// FuzzDecode feeds arbitrary bytes to the Decoder: it never panics, and
// every message it accepts encodes back to the very bytes it came from.
func FuzzDecode(f *testing.F) {
	one, _ := AppendMessage(nil, &every)
	f.Add(one)
	f.Add(one[:20])
	f.Add([]byte{})
	empty, _ := AppendMessage(nil, &Message{})
	f.Add(empty)
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(bytes.NewReader(in))
		var off int64
		for {
			m, err := d.Decode()
			if err != nil {
				return
			}
			out, err := AppendMessage(nil, &m)
			if err != nil {
				t.Fatalf("cannot re-encode a decoded message: %v", err)
			}
			if !bytes.Equal(out, in[off:d.Offset()]) {
				t.Fatalf("re-encoded %x, read %x", out, in[off:d.Offset()])
			}
			off = d.Offset()
		}
	})
}

// FuzzRoundTrip builds messages from arbitrary fields: decode(encode(m)) == m.
func FuzzRoundTrip(f *testing.F) {
	f.Add("name", uint8(7), int64(1), "value", []byte{1}, []byte("payload"), uint8(2))
	f.Add("", uint8(9), int64(-1), "", []byte("0123456789abcdef"), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, name string, typ uint8, n int64, s string, bs, payload []byte, copies uint8) {
		if len(name) > maxNameLen || len(s) > maxVarLen || len(bs) > maxVarLen {
			return
		}
		v := Value{Type: ValueType(typ % 10)}
		switch v.Type {
		case Byte:
			v.Int = int64(int8(n))
		case Short:
			v.Int = int64(int16(n))
		case Integer:
			v.Int = int64(int32(n))
		case Long, Timestamp:
			v.Int = n
		case String:
			v.Str = s
		case ByteArray:
			v.Bytes = bs
		case UUID:
			v.Bytes = append(bs, make([]byte, uuidLen)...)[:uuidLen]
		}
		m := Message{Payload: payload}
		for range copies % 5 {
			m.Headers = append(m.Headers, Header{name, v})
		}
		b, err := AppendMessage(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewDecoder(bytes.NewReader(b)).Decode()
		if err != nil {
			t.Fatal(err)
		}
		if !equalMessages(got, m) {
			t.Fatalf("decoded %+v, want %+v", got, m)
		}
	})
}
