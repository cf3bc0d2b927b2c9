package client

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/server"
)

// The client's admin calls wait out the stream states of a store that
// keeps them long (300 ms): records can be put right after CreateStream,
// a split can follow a split, UpdateShardCount's shards are there when it
// returns, and a deleted stream's name is free once DeleteStream returns.
func TestAdminCallsWaitForStreamStates(t *testing.T) {
	s, err := server.New(t.TempDir(), server.Options{StateDelay: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer s.Close()
	defer ts.Close()
	ctx := context.Background()
	c := New(ts.URL, ts.Client())
	if err := c.CreateStream(ctx, "w", 1); err != nil {
		t.Fatal(err)
	}
	if out, err := c.PutRecords(ctx, "w", []PutRecordsEntry{{Data: []byte("x"), PartitionKey: "k"}}); err != nil || out.FailedRecordCount != 0 {
		t.Fatalf("PutRecords right after CreateStream: %+v %v", out, err)
	}
	if err := c.UpdateShardCount(ctx, "w", 2); err != nil {
		t.Fatal(err)
	}
	if sum, err := c.DescribeStreamSummary(ctx, "w"); err != nil || sum.OpenShardCount != 2 || sum.StreamStatus != "ACTIVE" {
		t.Fatalf("after UpdateShardCount: %+v %v", sum, err)
	}
	if err := c.SplitShard(ctx, "w", "shardId-000000000001", "1000"); err != nil {
		t.Fatal(err)
	}
	if err := c.MergeShards(ctx, "w", "shardId-000000000003", "shardId-000000000004"); err != nil {
		t.Fatalf("MergeShards right after SplitShard: %v", err)
	}
	if err := c.DeleteStream(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateStream(ctx, "w", 1); err != nil {
		t.Fatalf("CreateStream right after DeleteStream: %v", err)
	}
}
