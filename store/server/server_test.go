package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

// client talks to a Server through a real HTTP server with plain JSON.
type client struct {
	t   *testing.T
	url string
}

func startServer(t *testing.T, dir string, opts Options) (*Server, *client) {
	t.Helper()
	s, err := New(dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, &client{t, ts.URL}
}

// raw sends one request and returns the status and decoded body.
func (c *client) raw(op string, in any) (int, map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.sendRaw(op, string(b))
}

// do sends a request that must succeed.
func (c *client) do(op string, in any) map[string]any {
	c.t.Helper()
	status, out := c.raw(op, in)
	if status != http.StatusOK {
		c.t.Fatalf("%s: status %d: %v", op, status, out)
	}
	return out
}

// fail sends a request that must fail with code and HTTP 400.
func (c *client) fail(op string, in any, code string) {
	c.t.Helper()
	status, out := c.raw(op, in)
	if status != http.StatusBadRequest || out["__type"] != code {
		c.t.Fatalf("%s: got status %d %v, want 400 %s", op, status, out, code)
	}
	if msg, _ := out["message"].(string); msg == "" {
		c.t.Fatalf("%s: error without message: %v", op, out)
	}
}

type obj = map[string]any

func list(v any) []any { l, _ := v.([]any); return l }
func field(v any, k string) any {
	m, _ := v.(map[string]any)
	return m[k]
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// logSeq is the shard log sequence number inside an API sequence number;
// it fails the test if v is not one.
func logSeq(t *testing.T, v any) uint64 {
	t.Helper()
	s, _ := v.(string)
	n, err := store.ParseSequenceNumber(s)
	if err != nil {
		t.Fatalf("sequence number %v: %v", v, err)
	}
	return n.Seq
}

// withSeq is the API sequence number like num (same stream and shard) for
// shard log sequence number seq.
func withSeq(t *testing.T, num any, seq uint64) string {
	t.Helper()
	s, _ := num.(string)
	n, err := store.ParseSequenceNumber(s)
	if err != nil {
		t.Fatalf("sequence number %v: %v", num, err)
	}
	n.Seq = seq
	return n.String()
}

func TestStreamLifecycle(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "b", "ShardCount": 3})
	c.do("CreateStream", obj{"StreamName": "a", "ShardCount": 1})
	c.fail("CreateStream", obj{"StreamName": "a", "ShardCount": 1}, store.ErrResourceInUse)
	c.fail("CreateStream", obj{"StreamName": "..", "ShardCount": 1}, store.ErrValidation)
	c.fail("CreateStream", obj{"StreamName": "x/y", "ShardCount": 1}, store.ErrValidation)
	c.fail("CreateStream", obj{"StreamName": "c", "ShardCount": 0}, store.ErrValidation)
	c.fail("CreateStream", obj{"StreamName": "c"}, store.ErrValidation)
	c.fail("CreateStream", obj{"StreamName": "c", "ShardCount": MaxShardsPerStream + 1}, store.ErrLimitExceeded)

	sum := c.do("DescribeStreamSummary", obj{"StreamName": "b"})["StreamDescriptionSummary"]
	if field(sum, "OpenShardCount") != 3.0 || field(sum, "StreamStatus") != "ACTIVE" || field(sum, "RetentionPeriodHours") != 24.0 {
		t.Fatalf("summary: %v", sum)
	}
	if ts, _ := field(sum, "StreamCreationTimestamp").(float64); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Fatalf("creation timestamp %v", ts)
	}
	desc := c.do("DescribeStream", obj{"StreamName": "b"})["StreamDescription"]
	shards := list(field(desc, "Shards"))
	if len(shards) != 3 || field(desc, "HasMoreShards") != false {
		t.Fatalf("describe: %v", desc)
	}
	if got := field(field(shards[0], "HashKeyRange"), "StartingHashKey"); got != "0" {
		t.Fatalf("first shard starts at %v", got)
	}
	if got := field(field(shards[2], "HashKeyRange"), "EndingHashKey"); got != store.MaxHashKey.String() {
		t.Fatalf("last shard ends at %v", got)
	}
	desc = c.do("DescribeStream", obj{"StreamName": "b", "Limit": 2, "ExclusiveStartShardId": "shardId-000000000000"})["StreamDescription"]
	if l := list(field(desc, "Shards")); len(l) != 2 || field(l[0], "ShardId") != "shardId-000000000001" || field(desc, "HasMoreShards") != false {
		t.Fatalf("describe page: %v", desc)
	}

	ls := c.do("ListStreams", obj{"Limit": 1})
	if fmt.Sprint(ls["StreamNames"]) != "[a]" || ls["HasMoreStreams"] != true {
		t.Fatalf("ListStreams page 1: %v", ls)
	}
	ls = c.do("ListStreams", obj{"NextToken": ls["NextToken"]})
	if fmt.Sprint(ls["StreamNames"]) != "[b]" || ls["HasMoreStreams"] != false || len(list(ls["StreamSummaries"])) != 1 {
		t.Fatalf("ListStreams page 2: %v", ls)
	}

	var ids []string
	page := c.do("ListShards", obj{"StreamName": "b", "MaxResults": 2})
	for {
		for _, s := range list(page["Shards"]) {
			ids = append(ids, field(s, "ShardId").(string))
		}
		tok, ok := page["NextToken"]
		if !ok {
			break
		}
		c.fail("ListShards", obj{"StreamName": "b", "NextToken": tok}, store.ErrInvalidArgument)
		page = c.do("ListShards", obj{"NextToken": tok, "MaxResults": 2})
	}
	if fmt.Sprint(ids) != "[shardId-000000000000 shardId-000000000001 shardId-000000000002]" {
		t.Fatalf("ListShards: %v", ids)
	}
	c.fail("ListShards", obj{"StreamName": "nope"}, store.ErrResourceNotFound)

	c.do("DeleteStream", obj{"StreamName": "b"})
	c.fail("DescribeStream", obj{"StreamName": "b"}, store.ErrResourceNotFound)
	c.fail("DeleteStream", obj{"StreamName": "b"}, store.ErrResourceNotFound)
	// The ARN names the stream too.
	c.do("DescribeStreamSummary", obj{"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/a"})
	c.do("CreateStream", obj{"StreamName": "b", "ShardCount": 1}) // the name is free again
}

