package store

import (
	"crypto/md5"
	"math/big"
	"testing"
)

func TestHashKeyOfIsMD5BigEndian(t *testing.T) {
	for _, k := range []string{"a", "partition-1", "ünïcode", ""} {
		sum := md5.Sum([]byte(k))
		want := new(big.Int).SetBytes(sum[:])
		if got := HashKeyOf(k).String(); got != want.String() {
			t.Fatalf("%q: got %s, want %s", k, got, want)
		}
	}
}

func TestParseHashKey(t *testing.T) {
	f := func(s string, ok bool) {
		t.Helper()
		h, err := ParseHashKey(s)
		if (err == nil) != ok {
			t.Fatalf("%q: err %v", s, err)
		}
		if ok && h.String() != new(big.Int).SetBytes(mustBig(s)).String() {
			t.Fatalf("%q round trips as %s", s, h)
		}
	}
	f("0", true)
	f("340282366920938463463374607431768211455", true) // 2^128-1
	f("340282366920938463463374607431768211456", false)
	f("-1", false)
	f("1e5", false)
	f("", false)
	f(" 1", false)
}

func mustBig(s string) []byte {
	b, _ := new(big.Int).SetString(s, 10)
	return b.Bytes()
}

func TestEvenRangesCoverTheSpace(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7, 100} {
		rs := EvenRanges(n)
		if len(rs) != n || rs[0].Start != (HashKey{}) || rs[n-1].End != MaxHashKey {
			t.Fatalf("n=%d: %v", n, rs)
		}
		for i := 1; i < n; i++ {
			if rs[i].Start != rs[i-1].End.Add(1) {
				t.Fatalf("n=%d: gap between %d and %d", n, i-1, i)
			}
		}
	}
	// Kinesis's 4-shard ranges.
	rs := EvenRanges(4)
	if rs[1].Start.String() != "85070591730234615865843651857942052864" || rs[0].End.String() != "85070591730234615865843651857942052863" {
		t.Fatalf("4 shards: %v %v", rs[0].End, rs[1].Start)
	}
}

func TestHashKeyArithmetic(t *testing.T) {
	if (HashKey{0, ^uint64(0)}).Add(1) != (HashKey{1, 0}) || (HashKey{1, 0}).Sub(1) != (HashKey{0, ^uint64(0)}) {
		t.Fatal("carry")
	}
	if (HashKey{1, 0}).Cmp(HashKey{0, 5}) != 1 || (HashKey{0, 5}).Cmp(HashKey{0, 5}) != 0 {
		t.Fatal("cmp")
	}
}
