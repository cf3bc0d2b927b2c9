package sns

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/store"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// sqsStore is a store in-process whose SQS requests are counted by
// operation; gate, when set, holds every request until it is closed.
type sqsStore struct {
	srv  *server.Server
	url  string
	sqs  *client.SQS
	mu   sync.Mutex
	ops  map[string]int
	gate chan struct{}
}

func startSQSStore(t *testing.T, gate chan struct{}) *sqsStore {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := &sqsStore{srv: s, ops: map[string]int{}, gate: gate}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS."); ok {
			st.mu.Lock()
			st.ops[op]++
			st.mu.Unlock()
			if st.gate != nil && (op == "SendMessage" || op == "SendMessageBatch") {
				<-st.gate
			}
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	st.url = ts.URL
	st.sqs = client.New(ts.URL, ts.Client()).SQS()
	return st
}

func (st *sqsStore) count(op string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ops[op]
}

func (st *sqsStore) createQueue(t *testing.T, name string) string {
	t.Helper()
	var attrs map[string]string
	if strings.HasSuffix(name, ".fifo") {
		attrs = map[string]string{"FifoQueue": "true"}
	}
	u, err := st.sqs.CreateQueue(context.Background(), name, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// receiveAll receives n messages from the queue at url, deleting each
// batch received (so that a FIFO queue hands out the next of a group).
func (st *sqsStore) receiveAll(t *testing.T, url string, n int) []client.Message {
	t.Helper()
	ctx := context.Background()
	var got []client.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages of %d", len(got), n)
		}
		ms, err := st.sqs.Receive(ctx, url, client.ReceiveInput{Max: 10, Wait: time.Second, VisibilityTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var receipts []string
		for _, m := range ms {
			got = append(got, m)
			receipts = append(receipts, m.ReceiptHandle)
		}
		if len(receipts) > 0 {
			if failed, err := st.sqs.Delete(ctx, url, receipts); err != nil || len(failed) > 0 {
				t.Fatalf("Delete: %v %v", failed, err)
			}
		}
	}
	return got
}

// empty checks that the queue at url holds nothing more.
func (st *sqsStore) empty(t *testing.T, url string) {
	t.Helper()
	ms, err := st.sqs.Receive(context.Background(), url, client.ReceiveInput{Max: 10})
	if err != nil || len(ms) != 0 {
		t.Fatalf("queue %s holds more: %+v, %v", url, ms, err)
	}
}

// sqsEnvelope is the notification SNS puts in a queue, every field.
type sqsEnvelope struct {
	Type, MessageId, SequenceNumber, TopicArn, Subject, Message, Timestamp string
	SignatureVersion, Signature, SigningCertURL, UnsubscribeURL            string
	MessageAttributes                                                      map[string]struct{ Type, Value string }
}

func TestSQSEnvelopedDelivery(t *testing.T) {
	st := startSQSStore(t, nil)
	store.UseEmbedded(st.srv)
	defer store.UseEmbedded(nil)
	byName, byURL, byARN := st.createQueue(t, "by-name"), st.createQueue(t, "by-url"), st.createQueue(t, "by-arn")
	tp := newTopic(t, "toqueue")
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: "by-name", StoreEndpoint: st.url})
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: byURL})
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: "arn:aws:sqs:eu-west-1:" + kstore.AccountID + ":by-arn"}) // the embedded store
	at := time.Date(2026, 12, 6, 10, 0, 0, 123e6, time.UTC)
	bin := base64.StdEncoding.EncodeToString([]byte{0, 1, 2})
	id := publish(t, tp, Message{Subject: "Hot <host>", Body: `{"cpu": 97.5} & more`, Timestamp: at, Attributes: map[string]Attribute{
		"host": {Type: "String", Value: "web-1"}, "cpu": {Type: "Number", Value: "97.5"}, "blob": {Type: "Binary", Value: bin},
	}})
	flush(t, tp)
	for _, url := range []string{byName, byURL, byARN} {
		ms := st.receiveAll(t, url, 1)
		m := ms[0]
		var e sqsEnvelope
		if err := json.Unmarshal([]byte(m.Body), &e); err != nil {
			t.Fatalf("%s: not an envelope: %q", url, m.Body)
		}
		if e.Type != "Notification" || e.MessageId != id || e.TopicArn != tp.ARN() || e.Subject != "Hot <host>" ||
			e.Message != `{"cpu": 97.5} & more` || e.Timestamp != "2026-12-06T10:00:00.123Z" || e.SignatureVersion != "1" ||
			e.Signature != "" || e.SigningCertURL != "" || e.UnsubscribeURL != "" || e.SequenceNumber != "" {
			t.Errorf("%s: envelope %+v", url, e)
		}
		if a := e.MessageAttributes; len(a) != 3 || a["host"].Type != "String" || a["host"].Value != "web-1" ||
			a["cpu"].Type != "Number" || a["cpu"].Value != "97.5" || a["blob"].Type != "Binary" || a["blob"].Value != bin {
			t.Errorf("%s: envelope's attributes %+v", url, a)
		}
		// The keys in SNS's order, nothing else.
		want := []string{"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
			"SigningCertURL", "UnsubscribeURL", "MessageAttributes"}
		if keys := jsonKeys(t, m.Body); !slices.Equal(keys, want) {
			t.Errorf("%s: envelope keys %q, want %q", url, keys, want)
		}
		if len(m.MessageAttributes) != 0 {
			t.Errorf("%s: an enveloped message has SQS message attributes %+v", url, m.MessageAttributes)
		}
		st.empty(t, url)
	}
	if n := counter(tp, "sluice_sns_deliveries_total", "sqs-1"); n != 1 {
		t.Errorf("deliveries_total = %d", n)
	}
}

