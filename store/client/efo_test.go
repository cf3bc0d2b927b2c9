package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/server"
)

// startFanOut runs a store server whose consumers become ACTIVE after
// 20 ms and whose subscriptions last lifetime (0: 5 minutes), over HTTP/1.1
// or, with h2, HTTP/2 over TLS; proto is the HTTP major version of the
// last SubscribeToShard the server saw.
func startFanOut(t *testing.T, h2 bool, lifetime time.Duration) (c *Client, proto *atomic.Int32) {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{FanOut: server.FanOutOptions{
		ConsumerDelay: 20 * time.Millisecond, SubscriptionLifetime: lifetime, Heartbeat: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	proto = &atomic.Int32{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "Kinesis_20131202.SubscribeToShard" {
			proto.Store(int32(r.ProtoMajor))
		}
		s.ServeHTTP(w, r)
	}))
	if h2 {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return New(ts.URL, ts.Client()), proto
}

// TestConsumerLifecycle: a consumer registered is CREATING, then ACTIVE;
// it is described by ARN or by stream and name, listed, and deregistered;
// API errors keep AWS's type.
func TestConsumerLifecycle(t *testing.T) {
	ctx := context.Background()
	c, _ := startFanOut(t, false, 0)
	if err := c.CreateStream(ctx, "s", 1); err != nil {
		t.Fatal(err)
	}
	sum, err := c.DescribeStreamSummary(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, sum.StreamARN, "app")
	if err != nil {
		t.Fatal(err)
	}
	if reg.ConsumerName != "app" || reg.ConsumerStatus != ConsumerCreating || reg.ConsumerARN == "" || reg.Created().IsZero() {
		t.Fatalf("registered %+v", reg)
	}
	_, err = c.RegisterStreamConsumer(ctx, sum.StreamARN, "app")
	var se *store.Error
	if !errors.As(err, &se) || se.Code != store.ErrResourceInUse {
		t.Fatalf("registered twice: %v", err)
	}
	act, err := c.WaitConsumerActive(ctx, ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if act.ConsumerStatus != ConsumerActive || act.ConsumerARN != reg.ConsumerARN || act.StreamARN != sum.StreamARN {
		t.Fatalf("active %+v, registered %+v", act, reg)
	}
	byARN, err := c.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: reg.ConsumerARN})
	if err != nil || byARN.ConsumerName != "app" {
		t.Fatalf("by ARN: %+v, %v", byARN, err)
	}
	list, err := c.ListStreamConsumers(ctx, sum.StreamARN)
	if err != nil || len(list) != 1 || list[0].ConsumerARN != reg.ConsumerARN {
		t.Fatalf("listed %+v, %v", list, err)
	}
	if err := c.DeregisterStreamConsumer(ctx, ConsumerRef{ConsumerARN: reg.ConsumerARN}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.DescribeStreamConsumer(ctx, ConsumerRef{ConsumerARN: reg.ConsumerARN})
		if IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deregistered consumer still described: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = c.WaitConsumerActive(ctx, ConsumerRef{ConsumerARN: reg.ConsumerARN})
	if !IsNotFound(err) {
		t.Fatalf("waiting for a deregistered consumer: %v", err)
	}
}

// subscribe registers consumer "app" on stream s (1 shard) and subscribes
// it to the shard from pos.
func subscribe(t *testing.T, c *Client, pos StartingPosition) (string, *Subscription) {
	t.Helper()
	ctx := context.Background()
	sum, err := c.DescribeStreamSummary(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	arn := ""
	if cons, err := c.DescribeStreamConsumer(ctx, ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: "app"}); err == nil {
		arn = cons.ConsumerARN
	} else {
		reg, err := c.RegisterStreamConsumer(ctx, sum.StreamARN, "app")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WaitConsumerActive(ctx, ConsumerRef{ConsumerARN: reg.ConsumerARN}); err != nil {
			t.Fatal(err)
		}
		arn = reg.ConsumerARN
	}
	sub, err := c.SubscribeToShard(ctx, SubscribeToShardInput{ConsumerARN: arn, ShardId: "shardId-000000000000", StartingPosition: pos})
	if err != nil {
		t.Fatal(err)
	}
	return arn, sub
}

func putN(t *testing.T, c *Client, from, to int) {
	t.Helper()
	var recs []PutRecordsEntry
	for i := from; i < to; i++ {
		recs = append(recs, PutRecordsEntry{Data: fmt.Appendf(nil, "r%d", i), PartitionKey: fmt.Sprint(i)})
	}
	if out, err := c.PutRecords(context.Background(), "s", recs); err != nil || out.FailedRecordCount != 0 {
		t.Fatalf("PutRecords: %+v, %v", out, err)
	}
}

// TestSubscribeToShard reads a shard's records pushed by a store server,
// those put before the subscription and those put while it is open, over
// HTTP/1.1 and over HTTP/2 with TLS; when the subscription's lifetime is
// over Next says io.EOF, and a subscription after its continuation goes on
// with the next record.
func TestSubscribeToShard(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprint("h2=", h2), func(t *testing.T) {
			c, proto := startFanOut(t, h2, 400*time.Millisecond)
			if err := c.CreateStream(context.Background(), "s", 1); err != nil {
				t.Fatal(err)
			}
			putN(t, c, 0, 50)
			_, sub := subscribe(t, c, StartingPosition{Type: TrimHorizon})
			defer sub.Close()
			if want := map[bool]int32{false: 1, true: 2}[h2]; proto.Load() != want {
				t.Fatalf("subscribed over HTTP/%d, want %d", proto.Load(), want)
			}
			var got []string
			cont := ""
			read := func(sub *Subscription, n int) error {
				for len(got) < n {
					ev, err := sub.Next()
					if err != nil {
						return err
					}
					for _, r := range ev.Records {
						got = append(got, string(r.Data))
					}
					cont = ev.ContinuationSequenceNumber
				}
				return nil
			}
			if err := read(sub, 50); err != nil {
				t.Fatal(err)
			}
			putN(t, c, 50, 60) // pushed while subscribed
			if err := read(sub, 60); err != nil {
				t.Fatal(err)
			}
			var err error
			for err == nil {
				_, err = sub.Next()
			}
			if err != io.EOF {
				t.Fatalf("the end of the subscription's lifetime read as %v, want io.EOF", err)
			}
			putN(t, c, 60, 70)
			_, again := subscribe(t, c, StartingPosition{Type: AfterSequenceNumber, SequenceNumber: cont})
			defer again.Close()
			if err := read(again, 70); err != nil {
				t.Fatal(err)
			}
			for i, s := range got {
				if s != fmt.Sprint("r", i) {
					t.Fatalf("record #%d is %q (read %d)", i, s, len(got))
				}
			}
		})
	}
}

