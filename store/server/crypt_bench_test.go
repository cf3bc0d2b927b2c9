package server

import (
	"fmt"
	"testing"
	"time"
)

// benchShardIterators returns a TRIM_HORIZON iterator of every shard of
// benchStream.
func benchShardIterators(b *testing.B, c *benchClient) []string {
	b.Helper()
	var its []string
	for i := range benchShards {
		var out struct{ ShardIterator string }
		if err := c.call("GetShardIterator", map[string]any{"StreamName": benchStream, "ShardId": fmt.Sprintf("shardId-%012d", i),
			"ShardIteratorType": "TRIM_HORIZON"}, &out); err != nil {
			b.Fatal(err)
		}
		its = append(its, out.ShardIterator)
	}
	return its
}

// getRound reads every shard from its iterator until it has no records
// left, moves the iterators on and returns how many records it read.
func getRound(c *benchClient, its []string) (int, error) {
	n := 0
	for i := range its {
		for {
			var out struct {
				NextShardIterator string
				Records           []struct{}
			}
			if err := c.call("GetRecords", map[string]any{"ShardIterator": its[i], "Limit": 10000}, &out); err != nil {
				return n, err
			}
			its[i] = out.NextShardIterator
			n += len(out.Records)
			if len(out.Records) == 0 {
				break
			}
		}
	}
	return n, nil
}

// BenchmarkStreamEncryption compares a stream written and read in
// plaintext with one encrypted at rest (StartStreamEncryption), in the same
// b.N loop, interleaved: each iteration does a PutRecords round (as
// BenchmarkPutRecordsGroupCommit) into each, then reads the round's
// records back with GetRecords from each, timing each part on its own.
// enc/plain-% is the encrypted rate as a percentage of the plaintext one.
func BenchmarkStreamEncryption(b *testing.B) {
	plain := startBenchServer(b, Options{})
	enc := startBenchServer(b, Options{})
	if err := enc.call("StartStreamEncryption", map[string]any{"StreamName": benchStream, "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}, nil); err != nil {
		b.Fatal(err)
	}
	bodies := benchPutRecordsBodies(b, 64, 3)
	plainIts, encIts := benchShardIterators(b, plain), benchShardIterators(b, enc)
	var putPlain, putEnc, getPlain, getEnc time.Duration
	timed := func(d *time.Duration, f func() error) {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*d += time.Since(t0)
	}
	get := func(c *benchClient, its []string) func() error {
		return func() error {
			n, err := getRound(c, its)
			if err == nil && n != benchIterRecords {
				b.Fatalf("read %d records, want %d", n, benchIterRecords)
			}
			return err
		}
	}
	b.ResetTimer()
	for i := range b.N {
		timed(&putPlain, func() error { return putRound(plain, bodies, i) })
		timed(&putEnc, func() error { return putRound(enc, bodies, i) })
		timed(&getPlain, get(plain, plainIts))
		timed(&getEnc, get(enc, encIts))
	}
	b.StopTimer()
	mb := float64(b.N) * benchIterRecords * benchRecordBytes / 1e6
	b.ReportMetric(mb/putPlain.Seconds(), "put-plain-MB/s")
	b.ReportMetric(mb/putEnc.Seconds(), "put-enc-MB/s")
	b.ReportMetric(100*putPlain.Seconds()/putEnc.Seconds(), "put-enc/plain-%")
	b.ReportMetric(mb/getPlain.Seconds(), "get-plain-MB/s")
	b.ReportMetric(mb/getEnc.Seconds(), "get-enc-MB/s")
	b.ReportMetric(100*getPlain.Seconds()/getEnc.Seconds(), "get-enc/plain-%")
}