// getAll reads a shard from it until no records are left.
func (c *client) getAll(it string) (recs []any, last map[string]any) {
	c.t.Helper()
	for i := 0; i < 100; i++ {
		out := c.do("GetRecords", obj{"ShardIterator": it, "Limit": 2})
		recs = append(recs, list(out["Records"])...)
		next, ok := out["NextShardIterator"].(string)
		if len(list(out["Records"])) == 0 || !ok {
			return recs, out
		}
		it = next
	}
	c.t.Fatal("GetRecords does not end")
	return nil, nil
}

func (c *client) iterator(stream, shard, typ string, extra obj) string {
	c.t.Helper()
	in := obj{"StreamName": stream, "ShardId": shard, "ShardIteratorType": typ}
	for k, v := range extra {
		in[k] = v
	}
	return c.do("GetShardIterator", in)["ShardIterator"].(string)
}

func seqs(recs []any) string {
	var s []string
	for _, r := range recs {
		s = append(s, field(r, "SequenceNumber").(string))
	}
	return strings.Join(s, ",")
}

func TestPutAndGet(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 2})
	shard1Key := store.EvenRanges(2)[1].Start.String()

	before := time.Now().Add(-time.Second)
	out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64("one")})
	if out["ShardId"] != "shardId-000000000000" || logSeq(t, out["SequenceNumber"]) != 1 {
		t.Fatalf("PutRecord: %v", out)
	}
	first := out["SequenceNumber"]
	out = c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": shard1Key, "Data": b64("x")})
	if out["ShardId"] != "shardId-000000000001" {
		t.Fatalf("ExplicitHashKey did not route: %v", out)
	}
	// Without ExplicitHashKey the MD5 of the partition key routes.
	pk := "some key"
	want := "shardId-000000000000"
	if store.EvenRanges(2)[1].Contains(store.HashKeyOf(pk)) {
		want = "shardId-000000000001"
	}
	if out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": pk, "Data": b64("md5")}); out["ShardId"] != want {
		t.Fatalf("partition key routed to %v, want %s", out["ShardId"], want)
	}

	recs := []any{}
	for i := 0; i < 4; i++ {
		recs = append(recs, obj{"PartitionKey": "p" + strconv.Itoa(i), "ExplicitHashKey": "5", "Data": b64("r" + strconv.Itoa(i))})
	}
	out = c.do("PutRecords", obj{"StreamName": "s", "Records": recs})
	if out["FailedRecordCount"] != 0.0 || len(list(out["Records"])) != 4 {
		t.Fatalf("PutRecords: %v", out)
	}
	prev := ""
	for _, r := range list(out["Records"]) {
		n := field(r, "SequenceNumber").(string)
		if len(n) != store.SequenceNumberLen || n <= prev || field(r, "ShardId") != "shardId-000000000000" {
			t.Fatalf("PutRecords results: %v", out)
		}
		prev = n
	}

	const shard0 = "shardId-000000000000"
	got, last := c.getAll(c.iterator("s", shard0, "TRIM_HORIZON", nil))
	n0 := len(got)
	if n0 < 5 || field(got[0], "Data") != b64("one") || field(got[0], "PartitionKey") != "k" {
		t.Fatalf("TRIM_HORIZON read %v", got)
	}
	if last["MillisBehindLatest"] != 0.0 {
		t.Fatalf("MillisBehindLatest %v", last["MillisBehindLatest"])
	}
	ts, _ := field(got[0], "ApproximateArrivalTimestamp").(float64)
	if at := time.UnixMilli(int64(ts * 1000)); at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("ApproximateArrivalTimestamp %v", ts)
	}
	if field(got[n0-1], "Data") != b64("r3") {
		t.Fatalf("last record %v", got[n0-1])
	}

	if field(got[0], "SequenceNumber") != first {
		t.Fatalf("PutRecord answered %v, GetRecords reads %v", first, field(got[0], "SequenceNumber"))
	}
	second := withSeq(t, first, 2)
	got, _ = c.getAll(c.iterator("s", shard0, "AT_SEQUENCE_NUMBER", obj{"StartingSequenceNumber": second}))
	if len(got) != n0-1 || field(got[0], "SequenceNumber") != second {
		t.Fatalf("AT_SEQUENCE_NUMBER: %s", seqs(got))
	}
	got, _ = c.getAll(c.iterator("s", shard0, "AFTER_SEQUENCE_NUMBER", obj{"StartingSequenceNumber": second}))
	if len(got) != n0-2 || field(got[0], "SequenceNumber") != withSeq(t, first, 3) {
		t.Fatalf("AFTER_SEQUENCE_NUMBER: %s", seqs(got))
	}
	got, _ = c.getAll(c.iterator("s", shard0, "AT_TIMESTAMP", obj{"Timestamp": float64(before.UnixMilli()) / 1000}))
	if len(got) != n0 {
		t.Fatalf("AT_TIMESTAMP in the past: %s", seqs(got))
	}
	got, _ = c.getAll(c.iterator("s", shard0, "AT_TIMESTAMP", obj{"Timestamp": float64(time.Now().Add(time.Hour).Unix())}))
	if len(got) != 0 {
		t.Fatalf("AT_TIMESTAMP in the future: %s", seqs(got))
	}

	// LATEST sees only what comes after it.
	latest := c.iterator("s", shard0, "LATEST", nil)
	out = c.do("GetRecords", obj{"ShardIterator": latest})
	if len(list(out["Records"])) != 0 {
		t.Fatalf("LATEST: %v", out)
	}
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64("new")})
	out = c.do("GetRecords", obj{"ShardIterator": out["NextShardIterator"]})
	if r := list(out["Records"]); len(r) != 1 || field(r[0], "Data") != b64("new") {
		t.Fatalf("after LATEST: %v", out)
	}
	// Limit is honoured; MillisBehindLatest is reported when behind.
	out = c.do("GetRecords", obj{"ShardIterator": c.iterator("s", shard0, "TRIM_HORIZON", nil), "Limit": 1})
	if len(list(out["Records"])) != 1 || out["NextShardIterator"] == nil {
		t.Fatalf("Limit 1: %v", out)
	}
	if _, ok := out["MillisBehindLatest"].(float64); !ok {
		t.Fatalf("MillisBehindLatest missing: %v", out)
	}
}

