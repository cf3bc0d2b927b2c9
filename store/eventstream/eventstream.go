// Package eventstream encodes and decodes AWS's event-stream messages
// (Content-Type application/vnd.amazon.eventstream), the framing of
// Kinesis's SubscribeToShard responses.
//
// A message is, big-endian:
//
//	total length   uint32  (the whole message, these 4 bytes and the CRC included)
//	headers length uint32
//	prelude CRC    uint32  (CRC-32 IEEE of the 8 bytes before it)
//	headers        headers length bytes: per header, a name length byte, the
//	               name, a value type byte and the value
//	payload        the rest
//	message CRC    uint32  (CRC-32 IEEE of everything before it)
//
// AppendMessage appends a message to a caller's buffer; a Decoder reads
// messages one by one from an io.Reader. Both refuse headers over
// MaxHeadersBytes and payloads over MaxPayloadBytes, as AWS's SDKs do.
package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ContentType is the media type of a stream of messages.
const ContentType = "application/vnd.amazon.eventstream"

// Size limits, as AWS's: a message's headers and its payload.
const (
	MaxHeadersBytes = 128 << 10
	MaxPayloadBytes = 16 << 20
)

const (
	preludeLen = 12             // total length, headers length, prelude CRC
	minMessage = preludeLen + 4 // and the message CRC
	maxMessage = minMessage + MaxHeadersBytes + MaxPayloadBytes
	maxNameLen = 255       // a name's length is one byte
	maxVarLen  = 1<<16 - 1 // a string's or byte array's length is two bytes
	uuidLen    = 16
)

// ValueType is the type byte of a header value.
type ValueType uint8

// The header value types AWS defines.
const (
	BoolTrue  ValueType = 0 // no value bytes
	BoolFalse ValueType = 1 // no value bytes
	Byte      ValueType = 2 // int8
	Short     ValueType = 3 // int16
	Integer   ValueType = 4 // int32
	Long      ValueType = 5 // int64
	ByteArray ValueType = 6 // uint16 length, bytes
	String    ValueType = 7 // uint16 length, UTF-8 bytes
	Timestamp ValueType = 8 // int64 milliseconds since the Unix epoch
	UUID      ValueType = 9 // 16 bytes
)

func (t ValueType) String() string {
	names := [...]string{"true", "false", "byte", "short", "integer", "long", "byte array", "string", "timestamp", "uuid"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Value is a header value. Only the field its Type uses is set: Int for
// Byte, Short, Integer, Long and Timestamp (milliseconds since the Unix
// epoch), Str for String, Bytes for ByteArray and UUID (16 bytes); none for
// BoolTrue and BoolFalse.
type Value struct {
	Type  ValueType
	Int   int64
	Str   string
	Bytes []byte
}

// StringValue is a String value.
func StringValue(s string) Value { return Value{Type: String, Str: s} }

// Header is one named header value.
type Header struct {
	Name  string
	Value Value
}

// Message is one event-stream message.
type Message struct {
	Headers []Header
	Payload []byte
}

// Header returns the value of the first header called name.
func (m *Message) Header(name string) (Value, bool) {
	for _, h := range m.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return Value{}, false
}

// HeaderString returns the String value of the header called name, "" when
// there is none or it is not a String.
func (m *Message) HeaderString(name string) string {
	v, ok := m.Header(name)
	if !ok || v.Type != String {
		return ""
	}
	return v.Str
}

// ErrTooLarge is wrapped by the errors for headers or payloads over the limits.
var ErrTooLarge = errors.New("over the event-stream size limits")

// AppendMessage appends m, encoded, to dst and returns the extended buffer.
// It allocates only when dst must grow. It refuses names over 255 bytes,
// strings and byte arrays over 65535 bytes, UUIDs of other than 16 bytes,
// unknown value types, and headers or payloads over the limits; then dst is
// returned unchanged.
func AppendMessage(dst []byte, m *Message) ([]byte, error) {
	hlen := 0
	for _, h := range m.Headers {
		n, err := headerLen(h)
		if err != nil {
			return dst, err
		}
		hlen += n
	}
	if hlen > MaxHeadersBytes {
		return dst, fmt.Errorf("eventstream: headers of %d bytes: %w (%d)", hlen, ErrTooLarge, MaxHeadersBytes)
	}
	if len(m.Payload) > MaxPayloadBytes {
		return dst, fmt.Errorf("eventstream: payload of %d bytes: %w (%d)", len(m.Payload), ErrTooLarge, MaxPayloadBytes)
	}
	total := minMessage + hlen + len(m.Payload)
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hlen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for _, h := range m.Headers {
		dst = append(dst, byte(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = appendValue(dst, h.Value)
	}
	dst = append(dst, m.Payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}

// headerLen is the encoded size of h, or why it cannot be encoded.
func headerLen(h Header) (int, error) {
	if len(h.Name) > maxNameLen {
		return 0, fmt.Errorf("eventstream: header name of %d bytes, over %d", len(h.Name), maxNameLen)
	}
	n := 1 + len(h.Name) + 1
	v := h.Value
	switch v.Type {
	case BoolTrue, BoolFalse:
	case Byte:
		n++
	case Short:
		n += 2
	case Integer:
		n += 4
	case Long, Timestamp:
		n += 8
	case ByteArray:
		if len(v.Bytes) > maxVarLen {
			return 0, fmt.Errorf("eventstream: header %q: byte array of %d bytes, over %d", h.Name, len(v.Bytes), maxVarLen)
		}
		n += 2 + len(v.Bytes)
	case String:
		if len(v.Str) > maxVarLen {
			return 0, fmt.Errorf("eventstream: header %q: string of %d bytes, over %d", h.Name, len(v.Str), maxVarLen)
		}
		n += 2 + len(v.Str)
	case UUID:
		if len(v.Bytes) != uuidLen {
			return 0, fmt.Errorf("eventstream: header %q: uuid of %d bytes, not %d", h.Name, len(v.Bytes), uuidLen)
		}
		n += uuidLen
	default:
		return 0, fmt.Errorf("eventstream: header %q: unknown value %v", h.Name, v.Type)
	}
	return n, nil
}

// appendValue appends v, which headerLen has accepted.
func appendValue(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.Type))
	switch v.Type {
	case Byte:
		dst = append(dst, byte(int8(v.Int)))
	case Short:
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(v.Int)))
	case Integer:
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(v.Int)))
	case Long, Timestamp:
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int))
	case ByteArray:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.Bytes)))
		dst = append(dst, v.Bytes...)
	case String:
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.Str)))
		dst = append(dst, v.Str...)
	case UUID:
		dst = append(dst, v.Bytes...)
	}
	return dst
}
