package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// CreateStream creates a stream of shardCount shards and waits until it is
// ACTIVE.
func (c *Client) CreateStream(ctx context.Context, stream string, shardCount int) error {
	in := struct {
		StreamName string
		ShardCount int
	}{stream, shardCount}
	if err := c.call(ctx, "CreateStream", in, nil); err != nil {
		return err
	}
	return c.WaitActive(ctx, stream)
}

// HashKeyRange is the range of 128-bit hash keys of a shard, in decimal.
type HashKeyRange struct {
	StartingHashKey string
	EndingHashKey   string
}

// SequenceNumberRange is the sequence numbers of a shard; EndingSequenceNumber
// is set once the shard is closed (split or merged).
type SequenceNumberRange struct {
	StartingSequenceNumber string
	EndingSequenceNumber   string `json:",omitempty"`
}

// Shard describes one shard of a stream.
type Shard struct {
	ShardId               string
	ParentShardId         string `json:",omitempty"`
	AdjacentParentShardId string `json:",omitempty"`
	HashKeyRange          HashKeyRange
	SequenceNumberRange   SequenceNumberRange
}

// Open reports whether the shard still takes records.
func (s Shard) Open() bool { return s.SequenceNumberRange.EndingSequenceNumber == "" }

// ListShards returns every shard of stream (open and closed), following
// NextToken until the list is complete.
func (c *Client) ListShards(ctx context.Context, stream string) ([]Shard, error) {
	var all []Shard
	next := ""
	for {
		in := map[string]any{}
		if next != "" {
			in["NextToken"] = next
		} else {
			in["StreamName"] = stream
		}
		var out struct {
			Shards    []Shard
			NextToken string
		}
		if err := c.call(ctx, "ListShards", in, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Shards...)
		if out.NextToken == "" || len(out.Shards) == 0 {
			return all, nil
		}
		next = out.NextToken
	}
}

// PutRecordsEntry is one record to put. Data is sent base64-encoded.
type PutRecordsEntry struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string `json:",omitempty"`
}

// PutRecordsResultEntry is the result of one record: SequenceNumber and
// ShardId when it was written, ErrorCode and ErrorMessage when not.
type PutRecordsResultEntry struct {
	SequenceNumber string `json:",omitempty"`
	ShardId        string `json:",omitempty"`
	ErrorCode      string `json:",omitempty"`
	ErrorMessage   string `json:",omitempty"`
}

// PutRecordsOutput is the answer to PutRecords: one result per record, in
// the order of the request.
type PutRecordsOutput struct {
	FailedRecordCount int
	Records           []PutRecordsResultEntry
}

// PutRecords writes records (at most 500 and 5 MiB) to stream. A nil error
// may still hold failed records: see FailedRecordCount and each result.
func (c *Client) PutRecords(ctx context.Context, stream string, records []PutRecordsEntry) (*PutRecordsOutput, error) {
	data, err := c.send(ctx, "PutRecords", nil, appendPutRecords(nil, stream, records))
	if err != nil {
		return nil, err
	}
	var out PutRecordsOutput
	if decodePutRecords(data, &out) {
		return &out, nil
	}
	out = PutRecordsOutput{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("PutRecords: cannot decode response: %w", err)
	}
	return &out, nil
}

// Shard iterator types.
const (
	TrimHorizon         = "TRIM_HORIZON"
	Latest              = "LATEST"
	AtSequenceNumber    = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber = "AFTER_SEQUENCE_NUMBER"
	AtTimestamp         = "AT_TIMESTAMP"
)

// GetShardIteratorInput asks for an iterator of one shard.
type GetShardIteratorInput struct {
	StreamName             string
	ShardId                string
	ShardIteratorType      string     // TrimHorizon, Latest, …
	StartingSequenceNumber string     `json:",omitempty"` // for At/AfterSequenceNumber
	Timestamp              *time.Time `json:"-"`          // for AtTimestamp
}

// GetShardIterator returns an iterator to read one shard from a position.
func (c *Client) GetShardIterator(ctx context.Context, in GetShardIteratorInput) (string, error) {
	body := struct {
		GetShardIteratorInput
		Timestamp *float64 `json:",omitempty"`
	}{GetShardIteratorInput: in}
	if in.Timestamp != nil {
		ts := float64(in.Timestamp.UnixMilli()) / 1000
		body.Timestamp = &ts
	}
	var out struct{ ShardIterator string }
	if err := c.call(ctx, "GetShardIterator", body, &out); err != nil {
		return "", err
	}
	return out.ShardIterator, nil
}

// Record is one record read.
type Record struct {
	SequenceNumber              string
	ApproximateArrivalTimestamp float64 // seconds since the epoch
	Data                        []byte
	PartitionKey                string
}

// ChildShard is a shard that follows a closed one.
type ChildShard struct {
	ShardId      string
	ParentShards []string
	HashKeyRange HashKeyRange
}

// GetRecordsOutput is the answer to GetRecords. NextShardIterator is empty
// once a closed shard has been read to its end (ChildShards then name what
// follows).
type GetRecordsOutput struct {
	Records            []Record
	NextShardIterator  string
	MillisBehindLatest int64
	ChildShards        []ChildShard
}

// GetRecords reads up to limit records (0: the server's maximum) from
// iterator.
func (c *Client) GetRecords(ctx context.Context, iterator string, limit int) (*GetRecordsOutput, error) {
	return c.GetRecordsWait(ctx, iterator, limit, 0)
}

// LongPollHeader asks Sluice's store to hold a GetRecords that finds no
// record for up to this many milliseconds, answering as soon as one is
// committed (or the shard closes). Kinesis itself ignores it and answers at
// once.
const LongPollHeader = "X-Sluice-Long-Poll"

// MaxLongPoll is the longest wait the store accepts.
const MaxLongPoll = 10 * time.Second

// GetRecordsWait is GetRecords with a long poll of up to wait (0: none; at
// most MaxLongPoll) when the shard has nothing new. A caller must still
// expect an empty answer before wait has passed: a server without long
// polling answers at once.
func (c *Client) GetRecordsWait(ctx context.Context, iterator string, limit int, wait time.Duration) (*GetRecordsOutput, error) {
	in := struct {
		ShardIterator string
		Limit         int `json:",omitempty"`
	}{iterator, limit}
	var hdr map[string]string
	if wait > 0 {
		ms := min(wait, MaxLongPoll).Milliseconds()
		hdr = map[string]string{LongPollHeader: strconv.FormatInt(max(ms, 1), 10)}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("GetRecords: cannot encode request: %w", err)
	}
	data, err := c.send(ctx, "GetRecords", hdr, body)
	if err != nil {
		return nil, err
	}
	var out GetRecordsOutput
	if decodeGetRecords(data, &out) {
		return &out, nil
	}
	out = GetRecordsOutput{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("GetRecords: cannot decode response: %w", err)
	}
	return &out, nil
}