func TestRecordErrors(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	_, c := startServer(t, t.TempDir(), Options{Now: now})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	const shard = "shardId-000000000000"

	c.fail("PutRecord", obj{"StreamName": "nope", "PartitionKey": "k", "Data": b64("x")}, store.ErrResourceNotFound)
	c.fail("PutRecord", obj{"StreamName": "s", "PartitionKey": "", "Data": b64("x")}, store.ErrValidation)
	c.fail("PutRecord", obj{"StreamName": "s", "PartitionKey": strings.Repeat("k", 257), "Data": b64("x")}, store.ErrValidation)
	c.fail("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": base64.StdEncoding.EncodeToString(make([]byte, store.MaxRecordBytes+1))}, store.ErrValidation)
	c.fail("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "-1", "Data": b64("x")}, store.ErrInvalidArgument)
	c.fail("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "340282366920938463463374607431768211456", "Data": b64("x")}, store.ErrInvalidArgument)

	many := make([]any, store.MaxPutRecords+1)
	for i := range many {
		many[i] = obj{"PartitionKey": "k", "Data": b64("x")}
	}
	c.fail("PutRecords", obj{"StreamName": "s", "Records": many}, store.ErrValidation)
	c.fail("PutRecords", obj{"StreamName": "s", "Records": []any{}}, store.ErrValidation)
	// Five full records plus their keys pass 5 MiB by five bytes.
	big := base64.StdEncoding.EncodeToString(make([]byte, store.MaxRecordBytes))
	var heavy []any
	for i := 0; i < 5; i++ {
		heavy = append(heavy, obj{"PartitionKey": "k", "Data": big})
	}
	c.fail("PutRecords", obj{"StreamName": "s", "Records": heavy}, store.ErrInvalidArgument)

	c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000009", "ShardIteratorType": "LATEST"}, store.ErrResourceNotFound)
	c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": "SIDEWAYS"}, store.ErrValidation)
	c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "abc"}, store.ErrInvalidArgument)
	c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "99"}, store.ErrInvalidArgument)
	c.fail("GetShardIterator", obj{"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP"}, store.ErrInvalidArgument)

	it := c.iterator("s", shard, "TRIM_HORIZON", nil)
	c.fail("GetRecords", obj{"ShardIterator": it, "Limit": store.MaxGetRecordsLimit + 1}, store.ErrValidation)
	c.fail("GetRecords", obj{"ShardIterator": "garbage"}, store.ErrInvalidArgument)
	c.fail("GetRecords", obj{"ShardIterator": it[:len(it)-2] + "AA"}, store.ErrInvalidArgument)

	offset.Store(int64(6 * time.Minute))
	c.fail("GetRecords", obj{"ShardIterator": it}, store.ErrExpiredIterator)
	offset.Store(0)

	// An iterator of a deleted stream never reads its re-created namesake.
	c.do("DeleteStream", obj{"StreamName": "s"})
	c.fail("GetRecords", obj{"ShardIterator": it}, store.ErrResourceNotFound)
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.fail("GetRecords", obj{"ShardIterator": it}, store.ErrResourceNotFound)

	// Protocol errors.
	if status, out := c.raw("NoSuchOperation", obj{}); status != http.StatusBadRequest || out["__type"] != "UnknownOperationException" {
		t.Fatalf("unknown operation: %d %v", status, out)
	}
	req, _ := http.NewRequest(http.MethodPost, c.url+"/", strings.NewReader("{not json"))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "SerializationException") {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, b)
	}
}

