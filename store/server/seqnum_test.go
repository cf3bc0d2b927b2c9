package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

// sendRaw posts body as it is (it may not be valid JSON) and returns the
// status and the error type.
func (c *client) sendRaw(op, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", op, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		c.t.Fatalf("%s: decode response: %v", op, err)
	}
	return resp.StatusCode, out
}

// failWith is fail that also wants the message to contain each of parts.
func (c *client) failWith(op string, in any, code string, parts ...string) {
	c.t.Helper()
	status, out := c.raw(op, in)
	msg, _ := out["message"].(string)
	if status != http.StatusBadRequest || out["__type"] != code {
		c.t.Fatalf("%s %v: got status %d %v, want 400 %s", op, in, status, out, code)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			c.t.Fatalf("%s %v: message %q does not say %q", op, in, msg, p)
		}
	}
}

func (c *client) put(stream, hash, data string) string {
	c.t.Helper()
	out := c.do("PutRecord", obj{"StreamName": stream, "PartitionKey": "k", "ExplicitHashKey": hash, "Data": b64(data)})
	n, _ := out["SequenceNumber"].(string)
	if len(n) != store.SequenceNumberLen {
		c.t.Fatalf("PutRecord answered sequence number %q, want %d digits", n, store.SequenceNumberLen)
	}
	return n
}

