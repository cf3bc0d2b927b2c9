package store

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"strings"
)

// HashKey is a 128-bit hash key, as Kinesis Data Streams uses to map
// partition keys to shards: the MD5 of the partition key read as a
// big-endian unsigned integer. Shards own contiguous ranges of hash keys.
type HashKey struct{ Hi, Lo uint64 }

// MaxHashKey is 2^128 - 1.
var MaxHashKey = HashKey{^uint64(0), ^uint64(0)}

// HashKeyOf returns the hash key of a partition key.
func HashKeyOf(partitionKey string) HashKey {
	sum := md5.Sum([]byte(partitionKey))
	return HashKey{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// Cmp compares h and o: -1, 0 or +1.
func (h HashKey) Cmp(o HashKey) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add returns h + n (wrapping).
func (h HashKey) Add(n uint64) HashKey {
	lo, carry := bits.Add64(h.Lo, n, 0)
	return HashKey{h.Hi + carry, lo}
}

// Sub returns h - n (wrapping).
func (h HashKey) Sub(n uint64) HashKey {
	lo, borrow := bits.Sub64(h.Lo, n, 0)
	return HashKey{h.Hi - borrow, lo}
}

func (h HashKey) big() *big.Int {
	b := new(big.Int).SetUint64(h.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(h.Lo))
}

func fromBig(b *big.Int) HashKey {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(b, 64)
	return HashKey{hi.Uint64(), lo.Uint64()}
}

// String formats h in decimal, as the Kinesis API does.
func (h HashKey) String() string { return h.big().String() }

// ErrBadHashKey is returned for a hash key that is not a decimal integer in
// [0, 2^128).
var ErrBadHashKey = errors.New("hash key must be a decimal integer between 0 and 2^128-1")

// ParseHashKey parses a decimal hash key.
func ParseHashKey(s string) (HashKey, error) {
	if s == "" || len(s) > 39 || strings.TrimLeft(s, "0123456789") != "" {
		return HashKey{}, ErrBadHashKey
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Cmp(MaxHashKey.big()) > 0 {
		return HashKey{}, ErrBadHashKey
	}
	return fromBig(b), nil
}

// HashRange is an inclusive range of hash keys.
type HashRange struct{ Start, End HashKey }

// Contains reports whether h is in r.
func (r HashRange) Contains(h HashKey) bool { return r.Start.Cmp(h) <= 0 && h.Cmp(r.End) <= 0 }

// EvenRanges splits the hash key space into n contiguous ranges of equal
// size (the last takes the remainder), as CreateStream does.
func EvenRanges(n int) []HashRange {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]HashRange, n)
	start := new(big.Int)
	for i := 0; i < n; i++ {
		end := new(big.Int).Add(start, step)
		end.Sub(end, big.NewInt(1))
		if i == n-1 {
			end = MaxHashKey.big()
		}
		out[i] = HashRange{fromBig(start), fromBig(end)}
		start = new(big.Int).Add(end, big.NewInt(1))
	}
	return out
}
