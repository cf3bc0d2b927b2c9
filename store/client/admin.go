package client

import (
	"context"
	"time"
)

// ListStreams returns the names of every stream, sorted, following
// NextToken until the list is complete.
func (c *Client) ListStreams(ctx context.Context) ([]string, error) {
	var all []string
	next := ""
	for {
		in := map[string]any{}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			StreamNames    []string
			HasMoreStreams bool
			NextToken      string
		}
		if err := c.call(ctx, "ListStreams", in, &out); err != nil {
			return nil, err
		}
		all = append(all, out.StreamNames...)
		if !out.HasMoreStreams || out.NextToken == "" || len(out.StreamNames) == 0 {
			return all, nil
		}
		next = out.NextToken
	}
}

// StreamSummary is the answer to DescribeStreamSummary.
type StreamSummary struct {
	StreamName           string
	StreamARN            string
	StreamStatus         string // ACTIVE, …
	RetentionPeriodHours int
	OpenShardCount       int
	// StreamCreationTimestamp is in seconds since the epoch.
	StreamCreationTimestamp float64
}

// Created is the stream's creation time.
func (s StreamSummary) Created() time.Time {
	return time.UnixMilli(int64(s.StreamCreationTimestamp * 1000))
}

// DescribeStreamSummary describes stream without its shards (ListShards
// lists them).
func (c *Client) DescribeStreamSummary(ctx context.Context, stream string) (*StreamSummary, error) {
	var out struct{ StreamDescriptionSummary StreamSummary }
	if err := c.call(ctx, "DescribeStreamSummary", struct{ StreamName string }{stream}, &out); err != nil {
		return nil, err
	}
	return &out.StreamDescriptionSummary, nil
}

// DeleteStream deletes stream and its records, and waits until it is gone.
func (c *Client) DeleteStream(ctx context.Context, stream string) error {
	if err := c.call(ctx, "DeleteStream", struct{ StreamName string }{stream}, nil); err != nil {
		return err
	}
	return c.WaitGone(ctx, stream)
}

// SplitShard closes shard and creates two children: one for its hash keys
// below newStartingHashKey (decimal), one for the rest; it waits until the
// stream is ACTIVE again.
func (c *Client) SplitShard(ctx context.Context, stream, shard, newStartingHashKey string) error {
	in := struct{ StreamName, ShardToSplit, NewStartingHashKey string }{stream, shard, newStartingHashKey}
	if err := c.call(ctx, "SplitShard", in, nil); err != nil {
		return err
	}
	return c.WaitActive(ctx, stream)
}

// MergeShards closes two adjacent shards and creates one child covering
// both their hash key ranges; it waits until the stream is ACTIVE again.
func (c *Client) MergeShards(ctx context.Context, stream, shard, adjacent string) error {
	in := struct{ StreamName, ShardToMerge, AdjacentShardToMerge string }{stream, shard, adjacent}
	if err := c.call(ctx, "MergeShards", in, nil); err != nil {
		return err
	}
	return c.WaitActive(ctx, stream)
}

// UpdateShardCount reshards stream to target shards of equal hash key
// ranges (UNIFORM_SCALING) and waits until it is ACTIVE again.
func (c *Client) UpdateShardCount(ctx context.Context, stream string, target int) error {
	in := struct {
		StreamName       string
		TargetShardCount int
		ScalingType      string
	}{stream, target, "UNIFORM_SCALING"}
	if err := c.call(ctx, "UpdateShardCount", in, nil); err != nil {
		return err
	}
	return c.WaitActive(ctx, stream)
}

// SetRetention sets how many hours stream keeps its records, with
// IncreaseStreamRetentionPeriod or DecreaseStreamRetentionPeriod as the
// current retention requires (nothing when it is already hours).
func (c *Client) SetRetention(ctx context.Context, stream string, hours int) error {
	sum, err := c.DescribeStreamSummary(ctx, stream)
	if err != nil {
		return err
	}
	op := "IncreaseStreamRetentionPeriod"
	switch {
	case hours == sum.RetentionPeriodHours:
		return nil
	case hours < sum.RetentionPeriodHours:
		op = "DecreaseStreamRetentionPeriod"
	}
	in := struct {
		StreamName           string
		RetentionPeriodHours int
	}{stream, hours}
	return c.call(ctx, op, in, nil)
}
