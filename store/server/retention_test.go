package server

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetentionDeletesOldSegments(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s, c := startServer(t, t.TempDir(), Options{Now: now, SegmentBytes: 1 << 10})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	const shard = "shardId-000000000000"
	payload := b64(strings.Repeat("x", 600))
	for i := 0; i < 4; i++ {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": payload})
	}
	old := c.iterator("s", shard, "TRIM_HORIZON", nil)
	offset.Store(int64(25 * time.Hour))
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("fresh")})
	s.enforceRetention()

	recs, _ := c.getAll(c.iterator("s", shard, "TRIM_HORIZON", nil))
	if len(recs) == 0 || len(recs) >= 5 || field(recs[len(recs)-1], "Data") != b64("fresh") {
		t.Fatalf("after retention TRIM_HORIZON reads %d records: %s", len(recs), seqs(recs))
	}
	first := field(recs[0], "SequenceNumber")
	desc := c.do("DescribeStream", obj{"StreamName": "s"})["StreamDescription"]
	if got := field(field(list(field(desc, "Shards"))[0], "SequenceNumberRange"), "StartingSequenceNumber"); got != first {
		t.Fatalf("StartingSequenceNumber %v, first readable %v", got, first)
	}
	// The iterator issued 25 hours ago has expired; a fresh one at a trimmed
	// sequence number continues at the trim horizon.
	c.fail("GetRecords", obj{"ShardIterator": old}, "ExpiredIteratorException")
	got, _ := c.getAll(c.iterator("s", shard, "AT_SEQUENCE_NUMBER", obj{"StartingSequenceNumber": withSeq(t, first, 1)}))
	if seqs(got) != seqs(recs) {
		t.Fatalf("AT_SEQUENCE_NUMBER 1 after trim: %s, want %s", seqs(got), seqs(recs))
	}
}