// jsonKeys returns the keys of a JSON object in their order.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestSQSRawDelivery(t *testing.T) {
	st := startSQSStore(t, nil)
	url := st.createQueue(t, "raw")
	tp := newTopic(t, "raw")
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: "raw", StoreEndpoint: st.url, RawMessageDelivery: true})
	publish(t, tp, Message{Subject: "ignored", Body: `{"order": 7}`, Attributes: map[string]Attribute{
		"kind":  {Type: "String", Value: "order"},
		"total": {Type: "Number", Value: "12.50"},
		"sig":   {Type: "Binary", Value: base64.StdEncoding.EncodeToString([]byte("\x00\xffsig"))},
		"tags":  {Type: "String.Array", Value: `["a","b"]`},
	}})
	publish(t, tp, Message{Body: "plain text, no attributes"})
	flush(t, tp)
	ms := st.receiveAll(t, url, 2)
	byBody := map[string]client.Message{}
	for _, m := range ms {
		byBody[m.Body] = m
	}
	m, ok := byBody[`{"order": 7}`]
	if !ok {
		t.Fatalf("bodies %v", slices.Collect(func(yield func(string) bool) {
			for b := range byBody {
				yield(b)
			}
		}))
	}
	a := m.MessageAttributes
	str := func(name, typ, want string) {
		t.Helper()
		if v := a[name]; v.DataType != typ || v.StringValue == nil || *v.StringValue != want {
			t.Errorf("attribute %s = %+v, want %s %q", name, v, typ, want)
		}
	}
	if len(a) != 4 {
		t.Errorf("attributes %+v", a)
	}
	str("kind", "String", "order")
	str("total", "Number", "12.50")
	str("tags", "String.Array", `["a","b"]`)
	if v := a["sig"]; v.DataType != "Binary" || string(v.BinaryValue) != "\x00\xffsig" {
		t.Errorf("attribute sig = %+v", v)
	}
	if p, ok := byBody["plain text, no attributes"]; !ok || len(p.MessageAttributes) != 0 {
		t.Errorf("second message %+v (present %v)", p, ok)
	}
}