// Nine records before a restart and one after: as strings, "10" < "9", so
// a consumer comparing small counters would take the new record for an old
// one.
func TestSequenceNumbersGrowAsStringsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	var before []string
	for i := 0; i < 9; i++ {
		before = append(before, c.put("s", "0", fmt.Sprint("r", i)))
	}
	for i := 1; i < len(before); i++ {
		if before[i] <= before[i-1] {
			t.Fatalf("sequence number %s after %s", before[i], before[i-1])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, c = startServer(t, dir, Options{})
	after := c.put("s", "0", "after restart")
	if after <= before[len(before)-1] {
		t.Fatalf("after a restart PutRecord answered %s, not greater than %s", after, before[len(before)-1])
	}
	out := c.do("PutRecords", obj{"StreamName": "s", "Records": []any{obj{"PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64("batch")}}})
	batch := field(list(out["Records"])[0], "SequenceNumber").(string)
	if len(batch) != store.SequenceNumberLen || batch <= after {
		t.Fatalf("PutRecords answered %s after %s", batch, after)
	}
	// GetRecords shows the same numbers PutRecord answered.
	recs, _ := c.getAll(c.iterator("s", "shardId-000000000000", "TRIM_HORIZON", nil))
	want := strings.Join(append(before, after, batch), ",")
	if got := seqs(recs); got != want {
		t.Fatalf("GetRecords sequence numbers\n%s\nwant\n%s", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// Children of a split or merge start above every number of their parents,
// as strings, even when the parents hold more records than the children.
func TestChildShardNumbersExceedTheirParents(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	var parent []string
	for i := 0; i < 12; i++ {
		parent = append(parent, c.put("s", "0", fmt.Sprint("p", i)))
	}
	mid := store.EvenRanges(2)[1].Start.String()
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})
	lo := []string{c.put("s", "0", "lo")}
	hi := []string{c.put("s", mid, "hi"), c.put("s", mid, "hi2")}
	c.do("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000001", "AdjacentShardToMerge": "shardId-000000000002"})
	merged := []string{c.put("s", "0", "merged")}

	ranges := map[string]any{}
	for _, sh := range list(c.do("ListShards", obj{"StreamName": "s"})["Shards"]) {
		ranges[field(sh, "ShardId").(string)] = field(sh, "SequenceNumberRange")
	}
	// numbers lists every number of a shard: its range and its records.
	numbers := func(id string, recs []string) []string {
		r := ranges[id]
		out := append([]string{field(r, "StartingSequenceNumber").(string)}, recs...)
		if end, ok := field(r, "EndingSequenceNumber").(string); ok {
			out = append(out, end)
		}
		return out
	}
	all := map[string][]string{
		"shardId-000000000000": numbers("shardId-000000000000", parent),
		"shardId-000000000001": numbers("shardId-000000000001", lo),
		"shardId-000000000002": numbers("shardId-000000000002", hi),
		"shardId-000000000003": numbers("shardId-000000000003", merged),
	}
	family := []struct{ parent, child string }{
		{"shardId-000000000000", "shardId-000000000001"}, {"shardId-000000000000", "shardId-000000000002"},
		{"shardId-000000000001", "shardId-000000000003"}, {"shardId-000000000002", "shardId-000000000003"},
		{"shardId-000000000000", "shardId-000000000003"},
	}
	for _, f := range family {
		start := field(ranges[f.child], "StartingSequenceNumber").(string)
		for _, p := range all[f.parent] {
			if start <= p {
				t.Fatalf("child %s starts at %s, not above %s of its parent %s", f.child, start, p, f.parent)
			}
		}
	}
	for id, nums := range all {
		for _, n := range nums {
			if len(n) != store.SequenceNumberLen {
				t.Fatalf("shard %s: sequence number %q is not %d digits", id, n, store.SequenceNumberLen)
			}
		}
	}
	if end := field(ranges["shardId-000000000000"], "EndingSequenceNumber"); end != parent[len(parent)-1] {
		t.Fatalf("closed parent ends at %v, its last record is %s", end, parent[len(parent)-1])
	}
}

// A number is only good on the shard and stream that handed it out.
func TestSequenceNumberOfAnotherShardOrStreamIsRejected(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 2})
	c.do("CreateStream", obj{"StreamName": "other", "ShardCount": 2})
	shard1Key := store.EvenRanges(2)[1].Start.String()
	on0 := c.put("s", "0", "a")
	on1 := c.put("s", shard1Key, "b")
	c.put("s", shard1Key, "c")
	otherOn0 := c.put("other", "0", "x")
	c.put("other", "0", "y")

	gsi := func(stream, shard, typ, seq string) obj {
		return obj{"StreamName": stream, "ShardId": shard, "ShardIteratorType": typ, "StartingSequenceNumber": seq}
	}
	// Shard 1's first number is a valid position on shard 1 only.
	c.failWith("GetShardIterator", gsi("s", "shardId-000000000000", "AT_SEQUENCE_NUMBER", on1), store.ErrInvalidArgument,
		"Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000")
	c.failWith("GetShardIterator", gsi("s", "shardId-000000000001", "AFTER_SEQUENCE_NUMBER", on0), store.ErrInvalidArgument,
		"It encodes shardId-000000000000")
	// Same shard index, another stream.
	c.failWith("GetShardIterator", gsi("s", "shardId-000000000000", "AT_SEQUENCE_NUMBER", otherOn0), store.ErrInvalidArgument,
		"StartingSequenceNumber "+otherOn0+" used in GetShardIterator on shard shardId-000000000000 in stream s", "did not come from this stream")
	// A stream deleted and created again does not take the old stream's numbers.
	c.do("DeleteStream", obj{"StreamName": "other"})
	c.do("CreateStream", obj{"StreamName": "other", "ShardCount": 2})
	c.put("other", "0", "new")
	c.put("other", "0", "new2")
	c.failWith("GetShardIterator", gsi("other", "shardId-000000000000", "AT_SEQUENCE_NUMBER", otherOn0), store.ErrInvalidArgument, "did not come from this stream")

	// The right shard reads from the number.
	got, _ := c.getAll(c.iterator("s", "shardId-000000000001", "AT_SEQUENCE_NUMBER", obj{"StartingSequenceNumber": on1}))
	if len(got) != 2 || field(got[0], "SequenceNumber") != on1 {
		t.Fatalf("AT_SEQUENCE_NUMBER on its own shard: %s", seqs(got))
	}
}

// Numbers from before the 56-digit format (a checkpoint of an older
// version) are refused with AWS's error naming the shard, never read as a
// position; numbers of no number's form fail validation, as AWS.
func TestOldShortSequenceNumberIsRejected(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	for i := 0; i < 3; i++ {
		c.put("s", "0", fmt.Sprint(i))
	}
	for _, typ := range []string{"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"} {
		c.failWith("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": typ, "StartingSequenceNumber": "1"},
			store.ErrInvalidArgument, "StartingSequenceNumber 1 used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid.")
	}
	for _, bad := range []string{strings.Repeat("1", 57), "2" + strings.Repeat("0", 55), strings.Repeat("9", 129)} {
		c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": bad}, store.ErrInvalidArgument)
	}
	for _, bad := range []string{"", "abc", "-1", "01", strings.Repeat("x", 56), " " + strings.Repeat("1", 55), strings.Repeat("9", 130)} {
		c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": bad}, store.ErrValidation)
	}
	// TRIM_HORIZON and LATEST take no number, as Kinesis.
	c.failWith("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "LATEST", "StartingSequenceNumber": "1"},
		store.ErrInvalidArgument, "Request specified LATEST and also a StartingSequenceNumber")
}

// Sequence numbers past the shard's end, including ones whose next number
// would not fit in 64 bits, are invalid rather than wrapping to the
// shard's start (a full replay).
func TestOutOfRangeSequenceNumberIsInvalid(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	const shard = "shardId-000000000000"
	first := c.put("s", "0", "a")
	last := c.put("s", "0", "b")
	gsi := func(typ, seq string) obj {
		return obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": typ, "StartingSequenceNumber": seq}
	}
	for _, typ := range []string{"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"} {
		c.failWith("GetShardIterator", gsi(typ, withSeq(t, first, math.MaxUint64)), store.ErrInvalidArgument, "is invalid")
		c.failWith("GetShardIterator", gsi(typ, "18446744073709551615"), store.ErrInvalidArgument, "is invalid")
		c.failWith("GetShardIterator", gsi(typ, withSeq(t, first, 4)), store.ErrInvalidArgument, "did not come from this stream")
	}
	// The shard sequence field holds 20 digits; more than 64 bits is out of range.
	over := first[:store.SequenceNumberLen-20] + "99999999999999999999"
	c.failWith("GetShardIterator", gsi("AT_SEQUENCE_NUMBER", over), store.ErrInvalidArgument, "is invalid.")
	// The next number (not handed out yet) is a valid AT position but has no AFTER.
	next := withSeq(t, first, 3)
	c.failWith("GetShardIterator", gsi("AFTER_SEQUENCE_NUMBER", next), store.ErrInvalidArgument, "did not come from this stream")
	at := c.do("GetShardIterator", gsi("AT_SEQUENCE_NUMBER", next))["ShardIterator"].(string)
	if recs, _ := c.getAll(at); len(recs) != 0 {
		t.Fatalf("AT the next number read %s", seqs(recs))
	}
	// AFTER the last record: the tip, where the next put is read.
	it := c.do("GetShardIterator", gsi("AFTER_SEQUENCE_NUMBER", last))["ShardIterator"].(string)
	newest := c.put("s", "0", "c")
	if recs, _ := c.getAll(it); seqs(recs) != newest {
		t.Fatalf("AFTER the last record read %s, want %s", seqs(recs), newest)
	}
}

// AT_TIMESTAMP in the future is refused, as Kinesis; far in the past (or
// negative), it reads from the trim horizon; never a wrapped position.
func TestAtTimestampInTheFutureIsRefusedAndThePastReadsFromTheHorizon(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	const shard = "shardId-000000000000"
	var all []string
	for i := 0; i < 3; i++ {
		all = append(all, c.put("s", "0", fmt.Sprint(i)))
	}
	at := func(ts any) string {
		return c.iterator("s", shard, "AT_TIMESTAMP", obj{"Timestamp": ts})
	}
	for _, ts := range []float64{float64(time.Now().Add(time.Minute).Unix()), 9.3e15, 1e16, 9.3e18, 1e300, math.MaxFloat64} {
		c.failWith("GetShardIterator", obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts},
			store.ErrInvalidArgument, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: "+
				strconv.FormatFloat(ts*1000, 'f', -1, 64)+", currentTimestampInMillis: ")
	}
	past := map[string]string{}
	for _, ts := range []float64{0, -1, -1e16, -1e300, -math.MaxFloat64} {
		past[fmt.Sprint(ts)] = at(ts)
	}
	newest := c.put("s", "0", "after")
	want := strings.Join(append(all, newest), ",")
	for ts, it := range past {
		if recs, _ := c.getAll(it); seqs(recs) != want {
			t.Fatalf("AT_TIMESTAMP %s read %s, want every record", ts, seqs(recs))
		}
	}
	// NaN, Infinity and numbers beyond float64 are not JSON numbers: a
	// serialization error, never a panic or an iterator.
	for _, ts := range []string{"NaN", "Infinity", "-Infinity", "1e400", `"soon"`} {
		status, out := c.sendRaw("GetShardIterator", `{"StreamName":"s","ShardId":"`+shard+`","ShardIteratorType":"AT_TIMESTAMP","Timestamp":`+ts+`}`)
		if status != http.StatusBadRequest || out["__type"] != "SerializationException" {
			t.Fatalf("Timestamp %s: status %d %v", ts, status, out)
		}
	}
}

// A shard split or merged before any record reached it reports an ending
// number no lower than its starting one, and reading it leads to its
// children.
func TestClosedEmptyShardRangeIsNotInverted(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	mid := store.EvenRanges(2)[1].Start.String()
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})
	c.do("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000001", "AdjacentShardToMerge": "shardId-000000000002"})
	c.put("s", "0", "in the merged shard")

	listed := list(c.do("ListShards", obj{"StreamName": "s"})["Shards"])
	described := list(field(c.do("DescribeStream", obj{"StreamName": "s"})["StreamDescription"], "Shards"))
	if len(listed) != 4 || fmt.Sprint(listed) != fmt.Sprint(described) {
		t.Fatalf("ListShards %v\nDescribeStream %v", listed, described)
	}
	for _, sh := range listed[:3] {
		id := field(sh, "ShardId").(string)
		r := field(sh, "SequenceNumberRange")
		start, _ := field(r, "StartingSequenceNumber").(string)
		end, _ := field(r, "EndingSequenceNumber").(string)
		if len(start) != store.SequenceNumberLen || len(end) != store.SequenceNumberLen || end < start {
			t.Fatalf("closed empty shard %s: range %v", id, r)
		}
		// Its own numbers are valid positions; each leads to the children.
		for _, q := range []obj{{"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": start},
			{"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": end}, {"ShardIteratorType": "TRIM_HORIZON"}} {
			q["StreamName"], q["ShardId"] = "s", id
			it := c.do("GetShardIterator", q)["ShardIterator"].(string)
			out := c.do("GetRecords", obj{"ShardIterator": it})
			if len(list(out["Records"])) != 0 || len(list(out["ChildShards"])) == 0 || out["NextShardIterator"] != nil {
				t.Fatalf("closed empty shard %s read %v: %v", id, q, out)
			}
		}
	}
	if _, ok := field(listed[3], "SequenceNumberRange").(map[string]any)["EndingSequenceNumber"]; ok {
		t.Fatalf("open shard has an ending number: %v", listed[3])
	}
}