// countingReader yields n bytes of a JSON-ish body and counts what was read.
// read is atomic: the HTTP transport may still be sending when the test looks.
type countingReader struct {
	left int
	read atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	r.left -= n
	r.read.Add(int64(n))
	return n, nil
}

func TestBodyCap(t *testing.T) {
	s, c := startServer(t, t.TempDir(), Options{})
	const total = store.MaxRequestBytes + 8<<20

	// A declared Content-Length over the cap is refused without reading.
	body := &countingReader{left: total}
	req, _ := http.NewRequest(http.MethodPost, c.url+"/", body)
	req.ContentLength = total
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), store.ErrValidation) {
			t.Fatalf("oversized body: %d %s", resp.StatusCode, b)
		}
	}
	if body.read.Load() >= total {
		t.Fatalf("the whole oversized body was sent (%d bytes)", body.read.Load())
	}

	// A body of unknown length is cut at the cap.
	body = &countingReader{left: total}
	req = httptest.NewRequest(http.MethodPost, "/", body)
	req.ContentLength = -1
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), store.ErrValidation) {
		t.Fatalf("oversized chunked body: %d %s", rec.Code, rec.Body)
	}
	if body.read.Load() > store.MaxRequestBytes+64<<10 {
		t.Fatalf("read %d bytes of an oversized body, cap %d", body.read.Load(), store.MaxRequestBytes)
	}
}

