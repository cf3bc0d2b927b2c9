package group

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"
)

// ProtocolName is the name of the group's assignment strategy, the same for
// every member: a member offering another strategy cannot join the group.
const ProtocolName = "sluice-copartitioned"

// CoPartitioned is a kafka-go GroupBalancer that gives each member the same
// partition numbers of every topic (Kafka Streams' co-partitioned
// assignment): the member that owns partition p of one topic owns
// partition p of all of them, so keyed state built from several topics keyed
// alike (a join's two sides) is in one place. The assignment is balanced
// (members' counts differ by at most one) and sticky: a member keeps the
// partition numbers it owned in its last generation as far as balance
// allows, so that a rebalance moves (and restores) as few tasks as it can.
//
// The topics must have equal partition counts (see CheckCoPartitioned); if
// they do not, partition p of a topic with fewer partitions simply does not
// exist and is not assigned. UserData is the member's Meta and the
// partition numbers it owned, seen by the group's leader and by
// DescribeGroups.
type CoPartitioned struct {
	Meta Meta
	// Owned, if set, gives the partition numbers this member owned in
	// its last generation.
	Owned func() []int
}

// ProtocolName implements kafka.GroupBalancer.
func (CoPartitioned) ProtocolName() string { return ProtocolName }

// UserData implements kafka.GroupBalancer: the member's Meta and owned
// partition numbers.
func (b CoPartitioned) UserData() ([]byte, error) {
	var owned []int
	if b.Owned != nil {
		owned = b.Owned()
	}
	return encodeUserData(b.Meta, owned), nil
}

// AssignGroups implements kafka.GroupBalancer.
func (CoPartitioned) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	ids := make([]string, len(members))
	subscribed := make(map[string]map[string]bool, len(members))
	prev := make(map[string][]int, len(members))
	for i, m := range members {
		ids[i] = m.ID
		subscribed[m.ID] = make(map[string]bool, len(m.Topics))
		for _, t := range m.Topics {
			subscribed[m.ID][t] = true
		}
		if u, ok := decodeUserData(m.UserData); ok {
			prev[m.ID] = u.Owned
		}
	}
	sort.Strings(ids)
	out := make(kafka.GroupMemberAssignments, len(ids))
	for _, id := range ids {
		out[id] = map[string][]int{}
	}
	if len(ids) == 0 {
		return out
	}
	n := 0
	for _, p := range partitions {
		n = max(n, p.ID+1)
	}
	owner := assignNumbers(ids, prev, n)
	parts := slices.Clone(partitions)
	slices.SortFunc(parts, func(a, b kafka.Partition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	for _, p := range parts {
		id := ids[owner[p.ID]]
		if !subscribed[id][p.Topic] {
			continue // a member of another job file; CheckPeers reports it
		}
		out[id][p.Topic] = append(out[id][p.Topic], p.ID)
	}
	return out
}

// assignNumbers shares the partition numbers [0, n) between the members ids
// (sorted, at least one): owner[p] is the index in ids of p's member. Every
// member gets n/len(ids) numbers, n%len(ids) of them one more; a member keeps
// the numbers it had (prev) up to its share.
func assignNumbers(ids []string, prev map[string][]int, n int) (owner []int) {
	base, extra := n/len(ids), n%len(ids)
	owner = make([]int, n)
	for p := range owner {
		owner[p] = -1
	}
	count := make([]int, len(ids))
	had := make([][]int, len(ids))
	for i, id := range ids {
		had[i] = slices.Compact(slices.Sorted(slices.Values(prev[id])))
	}
	take := func(i, p int) bool {
		if p < 0 || p >= n || owner[p] >= 0 {
			return false
		}
		owner[p] = i
		count[i]++
		return true
	}
	// Each member keeps up to its base share of what it had …
	for i := range ids {
		for _, p := range had[i] {
			if count[i] == base {
				break
			}
			take(i, p)
		}
	}
	// … and, while the extra shares last, one more of it.
	bigger := 0
	for i := range ids {
		for _, p := range had[i] {
			if bigger == extra || count[i] != base {
				break
			}
			if take(i, p) {
				bigger++
			}
		}
	}
	// The rest go to the members below their share, in order.
	var free []int
	for p := range owner {
		if owner[p] < 0 {
			free = append(free, p)
		}
	}
	for i := range ids {
		for count[i] < base {
			take(i, free[0])
			free = free[1:]
		}
	}
	for i := range ids {
		if len(free) == 0 {
			break
		}
		if count[i] == base {
			take(i, free[0])
			free = free[1:]
		}
	}
	return owner
}

// PartitionCountError is the error of topics meant to be co-partitioned
// whose partition counts differ.
type PartitionCountError struct {
	Counts map[string]int // topic → partitions
}

func (e *PartitionCountError) Error() string {
	topics := make([]string, 0, len(e.Counts))
	for t := range e.Counts {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s has %d", t, e.Counts[t])
	}
	return fmt.Sprintf("topics %s are not co-partitioned: they must have the same number of partitions (%s)",
		strings.Join(topics, ", "), b.String())
}

// PartitionCounts asks the brokers how many partitions each topic has. A
// topic that does not exist is an error naming it.
func PartitionCounts(ctx context.Context, client *kafka.Client, topics ...string) (map[string]int, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("kafka brokers %s: cannot read the partitions of %s: %w", client.Addr, strings.Join(topics, ", "), err)
	}
	counts := make(map[string]int, len(topics))
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("kafka topic %s: %w", t.Name, t.Error)
		}
		counts[t.Name] = len(t.Partitions)
	}
	for _, t := range topics {
		if _, ok := counts[t]; !ok {
			return nil, fmt.Errorf("kafka topic %s: %w", t, kafka.UnknownTopicOrPartition)
		}
	}
	return counts, nil
}

// CheckCoPartitioned returns a *PartitionCountError when the topics do not
// all have the same number of partitions, and the number when they do.
func CheckCoPartitioned(ctx context.Context, client *kafka.Client, topics ...string) (int, error) {
	counts, err := PartitionCounts(ctx, client, topics...)
	if err != nil {
		return 0, err
	}
	n := -1
	for _, c := range counts {
		if n >= 0 && c != n {
			return 0, &PartitionCountError{Counts: counts}
		}
		n = c
	}
	return n, nil
}
