package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluicehq/sluice/store"
)

// testStateDelay keeps streams CREATING, UPDATING and DELETING long enough
// to be seen and short enough for quick tests.
const testStateDelay = 30 * time.Millisecond

// startStates starts a server with stream states over HTTP and returns the
// JSON test client and an AWS SDK client for it.
func startStates(t *testing.T, opts Options) (*Server, *client, *kinesis.Client) {
	t.Helper()
	if opts.StateDelay == 0 {
		opts.StateDelay = testStateDelay
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, &client{t, ts.URL}, sdkClient(ts.URL, "AKID", "secret")
}

// waitStatus waits until stream's StreamStatus is want.
func (c *client) waitStatus(stream, want string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := c.do("DescribeStreamSummary", obj{"StreamName": stream})
		got := field(out["StreamDescriptionSummary"], "StreamStatus")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("stream %s stays %v, want %s", stream, got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// wantAPIError fails unless err is an API error of code with message msg.
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Fatalf("%s: got %v, want %s: %s", what, err, code, msg)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("%s: status %d, want 400", what, re.HTTPStatusCode())
	}
}

// readFollowingChildren reads every record of stream from TRIM_HORIZON of
// its first shards, following ChildShards from each closed shard's end and
// reading a child only once all its parents are read, as a Kinesis consumer
// does. It returns the records' data in reading order.
func (c *client) readFollowingChildren(stream string) []string {
	c.t.Helper()
	var ready []string
	for _, sh := range list(c.do("ListShards", obj{"StreamName": stream})["Shards"]) {
		if field(sh, "ParentShardId") == nil {
			ready = append(ready, field(sh, "ShardId").(string))
		}
	}
	parents := map[string][]string{} // child -> its parents, from ChildShards
	done := map[string]bool{}
	queued := map[string]bool{}
	var out []string
	for len(ready) > 0 {
		id := ready[0]
		ready = ready[1:]
		it := c.iterator(stream, id, "TRIM_HORIZON", nil)
		for {
			page := c.do("GetRecords", obj{"ShardIterator": it, "Limit": 10000})
			for _, r := range list(page["Records"]) {
				out = append(out, string(decodeB64(c.t, field(r, "Data").(string))))
			}
			next, ok := page["NextShardIterator"].(string)
			if !ok { // closed and read to its end
				for _, ch := range list(page["ChildShards"]) {
					cid := field(ch, "ShardId").(string)
					parents[cid] = nil
					for _, p := range list(field(ch, "ParentShards")) {
						parents[cid] = append(parents[cid], p.(string))
					}
				}
				break
			}
			if len(list(page["Records"])) == 0 {
				break // an open shard read to its tip
			}
			it = next
		}
		done[id] = true
		var now []string
		for cid, ps := range parents {
			all := !done[cid] && !queued[cid]
			for _, p := range ps {
				all = all && done[p]
			}
			if all {
				now = append(now, cid)
				queued[cid] = true
			}
		}
		sort.Strings(now)
		ready = append(ready, now...)
	}
	return out
}

// checkOnceInOrder fails unless got holds every record of want exactly
// once and nothing else, and each partition key's records (data
// "<key>/<n>") in increasing n.
func checkOnceInOrder(t *testing.T, got []string, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	for _, d := range got {
		if seen[d] {
			t.Fatalf("record %s read twice", d)
		}
		if !want[d] {
			t.Fatalf("record %s read but never acknowledged", d)
		}
		seen[d] = true
		key, num, _ := strings.Cut(d, "/")
		var n int
		fmt.Sscan(num, &n)
		if l, ok := last[key]; ok && n <= l {
			t.Fatalf("key %s: record %d read after %d", key, n, l)
		}
		last[key] = n
	}
	if len(seen) != len(want) {
		t.Fatalf("read %d of %d acknowledged records", len(seen), len(want))
	}
}

// writer puts records with keys "<prefix><i mod keys>" and data "<key>/<n>"
// through the SDK until stop is closed, and records what was acknowledged.
type writer struct {
	mu    sync.Mutex
	acked map[string]bool
	err   error
}

func (w *writer) put(ctx context.Context, kc *kinesis.Client, stream, prefix string, from, n int) {
	var entries []types.PutRecordsRequestEntry
	var data []string
	for i := from; i < from+n; i++ {
		key := fmt.Sprintf("%s%d", prefix, i%40)
		d := fmt.Sprintf("%s/%d", key, i)
		data = append(data, d)
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(d)})
	}
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.err = err
		return
	}
	for i, r := range out.Records {
		if r.ErrorCode == nil {
			w.acked[data[i]] = true
		} else if w.err == nil {
			w.err = fmt.Errorf("record %s: %s", data[i], aws.ToString(r.ErrorMessage))
		}
	}
}

