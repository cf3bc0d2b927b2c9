package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/store/client"
	shardlineage "github.com/sluicehq/sluice/store/lineage"
)

// call sends one operation to the store with raw HTTP.
func call(t *testing.T, url, op string, in any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("%s: %s: %s", op, resp.Status, b.String())
	}
}

func hashKey(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("hash key %q", s)
	}
	return n
}

// openShards returns the open shards of stream, by starting hash key.
func openShards(t *testing.T, c *client.Client, stream string) []client.Shard {
	t.Helper()
	all, err := c.ListShards(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	var open []client.Shard
	for _, sh := range all {
		if sh.Open() {
			open = append(open, sh)
		}
	}
	sort.Slice(open, func(i, j int) bool {
		return hashKey(t, open[i].HashKeyRange.StartingHashKey).Cmp(hashKey(t, open[j].HashKeyRange.StartingHashKey)) < 0
	})
	return open
}

// split splits the open shard with the widest hash range in its middle.
func split(t *testing.T, url string, c *client.Client, stream string) {
	t.Helper()
	var best client.Shard
	var width *big.Int
	for _, sh := range openShards(t, c, stream) {
		w := new(big.Int).Sub(hashKey(t, sh.HashKeyRange.EndingHashKey), hashKey(t, sh.HashKeyRange.StartingHashKey))
		if width == nil || w.Cmp(width) > 0 {
			best, width = sh, w
		}
	}
	mid := new(big.Int).Add(hashKey(t, best.HashKeyRange.StartingHashKey), new(big.Int).Rsh(width, 1))
	mid.Add(mid, big.NewInt(1))
	call(t, url, "SplitShard", map[string]string{"StreamName": stream, "ShardToSplit": best.ShardId, "NewStartingHashKey": mid.String()})
	if err := c.WaitActive(context.Background(), stream); err != nil {
		t.Fatal(err)
	}
}

// merge merges the first two open shards (by hash range).
func merge(t *testing.T, url string, c *client.Client, stream string) {
	t.Helper()
	open := openShards(t, c, stream)
	if len(open) < 2 {
		t.Fatalf("%d open shards, cannot merge", len(open))
	}
	call(t, url, "MergeShards", map[string]string{"StreamName": stream, "ShardToMerge": open[0].ShardId, "AdjacentShardToMerge": open[1].ShardId})
	if err := c.WaitActive(context.Background(), stream); err != nil {
		t.Fatal(err)
	}
}

// keyed puts rows from..to-1, row i with partition key k<i mod 16> (also
// its name column).
func keyed(t *testing.T, c *client.Client, stream string, from, to int) {
	t.Helper()
	for from < to {
		n := min(to-from, 500)
		var rows [][]runtime.Value
		for i := from; i < from+n; i++ {
			rows = append(rows, []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue(fmt.Sprint("k", i%16)),
				runtime.NullValue(runtime.Double), runtime.TimeValue(base + int64(i))})
		}
		var recs []client.PutRecordsEntry
		for i, d := range encode(rows) {
			recs = append(recs, client.PutRecordsEntry{Data: d, PartitionKey: rows[i][1].S})
		}
		out, err := c.PutRecords(context.Background(), stream, recs)
		if err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("PutRecords: %+v, %v", out, err)
		}
		from += n
	}
}

