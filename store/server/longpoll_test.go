package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

// longGet sends GetRecords for it with LongPollHeader set to wait (none
// when empty) and returns the status and decoded answer.
func (c *client) longGet(ctx context.Context, it, wait string) (int, map[string]any, error) {
	b, _ := json.Marshal(obj{"ShardIterator": it})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if wait != "" {
		req.Header.Set(LongPollHeader, wait)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, nil, fmt.Errorf("decode answer: %w", err)
	}
	return resp.StatusCode, out, nil
}

// result is the outcome of a GetRecords sent in the background.
type result struct {
	status int
	out    map[string]any
	err    error
	at     time.Time
}

func (c *client) longGetAsync(ctx context.Context, it, wait string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		status, out, err := c.longGet(ctx, it, wait)
		ch <- result{status, out, err, time.Now()}
	}()
	return ch
}

// await returns the result, failing the test after 10 s.
func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("GetRecords: %v", r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("GetRecords did not return within 10 s")
		return result{}
	}
}

// idle waits a little so a long poll sent in the background is waiting.
// Whether it is does not change what the tests expect, only what they test.
func idle() { time.Sleep(50 * time.Millisecond) }

func TestLongPollWakesOnPut(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	pending := c.longGetAsync(context.Background(), it, "10000")
	idle()
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("hello")})
	acked := time.Now()
	r := await(t, pending)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %v", r.status, r.out)
	}
	if recs := list(r.out["Records"]); len(recs) != 1 || field(recs[0], "Data") != b64("hello") {
		t.Fatalf("records %v, want the one put", r.out["Records"])
	}
	if d := r.at.Sub(acked); d > 50*time.Millisecond {
		t.Errorf("GetRecords answered %v after the PutRecord, want < 50ms", d)
	}
	// Records already there are answered at once.
	start := time.Now()
	it = c.iterator("s", "shardId-000000000000", "TRIM_HORIZON", nil)
	r = await(t, c.longGetAsync(context.Background(), it, "10000"))
	if len(list(r.out["Records"])) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("GetRecords with records waiting: %v after %v", r.out, time.Since(start))
	}
}

func TestLongPollElapses(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	start := time.Now()
	r := await(t, c.longGetAsync(context.Background(), it, "150"))
	if d := r.at.Sub(start); d < 150*time.Millisecond {
		t.Errorf("GetRecords answered after %v, want the 150ms wait", d)
	}
	if r.status != http.StatusOK || len(list(r.out["Records"])) != 0 || r.out["NextShardIterator"] == nil {
		t.Fatalf("answer %d %v, want no records and a next iterator", r.status, r.out)
	}
	// The next iterator still works, and sees a record put since.
	c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64("later")})
	r = await(t, c.longGetAsync(context.Background(), r.out["NextShardIterator"].(string), "150"))
	if len(list(r.out["Records"])) != 1 {
		t.Fatalf("answer %v, want the record put after the wait", r.out)
	}
}

func TestLongPollShardClosed(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	pending := c.longGetAsync(context.Background(), it, "10000")
	idle()
	start := time.Now()
	mid := store.EvenRanges(2)[1].Start.String()
	c.do("SplitShard", obj{"StreamName": "s", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": mid})
	r := await(t, pending)
	if d := r.at.Sub(start); d > 5*time.Second {
		t.Errorf("GetRecords answered %v after the split", d)
	}
	children := list(r.out["ChildShards"])
	if r.status != http.StatusOK || len(children) != 2 || r.out["NextShardIterator"] != nil {
		t.Fatalf("answer %d %v, want two child shards and no next iterator", r.status, r.out)
	}
}

func TestLongPollStreamDeleted(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	pending := c.longGetAsync(context.Background(), it, "10000")
	idle()
	c.do("DeleteStream", obj{"StreamName": "s"})
	r := await(t, pending)
	if r.status != http.StatusBadRequest || r.out["__type"] != store.ErrResourceNotFound {
		t.Fatalf("answer %d %v, want ResourceNotFoundException", r.status, r.out)
	}
}

// TestLongPollCancelAndClose: a waiting call ends when its client goes away
// and when the server closes, well before its wait.
func TestLongPollCancelAndClose(t *testing.T) {
	s, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	serve := func(ctx context.Context) <-chan *httptest.ResponseRecorder {
		done := make(chan *httptest.ResponseRecorder, 1)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(fmt.Sprintf(`{"ShardIterator":%q}`, it)))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
		req.Header.Set(LongPollHeader, "10000")
		go func() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			done <- rec
		}()
		return done
	}
	ctx, cancel := context.WithCancel(context.Background())
	pending := serve(ctx)
	idle()
	cancel()
	select {
	case rec := <-pending:
		if rec.Code != http.StatusOK {
			t.Errorf("cancelled call answered %d %s", rec.Code, rec.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GetRecords still waiting 5 s after its client went away")
	}

	pending = serve(context.Background())
	idle()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pending:
	case <-time.After(5 * time.Second):
		t.Fatal("GetRecords still waiting 5 s after the server closed")
	}
}

func TestLongPollHeaderValidation(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	for _, v := range []string{"0", "-1", "10001", "1.5", "abc", "12ms", "1e3"} {
		status, out, err := c.longGet(context.Background(), it, v)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := out["message"].(string)
		if status != http.StatusBadRequest || out["__type"] != store.ErrValidation || !strings.Contains(msg, LongPollHeader) {
			t.Errorf("%s: %q: answer %d %v, want ValidationException naming the header", LongPollHeader, v, status, out)
		}
	}
	for _, v := range []string{"1", "10000"} {
		c.do("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(v)})
		status, out, err := c.longGet(context.Background(), it, v)
		if err != nil || status != http.StatusOK || len(list(out["Records"])) == 0 {
			t.Errorf("%s: %q: answer %d %v %v, want the records", LongPollHeader, v, status, out, err)
		}
	}
}
