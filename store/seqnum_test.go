package store

import (
	"cmp"
	"strings"
	"testing"
)

func TestSequenceNumberLayout(t *testing.T) {
	n := SequenceNumber{Generation: 1764950000123456789, Shard: 7, Seq: 42}
	s := n.String()
	want := "1" + "01764950000123456789" + "000000000000007" + "00000000000000000042"
	if s != want || len(s) != SequenceNumberLen {
		t.Fatalf("%+v is %s, want %s", n, s, want)
	}
	got, err := ParseSequenceNumber(s)
	if err != nil || got != n {
		t.Fatalf("parse %s: %+v %v", s, got, err)
	}
	max := SequenceNumber{Generation: ^uint64(0), Shard: MaxShardIndex, Seq: ^uint64(0)}
	if s := max.String(); len(s) != SequenceNumberLen {
		t.Fatalf("largest number %s has %d digits", s, len(s))
	}
	for _, bad := range []string{"", "1", "18446744073709551615", strings.Repeat("1", 55), strings.Repeat("1", 57),
		"0" + want[1:], want[:10] + "x" + want[11:], "1" + strings.Repeat("9", 55)} {
		if n, err := ParseSequenceNumber(bad); err == nil {
			t.Fatalf("%q parsed as %+v", bad, n)
		}
	}
	if _, err := ParseSequenceNumber("12"); err == nil || !strings.Contains(err.Error(), "old short") {
		t.Fatalf("short number: %v", err)
	}
}

func TestShardIndex(t *testing.T) {
	for id, want := range map[string]uint64{"shardId-000000000000": 0, "shardId-000000000007": 7, "shardId-999999999999999": MaxShardIndex} {
		if got, err := ShardIndex(id); err != nil || got != want {
			t.Fatalf("ShardIndex(%q) = %d, %v", id, got, err)
		}
		if ShardID(want) != id && want != MaxShardIndex {
			t.Fatalf("ShardID(%d) = %s", want, ShardID(want))
		}
	}
	for _, bad := range []string{"", "shardId-", "shardId-x", "shard-1", "shardId--1", "shardId-1000000000000000"} {
		if _, err := ShardIndex(bad); err == nil {
			t.Fatalf("ShardIndex(%q) accepted", bad)
		}
	}
}

// Parsing never panics, accepts only what String produces, and the string
// order of numbers is the order of their parts.
func FuzzSequenceNumber(f *testing.F) {
	f.Add(uint64(1764950000123456789), uint64(3), uint64(9), uint64(1764950000123456789), uint64(3), uint64(10), "1")
	f.Add(uint64(0), uint64(0), uint64(0), ^uint64(0), uint64(MaxShardIndex), ^uint64(0), "1"+strings.Repeat("9", 55))
	f.Add(uint64(5), uint64(1), ^uint64(0), uint64(5), uint64(2), uint64(1), "18446744073709551615")
	f.Fuzz(func(t *testing.T, g1, s1, q1, g2, s2, q2 uint64, raw string) {
		if n, err := ParseSequenceNumber(raw); err == nil && n.String() != raw {
			t.Fatalf("%q parsed as %+v, which prints as %s", raw, n, n)
		}
		a := SequenceNumber{g1, s1 % (MaxShardIndex + 1), q1}
		b := SequenceNumber{g2, s2 % (MaxShardIndex + 1), q2}
		as, bs := a.String(), b.String()
		for _, x := range []struct {
			n SequenceNumber
			s string
		}{{a, as}, {b, bs}} {
			got, err := ParseSequenceNumber(x.s)
			if err != nil || got != x.n || len(x.s) != SequenceNumberLen {
				t.Fatalf("%+v prints as %s, parses as %+v, %v", x.n, x.s, got, err)
			}
		}
		want := cmp.Or(cmp.Compare(a.Generation, b.Generation), cmp.Compare(a.Shard, b.Shard), cmp.Compare(a.Seq, b.Seq))
		if got := strings.Compare(as, bs); got != want {
			t.Fatalf("%s vs %s compares %d as strings, %d by parts", as, bs, got, want)
		}
	})
}
