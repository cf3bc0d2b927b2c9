// Package iterator makes the store's Kinesis shard iterators: opaque,
// URL-safe strings that name a position in a shard, authenticated with
// HMAC-SHA256 so clients can neither forge nor alter them, and that expire a
// fixed time after they were issued (5 minutes by default, as Kinesis).
//
// An iterator is the unpadded base64url encoding of
//
//	version   1 byte, currently 1
//	issued    8 bytes, big-endian Unix nanoseconds
//	generation, seq   unsigned varints
//	stream, shard     each an unsigned varint length then the bytes
//	mac       32 bytes, HMAC-SHA256 over everything before it, keyed with a
//	          key derived from the Codec's secret for this version
//
// Iterators are authenticated, not encrypted: their holder could decode the
// stream and shard names and the sequence number, which it already knows.
//
// The generation distinguishes incarnations of a stream with the same name:
// the store gives each created stream a new one (a creation counter or epoch)
// and must, after Decode, reject an iterator whose generation is not the
// current stream's, so that an iterator of a deleted stream never reads its
// re-created namesake. Decode cannot do this itself: GetRecords names no
// stream.
package iterator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/store"
)

// DefaultTTL is how long an iterator is valid after it is issued, as Kinesis.
const DefaultTTL = 5 * time.Minute

// Bounds on what an iterator holds; they keep every iterator within the
// 512 characters Kinesis allows a ShardIterator.
const (
	MaxStreamLen = 128
	MaxShardLen  = 128
	// MaxLen is the longest iterator Encode produces.
	MaxLen = 512
	// MinKeyLen is the shortest secret New accepts.
	MinKeyLen = 16
)

const (
	version1 = 1
	macLen   = sha256.Size
	// minRaw is version, issued, two one-byte varints, two empty strings and the MAC.
	minRaw = 1 + 8 + 1 + 1 + 1 + 1 + macLen
)

var encoding = base64.RawURLEncoding.Strict()

// ErrInvalid is a malformed iterator, one altered or made with another key:
// the Kinesis layer answers InvalidArgumentException.
var ErrInvalid = errors.New("invalid shard iterator")

// ErrExpired is an authentic iterator older than the Codec's TTL: the Kinesis
// layer answers ExpiredIteratorException. Decode returns it as *ExpiredError.
var ErrExpired = errors.New("shard iterator expired")

// ExpiredError is the error Decode returns for an expired iterator; it
// matches ErrExpired with errors.Is, and its message is AWS's.
type ExpiredError struct {
	Issued, Now time.Time
	TTL         time.Duration
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf(store.MsgIteratorExpired, e.Issued.UTC().Format(store.JavaDateLayout), e.Now.UTC().Format(store.JavaDateLayout), e.TTL.Milliseconds())
}

// Is makes errors.Is(err, ErrExpired) hold.
func (e *ExpiredError) Is(target error) bool { return target == ErrExpired }

// Position is what an iterator names: the next record to read in a shard of
// one incarnation (Generation) of a stream, and when the iterator was issued.
type Position struct {
	Stream     string
	Shard      string
	Generation uint64
	Seq        uint64
	Issued     time.Time
}

// Codec encodes and decodes iterators with one secret. It is safe for
// concurrent use. Iterators survive a restart only if the same secret is
// used again.
type Codec struct {
	macKey []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewRandomKey returns a fresh 32-byte secret from crypto/rand.
func NewRandomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand.Read crashes the program instead)
	return k
}

