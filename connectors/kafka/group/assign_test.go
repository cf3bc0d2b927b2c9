package group

import (
	"fmt"
	"slices"
	"testing"

	"github.com/segmentio/kafka-go"
	"pgregory.net/rapid"
)

// members makes group members subscribed to topics, member i having owned
// the partition numbers owned[i] in its last generation.
func members(topics []string, owned [][]int) []kafka.GroupMember {
	ms := make([]kafka.GroupMember, len(owned))
	for i, o := range owned {
		ms[i] = kafka.GroupMember{ID: fmt.Sprintf("m%02d", i), Topics: topics, UserData: encodeUserData(Meta{Fingerprint: "f"}, o)}
	}
	return ms
}

func topicPartitions(topics []string, n int) []kafka.Partition {
	var ps []kafka.Partition
	for _, t := range topics {
		for p := range n {
			ps = append(ps, kafka.Partition{Topic: t, ID: p})
		}
	}
	return ps
}

// checkAssignment fails unless the assignment gives every partition of every
// topic to exactly one member, the same numbers of every topic to a member,
// and shares differing by at most one.
func checkAssignment(t *rapid.T, a kafka.GroupMemberAssignments, topics []string, n int) {
	seen := map[string]map[int]bool{}
	lo, hi := n+1, -1
	for id, byTopic := range a {
		first := slices.Sorted(slices.Values(byTopic[topics[0]]))
		for _, topic := range topics {
			ps := slices.Sorted(slices.Values(byTopic[topic]))
			if !slices.Equal(ps, first) {
				t.Fatalf("member %s owns %s %v but %s %v: not co-partitioned", id, topics[0], first, topic, ps)
			}
			for _, p := range ps {
				if seen[topic] == nil {
					seen[topic] = map[int]bool{}
				}
				if seen[topic][p] {
					t.Fatalf("%s/%d assigned twice", topic, p)
				}
				seen[topic][p] = true
			}
		}
		lo, hi = min(lo, len(first)), max(hi, len(first))
	}
	for _, topic := range topics {
		if len(seen[topic]) != n {
			t.Fatalf("%s: %d of %d partitions assigned", topic, len(seen[topic]), n)
		}
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: members own between %d and %d partitions", lo, hi)
	}
}

func TestCoPartitionedAssignmentIsCompleteBalancedAndSticky(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		topics := []string{"a", "b", "c"}[:rapid.IntRange(1, 3).Draw(t, "topics")]
		n := rapid.IntRange(0, 64).Draw(t, "partitions")
		m := rapid.IntRange(1, 10).Draw(t, "members")
		// Members' claims of what they owned: arbitrary, even overlapping
		// or out of range (a member of an older generation).
		claims := make([][]int, m)
		for i := range claims {
			claims[i] = rapid.SliceOfN(rapid.IntRange(-1, n+1), 0, n).Draw(t, fmt.Sprintf("owned%d", i))
		}
		bal := CoPartitioned{}
		a := bal.AssignGroups(members(topics, claims), topicPartitions(topics, n))
		if len(a) != m {
			t.Fatalf("%d members assigned, want %d", len(a), m)
		}
		checkAssignment(t, a, topics, n)

		// One member leaves: every other keeps what it had.
		if m < 2 {
			return
		}
		gone := rapid.IntRange(0, m-1).Draw(t, "gone")
		var owned [][]int
		var before [][]int
		for i := range m {
			if i != gone {
				o := a[fmt.Sprintf("m%02d", i)][topics[0]]
				owned = append(owned, o)
				before = append(before, o)
			}
		}
		a2 := bal.AssignGroups(members(topics, owned), topicPartitions(topics, n))
		checkAssignment(t, a2, topics, n)
		for i, o := range before {
			now := a2[fmt.Sprintf("m%02d", i)][topics[0]]
			for _, p := range o {
				if !slices.Contains(now, p) {
					t.Fatalf("member %d lost partition %d when another left: had %v, has %v", i, p, o, now)
				}
			}
		}
	})
}
