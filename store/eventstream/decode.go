package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Error is a message that cannot be decoded. Offset is the byte offset in
// the stream of the message's first byte; At the offset of the fault
// within the message. It wraps io.ErrUnexpectedEOF for a stream cut inside
// a message and ErrTooLarge for sizes over the limits.
type Error struct {
	Offset int64
	At     int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("eventstream: message at offset %d: byte %d: %s", e.Offset, e.At, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Decoder reads messages from an io.Reader. It is not safe for concurrent
// use.
type Decoder struct {
	r   io.Reader
	off int64
}

// NewDecoder returns a Decoder reading messages from r, which it does not
// buffer: wrap r in a bufio.Reader for small reads.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: r} }

// Offset is the offset in the stream of the next message.
func (d *Decoder) Offset() int64 { return d.off }

// Decode reads the next message. It returns io.EOF when the stream ends
// cleanly between messages, and an *Error for anything else that is not a
// whole valid message (after which the Decoder is out of step with the
// stream and must not be used again). The message owns its memory (one
// buffer per message, which its Payload and byte values alias).
func (d *Decoder) Decode() (Message, error) {
	var prelude [preludeLen]byte
	n, err := io.ReadFull(d.r, prelude[:])
	if err == io.EOF {
		return Message{}, io.EOF
	}
	if err != nil {
		return Message{}, d.fail(n, "cannot read the prelude", err)
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	hlen := binary.BigEndian.Uint32(prelude[4:8])
	if got, want := binary.BigEndian.Uint32(prelude[8:12]), crc32.ChecksumIEEE(prelude[:8]); got != want {
		return Message{}, d.fail(8, fmt.Sprintf("prelude CRC %08x, want %08x", got, want), nil)
	}
	if total < minMessage {
		return Message{}, d.fail(0, fmt.Sprintf("total length %d, under the minimum %d", total, minMessage), nil)
	}
	if hlen > MaxHeadersBytes {
		return Message{}, d.fail(4, fmt.Sprintf("headers length %d", hlen), ErrTooLarge)
	}
	if uint64(hlen) > uint64(total)-minMessage {
		return Message{}, d.fail(4, fmt.Sprintf("headers length %d does not fit in total length %d", hlen, total), nil)
	}
	if plen := uint64(total) - minMessage - uint64(hlen); plen > MaxPayloadBytes {
		return Message{}, d.fail(0, fmt.Sprintf("payload length %d", plen), ErrTooLarge)
	}
	buf := make([]byte, total)
	copy(buf, prelude[:])
	if n, err := io.ReadFull(d.r, buf[preludeLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, d.fail(preludeLen+n, "cannot read the message", err)
	}
	end := len(buf) - 4
	if got, want := binary.BigEndian.Uint32(buf[end:]), crc32.ChecksumIEEE(buf[:end]); got != want {
		return Message{}, d.fail(end, fmt.Sprintf("message CRC %08x, want %08x", got, want), nil)
	}
	m := Message{}
	hs := buf[preludeLen : preludeLen+int(hlen)]
	if len(hs) > 0 {
		m.Headers = make([]Header, 0, 4) // an event's three, an exception's three
	}
	at := preludeLen
	for len(hs) > 0 {
		h, n, msg := parseHeader(hs)
		if msg != "" {
			return Message{}, d.fail(at+n, msg, nil)
		}
		m.Headers = append(m.Headers, h)
		hs, at = hs[n:], at+n
	}
	if plen := end - (preludeLen + int(hlen)); plen > 0 {
		m.Payload = buf[preludeLen+int(hlen) : end : end]
	}
	d.off += int64(total)
	return m, nil
}

func (d *Decoder) fail(at int, msg string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &Error{Offset: d.off, At: at, Msg: msg, Err: err}
}

// parseHeader parses the header at the start of b: the header, its length,
// or what is wrong at which byte of b.
func parseHeader(b []byte) (Header, int, string) {
	nlen := int(b[0])
	if len(b) < 1+nlen+1 {
		return Header{}, 0, "header name or type past the end of the headers"
	}
	h := Header{Name: string(b[1 : 1+nlen])}
	i := 1 + nlen
	h.Value.Type = ValueType(b[i])
	i++
	need := func(n int) bool { return len(b)-i >= n }
	short := fmt.Sprintf("header %q: %v value past the end of the headers", h.Name, h.Value.Type)
	switch h.Value.Type {
	case BoolTrue, BoolFalse:
	case Byte:
		if !need(1) {
			return Header{}, i, short
		}
		h.Value.Int = int64(int8(b[i]))
		i++
	case Short:
		if !need(2) {
			return Header{}, i, short
		}
		h.Value.Int = int64(int16(binary.BigEndian.Uint16(b[i:])))
		i += 2
	case Integer:
		if !need(4) {
			return Header{}, i, short
		}
		h.Value.Int = int64(int32(binary.BigEndian.Uint32(b[i:])))
		i += 4
	case Long, Timestamp:
		if !need(8) {
			return Header{}, i, short
		}
		h.Value.Int = int64(binary.BigEndian.Uint64(b[i:]))
		i += 8
	case ByteArray, String:
		if !need(2) {
			return Header{}, i, short
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		i += 2
		if !need(n) {
			return Header{}, i, short
		}
		if h.Value.Type == String {
			h.Value.Str = string(b[i : i+n])
		} else {
			h.Value.Bytes = b[i : i+n : i+n]
		}
		i += n
	case UUID:
		if !need(uuidLen) {
			return Header{}, i, short
		}
		h.Value.Bytes = b[i : i+uuidLen : i+uuidLen]
		i += uuidLen
	default:
		return Header{}, i - 1, fmt.Sprintf("header %q: unknown value %v", h.Name, h.Value.Type)
	}
	return h, i, ""
}