func TestSQSFilterPolicy(t *testing.T) {
	st := startSQSStore(t, nil)
	alarms, eu := st.createQueue(t, "alarms"), st.createQueue(t, "eu")
	tp := newTopic(t, "filtered")
	subscribe(t, tp, SubscriptionConfig{Name: "alarms", Protocol: "sqs", Endpoint: "alarms", StoreEndpoint: st.url, RawMessageDelivery: true,
		FilterPolicy: `{"state": ["ALARM"]}`})
	subscribe(t, tp, SubscriptionConfig{Name: "eu", Protocol: "sqs", Endpoint: "eu", StoreEndpoint: st.url, RawMessageDelivery: true,
		FilterPolicy: `{"region": [{"prefix": "eu-"}]}`, FilterPolicyScope: "MessageBody"})
	publish(t, tp, Message{Body: `{"region": "eu-west-1"}`, Attributes: map[string]Attribute{"state": {Type: "String", Value: "ALARM"}}})
	publish(t, tp, Message{Body: `{"region": "us-east-1"}`, Attributes: map[string]Attribute{"state": {Type: "String", Value: "OK"}}})
	publish(t, tp, Message{Body: `{"region": "us-west-2"}`, Attributes: map[string]Attribute{"state": {Type: "String", Value: "ALARM"}}})
	publish(t, tp, Message{Body: `{"region": "eu-central-1"}`})
	flush(t, tp)
	bodies := func(ms []client.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Body)
		}
		slices.Sort(out)
		return out
	}
	if got := bodies(st.receiveAll(t, alarms, 2)); !slices.Equal(got, []string{`{"region": "eu-west-1"}`, `{"region": "us-west-2"}`}) {
		t.Errorf("alarms got %q", got)
	}
	if got := bodies(st.receiveAll(t, eu, 2)); !slices.Equal(got, []string{`{"region": "eu-central-1"}`, `{"region": "eu-west-1"}`}) {
		t.Errorf("eu got %q", got)
	}
	st.empty(t, alarms)
	st.empty(t, eu)
	if a, e := counter(tp, "sluice_sns_filtered_out_total", "alarms"), counter(tp, "sluice_sns_filtered_out_total", "eu"); a != 2 || e != 2 {
		t.Errorf("filtered out: alarms %d, eu %d", a, e)
	}
}

// TestSQSBatchSends: what queues while a send is in flight goes in
// SendMessageBatch requests of at most 10 messages.
func TestSQSBatchSends(t *testing.T) {
	gate := make(chan struct{})
	st := startSQSStore(t, gate)
	url := st.createQueue(t, "burst")
	tp := newTopic(t, "burst")
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: "burst", StoreEndpoint: st.url, RawMessageDelivery: true})
	const n = 25
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint("m", i))
		publish(t, tp, Message{Body: want[i]})
	}
	close(gate)
	flush(t, tp)
	var got []string
	for _, m := range st.receiveAll(t, url, n) {
		got = append(got, m.Body)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	st.empty(t, url)
	single, batches := st.count("SendMessage"), st.count("SendMessageBatch")
	if single+batches > 4 || batches < 3 {
		t.Errorf("%d SendMessage and %d SendMessageBatch requests for %d messages; want at most 4, 3 of them batches", single, batches, n)
	}
	if d := counter(tp, "sluice_sns_deliveries_total", "sqs-1"); d != n {
		t.Errorf("deliveries_total = %d", d)
	}
}