// TestSourceReshard reshards a stream before a job starts (a closed parent
// with records, open children with more) and twice while it runs: every
// record is read once, and per partition key in the order written, so the
// records of a parent before those of its children.
func TestSourceReshard(t *testing.T) {
	for _, op := range []string{"split", "merge"} {
		for _, par := range []int{1, 2} {
			t.Run(fmt.Sprint(op, par), func(t *testing.T) {
				shards, reshard := 2, split
				if op == "merge" {
					shards, reshard = 4, merge
				}
				url, c := startStore(t, "in", shards)
				// More records in each first parent than one GetRecords
				// returns, so that reading a child early would show.
				const total = 9000
				keyed(t, c, "in", 0, 6000)
				reshard(t, url, c, "in")
				keyed(t, c, "in", 6000, 7000)
				got, _ := readJob(t, map[string]string{"stream": "in", "endpoint": url}, par, total, func(col *rttest.Collector) {
					deadline := time.Now().Add(30 * time.Second)
					for col.Len() == 0 && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					keyed(t, c, "in", 7000, 7600)
					reshard(t, url, c, "in")
					keyed(t, c, "in", 7600, 8400)
					time.Sleep(20 * time.Millisecond)
					reshard(t, url, c, "in")
					keyed(t, c, "in", 8400, total)
				})
				rows := got.Rows()
				if len(rows) != total {
					t.Fatalf("read %d rows, want %d", len(rows), total)
				}
				var ids []int64
				last := map[string]int64{}
				for _, r := range rows {
					id, key := r[0].I, r[1].S
					if prev, ok := last[key]; ok && id <= prev {
						t.Fatalf("key %s: row %d read after row %d", key, id, prev)
					}
					last[key] = id
					ids = append(ids, id)
				}
				slices.Sort(ids)
				for i, id := range ids {
					if id != int64(i) {
						t.Fatalf("rows read, sorted: #%d is %d (a row missing or twice)", i, id)
					}
				}
			})
		}
	}
}

func ids(ns []*lshard) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

// TestLineageEnd: a child waits for every parent, including one not known
// yet (a child of a shard still being read), and goes to the subtask that
// ended the last of them.
func TestLineageEnd(t *testing.T) {
	l := &lineage{cfg: &config{startup: client.TrimHorizon}, childStartup: client.TrimHorizon, parallelism: 2, shards: map[string]*lshard{}, queue: make([][]*lshard, 2)}
	l.listed = true
	l.g = shardlineage.New([]client.Shard{{ShardId: "a"}, {ShardId: "b"}})
	l.assign(l.add("a"), 0)
	l.assign(l.add("b"), 1)
	if a, b := ids(l.take(0)), ids(l.take(1)); !slices.Equal(a, []string{"a"}) || !slices.Equal(b, []string{"b"}) {
		t.Fatalf("dealt %v %v", a, b)
	}
	// b splits into c and d; d merges with a into e.
	l.end(1, "b", []client.ChildShard{{ShardId: "c", ParentShards: []string{"b"}}, {ShardId: "d", ParentShards: []string{"b"}}})
	if got := ids(l.take(1)); !slices.Equal(got, []string{"c", "d"}) {
		t.Fatalf("subtask 1 took %v, want c d", got)
	}
	l.end(0, "a", []client.ChildShard{{ShardId: "e", ParentShards: []string{"a", "d"}}})
	if got := ids(l.take(0)); got != nil {
		t.Fatalf("e taken (%v) before d ended", got)
	}
	l.end(1, "d", []client.ChildShard{{ShardId: "e", ParentShards: []string{"a", "d"}}})
	if got := ids(l.take(1)); !slices.Equal(got, []string{"e"}) {
		t.Fatalf("subtask 1 took %v, want e", got)
	}
	if n := l.shards["e"]; n.Index != 4 || n.startup != client.TrimHorizon {
		t.Fatalf("e: index %d startup %s", n.Index, n.startup)
	}
	// A child whose other parent is unknown (created after the start) waits.
	l.end(1, "c", []client.ChildShard{{ShardId: "g", ParentShards: []string{"c", "f"}}})
	if got := ids(l.take(1)); got != nil {
		t.Fatalf("g taken (%v) before f is known", got)
	}
	l.g.Add("f")
	l.end(0, "f", nil)
	if got := ids(l.take(0)); !slices.Equal(got, []string{"g"}) {
		t.Fatalf("subtask 0 took %v after f ended, want g", got)
	}
}

// TestLineagesJoin: the subtasks of a run share one lineage; the next run
// gets a new one.
func TestLineagesJoin(t *testing.T) {
	var ls lineages
	ctx := func(i int) *runtime.Context { return &runtime.Context{Subtask: i, Parallelism: 2} }
	a, b := ls.join(nil, ctx(0)), ls.join(nil, ctx(1))
	c := ls.join(nil, ctx(0))
	if a != b || a == c {
		t.Fatal("subtasks of a run must share a lineage, and runs not")
	}
}