func TestUnsignedRejected(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{Credentials: map[string]string{"AKID": "secret"}})
	status, out := c.raw("ListStreams", obj{})
	if status != http.StatusForbidden || out["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %v", status, out)
	}
	req, _ := http.NewRequest(http.MethodPost, c.url+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature="+strings.Repeat("0", 64))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 4 {
		t.Fatalf("badly signed: %d", resp.StatusCode)
	}
}

func TestRetentionAndTags(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	c.fail("DecreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 48}, store.ErrInvalidArgument)
	c.fail("IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 10}, store.ErrInvalidArgument)
	c.fail("IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": MaxRetentionHours + 1}, store.ErrInvalidArgument)
	c.fail("IncreaseStreamRetentionPeriod", obj{"StreamName": "nope", "RetentionPeriodHours": 48}, store.ErrResourceNotFound)
	c.do("IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 72})
	c.fail("IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 48}, store.ErrInvalidArgument)
	c.do("DecreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 48})
	sum := c.do("DescribeStreamSummary", obj{"StreamName": "s"})["StreamDescriptionSummary"]
	if field(sum, "RetentionPeriodHours") != 48.0 {
		t.Fatalf("retention: %v", sum)
	}

	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"b": "2", "a": "1"}})
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"c": "3"}})
	out := c.do("ListTagsForStream", obj{"StreamName": "s", "Limit": 2})
	if fmt.Sprint(out["Tags"]) != "[map[Key:a Value:1] map[Key:b Value:2]]" || out["HasMoreTags"] != true {
		t.Fatalf("tags page 1: %v", out)
	}
	out = c.do("ListTagsForStream", obj{"StreamName": "s", "ExclusiveStartTagKey": "b"})
	if fmt.Sprint(out["Tags"]) != "[map[Key:c Value:3]]" || out["HasMoreTags"] != false {
		t.Fatalf("tags page 2: %v", out)
	}
	c.do("RemoveTagsFromStream", obj{"StreamName": "s", "TagKeys": []string{"a"}})
	for i := 0; i < 5; i++ {
		tags := obj{}
		for j := 0; j < 10; j++ {
			tags[fmt.Sprintf("k%d-%d", i, j)] = "v"
		}
		if i < 4 {
			c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": tags})
		} else {
			c.fail("AddTagsToStream", obj{"StreamName": "s", "Tags": tags}, store.ErrInvalidArgument)
		}
	}
	c.fail("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{}}, store.ErrValidation)
	c.fail("ListTagsForStream", obj{"StreamName": "nope"}, store.ErrResourceNotFound)
}