// runWriters runs two writers until the returned stop is called.
func (w *writer) run(ctx context.Context, kc *kinesis.Client, stream string) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i += 10 {
				select {
				case <-quit:
					return
				default:
				}
				w.put(ctx, kc, stream, fmt.Sprintf("during%d-", g), i, 10)
			}
		}()
	}
	return func() { close(quit); wg.Wait() }
}

// UpdateShardCount reshards through real splits and merges: records
// written before, during (two concurrent writers) and after are all read
// back exactly once, each key's in order, by a reader following
// ChildShards; the final open shards have the uniform ranges CreateStream
// would give, and the lineage keeps at most two parents per shard.
func TestUpdateShardCountKeepsEveryRecordOnce(t *testing.T) {
	// 1 to 3 takes two calls: a call may at most double the shard count.
	for _, c := range []struct {
		from int
		to   []int
	}{{1, []int{2, 3}}, {4, []int{7}}, {8, []int{4}}, {5, []int{10}}} {
		t.Run(fmt.Sprintf("%dto%d", c.from, c.to[len(c.to)-1]), func(t *testing.T) {
			ctx := context.Background()
			_, jc, kc := startStates(t, Options{})
			name := "scale"
			jc.do("CreateStream", obj{"StreamName": name, "ShardCount": c.from})
			jc.waitStatus(name, "ACTIVE")
			w := &writer{acked: map[string]bool{}}
			w.put(ctx, kc, name, "before-", 0, 200)
			stop := w.run(ctx, kc, name)
			cur := c.from
			for _, to := range c.to {
				time.Sleep(10 * time.Millisecond)
				out, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(name),
					TargetShardCount: aws.Int32(int32(to)), ScalingType: types.ScalingTypeUniformScaling})
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToInt32(out.CurrentShardCount) != int32(cur) || aws.ToInt32(out.TargetShardCount) != int32(to) ||
					aws.ToString(out.StreamName) != name || !strings.HasSuffix(aws.ToString(out.StreamARN), ":stream/"+name) {
					t.Fatalf("UpdateShardCount answered %+v", out)
				}
				jc.waitStatus(name, "ACTIVE")
				cur = to
			}
			stop()
			w.put(ctx, kc, name, "after-", 0, 200)
			if w.err != nil {
				t.Fatal(w.err)
			}
			during := 0
			for d := range w.acked {
				if strings.HasPrefix(d, "during") {
					during++
				}
			}
			if during == 0 {
				t.Fatal("no record was written while the stream scaled")
			}
			checkOnceInOrder(t, jc.readFollowingChildren(name), w.acked)

			shards := list(jc.do("ListShards", obj{"StreamName": name})["Shards"])
			var open []any
			for _, sh := range shards {
				if field(field(sh, "SequenceNumberRange"), "EndingSequenceNumber") == nil {
					open = append(open, sh)
				}
				if field(sh, "AdjacentParentShardId") != nil && field(sh, "ParentShardId") == nil {
					t.Fatalf("shard with an adjacent parent only: %v", sh)
				}
			}
			sortByRange(open)
			// The final ranges are CreateStream's for cur shards, but for
			// boundaries kept within store.SnapKeys of old ones.
			want := store.EvenRanges(cur)
			if len(open) != cur {
				t.Fatalf("%d open shards, want %d", len(open), cur)
			}
			for i, sh := range open {
				r := field(sh, "HashKeyRange")
				for _, k := range []struct {
					got  any
					want store.HashKey
				}{{field(r, "StartingHashKey"), want[i].Start}, {field(r, "EndingHashKey"), want[i].End}} {
					h, err := store.ParseHashKey(k.got.(string))
					lo, hi := k.want, k.want.Add(store.SnapKeys)
					if k.want.Cmp(store.HashKey{Lo: store.SnapKeys}) >= 0 {
						lo = k.want.Sub(store.SnapKeys)
					}
					if hi.Cmp(k.want) < 0 {
						hi = store.MaxHashKey
					}
					if err != nil || h.Cmp(lo) < 0 || h.Cmp(hi) > 0 {
						t.Fatalf("open shard %d has range %v, want %v", i, r, want[i])
					}
				}
			}
			// Doubling splits each shard once, halving merges pairs: the
			// fewest steps, as in Kinesis.
			if c.to[0] == 2*c.from && len(c.to) == 1 && len(shards) != 3*c.from || 2*c.to[0] == c.from && len(shards) != c.from+c.to[0] {
				t.Fatalf("%d -> %v made %d shards in all", c.from, c.to, len(shards))
			}
			sum := jc.do("DescribeStreamSummary", obj{"StreamName": name})
			if n := field(sum["StreamDescriptionSummary"], "OpenShardCount"); n != float64(cur) {
				t.Fatalf("OpenShardCount %v", n)
			}
		})
	}
}

