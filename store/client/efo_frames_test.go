package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/eventstream"
)

// frame encodes one event-stream message with string headers (name, value,
// name, value, …).
func frame(t *testing.T, payload string, headers ...string) []byte {
	t.Helper()
	m := eventstream.Message{Payload: []byte(payload)}
	for i := 0; i+1 < len(headers); i += 2 {
		m.Headers = append(m.Headers, eventstream.Header{Name: headers[i], Value: eventstream.StringValue(headers[i+1])})
	}
	b, err := eventstream.AppendMessage(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSubscriptionReadsFramesAsAWSSendsThem: the messages a Kinesis
// SubscribeToShard answer holds, framed as AWS frames them — the initial
// response, events, an exception — are read as events and a *store.Error
// with the exception's type and message; the request is AWS's.
func TestSubscriptionReadsFramesAsAWSSendsThem(t *testing.T) {
	var got struct {
		ConsumerARN      string
		ShardId          string
		StartingPosition struct {
			Type      string
			Timestamp float64
		}
	}
	target := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target <- r.Header.Get("X-Amz-Target")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.Header().Set("Content-Type", eventstream.ContentType)
		ev := func(typ, payload string) []byte {
			return frame(t, payload, ":message-type", "event", ":event-type", typ, ":content-type", "application/x-amz-json-1.1")
		}
		_, _ = w.Write(ev("initial-response", "{}"))
		_, _ = w.Write(ev("SubscribeToShardEvent", `{"Records":[{"SequenceNumber":"49","ApproximateArrivalTimestamp":1.7e9,"Data":"aGk=","PartitionKey":"k"}],`+
			`"ContinuationSequenceNumber":"49","MillisBehindLatest":7}`))
		w.(http.Flusher).Flush()
		_, _ = w.Write(ev("SubscribeToShardEvent", `{"Records":[],"ContinuationSequenceNumber":"50","MillisBehindLatest":0,`+
			`"ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"9"}}]}`))
		_, _ = w.Write(frame(t, `{"message":"Internal service failure."}`, ":message-type", "exception", ":exception-type", "InternalFailureException",
			":content-type", "application/x-amz-json-1.1"))
	}))
	defer ts.Close()
	c := New(ts.URL, ts.Client())
	at := time.UnixMilli(1_700_000_000_500)
	sub, err := c.SubscribeToShard(context.Background(), SubscribeToShardInput{ConsumerARN: "arn:c", ShardId: "shardId-000000000000",
		StartingPosition: StartingPosition{Type: AtTimestamp, Timestamp: &at}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if tg := <-target; tg != "Kinesis_20131202.SubscribeToShard" || got.ConsumerARN != "arn:c" || got.StartingPosition.Type != AtTimestamp ||
		got.StartingPosition.Timestamp != 1_700_000_000.5 {
		t.Fatalf("request %s %+v", tg, got)
	}
	ev, err := sub.Next()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 || string(ev.Records[0].Data) != "hi" || ev.ContinuationSequenceNumber != "49" || ev.MillisBehindLatest != 7 {
		t.Fatalf("first event %+v", ev)
	}
	ev, err = sub.Next()
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 0 || len(ev.ChildShards) != 1 || ev.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
		t.Fatalf("second event %+v", ev)
	}
	_, err = sub.Next()
	var se *store.Error
	if !errors.As(err, &se) || se.Code != "InternalFailureException" || se.Message != "Internal service failure." {
		t.Fatalf("exception read as %v", err)
	}
	if _, again := sub.Next(); again != err {
		t.Fatalf("Next after the exception = %v, want %v again", again, err)
	}
}

// TestSubscriptionEndsWithEOF: a stream that ends between messages is the
// subscription's end (io.EOF); one cut inside a message is an error.
func TestSubscriptionEndsWithEOF(t *testing.T) {
	var cutNext atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", eventstream.ContentType)
		b := frame(t, `{"Records":[],"ContinuationSequenceNumber":"1","MillisBehindLatest":0}`, ":message-type", "event", ":event-type", "SubscribeToShardEvent")
		if cutNext.Load() {
			b = b[:len(b)-3]
		}
		_, _ = w.Write(b)
	}))
	defer ts.Close()
	c := New(ts.URL, ts.Client())
	for _, cut := range []bool{false, true} {
		cutNext.Store(cut)
		sub, err := c.SubscribeToShard(context.Background(), SubscribeToShardInput{ConsumerARN: "arn:c", ShardId: "s", StartingPosition: StartingPosition{Type: Latest}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sub.Next()
		if cut {
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("a cut message read as %v", err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sub.Next(); err != io.EOF {
				t.Fatalf("the end read as %v, want io.EOF", err)
			}
		}
		sub.Close()
	}
}

// FuzzEventDecode: whenever the fast decoder takes a SubscribeToShardEvent
// payload, encoding/json takes it too and reads the very same event.
func FuzzEventDecode(f *testing.F) {
	for _, s := range []string{
		`{"Records":[],"ContinuationSequenceNumber":"4959","MillisBehindLatest":0}`,
		`{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":1764068400.123,"Data":"aGk=","PartitionKey":"k","EncryptionType":"NONE"}],"ContinuationSequenceNumber":"1","MillisBehindLatest":12}`,
		`{"Records":[{"Data":"aGk="}],"MillisBehindLatest":0,"ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000"]}]}`,
		`{"Records":[],"NextShardIterator":"x","ContinuationSequenceNumber":"1"}`,
		`{"Records":[{"Data":"aGk="}],"ContinuationSequenceNumber":"a\"b"}`,
		`{"ContinuationSequenceNumber":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast SubscribeToShardEvent
		if !decodeEvent(data, &fast) {
			return
		}
		var slow SubscribeToShardEvent
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast decoder took %q, encoding/json refuses it: %v", data, err)
		}
		if len(fast.Records) != len(slow.Records) {
			t.Fatalf("%q: %d records, encoding/json %d", data, len(fast.Records), len(slow.Records))
		}
		for i := range fast.Records {
			a, b := fast.Records[i], slow.Records[i]
			if !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("%q: record %d data %q, encoding/json %q", data, i, a.Data, b.Data)
			}
			a.Data, b.Data = nil, nil
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: record %d %+v, encoding/json %+v", data, i, a, b)
			}
		}
		fast.Records, slow.Records = nil, nil
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: %+v, encoding/json %+v", data, fast, slow)
		}
	})
}
