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
// alike (a join's two sides) is in one place. Partition number p goes to the
// (p mod m)-th member in member id order, m the number of members.
//
// The topics must have equal partition counts (see CheckCoPartitioned); if
// they do not, partition p of a topic with fewer partitions simply does not
// exist and is not assigned. UserData is the member's Meta, seen by the
// group's leader and by DescribeGroups.
type CoPartitioned struct {
	Meta Meta
}

// ProtocolName implements kafka.GroupBalancer.
func (CoPartitioned) ProtocolName() string { return ProtocolName }

// UserData implements kafka.GroupBalancer: the member's Meta.
func (b CoPartitioned) UserData() ([]byte, error) { return b.Meta.encode(), nil }

// AssignGroups implements kafka.GroupBalancer.
func (CoPartitioned) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	ids := make([]string, len(members))
	subscribed := make(map[string]map[string]bool, len(members))
	for i, m := range members {
		ids[i] = m.ID
		subscribed[m.ID] = make(map[string]bool, len(m.Topics))
		for _, t := range m.Topics {
			subscribed[m.ID][t] = true
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
	parts := slices.Clone(partitions)
	slices.SortFunc(parts, func(a, b kafka.Partition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	for _, p := range parts {
		id := ids[p.ID%len(ids)]
		if !subscribed[id][p.Topic] {
			continue // a member of another job file; CheckPeers reports it
		}
		out[id][p.Topic] = append(out[id][p.Topic], p.ID)
	}
	return out
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
