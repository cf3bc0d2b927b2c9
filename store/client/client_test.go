package client

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/server"
)

// start runs a store server in-process and returns a client of it. Its
// streams are CREATING, UPDATING and DELETING for 10 ms, which the client
// waits out.
func start(t *testing.T) *Client {
	t.Helper()
	return startWith(t, server.Options{StateDelay: 10 * time.Millisecond})
}

// startWith runs a store server with opt in-process until the test ends
// and returns an unsigned client of it.
func startWith(t *testing.T, opt server.Options) *Client {
	t.Helper()
	s, err := server.New(t.TempDir(), opt)
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
	return New(ts.URL, ts.Client())
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := start(t)
	if err := c.CreateStream(ctx, "s", 3); err != nil {
		t.Fatal(err)
	}
	shards, err := c.ListShards(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 || !shards[0].Open() {
		t.Fatalf("shards = %+v", shards)
	}
	var recs []PutRecordsEntry
	for i := range 100 {
		recs = append(recs, PutRecordsEntry{Data: fmt.Appendf(nil, "r%d", i), PartitionKey: fmt.Sprint("k", i)})
	}
	out, err := c.PutRecords(ctx, "s", recs)
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedRecordCount != 0 || len(out.Records) != 100 || out.Records[0].ShardId == "" {
		t.Fatalf("PutRecords = %+v", out)
	}
	got := map[string]bool{}
	for _, sh := range shards {
		it, err := c.GetShardIterator(ctx, GetShardIteratorInput{StreamName: "s", ShardId: sh.ShardId, ShardIteratorType: TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.GetRecords(ctx, it, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.NextShardIterator == "" {
			t.Fatal("no next iterator for an open shard")
		}
		for _, rec := range r.Records {
			got[string(rec.Data)] = true
		}
	}
	for i := range 100 {
		if !got[fmt.Sprintf("r%d", i)] {
			t.Fatalf("record r%d not read back (read %d)", i, len(got))
		}
	}
	// LATEST sees only what comes after it.
	it, err := c.GetShardIterator(ctx, GetShardIteratorInput{StreamName: "s", ShardId: shards[0].ShardId, ShardIteratorType: Latest})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.GetRecords(ctx, it, 10)
	if err != nil || len(r.Records) != 0 {
		t.Fatalf("GetRecords(LATEST) = %+v, %v", r, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := start(t)
	f := func(err error, code string) {
		t.Helper()
		var e *store.Error
		if !errors.As(err, &e) || e.Code != code {
			t.Fatalf("error = %v (%T), want code %s", err, err, code)
		}
	}
	_, err := c.ListShards(ctx, "missing")
	f(err, store.ErrResourceNotFound)
	if err := c.CreateStream(ctx, "s", 1); err != nil {
		t.Fatal(err)
	}
	f(c.CreateStream(ctx, "s", 1), store.ErrResourceInUse)
	f(c.CreateStream(ctx, "bad/name", 1), store.ErrValidation)
	_, err = c.GetRecords(ctx, "not-an-iterator", 0)
	f(err, store.ErrInvalidArgument)
	out, err := c.PutRecords(ctx, "s", []PutRecordsEntry{{Data: []byte("x"), PartitionKey: "k"}, {Data: []byte("y"), PartitionKey: "k", ExplicitHashKey: "not-a-number"}})
	if err == nil {
		// The server may report a bad record per record or reject the request.
		if out.FailedRecordCount != 1 || out.Records[1].ErrorCode == "" {
			t.Fatalf("PutRecords = %+v", out)
		}
	}
}
