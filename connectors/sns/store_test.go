package sns

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// startStore runs a store in-process with the given one-shard streams and
// returns it, its URL and a client.
func startStore(t *testing.T, streams ...string) (*server.Server, string, *client.Client) {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	c := client.New(ts.URL, ts.Client())
	for _, st := range streams {
		if err := c.CreateStream(context.Background(), st, 1); err != nil {
			t.Fatal(err)
		}
	}
	return s, ts.URL, c
}

// records reads every record of a one-shard stream.
func records(t *testing.T, c *client.Client, stream string) []string {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, stream)
	if err != nil || len(shards) != 1 {
		t.Fatalf("ListShards: %v, %v", shards, err)
	}
	it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: stream, ShardId: shards[0].ShardId, ShardIteratorType: client.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(ctx, it, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var rs []string
	for _, r := range out.Records {
		rs = append(rs, string(r.Data))
	}
	return rs
}

func TestStoreProtocol(t *testing.T) {
	_, url, c := startStore(t, "notifications", "raw")
	tp := newTopic(t, "tostore")
	subscribe(t, tp, SubscriptionConfig{Protocol: "store", Endpoint: "notifications", StoreEndpoint: url})
	subscribe(t, tp, SubscriptionConfig{Protocol: "store", Endpoint: "raw", StoreEndpoint: url, RawMessageDelivery: true})
	id1 := publish(t, tp, Message{Body: "one"})
	id2 := publish(t, tp, Message{Body: `{"two": 2}`})
	flush(t, tp)
	rs := records(t, c, "notifications")
	if len(rs) != 2 {
		t.Fatalf("records %q", rs)
	}
	for i, want := range []struct{ id, body string }{{id1, "one"}, {id2, `{"two": 2}`}} {
		var e struct{ Type, MessageId, TopicArn, Message string }
		if err := json.Unmarshal([]byte(rs[i]), &e); err != nil {
			t.Fatal(err)
		}
		if e.Type != "Notification" || e.MessageId != want.id || e.TopicArn != tp.ARN() || e.Message != want.body {
			t.Errorf("record %d: %+v", i, e)
		}
	}
	if got := records(t, c, "raw"); len(got) != 2 || got[0] != "one" || got[1] != `{"two": 2}` {
		t.Errorf("raw records %q", got)
	}
}

func TestStoreDeadLetterInEmbeddedStore(t *testing.T) {
	srv, _, c := startStore(t, "dead")
	store.UseEmbedded(srv)
	defer store.UseEmbedded(nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	tp := newTopic(t, "embedded")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(1), DeadLetter: "store:dead"})
	// A stream that does not exist: every attempt fails, then the message
	// is dead-lettered too.
	subscribe(t, tp, SubscriptionConfig{Name: "missing", Protocol: "store", Endpoint: "nosuchstream", DeliveryPolicy: fastPolicy(1), DeadLetter: "store:dead"})
	id := publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	rs := records(t, c, "dead")
	if len(rs) != 2 {
		t.Fatalf("dead letters %q", rs)
	}
	subs := map[string]string{}
	for _, r := range rs {
		var d struct {
			Subscription, Reason string
			Attempts             int
			Message              struct{ MessageId string }
		}
		if err := json.Unmarshal([]byte(r), &d); err != nil {
			t.Fatal(err)
		}
		if d.Attempts != 2 || d.Message.MessageId != id {
			t.Errorf("dead letter %s", r)
		}
		subs[d.Subscription] = d.Reason
	}
	if len(subs) != 2 || subs["missing"] == "" || subs["s"] == "" {
		t.Errorf("dead letters %q", rs)
	}
}

func TestStoreWithoutEmbeddedStore(t *testing.T) {
	tp := newTopic(t, "noembedded")
	if _, err := tp.Subscribe(SubscriptionConfig{Name: "x", Protocol: "store", Endpoint: "s"}); err == nil {
		t.Fatal("Subscribe to the embedded store when there is none succeeded")
	}
}