// The ranges of a uniform stream are AWS's: 2^128/N keys each, rounded
// down, the last shard taking the remainder (as CreateStream's of 3
// shards in Kinesis).
func TestUpdateShardCountRangesAreAWSs(t *testing.T) {
	_, jc, kc := startStates(t, Options{})
	jc.do("CreateStream", obj{"StreamName": "u", "ShardCount": 2})
	jc.waitStatus("u", "ACTIVE")
	if _, err := kc.UpdateShardCount(context.Background(), &kinesis.UpdateShardCountInput{StreamName: aws.String("u"),
		TargetShardCount: aws.Int32(3), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatal(err)
	}
	jc.waitStatus("u", "ACTIVE")
	open := list(jc.do("ListShards", obj{"StreamName": "u", "ShardFilter": obj{"Type": "AT_LATEST"}})["Shards"])
	sortByRange(open)
	var got []string
	for _, sh := range open {
		r := field(sh, "HashKeyRange")
		got = append(got, field(r, "StartingHashKey").(string)+"-"+field(r, "EndingHashKey").(string))
	}
	want := []string{
		"0-113427455640312821154458202477256070484",
		"113427455640312821154458202477256070485-226854911280625642308916404954512140969",
		"226854911280625642308916404954512140970-340282366920938463463374607431768211455",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ranges %v, want %v", got, want)
	}
}

// UpdateShardCount's errors, with AWS's types and messages.
func TestUpdateShardCountErrors(t *testing.T) {
	ctx := context.Background()
	_, jc, kc := startStates(t, Options{Limits: Limits{MaxShards: 11}, StateDelay: 500 * time.Millisecond})
	jc.do("CreateStream", obj{"StreamName": "e", "ShardCount": 4})
	name := aws.String("e")
	update := func(n int32) error {
		_, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: name, TargetShardCount: aws.Int32(n),
			ScalingType: types.ScalingTypeUniformScaling})
		return err
	}
	wantAPIError(t, "while CREATING", update(5), store.ErrResourceInUse, "Stream e under account 000000000000 not ACTIVE, instead in state CREATING")
	jc.waitStatus("e", "ACTIVE")
	wantAPIError(t, "over double", update(9), store.ErrLimitExceeded,
		"UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 4 Target shard count: 9")
	wantAPIError(t, "below half", update(1), store.ErrLimitExceeded,
		"UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 4 Target shard count: 1")
	wantAPIError(t, "store limit", update(8), store.ErrLimitExceeded,
		"This request would exceed the shard limit of the store: 4 shards in all streams, 8 more needed to scale, the limit is 11 (--max-shards).")
	jc.failWith("UpdateShardCount", obj{"StreamName": "e"}, store.ErrValidation,
		"2 validation errors detected: Value null at 'targetShardCount' failed to satisfy constraint: Member must not be null; Value null at 'scalingType' failed to satisfy constraint: Member must not be null")
	jc.failWith("UpdateShardCount", obj{"StreamName": "e", "TargetShardCount": 0, "ScalingType": "UNIFORM_SCALING"}, store.ErrValidation,
		"1 validation error detected: Value '0' at 'targetShardCount' failed to satisfy constraint: Member must have value greater than or equal to 1")
	jc.failWith("UpdateShardCount", obj{"StreamName": "e", "TargetShardCount": 2, "ScalingType": "X"}, store.ErrValidation,
		"1 validation error detected: Value 'X' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]")
	jc.failWith("UpdateShardCount", obj{"StreamName": "nope", "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}, store.ErrResourceNotFound,
		"Stream nope under account 000000000000 not found.")
	jc.failWith("UpdateShardCount", obj{"StreamName": "e", "TargetShardCount": MaxShardsPerStream + 1, "ScalingType": "UNIFORM_SCALING"}, store.ErrLimitExceeded,
		fmt.Sprintf("Target shard count or number of open shards cannot be greater than %d. Current open shard count: 4 Target shard count: %d", MaxShardsPerStream, MaxShardsPerStream+1))

}

