package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/store"
)

func TestListDescribeRetentionAndDeleteStreams(t *testing.T) {
	ctx := context.Background()
	c := start(t)
	for _, s := range []string{"b", "a"} {
		if err := c.CreateStream(ctx, s, 2); err != nil {
			t.Fatal(err)
		}
	}
	names, err := c.ListStreams(ctx)
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("ListStreams = %q, %v; want [a b]", names, err)
	}
	sum, err := c.DescribeStreamSummary(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if sum.StreamName != "a" || sum.StreamStatus != "ACTIVE" || sum.OpenShardCount != 2 || sum.RetentionPeriodHours != 24 || sum.Created().IsZero() {
		t.Fatalf("DescribeStreamSummary = %+v", sum)
	}
	for _, h := range []int{72, 48, 48} { // up, down, unchanged
		if err := c.SetRetention(ctx, "a", h); err != nil {
			t.Fatalf("SetRetention(%d): %v", h, err)
		}
		if sum, err := c.DescribeStreamSummary(ctx, "a"); err != nil || sum.RetentionPeriodHours != h {
			t.Fatalf("after SetRetention(%d): %+v, %v", h, sum, err)
		}
	}
	if err := c.DeleteStream(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if names, err := c.ListStreams(ctx); err != nil || !slices.Equal(names, []string{"b"}) {
		t.Fatalf("ListStreams after delete = %q, %v; want [b]", names, err)
	}
	var se *store.Error
	if _, err := c.DescribeStreamSummary(ctx, "a"); !errors.As(err, &se) || se.Code != store.ErrResourceNotFound {
		t.Fatalf("DescribeStreamSummary of a deleted stream: %v; want ResourceNotFoundException", err)
	}
}

func TestSplitAndMergeShardsShowInTheLineage(t *testing.T) {
	ctx := context.Background()
	c := start(t)
	if err := c.CreateStream(ctx, "s", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.SplitShard(ctx, "s", "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	shards, err := c.ListShards(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 || shards[0].Open() || shards[1].ParentShardId != "shardId-000000000000" ||
		shards[1].HashKeyRange.EndingHashKey != "170141183460469231731687303715884105727" {
		t.Fatalf("after SplitShard: %+v", shards)
	}
	if err := c.MergeShards(ctx, "s", shards[1].ShardId, shards[2].ShardId); err != nil {
		t.Fatal(err)
	}
	shards, err = c.ListShards(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	last := shards[len(shards)-1]
	if len(shards) != 4 || !last.Open() || last.ParentShardId != shards[1].ShardId || last.AdjacentParentShardId != shards[2].ShardId {
		t.Fatalf("after MergeShards: %+v", shards)
	}
}

func TestListStreamsFollowsNextToken(t *testing.T) {
	ctx := context.Background()
	c := start(t)
	var want []string
	for i := range 105 { // the server answers 100 a page
		name := fmt.Sprintf("s%03d", i)
		if err := c.CreateStream(ctx, name, 1); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if got, err := c.ListStreams(ctx); err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListStreams = %d names, %v; want all %d in order", len(got), err, len(want))
	}
}
