// Package repart carries the rows of a job that several processes share
// (sluice run --cluster kafka) from the task that produced them to the
// task that owns their key, through an internal Kafka topic of P
// partitions, one per task: exactly once, with watermarks, while
// processes die, are replaced or go on as zombies.
//
// # Records
//
// Every record value starts with a version byte (1) and a kind byte, then
// the producer task p and its attempt a (uvarint length and bytes) and a
// uvarint label:
//
//	DATA      label L, uvarint seq, then the rows: uvarint rows, uvarint
//	          columns, a kinds byte (0: all +I; 1: a kind byte per row
//	          follows), and per column its storage class, a nulls byte (1: a
//	          bitmap follows) and the values of its non-NULL rows (integers
//	          zigzag varints, floats 8 bytes, strings uvarint length and
//	          bytes). Many rows, up to about 64 KiB, per record.
//	WATERMARK label L, uvarint seq, varint watermark
//	IDLE, ACTIVE, END
//	          label L, uvarint seq
//	COMMIT    label N (the checkpoint), uvarint M (the commit before it)
//
// Records have no key. seq numbers the records of one attempt to one
// partition, so that a record a retried produce wrote twice is read once.
// A row goes to partition murmur2(key bytes) % P as the Java client
// partitions (the key columns encoded alike in every process, see
// appendKey), or to partition 0 when the edge has no key.
//
// # Segments and commits
//
// A sink labels what it writes with the checkpoint it belongs to: 0 in a
// fresh attempt, N from the barrier of checkpoint N on (the barrier first
// writes and acknowledges everything before it, so checkpoint N covers
// exactly the labels below N). Its snapshot is (a, N, M: the last
// checkpoint that counted). Once checkpoint N counts (its Confirm
// succeeded: the group generation fenced it), the sink writes COMMIT(p, a,
// N, M) to every partition. After Finish (END written, snapshot (a, ∞,
// M)), the first checkpoint that counts holds that final state and
// commits the end: COMMIT(p, a, ∞, M). Checkpoints must go on while the
// task runs (a periodic interval): the downstream half of a repartition
// in the same task ends only once every producer's end is committed. A
// restored attempt first writes again the COMMIT of the checkpoint it
// restores (its owner may have died before writing it), then goes on with
// label N and commits chained to N. A zombie's checkpoints never count,
// so nothing it writes is released.
//
// A source keeps, per producer, released[p]: records labelled below it are
// dropped. A COMMIT(p, a, N, M) with M == released[p] releases the records
// of attempt a labelled in [M, N) in the order they were written (rows,
// watermarks, idleness, the end), and released[p] becomes N; commits that
// arrive before the one they follow wait for it. A commit whose M is
// older than released[p] (a snapshot taken before the previous checkpoint
// counted, such as the final one) releases the rest of its attempt,
// [released[p], N), when the last release was of the same attempt. The source's watermark is
// the least of its producers' that are neither idle nor ended, and it ends
// once every producer's END is released. A row therefore reaches the
// downstream task about one checkpoint interval after it was written.
//
// A source's checkpoint holds the offset of the earliest record it still
// needs, its per-producer marks and how far it had passed on a release;
// a restored source reads again from there and the same rules skip what it
// had released.
//
// The topic is read from its start: a job that starts without checkpoints
// needs an empty topic (a new group id, or the topic deleted), or records
// of an earlier run would be released again. Records are not purged: the
// topic's retention must outlast the longest restore.
package repart

import (
	"context"
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors/kafka/group"
	"github.com/sluicehq/sluice/runtime"
)

// DefaultMaxBuffered is how many bytes a source keeps at most, waiting for
// commits (Config.MaxBuffered).
const DefaultMaxBuffered = 256 << 20

// Config describes one repartition topic as both ends see it.
type Config struct {
	Table      string          // a name for messages and metrics, e.g. "repartition 1 (GroupAggregate)"
	Topic      string          // e.g. "clicks-1-repartition"
	Partitions int             // P: the job's task count; the topic has exactly P partitions
	Schema     *runtime.Schema // the rows' columns
	KeyCols    []int           // the key columns; nil: every row goes to partition 0 (a global edge)
	// Client returns a fresh client on the job's brokers (TLS/SASL already
	// set); the caller closes idle conns of the transport.
	Client func() (*kafka.Client, *kafka.Transport)
	// MaxBuffered bounds the bytes a source keeps waiting for commits
	// (default DefaultMaxBuffered).
	MaxBuffered int64
}

// EnsureTopic creates the topic with cfg.Partitions partitions (replication:
// the brokers' default), or checks that an existing one has that many.
func EnsureTopic(ctx context.Context, cfg Config) error {
	if cfg.Partitions < 1 {
		return fmt.Errorf("repartition %s: topic %q needs at least one partition, not %d", cfg.Table, cfg.Topic, cfg.Partitions)
	}
	cl, tr := cfg.Client()
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	for range 3 {
		n, err := partitionCount(ctx, cl, cfg.Topic)
		if err != nil {
			return fmt.Errorf("repartition %s: %w", cfg.Table, err)
		}
		if n > 0 {
			if n != cfg.Partitions {
				return fmt.Errorf("repartition %s: kafka topic %q has %d partitions, the job needs %d (one per task): delete the topic or use another group id", cfg.Table, cfg.Topic, n, cfg.Partitions)
			}
			return nil
		}
		res, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: cfg.Topic, NumPartitions: cfg.Partitions, ReplicationFactor: -1}}})
		if err == nil {
			err = res.Errors[cfg.Topic]
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("repartition %s: cannot create kafka topic %q: %w", cfg.Table, cfg.Topic, err)
		}
		// Another process created it meanwhile: check it.
	}
	return fmt.Errorf("repartition %s: kafka topic %q: created elsewhere but not listed", cfg.Table, cfg.Topic)
}

// partitionCount is the number of partitions of topic, 0 when it does not
// exist.
func partitionCount(ctx context.Context, cl *kafka.Client, topic string) (int, error) {
	counts, err := group.PartitionCounts(ctx, cl, topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return counts[topic], nil
}