// UpdateShardCount may run MaxScalingsPerDay times per stream in a rolling
// 24 hours (the clock is Options.Now), not while the stream is UPDATING,
// and names the stream by StreamARN as well.
func TestUpdateShardCountRateAndState(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, jc, kc := startStates(t, Options{Now: clock})
	jc.do("CreateStream", obj{"StreamName": "r", "ShardCount": 1})
	jc.waitStatus("r", "ACTIVE")
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/r")
	update := func(n int32) error {
		_, err := kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamARN: arn, TargetShardCount: aws.Int32(n),
			ScalingType: types.ScalingTypeUniformScaling})
		return err
	}
	for i := 0; i < MaxScalingsPerDay; i++ {
		if err := update(int32(2 - i%2)); err != nil {
			t.Fatalf("scaling %d: %v", i, err)
		}
		if i == 0 {
			wantAPIError(t, "while UPDATING", update(1), store.ErrResourceInUse, "Stream r under account 000000000000 not ACTIVE, instead in state UPDATING")
		}
		jc.waitStatus("r", "ACTIVE")
	}
	msg := "UpdateShardCount for stream r under account 000000000000 has been called 10 times in the last 24 hours, the limit."
	wantAPIError(t, "11th scaling", update(2), store.ErrLimitExceeded, msg)
	mu.Lock()
	now = now.Add(23 * time.Hour)
	mu.Unlock()
	wantAPIError(t, "23 hours later", update(2), store.ErrLimitExceeded, msg)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if err := update(2); err != nil {
		t.Fatalf("a day later: %v", err)
	}
}

// A new stream is CREATING, then ACTIVE; puts to it until then fail as in
// Kinesis; SplitShard makes it UPDATING; DeleteStream DELETING, then gone.
// The SDK's StreamExists and StreamNotExists waiters see it through.
func TestStreamStatesAndWaiters(t *testing.T) {
	ctx := context.Background()
	_, jc, kc := startStates(t, Options{StateDelay: 500 * time.Millisecond})
	name := aws.String("st")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	d, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: name})
	if err != nil || d.StreamDescription.StreamStatus != types.StreamStatusCreating {
		t.Fatalf("after CreateStream: %v %v", d, err)
	}
	ls, err := kc.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || len(ls.StreamSummaries) != 1 || ls.StreamSummaries[0].StreamStatus != types.StreamStatusCreating {
		t.Fatalf("ListStreams while CREATING: %+v %v", ls, err)
	}
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("x")})
	wantAPIError(t, "PutRecord while CREATING", err, store.ErrResourceNotFound, "Stream st under account 000000000000 not found.")
	_, err = kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: name, Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}})
	wantAPIError(t, "PutRecords while CREATING", err, store.ErrResourceNotFound, "Stream st under account 000000000000 not found.")
	_, err = kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name})
	wantAPIError(t, "ListShards while CREATING", err, store.ErrResourceInUse, "Stream st under account 000000000000 not ACTIVE or UPDATING, instead in state CREATING")
	_, err = kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("100")})
	wantAPIError(t, "SplitShard while CREATING", err, store.ErrResourceInUse, "Stream st under account 000000000000 not ACTIVE, instead in state CREATING")

	start := time.Now()
	if err := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	}).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("StreamExists took %v", time.Since(start))
	}
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatalf("PutRecord once ACTIVE: %v", err)
	}

	if _, err := kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: name, ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("100")}); err != nil {
		t.Fatal(err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: name})
	if err != nil || sum.StreamDescriptionSummary.StreamStatus != types.StreamStatusUpdating {
		t.Fatalf("after SplitShard: %+v %v", sum.StreamDescriptionSummary, err)
	}
	_, err = kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: name, ShardToMerge: aws.String("shardId-000000000001"), AdjacentShardToMerge: aws.String("shardId-000000000002")})
	wantAPIError(t, "MergeShards while UPDATING", err, store.ErrResourceInUse, "Stream st under account 000000000000 not ACTIVE, instead in state UPDATING")
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("y")}); err != nil {
		t.Fatalf("PutRecord while UPDATING: %v", err)
	}
	if ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: name}); err != nil || len(ls.Shards) != 3 {
		t.Fatalf("ListShards while UPDATING: %+v %v", ls, err)
	}
	jc.waitStatus("st", "ACTIVE")

	if _, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: name}); err != nil {
		t.Fatal(err)
	}
	d, err = kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: name})
	if err != nil || d.StreamDescription.StreamStatus != types.StreamStatusDeleting {
		t.Fatalf("after DeleteStream: %+v %v", d, err)
	}
	_, err = kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)})
	wantAPIError(t, "CreateStream while DELETING", err, store.ErrResourceInUse, "Stream st under account 000000000000 already exists.")
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("x")})
	wantAPIError(t, "PutRecord while DELETING", err, store.ErrResourceNotFound, "Stream st under account 000000000000 not found.")
	if err := kinesis.NewStreamNotExistsWaiter(kc, func(o *kinesis.StreamNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 50*time.Millisecond
	}).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream once gone: %v", err)
	}
}

