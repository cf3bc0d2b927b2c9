package runtime

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Hashes are stable across processes and versions: key groups derived from
// them are part of checkpoints.

const (
	hashSeed  = 0x9E3779B97F4A7C15
	hashMul1  = 0xbf58476d1ce4e5b9
	hashMul2  = 0x94d049bb133111eb
	nullHash  = 0x6a09e667f3bcc909
	hashPrime = 0x100000001b3
)

// HashInt64 mixes x into a well-spread 64-bit hash (splitmix64 finaliser).
func HashInt64(x uint64) uint64 {
	x ^= x >> 30
	x *= hashMul1
	x ^= x >> 27
	x *= hashMul2
	x ^= x >> 31
	return x
}

// HashString hashes s eight bytes at a time.
func HashString(s string) uint64 {
	h := uint64(hashSeed) ^ uint64(len(s))*hashPrime
	for len(s) >= 8 {
		v := binary.LittleEndian.Uint64([]byte(s[:8]))
		h = bits.RotateLeft64(h^HashInt64(v), 29) * hashMul1
		s = s[8:]
	}
	var tail uint64
	for i := 0; i < len(s); i++ {
		tail |= uint64(s[i]) << (8 * i)
	}
	return HashInt64(h ^ tail ^ uint64(len(s))<<56)
}

func combineHash(h, x uint64) uint64 {
	return HashInt64(bits.RotateLeft64(h, 23) ^ x)
}

// HashColumns hashes the key columns of every present row of b into out
// (out[i] belongs to the i-th present row) and returns it.
func HashColumns(b *Batch, cols []int, out []uint64) []uint64 {
	n := b.Len()
	out = resize(out, n)
	for k, c := range cols {
		v := &b.Cols[c]
		first := k == 0
		if v.Null != nil {
			for i := range out {
				r := b.Row(i)
				var x uint64
				switch {
				case v.Null[r]:
					x = nullHash
				case v.Type.Physical() == PhysString:
					x = HashString(v.Str[r])
				case v.Type.Physical() == PhysFloat:
					x = hashFloat(v.F64[r])
				default:
					x = HashInt64(uint64(v.I64[r]))
				}
				out[i] = mixIn(first, out[i], x)
			}
			continue
		}
		switch v.Type.Physical() {
		case PhysString:
			for i := range out {
				x := HashString(v.Str[b.Row(i)])
				out[i] = mixIn(first, out[i], x)
			}
		case PhysFloat:
			for i := range out {
				out[i] = mixIn(first, out[i], hashFloat(v.F64[b.Row(i)]))
			}
		default:
			if b.Sel == nil && first {
				for i, x := range v.I64[:n] {
					out[i] = HashInt64(uint64(x))
				}
			} else {
				for i := range out {
					out[i] = mixIn(first, out[i], HashInt64(uint64(v.I64[b.Row(i)])))
				}
			}
		}
	}
	return out
}

// hashFloat hashes a DOUBLE key so that -0 and +0, and all NaNs, are one
// key each.
func hashFloat(f float64) uint64 {
	switch {
	case f == 0:
		f = 0
	case f != f:
		f = math.NaN()
	}
	return HashInt64(math.Float64bits(f))
}

func mixIn(first bool, h, x uint64) uint64 {
	if first {
		return x
	}
	return combineHash(h, x)
}

// KeyGroup maps a key hash to its key group.
func KeyGroup(h uint64) int { return int((h >> 32) % MaxKeyGroups) }

// SubtaskForKeyGroup returns the subtask of parallelism p that owns kg.
func SubtaskForKeyGroup(kg, p int) int { return kg * p / MaxKeyGroups }