// TestSubscribeToShardErrors: refusals before the stream starts are
// *store.Error with AWS's type, as for any operation.
func TestSubscribeToShardErrors(t *testing.T) {
	c, _ := startFanOut(t, false, 0)
	if err := c.CreateStream(context.Background(), "s", 1); err != nil {
		t.Fatal(err)
	}
	arn, sub := subscribe(t, c, StartingPosition{Type: Latest})
	sub.Close()
	for _, tc := range []struct {
		in   SubscribeToShardInput
		code string
	}{
		{SubscribeToShardInput{ConsumerARN: arn, ShardId: "shardId-000000000009", StartingPosition: StartingPosition{Type: Latest}}, store.ErrResourceNotFound},
		{SubscribeToShardInput{ConsumerARN: arn + "0", ShardId: "shardId-000000000000", StartingPosition: StartingPosition{Type: Latest}}, store.ErrResourceNotFound},
	} {
		_, err := c.SubscribeToShard(context.Background(), tc.in)
		var se *store.Error
		if !errors.As(err, &se) || se.Code != tc.code || se.Message == "" {
			t.Errorf("SubscribeToShard(%+v) = %v, want %s", tc.in, err, tc.code)
		}
	}
}

// TestSubscriptionCloseReleases: closing a subscription that waits for
// records ends its Next and releases the connection (goleak checks that no
// goroutine is left).
func TestSubscriptionCloseReleases(t *testing.T) {
	c, _ := startFanOut(t, true, 0)
	if err := c.CreateStream(context.Background(), "s", 1); err != nil {
		t.Fatal(err)
	}
	_, sub := subscribe(t, c, StartingPosition{Type: Latest})
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := sub.Next(); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	sub.Close()
	select {
	case err := <-done:
		if errors.Is(err, io.EOF) {
			t.Fatalf("a closed subscription read as its end: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next still waits 2 s after Close")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
}