// A stream already on disk opens ACTIVE after a restart, whatever its
// state was.
func TestStreamIsActiveAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{StateDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	c := &client{t, ts.URL}
	c.do("CreateStream", obj{"StreamName": "r", "ShardCount": 1})
	c.waitStatus("r", "CREATING")
	ts.Close()
	s.Close()
	_, c = startServer(t, dir, Options{StateDelay: time.Hour})
	c.waitStatus("r", "ACTIVE")
}

// sortByRange orders shards of ListShards by their starting hash keys.
func sortByRange(shards []any) {
	key := func(sh any) string {
		s := field(field(sh, "HashKeyRange"), "StartingHashKey").(string)
		return strings.Repeat("0", 39-len(s)) + s
	}
	sort.Slice(shards, func(i, j int) bool { return key(shards[i]) < key(shards[j]) })
}

func decodeB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("record data %q: %v", s, err)
	}
	return b
}

// CreateStream with StreamModeDetails ON_DEMAND makes a stream of 4 shards
// that Describe*, ListStreams and DescribeLimits show as ON_DEMAND;
// UpdateStreamMode switches modes within AWS's limits and errors.
func TestStreamModes(t *testing.T) {
	ctx := context.Background()
	_, jc, kc := startStates(t, Options{Limits: Limits{MaxShards: 500}, StateDelay: time.Second}) // "while UPDATING" below must see the state under load
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("od"),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	jc.do("CreateStream", obj{"StreamName": "pv", "ShardCount": 2})
	jc.waitStatus("od", "ACTIVE")
	jc.waitStatus("pv", "ACTIVE")
	d, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("od")})
	if err != nil || d.StreamDescription.StreamModeDetails.StreamMode != types.StreamModeOnDemand || len(d.StreamDescription.Shards) != OnDemandInitialShards {
		t.Fatalf("DescribeStream of an on-demand stream: %+v %v", d, err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("pv")})
	if err != nil || sum.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Fatalf("DescribeStreamSummary of a provisioned stream: %+v %v", sum, err)
	}
	ls, err := kc.ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err != nil || len(ls.StreamSummaries) != 2 || ls.StreamSummaries[0].StreamModeDetails.StreamMode != types.StreamModeOnDemand ||
		ls.StreamSummaries[1].StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Fatalf("ListStreams: %+v %v", ls, err)
	}
	lim, err := kc.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil || aws.ToInt32(lim.ShardLimit) != 500 || aws.ToInt32(lim.OpenShardCount) != 6 ||
		aws.ToInt32(lim.OnDemandStreamCount) != 1 || aws.ToInt32(lim.OnDemandStreamCountLimit) != MaxOnDemandStreams {
		t.Fatalf("DescribeLimits: %+v %v", lim, err)
	}

	_, err = kc.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("od"), TargetShardCount: aws.Int32(5),
		ScalingType: types.ScalingTypeUniformScaling})
	wantAPIError(t, "UpdateShardCount of an on-demand stream", err, store.ErrValidation,
		"UpdateShardCount is not supported for stream od under account 000000000000 with capacity mode ON_DEMAND.")

	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/pv")
	mode := func(m types.StreamMode) error {
		_, err := kc.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: m}})
		return err
	}
	wantAPIError(t, "same mode", mode(types.StreamModeProvisioned), store.ErrInvalidArgument,
		"Stream pv under account 000000000000 is already in PROVISIONED capacity mode.")
	if err := mode(types.StreamModeOnDemand); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, "while UPDATING", mode(types.StreamModeProvisioned), store.ErrResourceInUse,
		"Stream pv under account 000000000000 not ACTIVE, instead in state UPDATING")
	jc.waitStatus("pv", "ACTIVE")
	if sum := jc.do("DescribeStreamSummary", obj{"StreamName": "pv"}); field(field(sum["StreamDescriptionSummary"], "StreamModeDetails"), "StreamMode") != "ON_DEMAND" {
		t.Fatalf("after UpdateStreamMode: %v", sum)
	}
	if err := mode(types.StreamModeProvisioned); err != nil {
		t.Fatal(err)
	}
	jc.waitStatus("pv", "ACTIVE")
	wantAPIError(t, "third switch in a day", mode(types.StreamModeOnDemand), store.ErrLimitExceeded,
		"Stream pv under account 000000000000 has switched capacity mode 2 times in the last 24 hours, the limit.")

	jc.failWith("UpdateStreamMode", obj{}, store.ErrValidation,
		"2 validation errors detected: Value null at 'streamARN' failed to satisfy constraint: Member must not be null; Value null at 'streamModeDetails' failed to satisfy constraint: Member must not be null")
	jc.failWith("UpdateStreamMode", obj{"StreamARN": "pv", "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}}, store.ErrValidation,
		`1 validation error detected: Value 'pv' at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)
	jc.failWith("UpdateStreamMode", obj{"StreamARN": *arn, "StreamModeDetails": obj{"StreamMode": "FAST"}}, store.ErrValidation,
		"1 validation error detected: Value 'FAST' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	jc.failWith("UpdateStreamMode", obj{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/none", "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}},
		store.ErrResourceNotFound, "Stream none under account 000000000000 not found.")
	jc.failWith("CreateStream", obj{"StreamName": "x", "StreamModeDetails": obj{"StreamMode": "FAST"}}, store.ErrValidation,
		"1 validation error detected: Value 'FAST' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")

	// At most MaxOnDemandStreams streams are ON_DEMAND.
	for i := 1; i < MaxOnDemandStreams; i++ {
		jc.do("CreateStream", obj{"StreamName": fmt.Sprint("od", i), "ShardCount": 1, "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}})
	}
	jc.failWith("CreateStream", obj{"StreamName": "one-more", "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}}, store.ErrLimitExceeded,
		"This request would exceed the limit of 50 on-demand streams under account 000000000000.")
	jc.do("CreateStream", obj{"StreamName": "q", "ShardCount": 1})
	jc.waitStatus("q", "ACTIVE")
	jc.failWith("UpdateStreamMode", obj{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/q", "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}},
		store.ErrLimitExceeded, "This request would exceed the limit of 50 on-demand streams under account 000000000000.")
	lim, err = kc.DescribeLimits(ctx, &kinesis.DescribeLimitsInput{})
	if err != nil || aws.ToInt32(lim.OnDemandStreamCount) != MaxOnDemandStreams {
		t.Fatalf("DescribeLimits: %+v %v", lim, err)
	}
}

// An ON_DEMAND stream under a write load above its shards' capacity (here
// lowered to 200 records a second) splits its hot shards and grows; a
// reader following ChildShards reads every record once, in order per key.
func TestOnDemandStreamGrowsUnderLoad(t *testing.T) {
	ctx := context.Background()
	_, jc, kc := startStates(t, Options{OnDemand: OnDemand{RecordsPerSecond: 200, Sustain: 100 * time.Millisecond, Interval: 50 * time.Millisecond}})
	jc.do("CreateStream", obj{"StreamName": "hot", "StreamModeDetails": obj{"StreamMode": "ON_DEMAND"}})
	jc.waitStatus("hot", "ACTIVE")
	w := &writer{acked: map[string]bool{}}
	stop := w.run(ctx, kc, "hot")
	open := 0
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline) && open <= OnDemandInitialShards+2; time.Sleep(20 * time.Millisecond) {
		sum := jc.do("DescribeStreamSummary", obj{"StreamName": "hot"})
		open = int(field(sum["StreamDescriptionSummary"], "OpenShardCount").(float64))
	}
	stop()
	if w.err != nil {
		t.Fatal(w.err)
	}
	if open <= OnDemandInitialShards+2 {
		t.Fatalf("%d open shards under load, want more than %d", open, OnDemandInitialShards+2)
	}
	jc.waitStatus("hot", "ACTIVE")
	checkOnceInOrder(t, jc.readFollowingChildren("hot"), w.acked)
}

// A provisioned stream under the same load keeps its shards.
func TestProvisionedStreamDoesNotScaleItself(t *testing.T) {
	ctx := context.Background()
	_, jc, kc := startStates(t, Options{OnDemand: OnDemand{RecordsPerSecond: 50, Sustain: 50 * time.Millisecond, Interval: 20 * time.Millisecond}})
	jc.do("CreateStream", obj{"StreamName": "p", "ShardCount": 2})
	jc.waitStatus("p", "ACTIVE")
	w := &writer{acked: map[string]bool{}}
	stop := w.run(ctx, kc, "p")
	time.Sleep(400 * time.Millisecond)
	stop()
	sum := jc.do("DescribeStreamSummary", obj{"StreamName": "p"})
	if n := field(sum["StreamDescriptionSummary"], "OpenShardCount"); n != float64(2) || len(w.acked) < 100 {
		t.Fatalf("%v open shards after %d records", n, len(w.acked))
	}
}

// An UpdateShardCount cut short (here: stream.json names a target, as
// after a crash right after the call was answered) goes on when the store
// opens again: UPDATING, then ACTIVE with the target's uniform shards and
// every record still read once.
func TestUpdateShardCountResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "re", "ShardCount": 2})
	want := map[string]bool{}
	for i := 0; i < 50; i++ {
		d := fmt.Sprintf("k%d/%d", i%7, i)
		c.do("PutRecord", obj{"StreamName": "re", "PartitionKey": fmt.Sprint("k", i%7), "Data": b64(d)})
		want[d] = true
	}
	s.Close()
	path := filepath.Join(dir, "re", metaFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"name": "re",`), []byte(`"name": "re", "scalingTo": 4,`), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, c = startServer(t, dir, Options{StateDelay: testStateDelay})
	c.waitStatus("re", "ACTIVE")
	open := list(c.do("ListShards", obj{"StreamName": "re", "ShardFilter": obj{"Type": "AT_LATEST"}})["Shards"])
	sortByRange(open)
	ranges := store.EvenRanges(4)
	if len(open) != 4 {
		t.Fatalf("%d open shards after the restart, want 4", len(open))
	}
	for i, sh := range open {
		if r := field(sh, "HashKeyRange"); field(r, "StartingHashKey") != ranges[i].Start.String() {
			t.Fatalf("open shard %d has range %v, want %v", i, r, ranges[i])
		}
	}
	checkOnceInOrder(t, c.readFollowingChildren("re"), want)
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("scalingTo")) {
		t.Fatalf("stream.json still names a target once scaled:\n%s", b)
	}
}

// DescribeLimits counts open shards only (a split's parent is closed) and
// reports the store's shard limit, the largest number for none.
func TestDescribeLimits(t *testing.T) {
	f := func(maxShards, wantLimit int) {
		t.Helper()
		_, jc, _ := startStates(t, Options{StateDelay: -1, Limits: Limits{MaxShards: maxShards}})
		jc.do("CreateStream", obj{"StreamName": "a", "ShardCount": 3})
		jc.do("SplitShard", obj{"StreamName": "a", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"})
		out := jc.do("DescribeLimits", obj{})
		if out["ShardLimit"] != float64(wantLimit) || out["OpenShardCount"] != float64(4) ||
			out["OnDemandStreamCount"] != float64(0) || out["OnDemandStreamCountLimit"] != float64(MaxOnDemandStreams) {
			t.Fatalf("DescribeLimits: %v", out)
		}
	}
	f(0, DefaultLimits().MaxShards)
	f(20, 20)
	f(-1, math.MaxInt32)
}