func TestSplitMerge(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	put := func(hash string, data string) string {
		t.Helper()
		return c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": hash, "Data": b64(data)})["ShardId"].(string)
	}
	put("1", "before")
	it := c.iterator("s", "shardId-000000000000", "TRIM_HORIZON", nil)
	mid := store.EvenRanges(2)[1].Start.String()

	c.fail("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "0"}, store.ErrInvalidArgument)
	c.fail("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "x"}, store.ErrInvalidArgument)
	c.fail("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000007", "NewStartingHashKey": mid}, store.ErrResourceNotFound)
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})
	c.fail("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid}, store.ErrResourceInUse)
	if got := put("1", "lo"); got != "shardId-000000000001" {
		t.Fatalf("low key went to %s", got)
	}
	if got := put(mid, "hi"); got != "shardId-000000000002" {
		t.Fatalf("high key went to %s", got)
	}

	// The parent reads to its end, then ends with no next iterator and names its children.
	recs, last := c.getAll(it)
	if len(recs) != 1 || field(recs[0], "Data") != b64("before") {
		t.Fatalf("parent records %v", recs)
	}
	if _, ok := last["NextShardIterator"]; ok {
		t.Fatalf("closed shard read to its end still has a NextShardIterator: %v", last)
	}
	if ch := list(last["ChildShards"]); len(ch) != 2 {
		t.Fatalf("ChildShards: %v", last)
	}

	c.fail("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000001"}, store.ErrResourceInUse)
	c.do("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000001", "AdjacentShardToMerge": "shardId-000000000002"})
	if got := put("1", "merged"); got != "shardId-000000000003" {
		t.Fatalf("after merge key went to %s", got)
	}
	shards := list(c.do("ListShards", obj{"StreamName": "s"})["Shards"])
	if len(shards) != 4 {
		t.Fatalf("ListShards after split and merge: %v", shards)
	}
	if field(shards[3], "ParentShardId") != "shardId-000000000001" || field(shards[3], "AdjacentParentShardId") != "shardId-000000000002" {
		t.Fatalf("merged shard parents: %v", shards[3])
	}
	if end := field(field(shards[0], "SequenceNumberRange"), "EndingSequenceNumber"); end == nil || logSeq(t, end) != 1 {
		t.Fatalf("closed parent has no ending sequence number: %v", shards[0])
	}
	if _, ok := field(shards[3], "SequenceNumberRange").(map[string]any)["EndingSequenceNumber"]; ok {
		t.Fatalf("open shard has an ending sequence number: %v", shards[3])
	}
	open := list(c.do("ListShards", obj{"StreamName": "s", "ShardFilter": obj{"Type": "AT_LATEST"}})["Shards"])
	if len(open) != 1 || field(open[0], "ShardId") != "shardId-000000000003" {
		t.Fatalf("ListShards AT_LATEST: %v", open)
	}
	after := list(c.do("ListShards", obj{"StreamName": "s", "ShardFilter": obj{"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000001"}})["Shards"])
	if len(after) != 2 {
		t.Fatalf("ListShards AFTER_SHARD_ID: %v", after)
	}
	if n := len(list(c.do("ListShards", obj{"StreamName": "s", "ShardFilter": obj{"Type": "AT_TRIM_HORIZON"}})["Shards"])); n != 4 {
		t.Fatalf("ListShards AT_TRIM_HORIZON: %d shards", n)
	}
	c.fail("ListShards", obj{"StreamName": "s", "ShardFilter": obj{"Type": "SOMETIME"}}, store.ErrInvalidArgument)
	sum := c.do("DescribeStreamSummary", obj{"StreamName": "s"})["StreamDescriptionSummary"]
	if field(sum, "OpenShardCount") != 1.0 {
		t.Fatalf("open shards: %v", sum)
	}
}

