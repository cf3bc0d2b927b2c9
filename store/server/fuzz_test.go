package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary bodies to every operation: the server must
// answer each with a JSON body and never panic.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"CreateStream", `{"StreamName":"s","ShardCount":2}`},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGk="}`},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","ExplicitHashKey":"99999999999999999999999999999999999999999","Data":"aGk="}`},
		{"PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"!!"}]}`},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1e300}`},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":-1e300}`},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AFTER_SEQUENCE_NUMBER","StartingSequenceNumber":"18446744073709551615"}`},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AFTER_SEQUENCE_NUMBER","StartingSequenceNumber":"10000000000000000000000000000000000018446744073709551615"}`},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000001","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"19999999999999999999999999999999999999999999999999999999"}`},
		{"GetRecords", `{"ShardIterator":"AQ","Limit":-1}`},
		{"ListShards", `{"NextToken":"AAAA"}`},
		{"ListStreams", `{"NextToken":"%%%"}`},
		{"SplitShard", `{"StreamName":"s","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1"}`},
		{"MergeShards", `{"StreamName":"s","ShardToMerge":"shardId-000000000001","AdjacentShardToMerge":"shardId-000000000002"}`},
		{"AddTagsToStream", `{"StreamName":"s","Tags":{"":"x"}}`},
		{"DescribeStream", `{"StreamARN":"arn:aws:kinesis:x:1:stream/"}`},
		{"DeleteStream", `null`},
		{"IncreaseStreamRetentionPeriod", `[]`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.body)
	}
	s, err := New(f.TempDir(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, op, body string) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: response is not JSON: %q", op, body, rec.Body)
		}
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %q: internal error %s", op, body, rec.Body)
		}
	})
}