// New returns a Codec keyed with key (at least MinKeyLen bytes; the Codec
// keeps its own copy), whose iterators expire ttl after they are issued
// (DefaultTTL if ttl ≤ 0), reading the time from now (time.Now if nil).
func New(key []byte, ttl time.Duration, now func() time.Time) (*Codec, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("iterator key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	// A per-version key, so that the secret could serve another purpose
	// (or a later format) without one MAC standing for another.
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sluice shard iterator v1"))
	return &Codec{macKey: m.Sum(nil), ttl: ttl, now: now}, nil
}

// TTL is how long the Codec's iterators are valid.
func (c *Codec) TTL() time.Duration { return c.ttl }

// Encode returns the iterator for p. A zero p.Issued means now. It fails
// only if the stream or shard name is longer than MaxStreamLen/MaxShardLen.
func (c *Codec) Encode(p Position) (string, error) {
	if len(p.Stream) > MaxStreamLen {
		return "", fmt.Errorf("cannot encode shard iterator: stream name is %d bytes, more than %d", len(p.Stream), MaxStreamLen)
	}
	if len(p.Shard) > MaxShardLen {
		return "", fmt.Errorf("cannot encode shard iterator: shard id is %d bytes, more than %d", len(p.Shard), MaxShardLen)
	}
	if p.Issued.IsZero() {
		p.Issued = c.now()
	}
	b := make([]byte, 0, minRaw+4*binary.MaxVarintLen64+len(p.Stream)+len(p.Shard))
	b = append(b, version1)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Issued.UnixNano()))
	b = binary.AppendUvarint(b, p.Generation)
	b = binary.AppendUvarint(b, p.Seq)
	b = binary.AppendUvarint(b, uint64(len(p.Stream)))
	b = append(b, p.Stream...)
	b = binary.AppendUvarint(b, uint64(len(p.Shard)))
	b = append(b, p.Shard...)
	b = c.appendMAC(b, b)
	return encoding.EncodeToString(b), nil
}

func (c *Codec) appendMAC(dst, msg []byte) []byte {
	m := hmac.New(sha256.New, c.macKey)
	m.Write(msg)
	return m.Sum(dst)
}

// Decode authenticates s and returns its Position. Errors match ErrInvalid
// (malformed, altered, another key's) or ErrExpired (authentic but older
// than the TTL; the Position is returned with it, for logging). Nothing
// about a Position is trusted before its MAC is checked.
func (c *Codec) Decode(s string) (Position, error) {
	if len(s) > MaxLen {
		return Position{}, fmt.Errorf("%w: longer than %d characters", ErrInvalid, MaxLen)
	}
	// The decoder skips CR and LF; refuse them (and anything else outside
	// the alphabet) so that every iterator has exactly one spelling.
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Position{}, fmt.Errorf("%w: not base64url", ErrInvalid)
		}
	}
	b, err := encoding.DecodeString(s)
	if err != nil {
		return Position{}, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	if len(b) < minRaw {
		return Position{}, fmt.Errorf("%w: too short", ErrInvalid)
	}
	msg, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(c.appendMAC(nil, msg), mac) {
		return Position{}, fmt.Errorf("%w: authentication failed", ErrInvalid)
	}
	if msg[0] != version1 {
		return Position{}, fmt.Errorf("%w: unsupported version %d", ErrInvalid, msg[0])
	}
	p, ok := parse(msg[1:])
	if !ok {
		return Position{}, fmt.Errorf("%w: malformed", ErrInvalid)
	}
	now := c.now()
	if age := now.Sub(p.Issued); age > c.ttl {
		return p, &ExpiredError{Issued: p.Issued, Now: now, TTL: c.ttl}
	} else if age < -c.ttl {
		// Issued well after now: the clock went back, or the key is in
		// the wrong hands. Either way the iterator's age is unknown.
		return Position{}, fmt.Errorf("%w: issued in the future", ErrInvalid)
	}
	return p, nil
}

// parse reads the fields after the version byte; the input is authentic,
// but it is still checked as if it were not.
func parse(b []byte) (Position, bool) {
	var p Position
	if len(b) < 8 {
		return p, false
	}
	p.Issued = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	var n int
	if p.Generation, n = binary.Uvarint(b); n <= 0 {
		return p, false
	}
	b = b[n:]
	if p.Seq, n = binary.Uvarint(b); n <= 0 {
		return p, false
	}
	b = b[n:]
	var ok bool
	if p.Stream, b, ok = parseString(b, MaxStreamLen); !ok {
		return p, false
	}
	if p.Shard, b, ok = parseString(b, MaxShardLen); !ok {
		return p, false
	}
	return p, len(b) == 0
}

func parseString(b []byte, max int) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(max) || l > uint64(len(b)-n) {
		return "", nil, false
	}
	b = b[n:]
	return string(b[:l]), b[l:], true
}
