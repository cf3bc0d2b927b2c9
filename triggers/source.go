package triggers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// Source is where a trigger's records come from: the partitions read in
// order (a stream's shards), each from a position. A store stream is one
// (StreamSource); another kind of source implements the same two methods.
type Source interface {
	// Name names the source in errors and metrics; ARN is its
	// eventSourceARN.
	Name() string
	ARN() string
	// Partitions lists the partitions, with their parents: a partition is
	// read once its parents are read to their end.
	Partitions(ctx context.Context) ([]Partition, error)
	// Open returns a reader of partition p from a position.
	Open(ctx context.Context, p Partition, from From) (Reader, error)
}

// From is where a partition is read from: after the record After, or,
// when After is "", from Start (TrimHorizon, Latest, or the first record
// that arrived at or after Timestamp for AtTimestamp).
type From struct {
	After     string
	Start     string
	Timestamp time.Time
}

// Partition is one ordered unit of a source: a shard.
type Partition struct {
	ID      string
	Parents []string
}

// Reader reads one partition in order.
type Reader interface {
	// Next returns up to limit records, waiting up to wait for the first
	// one; end is true once the partition is read to its end (a closed
	// shard).
	Next(ctx context.Context, limit int, wait time.Duration) (recs []Record, end bool, err error)
}

// The starting positions.
const (
	TrimHorizon = client.TrimHorizon
	Latest      = client.Latest
	AtTimestamp = client.AtTimestamp
)

// StreamSource reads a stream of the store through c.
type StreamSource struct {
	Client *client.Client
	Stream string
	arn    string
}

// Name implements Source.
func (s *StreamSource) Name() string { return s.Stream }

// ARN implements Source: the stream's ARN, once Partitions has run.
func (s *StreamSource) ARN() string {
	if s.arn == "" {
		return "arn:aws:kinesis:us-east-1:000000000000:stream/" + s.Stream
	}
	return s.arn
}

// Partitions implements Source.
func (s *StreamSource) Partitions(ctx context.Context) ([]Partition, error) {
	if s.arn == "" {
		sum, err := s.Client.DescribeStreamSummary(ctx, s.Stream)
		if err != nil {
			return nil, err
		}
		s.arn = sum.StreamARN
	}
	shards, err := s.Client.ListShards(ctx, s.Stream)
	if err != nil {
		return nil, err
	}
	ps := make([]Partition, len(shards))
	for i, sh := range shards {
		ps[i].ID = sh.ShardId
		for _, p := range []string{sh.ParentShardId, sh.AdjacentParentShardId} {
			if p != "" {
				ps[i].Parents = append(ps[i].Parents, p)
			}
		}
	}
	return ps, nil
}

// Open implements Source.
func (s *StreamSource) Open(ctx context.Context, p Partition, from From) (Reader, error) {
	in := client.GetShardIteratorInput{StreamName: s.Stream, ShardId: p.ID, ShardIteratorType: from.Start}
	switch {
	case from.After != "":
		in.ShardIteratorType, in.StartingSequenceNumber = client.AfterSequenceNumber, from.After
	case from.Start == AtTimestamp:
		ts := from.Timestamp
		in.Timestamp = &ts
	}
	it, err := s.Client.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("stream %s shard %s: %w", s.Stream, p.ID, err)
	}
	return &shardReader{c: s.Client, it: it}, nil
}

type shardReader struct {
	c  *client.Client
	it string
}

func (r *shardReader) Next(ctx context.Context, limit int, wait time.Duration) ([]Record, bool, error) {
	if r.it == "" {
		return nil, true, nil
	}
	out, err := r.c.GetRecordsWait(ctx, r.it, limit, wait)
	if err != nil {
		return nil, false, err
	}
	recs := make([]Record, len(out.Records))
	for i, x := range out.Records {
		recs[i] = Record{SequenceNumber: x.SequenceNumber, PartitionKey: x.PartitionKey, Data: x.Data,
			Arrival: time.UnixMilli(int64(x.ApproximateArrivalTimestamp * 1000))}
	}
	r.it = out.NextShardIterator
	return recs, r.it == "", nil
}

// Destination receives the record of each batch a trigger gave up on.
type Destination interface {
	Send(ctx context.Context, shard string, failure []byte) error
}

// StreamDestination puts each failure record to a stream of the store,
// keyed by the shard it describes.
type StreamDestination struct {
	Client *client.Client
	Stream string
}

// Send implements Destination.
func (d *StreamDestination) Send(ctx context.Context, shard string, failure []byte) error {
	out, err := d.Client.PutRecords(ctx, d.Stream, []client.PutRecordsEntry{{Data: failure, PartitionKey: shard}})
	if err != nil {
		return err
	}
	if out.FailedRecordCount > 0 {
		return errors.New("stream " + d.Stream + ": " + out.Records[0].ErrorMessage)
	}
	return nil
}

// FuncDestination is a Destination of a function (e.g. publishing to a
// topic).
type FuncDestination func(ctx context.Context, shard string, failure []byte) error

// Send implements Destination.
func (f FuncDestination) Send(ctx context.Context, shard string, failure []byte) error {
	return f(ctx, shard, failure)
}
