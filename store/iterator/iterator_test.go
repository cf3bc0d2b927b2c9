package iterator

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 19, 10, 33, 123456789, time.UTC)

// clock is a fake clock for expiry tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCodec(t testing.TB, key []byte, c *clock) *Codec {
	t.Helper()
	codec, err := New(key, 0, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return codec
}

func TestRoundTrip(t *testing.T) {
	c := &clock{t0}
	codec := newCodec(t, NewRandomKey(), c)
	f := func(p Position) {
		t.Helper()
		s, err := codec.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) > MaxLen || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("iterator %q is not URL-safe or is longer than %d", s, MaxLen)
		}
		got, err := codec.Decode(s)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", p, err)
		}
		if p.Issued.IsZero() {
			p.Issued = t0
		}
		if got.Stream != p.Stream || got.Shard != p.Shard || got.Generation != p.Generation || got.Seq != p.Seq || !got.Issued.Equal(p.Issued) {
			t.Fatalf("round trip: got %+v, want %+v", got, p)
		}
	}
	f(Position{Stream: "orders", Shard: "shardId-000000000000", Generation: 1, Seq: 42})
	f(Position{})
	f(Position{Stream: "a", Shard: "b", Generation: math.MaxUint64, Seq: math.MaxUint64, Issued: t0.Add(-time.Minute)})
	f(Position{Stream: strings.Repeat("s", MaxStreamLen), Shard: strings.Repeat("x", MaxShardLen), Generation: math.MaxUint64, Seq: math.MaxUint64})
	f(Position{Stream: "ünïcode.str-eam_1", Shard: "shardId-000000000007", Generation: 1 << 40, Seq: 1 << 63})

	if _, err := codec.Encode(Position{Stream: strings.Repeat("s", MaxStreamLen+1)}); err == nil {
		t.Fatal("over-long stream name encoded")
	}
	if _, err := codec.Encode(Position{Shard: strings.Repeat("s", MaxShardLen+1)}); err == nil {
		t.Fatal("over-long shard id encoded")
	}
}

func TestTamperingRejected(t *testing.T) {
	// Stream names of 3 lengths, so that the raw length takes every
	// remainder mod 3 and the unused bits of the last character are tried.
	for _, stream := range []string{"orders", "orders1", "orders12"} {
		t.Run(stream, func(t *testing.T) { testTampering(t, stream) })
	}
}

func testTampering(t *testing.T, stream string) {
	codec := newCodec(t, NewRandomKey(), &clock{t0})
	s, err := codec.Encode(Position{Stream: stream, Shard: "shardId-000000000001", Generation: 3, Seq: 1000})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	reject := func(bad string) {
		t.Helper()
		if p, err := codec.Decode(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("altered iterator %q: got %+v, %v", bad, p, err)
		}
	}
	// Every character replaced by every other character of the alphabet
	// (and by some outside it).
	for i := 0; i < len(s); i++ {
		for _, r := range alphabet + "=+/. \x00\r\n" {
			if byte(r) != s[i] {
				reject(s[:i] + string(r) + s[i+1:])
			}
		}
	}
	// Every bit of the decoded bytes flipped.
	raw, err := encoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			reject(encoding.EncodeToString(b))
		}
	}
	// Truncated, extended, padded, empty.
	for i := 0; i < len(s); i++ {
		reject(s[:i])
	}
	reject(s + "A")
	reject(s + "AA")
	if padded := base64.URLEncoding.EncodeToString(raw); padded != s {
		reject(padded)
	}
	reject(s[:len(s)-2] + "\n" + s[len(s)-2:])
	reject(strings.Repeat("A", MaxLen+1))
}

