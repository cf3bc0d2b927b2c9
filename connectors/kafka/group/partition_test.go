package group

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// javaMurmur2 is the Java client's murmur2 (org.apache.kafka.common.utils.
// Utils.murmur2) written from its description with Java's int arithmetic:
// 32-bit two's complement that wraps, >>> the unsigned shift. Seed
// 0x9747b28c, m 0x5bd1e995, r 24; bytes are read as little-endian 4-byte
// words, the 1–3 trailing bytes are xored in from the highest, then the
// final mix h ^= h>>>13; h *= m; h ^= h>>>15.
func javaMurmur2(data []byte) int32 {
	const seed = int32(-1756908916) // 0x9747b28c as a Java int
	const m = int32(0x5bd1e995)
	n := len(data)
	h := seed ^ int32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := int32(data[i]) | int32(data[i+1])<<8 | int32(data[i+2])<<16 | int32(data[i+3])<<24
		k *= m
		k ^= int32(uint32(k) >> 24)
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= int32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= int32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= int32(tail[0])
		h *= m
	}
	h ^= int32(uint32(h) >> 13)
	h *= m
	h ^= int32(uint32(h) >> 15)
	return h
}

// javaPartition is the Java default partitioner for a keyed record:
// Utils.toPositive(Utils.murmur2(key)) % numPartitions.
func javaPartition(key []byte, n int) int {
	return int(javaMurmur2(key)&0x7fffffff) % n
}

func TestPartitionForMatchesJavaClient(t *testing.T) {
	// murmur2 values of the Java client for these keys, as its own test
	// suite states them.
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := javaMurmur2([]byte(key)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
		for _, n := range []int{1, 3, 12, 100} {
			if got, want := PartitionFor([]byte(key), n), int(want&0x7fffffff)%n; got != want {
				t.Errorf("PartitionFor(%q, %d) = %d, want %d", key, n, got, want)
			}
		}
	}
	if got := PartitionFor([]byte("k"), 0); got != -1 {
		t.Errorf("PartitionFor(_, 0) = %d, want -1", got)
	}
	if PartitionFor(nil, 12) != PartitionFor([]byte{}, 12) {
		t.Error("a nil key and an empty key land in different partitions")
	}
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.SliceOf(rapid.Byte()).Draw(t, "key")
		n := rapid.IntRange(1, 5000).Draw(t, "n")
		if got, want := PartitionFor(key, n), javaPartition(key, n); got != want {
			t.Fatalf("PartitionFor(%x, %d) = %d, Java client's %d", key, n, got, want)
		}
	})
}

func BenchmarkPartitionFor(b *testing.B) {
	key := []byte(fmt.Sprintf("user-%d", 123456))
	for b.Loop() {
		PartitionFor(key, 12)
	}
}
