package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

// TestConcurrentPutsAcrossReshard writes from several goroutines while shards
// are split and merged, then checks that every acknowledged record reads back
// exactly once, in strictly increasing sequence order within its shard.
func TestConcurrentPutsAcrossReshard(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 2})

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]string{} // data -> shard
	)
	const writers, perWriter = 4, 30
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i += 3 {
				var recs []any
				for j := i; j < i+3; j++ {
					recs = append(recs, obj{"PartitionKey": fmt.Sprintf("w%d-%d", w, j), "Data": b64(fmt.Sprintf("w%d-%d", w, j))})
				}
				status, out := c.raw("PutRecords", obj{"StreamName": "s", "Records": recs})
				if status != 200 || out["FailedRecordCount"] != 0.0 {
					t.Errorf("PutRecords: %d %v", status, out)
					return
				}
				mu.Lock()
				for j, r := range list(out["Records"]) {
					acked[fmt.Sprintf("w%d-%d", w, i+j)] = field(r, "ShardId").(string)
				}
				mu.Unlock()
			}
		}()
	}
	var reshards atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		mid := store.EvenRanges(4)[1].Start.String()
		c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})
		time.Sleep(5 * time.Millisecond)
		c.do("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000003", "AdjacentShardToMerge": "shardId-000000000001"})
		reshards.Add(2)
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	if reshards.Load() != 2 {
		t.Fatal("resharding did not finish")
	}

	seen := map[string]string{}
	for _, sh := range list(c.do("ListShards", obj{"StreamName": "s"})["Shards"]) {
		id := field(sh, "ShardId").(string)
		recs, _ := c.getAll(c.iterator("s", id, "TRIM_HORIZON", nil))
		prev := ""
		for _, r := range recs {
			n := field(r, "SequenceNumber").(string)
			if logSeq(t, n) == 0 || n <= prev {
				t.Fatalf("shard %s: sequence %s after %s", id, n, prev)
			}
			prev = n
			data := field(r, "Data").(string)
			if _, dup := seen[data]; dup {
				t.Fatalf("record %s read twice", data)
			}
			seen[data] = id
		}
	}
	if len(seen) != writers*perWriter || len(acked) != writers*perWriter {
		t.Fatalf("read %d records, acknowledged %d, want %d", len(seen), len(acked), writers*perWriter)
	}
	for data, shard := range acked {
		if seen[b64(data)] != shard {
			t.Fatalf("record %s acknowledged on %s, read on %q", data, shard, seen[b64(data)])
		}
	}
}