func TestExpiry(t *testing.T) {
	c := &clock{t0}
	codec := newCodec(t, NewRandomKey(), c)
	if codec.TTL() != DefaultTTL {
		t.Fatalf("TTL %v", codec.TTL())
	}
	s, err := codec.Encode(Position{Stream: "orders", Shard: "shardId-000000000000", Seq: 7})
	if err != nil {
		t.Fatal(err)
	}
	c.t = t0.Add(DefaultTTL)
	if _, err := codec.Decode(s); err != nil {
		t.Fatalf("at the TTL: %v", err)
	}
	c.t = t0.Add(DefaultTTL + time.Nanosecond)
	p, err := codec.Decode(s)
	if !errors.Is(err, ErrExpired) || errors.Is(err, ErrInvalid) {
		t.Fatalf("past the TTL: %v", err)
	}
	var e *ExpiredError
	if !errors.As(err, &e) || !e.Issued.Equal(t0) || e.TTL != DefaultTTL || p.Seq != 7 {
		t.Fatalf("expired error %#v, position %+v", err, p)
	}
	if !strings.HasPrefix(err.Error(), "Iterator expired. The iterator was created at time Wed Nov 25 19:10:33 UTC 2026") ||
		!strings.HasSuffix(err.Error(), "tolerated delay of 300000 milliseconds.") {
		t.Fatalf("message %q", err)
	}

	// An iterator issued well in the future means the clock went back.
	c.t = t0.Add(-DefaultTTL - time.Second)
	if _, err := codec.Decode(s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("issued in the future: %v", err)
	}

	// A custom TTL.
	short, err := New(NewRandomKey(), time.Second, c.now)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = short.Encode(Position{Stream: "x"})
	c.t = c.t.Add(2 * time.Second)
	if _, err := short.Decode(s); !errors.Is(err, ErrExpired) {
		t.Fatalf("custom TTL: %v", err)
	}
}

func TestOtherKeyRejected(t *testing.T) {
	c := &clock{t0}
	a := newCodec(t, NewRandomKey(), c)
	b := newCodec(t, NewRandomKey(), c)
	s, _ := a.Encode(Position{Stream: "orders", Shard: "shardId-000000000000"})
	if _, err := b.Decode(s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another key's iterator: %v", err)
	}
	// The same secret in another Codec (a restarted server) accepts it.
	key := []byte("0123456789abcdef0123456789abcdef")
	s, _ = newCodec(t, key, c).Encode(Position{Stream: "orders"})
	if _, err := newCodec(t, key, c).Decode(s); err != nil {
		t.Fatalf("same key: %v", err)
	}
	if _, err := New(key[:MinKeyLen-1], 0, nil); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestUnsupportedVersion(t *testing.T) {
	codec := newCodec(t, NewRandomKey(), &clock{t0})
	s, _ := codec.Encode(Position{Stream: "orders"})
	raw, _ := encoding.DecodeString(s)
	msg := append([]byte(nil), raw[:len(raw)-macLen]...)
	msg[0] = 2
	forged := encoding.EncodeToString(codec.appendMAC(msg, msg))
	if _, err := codec.Decode(forged); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "version") {
		t.Fatalf("version 2: %v", err)
	}
	// Trailing bytes under a valid MAC are still refused.
	msg = append(raw[:len(raw)-macLen:len(raw)-macLen], 0)
	if _, err := codec.Decode(encoding.EncodeToString(codec.appendMAC(msg, msg))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestNewRandomKey(t *testing.T) {
	a, b := NewRandomKey(), NewRandomKey()
	if len(a) != 32 || string(a) == string(b) {
		t.Fatalf("keys %x %x", a, b)
	}
}

// FuzzDecode checks that Decode never panics, fails only with ErrInvalid or
// ErrExpired, and that what it accepts re-encodes to the same string.
// Its seeds run in every go test.
func FuzzDecode(f *testing.F) {
	key := []byte("fuzz-key-fuzz-key-fuzz-key-32byt")
	c := &clock{t0}
	codec := newCodec(f, key, c)
	for _, p := range []Position{
		{Stream: "orders", Shard: "shardId-000000000000", Generation: 1, Seq: 42},
		{},
		{Stream: strings.Repeat("s", MaxStreamLen), Shard: strings.Repeat("x", MaxShardLen), Generation: math.MaxUint64, Seq: math.MaxUint64},
		{Stream: "old", Issued: t0.Add(-time.Hour)},
	} {
		s, err := codec.Encode(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
		f.Add(s[:len(s)-1])
	}
	f.Add("")
	f.Add("AQ")
	f.Add("!!!!")
	f.Add(strings.Repeat("A", 80))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := codec.Decode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
				t.Fatalf("Decode(%q): untyped error %v", s, err)
			}
			return
		}
		again, err := codec.Encode(p)
		if err != nil || again != s {
			t.Fatalf("Decode(%q) = %+v, which encodes to %q, %v", s, p, again, err)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	codec := newCodec(b, NewRandomKey(), &clock{t0})
	s, _ := codec.Encode(Position{Stream: "orders", Shard: "shardId-000000000003", Generation: 2, Seq: 123456789})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(s); err != nil {
			b.Fatal(err)
		}
	}
}
