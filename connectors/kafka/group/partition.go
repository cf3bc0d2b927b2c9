package group

import "github.com/segmentio/kafka-go"

// murmur2 is the balancer whose partition choice is the Java client's
// default partitioner for keyed records: positive(murmur2(key)) %
// numPartitions, with positive(h) = h & 0x7fffffff. Consistent makes an
// empty or nil key hash too (instead of picking a random partition), so that
// the same key always lands in the same partition.
var murmur2 = kafka.Murmur2Balancer{Consistent: true}

// PartitionFor is the partition, in [0, n), that the Java Kafka client's
// default partitioner gives a record with this key in a topic of n
// partitions: positive(murmur2(key)) % n. A repartition topic written with it
// is co-partitioned with a topic written by Java producers (and Kafka
// Streams) keyed the same way. It returns -1 when n < 1.
func PartitionFor(key []byte, n int) int {
	if n < 1 {
		return -1
	}
	if key == nil {
		key = []byte{}
	}
	parts := identity[:min(n, len(identity))]
	if n > len(identity) {
		parts = make([]int, n)
		for i := range parts {
			parts[i] = i
		}
	}
	return murmur2.Balance(kafka.Message{Key: key}, parts...)
}

// identity is 0, 1, 2, …: the partitions of a topic, shared by every call of
// PartitionFor for topics of up to len(identity) partitions (read only).
var identity = func() []int {
	s := make([]int, 1<<12)
	for i := range s {
		s[i] = i
	}
	return s
}()