func TestRestartPersists(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 2})
	c.do("CreateStream", obj{"StreamName": "gone", "ShardCount": 1})
	c.do("DeleteStream", obj{"StreamName": "gone"})
	for i := 0; i < 3; i++ {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64(strconv.Itoa(i))})
	}
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000001", "NewStartingHashKey": store.MaxHashKey.Sub(5).String()})
	c.do("AddTagsToStream", obj{"StreamName": "s", "Tags": obj{"team": "data"}})
	c.do("IncreaseStreamRetentionPeriod", obj{"StreamName": "s", "RetentionPeriodHours": 100})
	start := field(field(list(c.do("ListShards", obj{"StreamName": "s"})["Shards"])[0], "SequenceNumberRange"), "StartingSequenceNumber")
	it := c.iterator("s", "shardId-000000000000", "AT_SEQUENCE_NUMBER", obj{"StartingSequenceNumber": withSeq(t, start, 2)})
	descBefore := c.do("DescribeStream", obj{"StreamName": "s"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, c = startServer(t, dir, Options{})
	if names := c.do("ListStreams", obj{})["StreamNames"]; fmt.Sprint(names) != "[s]" {
		t.Fatalf("streams after restart: %v", names)
	}
	descAfter := c.do("DescribeStream", obj{"StreamName": "s"})
	if a, b := fmt.Sprint(descBefore), fmt.Sprint(descAfter); a != b {
		t.Fatalf("description changed across restart:\n%s\n%s", a, b)
	}
	// An iterator issued before the restart still reads.
	out := c.do("GetRecords", obj{"ShardIterator": it})
	if got, want := seqs(list(out["Records"])), withSeq(t, start, 2)+","+withSeq(t, start, 3); got != want {
		t.Fatalf("old iterator after restart: %v", out)
	}
	if out := c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "ExplicitHashKey": "0", "Data": b64("x")}); out["SequenceNumber"] != withSeq(t, start, 4) {
		t.Fatalf("sequence after restart: %v", out)
	}
	if tags := c.do("ListTagsForStream", obj{"StreamName": "s"})["Tags"]; fmt.Sprint(tags) != "[map[Key:team Value:data]]" {
		t.Fatalf("tags after restart: %v", tags)
	}
	c.do("MergeShards", obj{"StreamName": "s", "ShardToMerge": "shardId-000000000002", "AdjacentShardToMerge": "shardId-000000000003"})
}

// A stream whose name looks like a server file must not disturb it.
func TestStreamNamedLikeServerFiles(t *testing.T) {
	dir := t.TempDir()
	s, c := startServer(t, dir, Options{})
	c.do("CreateStream", obj{"StreamName": "x", "ShardCount": 1})
	it := c.iterator("x", "shardId-000000000000", "TRIM_HORIZON", nil)
	for _, name := range []string{"iterator.key", "stream.json", "x.tmp"} {
		c.do("CreateStream", obj{"StreamName": name, "ShardCount": 1})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, c = startServer(t, dir, Options{})
	c.do("GetRecords", obj{"ShardIterator": it}) // the iterator key survived
	if names := c.do("ListStreams", obj{})["StreamNames"]; fmt.Sprint(names) != "[iterator.key stream.json x x.tmp]" {
		t.Fatalf("streams: %v", names)
	}
}

func TestInterruptedDeleteIsFinished(t *testing.T) {
	dir := t.TempDir()
	trash := filepath.Join(dir, trashPrefix+"s~1")
	if err := os.MkdirAll(filepath.Join(trash, "shardId-000000000000"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, c := startServer(t, dir, Options{})
	if _, err := os.Stat(trash); !os.IsNotExist(err) {
		t.Fatalf("trash left after New: %v", err)
	}
	if names := c.do("ListStreams", obj{})["StreamNames"]; len(list(names)) != 0 {
		t.Fatalf("streams: %v", names)
	}
}
