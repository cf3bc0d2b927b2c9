package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/store"
)

// sdkClient returns an AWS SDK Kinesis client for url signing with key/secret.
func sdkClient(url, key, secret string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "test"}, nil
		}),
		Retryer: aws.NopRetryer{},
	})
}

// TestSDKCompatibility drives the server with the AWS SDK for Go v2, a client
// written elsewhere, signing every request with SigV4.
func TestSDKCompatibility(t *testing.T) {
	creds := map[string]string{"AKIDTEST": "test-secret"}
	_, ts := serveSigned(t, creds)
	ctx := context.Background()
	kc := sdkClient(ts.URL, "AKIDTEST", "test-secret")
	name := aws.String("sdk")

	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	waiter := kinesis.NewStreamExistsWaiter(kc)
	if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, 10*time.Second); err != nil {
		t.Fatalf("StreamExists waiter: %v", err)
	}
	var inUse *types.ResourceInUseException
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); !errors.As(err, &inUse) {
		t.Fatalf("duplicate CreateStream: %v", err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount) != 2 || sum.StreamDescriptionSummary.StreamCreationTimestamp == nil {
		t.Fatalf("DescribeStreamSummary: %+v %v", sum, err)
	}
	streams, err := kc.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || fmt.Sprint(streams.StreamNames) != "[sdk]" {
		t.Fatalf("ListStreams: %+v %v", streams, err)
	}
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	if err != nil || len(shards.Shards) != 2 {
		t.Fatalf("ListShards: %+v %v", shards, err)
	}
	shard0 := shards.Shards[0].ShardId

	before := time.Now().Add(-time.Second)
	pr, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), ExplicitHashKey: aws.String("0"), Data: []byte("first")})
	if err != nil || aws.ToString(pr.ShardId) != aws.ToString(shard0) || len(aws.ToString(pr.SequenceNumber)) != store.SequenceNumberLen {
		t.Fatalf("PutRecord: %+v %v", pr, err)
	}
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 10; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("p", i)), Data: []byte(fmt.Sprint("r", i))})
	}
	prs, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, Records: entries})
	if err != nil || aws.ToInt32(prs.FailedRecordCount) != 0 || len(prs.Records) != 10 {
		t.Fatalf("PutRecords: %+v %v", prs, err)
	}

	// Read every shard from TRIM_HORIZON: all 11 records come back once.
	read := func(shard *string, in kinesis.GetShardIteratorInput) []types.Record {
		t.Helper()
		in.StreamName, in.ShardId = name, shard
		it, err := kc.GetShardIterator(ctx, &in)
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", in.ShardIteratorType, err)
		}
		var out []types.Record
		iter := it.ShardIterator
		for iter != nil {
			gr, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(3)})
			if err != nil {
				t.Fatalf("GetRecords: %v", err)
			}
			out = append(out, gr.Records...)
			if len(gr.Records) == 0 {
				break
			}
			iter = gr.NextShardIterator
		}
		return out
	}
	total := 0
	for _, sh := range shards.Shards {
		total += len(read(sh.ShardId, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeTrimHorizon}))
	}
	if total != 11 {
		t.Fatalf("read %d records, want 11", total)
	}
	all := read(shard0, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if string(all[0].Data) != "first" || aws.ToString(all[0].PartitionKey) != "k" || all[0].ApproximateArrivalTimestamp.Before(before) {
		t.Fatalf("first record: %+v", all[0])
	}
	if got := read(shard0, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: pr.SequenceNumber}); len(got) != len(all) {
		t.Fatalf("AT_SEQUENCE_NUMBER read %d, want %d", len(got), len(all))
	}
	if got := read(shard0, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: pr.SequenceNumber}); len(got) != len(all)-1 {
		t.Fatalf("AFTER_SEQUENCE_NUMBER read %d, want %d", len(got), len(all)-1)
	}
	if got := read(shard0, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(before)}); len(got) != len(all) {
		t.Fatalf("AT_TIMESTAMP read %d, want %d", len(got), len(all))
	}
	if got := read(shard0, kinesis.GetShardIteratorInput{ShardIteratorType: types.ShardIteratorTypeLatest}); len(got) != 0 {
		t.Fatalf("LATEST read %d, want 0", len(got))
	}

	// Split then merge back; the parents close and their children take over.
	mid := store.EvenRanges(4)[1].Start.String()
	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: shard0, NewStartingHashKey: aws.String(mid)}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	if _, err := kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: name, ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")}); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	shards, err = kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	if err != nil || len(shards.Shards) != 5 || aws.ToString(shards.Shards[4].AdjacentParentShardId) != "shardId-000000000003" {
		t.Fatalf("ListShards after resharding: %+v %v", shards, err)
	}
	if shards.Shards[0].SequenceNumberRange.EndingSequenceNumber == nil {
		t.Fatalf("split parent is not closed: %+v", shards.Shards[0])
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, ShardId: shard0, ShardIteratorType: types.ShardIteratorTypeLatest})
	if err != nil {
		t.Fatal(err)
	}
	gr, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || gr.NextShardIterator != nil || len(gr.ChildShards) != 2 {
		t.Fatalf("GetRecords at the end of a closed shard: %+v %v", gr, err)
	}

	// Tags and retention.
	if _, err := kc.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: name, Tags: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := kc.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: name})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "test" {
		t.Fatalf("ListTagsForStream: %+v %v", tags, err)
	}
	if _, err := kc.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: name, RetentionPeriodHours: aws.Int32(48)}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: name, RetentionPeriodHours: aws.Int32(24)}); err != nil {
		t.Fatal(err)
	}

	// Errors arrive as the SDK's typed errors.
	var notFound *types.ResourceNotFoundException
	if _, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("missing")}); !errors.As(err, &notFound) {
		t.Fatalf("DescribeStream of a missing stream: %v", err)
	}
	var invalid *types.InvalidArgumentException
	if _, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("bogus")}); !errors.As(err, &invalid) {
		t.Fatalf("GetRecords with a bogus iterator: %v", err)
	}
	if _, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: name}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	if _, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name}); !errors.As(err, &notFound) {
		t.Fatalf("DescribeStreamSummary after delete: %v", err)
	}

	// SigV4: a wrong secret or an unknown key is refused.
	for _, bad := range []*kinesis.Client{sdkClient(ts.URL, "AKIDTEST", "wrong"), sdkClient(ts.URL, "UNKNOWN", "test-secret")} {
		_, err := bad.ListStreams(ctx, &kinesis.ListStreamsInput{})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || (apiErr.ErrorCode() != "InvalidSignatureException" && apiErr.ErrorCode() != "UnrecognizedClientException") {
			t.Fatalf("badly signed ListStreams: %v", err)
		}
	}
}