// newFIFOTopic returns a FIFO topic (its name ends in .fifo) closed at the
// end of the test.
func newFIFOTopic(t *testing.T, name string) *Topic {
	t.Helper()
	tp, err := NewTopic(fmt.Sprintf("%s-%d.fifo", name, topicSeq.Add(1)), TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tp.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tp
}

func TestSQSFIFOOrderPerGroup(t *testing.T) {
	gate := make(chan struct{})
	st := startSQSStore(t, gate)
	fifo, std := st.createQueue(t, "orders.fifo"), st.createQueue(t, "audit")
	tp := newFIFOTopic(t, "orders")
	if !tp.FIFO() {
		t.Fatal("a topic named *.fifo is not FIFO")
	}
	subscribe(t, tp, SubscriptionConfig{Name: "fifo", Protocol: "sqs", Endpoint: "orders.fifo", StoreEndpoint: st.url})
	subscribe(t, tp, SubscriptionConfig{Name: "std", Protocol: "sqs", Endpoint: "audit", StoreEndpoint: st.url, RawMessageDelivery: true})
	groups := []string{"g1", "g2", "g3"}
	const per = 12
	for i := range per {
		for _, g := range groups {
			publish(t, tp, Message{Body: fmt.Sprintf("%s-%02d", g, i), GroupID: g})
		}
	}
	// The same body again in a group, no deduplication id: the topic drops
	// it (content-based deduplication).
	first := publish(t, tp, Message{Body: "g1-first", GroupID: "g1"})
	if again := publish(t, tp, Message{Body: "g1-first", GroupID: "g1"}); again != first {
		t.Errorf("a duplicate's ID %s, want the first's %s", again, first)
	}
	// An explicit deduplication id.
	publish(t, tp, Message{Body: "g2-extra", GroupID: "g2", DeduplicationID: "extra-1"})
	publish(t, tp, Message{Body: "g2-extra again", GroupID: "g2", DeduplicationID: "extra-1"})
	close(gate)
	flush(t, tp)
	ms := st.receiveAll(t, fifo, len(groups)*per+2)
	st.empty(t, fifo)
	got := map[string][]string{}
	lastSeq := map[string]string{}
	for _, m := range ms {
		var e sqsEnvelope
		if err := json.Unmarshal([]byte(m.Body), &e); err != nil {
			t.Fatal(err)
		}
		g := m.Attributes["MessageGroupId"]
		if !strings.HasPrefix(e.Message, g+"-") {
			t.Errorf("message %q in group %q", e.Message, g)
		}
		if len(e.SequenceNumber) != 20 || e.TopicArn != tp.ARN() {
			t.Errorf("envelope %+v", e)
		}
		got[g] = append(got[g], e.Message)
		if e.SequenceNumber <= lastSeq[g] {
			t.Errorf("sequence number %s after %s in group %s", e.SequenceNumber, lastSeq[g], g)
		}
		lastSeq[g] = e.SequenceNumber
	}
	for _, g := range groups {
		var want []string
		for i := range per {
			want = append(want, fmt.Sprintf("%s-%02d", g, i))
		}
		switch g {
		case "g1":
			want = append(want, "g1-first")
		case "g2":
			want = append(want, "g2-extra")
		}
		if !slices.Equal(got[g], want) {
			t.Errorf("group %s: %q, want %q", g, got[g], want)
		}
	}
	// A standard queue subscribed to a FIFO topic gets every message but
	// the duplicates, without group ids.
	all := st.receiveAll(t, std, len(groups)*per+2)
	st.empty(t, std)
	for _, m := range all {
		if m.Attributes["MessageGroupId"] != "" {
			t.Errorf("a standard queue's message has a group: %+v", m)
		}
	}
	if n := counter(tp, "sluice_sns_deduplicated_total", ""); n != 2 {
		t.Errorf("deduplicated_total = %d", n)
	}
	if st.count("SendMessageBatch") == 0 {
		t.Error("no SendMessageBatch request")
	}
}

func TestSQSFIFORules(t *testing.T) {
	st := startSQSStore(t, nil)
	std := newTopic(t, "std")
	_, err := std.Subscribe(SubscriptionConfig{Name: "q", Protocol: "sqs", Endpoint: "orders.fifo", StoreEndpoint: st.url})
	if err == nil || !strings.Contains(err.Error(), "option Endpoint") || !strings.Contains(err.Error(), "FIFO queue orders.fifo cannot subscribe to a standard topic") {
		t.Errorf("a FIFO queue on a standard topic: %v", err)
	}
	if _, err := std.Publish(Message{Body: "x", GroupID: "g"}); err == nil || !strings.Contains(err.Error(), "FIFO topics only") {
		t.Errorf("a group id on a standard topic: %v", err)
	}
	fifo := newFIFOTopic(t, "rules")
	_, err = fifo.Subscribe(SubscriptionConfig{Name: "h", Protocol: "http", Endpoint: "http://127.0.0.1:1/"})
	if err == nil || !strings.Contains(err.Error(), "option Protocol") || !strings.Contains(err.Error(), "FIFO topic delivers to queues only") {
		t.Errorf("http on a FIFO topic: %v", err)
	}
	if _, err := fifo.Publish(Message{Body: "x"}); err == nil || !strings.Contains(err.Error(), "group id") {
		t.Errorf("no group id on a FIFO topic: %v", err)
	}
	if _, err := NewTopic("bad.name", TopicOptions{}); err == nil {
		t.Error("a topic name with '.' not ending in .fifo was taken")
	}
}

func TestSQSSubscribeValidates(t *testing.T) {
	tp := newTopic(t, "sqsvalid")
	f := func(endpoint, storeEndpoint, want string) {
		t.Helper()
		_, err := tp.Subscribe(SubscriptionConfig{Name: "q", Protocol: "sqs", Endpoint: endpoint, StoreEndpoint: storeEndpoint})
		if err == nil || !strings.Contains(err.Error(), "option Endpoint") || !strings.Contains(err.Error(), want) {
			t.Errorf("endpoint %q: %v, want an error with %q", endpoint, err, want)
		}
	}
	f("", "", "empty queue")
	f("no spaces", "http://127.0.0.1:1", `queue name "no spaces"`)
	f(strings.Repeat("q", 81), "http://127.0.0.1:1", "1 to 80")
	f("arn:aws:sqs:us-east-1:123456789012:q", "", "account")
	f("arn:aws:sns:us-east-1:000000000000:q", "", "not an SQS ARN")
	f("http://127.0.0.1:1/q", "", "not a queue URL")
	f("http://127.0.0.1:1/000000000000/q", "http://127.0.0.1:2", "give one or the other")
	f("q", "ftp://x", "not an http")
}

// TestSQSMissingQueue: a queue that does not exist is a client-side
// error, as in SNS: no retry, the message goes to the dead letters with
// the reason; a queue created later receives what comes next.
func TestSQSMissingQueue(t *testing.T) {
	st := startSQSStore(t, nil)
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	tp := newTopic(t, "missing")
	subscribe(t, tp, SubscriptionConfig{Name: "q", Protocol: "sqs", Endpoint: "later", StoreEndpoint: st.url,
		DeliveryPolicy: fastPolicy(3), DeadLetter: "file://" + dl, RawMessageDelivery: true})
	publish(t, tp, Message{Body: "lost"})
	publish(t, tp, Message{Body: "lost too"})
	flush(t, tp)
	reasons, bodies := deadLetters(t, dl)
	if len(reasons) != 2 || !slices.Equal(bodies, []string{"lost", "lost too"}) {
		t.Fatalf("dead letters %q %q", reasons, bodies)
	}
	for _, line := range readLines(t, dl) {
		var d struct {
			Reason   string
			Attempts int
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatal(err)
		}
		if d.Attempts != 1 || d.Reason != "queue later does not exist in the store at "+st.url {
			t.Errorf("dead letter %s", line)
		}
	}
	if n := counter(tp, "sluice_sns_delivery_retries_total", "q"); n != 0 {
		t.Errorf("retries_total = %d; a missing queue is not retried", n)
	}
	url := st.createQueue(t, "later")
	publish(t, tp, Message{Body: "found"})
	flush(t, tp)
	if ms := st.receiveAll(t, url, 1); ms[0].Body != "found" {
		t.Errorf("got %q", ms[0].Body)
	}
}

// TestSQSUnreachableStoreRetried: a store that refuses connections is a
// transient failure: the delivery policy's attempts, then the dead letters.
func TestSQSUnreachableStoreRetried(t *testing.T) {
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	tp := newTopic(t, "unreachable")
	gone := strings.TrimSuffix(refusedURL(t), "/hook")
	subscribe(t, tp, SubscriptionConfig{Name: "q", Protocol: "sqs", Endpoint: gone + "/000000000000/q",
		DeliveryPolicy: fastPolicy(2), DeadLetter: "file://" + dl})
	publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	lines := readLines(t, dl)
	if len(lines) != 1 || !strings.Contains(lines[0], `"attempts":3`) || !strings.Contains(lines[0], "queue q (the store at "+gone+")") {
		t.Errorf("dead letters %q", lines)
	}
	if n := counter(tp, "sluice_sns_delivery_retries_total", "q"); n != 2 {
		t.Errorf("retries_total = %d", n)
	}
}

// TestFIFODeduplicationWindow: a deduplication id is remembered for 5
// minutes, then taken again.
func TestFIFODeduplicationWindow(t *testing.T) {
	tp := newFIFOTopic(t, "window")
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tp.dedup.now = func() time.Time { return now }
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	// A queue in no store: every message goes to the dead letters, which
	// tell what was delivered.
	subscribe(t, tp, SubscriptionConfig{Protocol: "sqs", Endpoint: strings.TrimSuffix(refusedURL(t), "/hook") + "/000000000000/q.fifo",
		DeliveryPolicy: fastPolicy(0), DeadLetter: "file://" + dl, RawMessageDelivery: true})
	a := publish(t, tp, Message{Body: "a", GroupID: "g", DeduplicationID: "d"})
	now = now.Add(DeduplicationWindow - time.Second)
	if id := publish(t, tp, Message{Body: "b", GroupID: "g", DeduplicationID: "d"}); id != a {
		t.Errorf("within the window: a new message %s", id)
	}
	now = now.Add(time.Second)
	if id := publish(t, tp, Message{Body: "c", GroupID: "g", DeduplicationID: "d"}); id == a {
		t.Error("after the window: still a duplicate")
	}
	flush(t, tp)
	if _, bodies := deadLetters(t, dl); !slices.Equal(bodies, []string{"a", "c"}) {
		t.Errorf("delivered %q", bodies)
	}
	if len(tp.dedup.ids) != 1 || len(tp.dedup.order) != 1 {
		t.Errorf("the window holds %d ids, %d in order; want 1", len(tp.dedup.ids), len(tp.dedup.order))
	}
}

// BenchmarkTopicToQueue publishes alarm-sized messages to a topic whose sqs
// subscription sends them to a queue of an in-process store (over
// loopback HTTP, fsync on): deliveries per second, Publish to Flush.
func BenchmarkTopicToQueue(b *testing.B) {
	for _, fifo := range []bool{false, true} {
		name := "standard"
		if fifo {
			name = "fifo"
		}
		b.Run(name, func(b *testing.B) {
			srv, err := server.New(b.TempDir(), server.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(srv)
			defer func() { ts.Close(); _ = srv.Close() }()
			q := client.New(ts.URL, ts.Client()).SQS()
			queue, topic, attrs := "bench", fmt.Sprintf("bench-%d", topicSeq.Add(1)), map[string]string(nil)
			if fifo {
				queue, topic, attrs = "bench.fifo", topic+".fifo", map[string]string{"FifoQueue": "true"}
			}
			if _, err := q.CreateQueue(context.Background(), queue, attrs); err != nil {
				b.Fatal(err)
			}
			tp, err := NewTopic(topic, TopicOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tp.Subscribe(SubscriptionConfig{Protocol: "sqs", Endpoint: queue, StoreEndpoint: ts.URL, QueueBytes: 64 << 20}); err != nil {
				b.Fatal(err)
			}
			body := `{"AlarmName":"HighCPU","NewStateValue":"ALARM","OldStateValue":"OK","NewStateReason":"Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (80.0)."}`
			start := time.Now()
			for i := range b.N {
				m := Message{Body: body, Attributes: map[string]Attribute{"severity": {Type: "String", Value: "high"}}}
				if fifo {
					m.GroupID, m.DeduplicationID = fmt.Sprint("g", i%8), fmt.Sprint(i)
				}
				if _, err := tp.Publish(m); err != nil {
					b.Fatal(err)
				}
			}
			if err := tp.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			if d := counter(tp, "sluice_sns_deliveries_total", "sqs-1"); d != uint64(b.N) {
				b.Fatalf("%d deliveries of %d", d, b.N)
			}
			if err := tp.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// TestSQSBatchEntryRefused: an entry the store refuses in a batch is tried
// alone, refused again (a client-side error: no retry) and dead-lettered;
// the rest of the batch is delivered once.
func TestSQSBatchEntryRefused(t *testing.T) {
	gate := make(chan struct{})
	st := startSQSStore(t, gate)
	url := st.createQueue(t, "strict")
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	tp := newTopic(t, "refused")
	subscribe(t, tp, SubscriptionConfig{Name: "q", Protocol: "sqs", Endpoint: "strict", StoreEndpoint: st.url, RawMessageDelivery: true,
		DeliveryPolicy: fastPolicy(3), DeadLetter: "file://" + dl})
	publish(t, tp, Message{Body: "first"})
	publish(t, tp, Message{Body: "ok 1"})
	publish(t, tp, Message{Body: "bad \x01 control character"}) // SQS refuses U+0001 in a body
	publish(t, tp, Message{Body: "ok 2"})
	close(gate)
	flush(t, tp)
	var got []string
	for _, m := range st.receiveAll(t, url, 3) {
		got = append(got, m.Body)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"first", "ok 1", "ok 2"}) {
		t.Errorf("queue got %q", got)
	}
	st.empty(t, url)
	lines := readLines(t, dl)
	if len(lines) != 1 || !strings.Contains(lines[0], `"attempts":1`) || !strings.Contains(lines[0], "InvalidMessageContents") {
		t.Errorf("dead letters %q", lines)
	}
	if st.count("SendMessageBatch") == 0 {
		t.Error("no SendMessageBatch request")
	}
}

// FuzzSQSEndpoint: any endpoint is a queue of a valid name or an error,
// never a panic.
func FuzzSQSEndpoint(f *testing.F) {
	for _, s := range []string{"jobs", "orders.fifo", "http://127.0.0.1:4567/000000000000/jobs", "https://h/000000000000/q.fifo",
		"arn:aws:sqs:us-east-1:000000000000:jobs", "arn:aws:sqs::000000000000:", "arn:", "http://", "http:///000000000000/q", " q ", ".fifo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		o, err := newSQSOutput(endpoint, "http://127.0.0.1:1")
		if err != nil {
			return
		}
		if !queueName.MatchString(o.name) || o.fifo != strings.HasSuffix(o.name, ".fifo") {
			t.Fatalf("endpoint %q: queue %q (fifo %v)", endpoint, o.name, o.fifo)
		}
	})
}

// TestSQSDeadLetterQueue: a queue as the dead-letter target receives the
// dead-letter record of each message not delivered, as its body.
func TestSQSDeadLetterQueue(t *testing.T) {
	st := startSQSStore(t, nil)
	dlq := st.createQueue(t, "dead")
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	tp := newTopic(t, "todlq")
	subscribe(t, tp, SubscriptionConfig{Name: "hook", Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(1),
		DeadLetter: "sqs:dead", StoreEndpoint: st.url})
	subscribe(t, tp, SubscriptionConfig{Name: "arn", Protocol: "sqs", Endpoint: "missing", DeliveryPolicy: fastPolicy(1),
		DeadLetter: "arn:aws:sqs:us-east-1:000000000000:dead", StoreEndpoint: st.url})
	id := publish(t, tp, Message{Body: "undeliverable"})
	flush(t, tp)
	got := map[string]string{}
	for _, m := range st.receiveAll(t, dlq, 2) {
		var d struct {
			Subscription, TopicArn, Reason string
			Attempts                       int
			Message                        struct{ MessageId, Message string }
		}
		if err := json.Unmarshal([]byte(m.Body), &d); err != nil {
			t.Fatalf("dead letter %q: %v", m.Body, err)
		}
		if d.TopicArn != tp.ARN() || d.Message.MessageId != id || d.Message.Message != "undeliverable" {
			t.Errorf("dead letter %s", m.Body)
		}
		got[d.Subscription] = fmt.Sprint(d.Attempts, " ", d.Reason)
	}
	if got["hook"] != "2 "+rc.srv.URL+" answered 502 Bad Gateway" || got["arn"] != "1 queue missing does not exist in the store at "+st.url {
		t.Errorf("dead letters %q", got)
	}
	st.empty(t, dlq)
	_, err := tp.Subscribe(SubscriptionConfig{Name: "f", Protocol: "stdout", DeadLetter: "sqs:dead.fifo", StoreEndpoint: st.url})
	if err == nil || !strings.Contains(err.Error(), "option DeadLetter") || !strings.Contains(err.Error(), "not a FIFO queue") {
		t.Errorf("a FIFO dead-letter queue: %v", err)
	}
}
