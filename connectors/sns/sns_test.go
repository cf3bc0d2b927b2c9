package sns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var topicSeq atomic.Int64

// fastPolicy retries n times, 1 ms apart (with DelayUnit = time.Millisecond).
func fastPolicy(n int) string {
	return fmt.Sprintf(`{"healthyRetryPolicy": {"numRetries": %d, "minDelayTarget": 1, "maxDelayTarget": 1}}`, n)
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   string
}

// receiver is an HTTP endpoint on loopback that records every request and
// answers with handle (nil: 200). n counts requests from 1.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []request
	handle func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{handle: handle}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{r.Header.Clone(), string(b)})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if rc.handle != nil {
			rc.handle(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// bodies returns the Message of every envelope received.
func (rc *receiver) messages(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range rc.requests() {
		var e struct{ Message string }
		if err := json.Unmarshal([]byte(r.body), &e); err != nil {
			t.Fatalf("not an envelope: %q: %v", r.body, err)
		}
		out = append(out, e.Message)
	}
	return out
}

// newTopic returns a topic closed at the end of the test.
// The name gets a unique suffix, so that metrics start from zero when tests
// run more than once.
func newTopic(t *testing.T, name string) *Topic {
	t.Helper()
	return newTopicLogged(t, nil, name)
}

// newTopicLogged is newTopic with the topic's log lines written to log
// (nil: standard error).
func newTopicLogged(t *testing.T, log io.Writer, name string) *Topic {
	t.Helper()
	o := TopicOptions{}
	if log != nil {
		o.Logger = lineLogger(log)
	}
	tp, err := NewTopic(fmt.Sprintf("%s-%d", name, topicSeq.Add(1)), o)
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

func subscribe(t *testing.T, tp *Topic, c SubscriptionConfig) *Subscription {
	t.Helper()
	if c.DelayUnit == 0 {
		c.DelayUnit = time.Millisecond
	}
	s, err := tp.Subscribe(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func publish(t *testing.T, tp *Topic, m Message) string {
	t.Helper()
	id, err := tp.Publish(m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func flush(t *testing.T, tp *Topic) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s (and
// telling what each state function returns, then).
func waitFor(t *testing.T, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range state {
				what += "; " + f()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// counter reads a counter of topic tp (of subscription sub, or of the
// topic when sub is "") from the topic's metrics set.
func counter(tp *Topic, name, sub string) uint64 {
	if sub == "" {
		return tp.set.GetOrCreateCounter(fmt.Sprintf(`%s{topic=%q}`, name, tp.Name())).Get()
	}
	return tp.set.GetOrCreateCounter(fmt.Sprintf(`%s{topic=%q,subscription=%q}`, name, tp.Name(), sub)).Get()
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestEnvelopeAndHeaders(t *testing.T) {
	rc := newReceiver(t, nil)
	tp, err := NewTopic("alarms", TopicOptions{Region: "eu-west-1", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tp.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	if tp.ARN() != "arn:aws:sns:eu-west-1:123456789012:alarms" || tp.Name() != "alarms" {
		t.Fatalf("ARN %s, name %s", tp.ARN(), tp.Name())
	}
	s := subscribe(t, tp, SubscriptionConfig{Name: "hook", Protocol: "http", Endpoint: rc.srv.URL + "/sns"})
	if !strings.HasPrefix(s.ARN(), tp.ARN()+":") || len(s.ARN()) != len(tp.ARN())+37 {
		t.Fatalf("subscription ARN %s", s.ARN())
	}
	ts := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("x", 3600))
	publish(t, tp, Message{
		ID:      "11111111-2222-4333-8444-555555555555",
		Subject: `ALARM: "Latency" in EU`,
		Body:    `{"AlarmName":"Latency","NewStateValue":"ALARM"} <&>`,
		Attributes: map[string]Attribute{
			"severity": {Type: "String", Value: "high"},
			"count":    {Type: "Number", Value: "3"},
		},
		Timestamp: ts,
	})
	publish(t, tp, Message{ID: "id-2", Body: "plain", Timestamp: ts})
	flush(t, tp)
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	want := `{"Type":"Notification","MessageId":"11111111-2222-4333-8444-555555555555",` +
		`"TopicArn":"arn:aws:sns:eu-west-1:123456789012:alarms","Subject":"ALARM: \"Latency\" in EU",` +
		`"Message":"{\"AlarmName\":\"Latency\",\"NewStateValue\":\"ALARM\"} <&>",` +
		`"Timestamp":"2026-03-01T11:30:45.123Z","SignatureVersion":"1","Signature":"","SigningCertURL":"",` +
		`"UnsubscribeURL":"","MessageAttributes":{"count":{"Type":"Number","Value":"3"},"severity":{"Type":"String","Value":"high"}}}`
	if reqs[0].body != want {
		t.Errorf("envelope\n got %s\nwant %s", reqs[0].body, want)
	}
	want2 := `{"Type":"Notification","MessageId":"id-2","TopicArn":"arn:aws:sns:eu-west-1:123456789012:alarms",` +
		`"Message":"plain","Timestamp":"2026-03-01T11:30:45.123Z","SignatureVersion":"1","Signature":"",` +
		`"SigningCertURL":"","UnsubscribeURL":""}`
	if reqs[1].body != want2 {
		t.Errorf("envelope\n got %s\nwant %s", reqs[1].body, want2)
	}
	h := reqs[0].header
	for k, v := range map[string]string{
		"Content-Type":               "text/plain; charset=UTF-8",
		"X-Amz-Sns-Message-Type":     "Notification",
		"X-Amz-Sns-Message-Id":       "11111111-2222-4333-8444-555555555555",
		"X-Amz-Sns-Topic-Arn":        tp.ARN(),
		"X-Amz-Sns-Subscription-Arn": s.ARN(),
		"X-Amz-Sns-Rawdelivery":      "",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestPublishSetsIDAndTimestamp(t *testing.T) {
	rc := newReceiver(t, nil)
	tp := newTopic(t, "ids")
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL})
	before := time.Now().UTC().Truncate(time.Millisecond)
	id := publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	if len(id) != 36 || id[14] != '4' || !strings.Contains("89ab", string(id[19])) {
		t.Fatalf("id %q is not a UUID v4", id)
	}
	var e struct{ MessageId, Timestamp string }
	if err := json.Unmarshal([]byte(rc.requests()[0].body), &e); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil || e.MessageId != id || ts.Before(before) || ts.After(time.Now()) {
		t.Fatalf("envelope %+v (%v), id %s", e, err, id)
	}
	if id2 := publish(t, tp, Message{Body: "y"}); id2 == id {
		t.Fatal("two messages with the same id")
	}
}

func TestRawDelivery(t *testing.T) {
	rc := newReceiver(t, nil)
	tp := newTopic(t, "raw")
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL, RawMessageDelivery: true})
	publish(t, tp, Message{Subject: "s", Body: `{"a": 1}`, Attributes: map[string]Attribute{"k": {Type: "String", Value: "v"}}})
	flush(t, tp)
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].body != `{"a": 1}` {
		t.Fatalf("requests %+v", reqs)
	}
	if reqs[0].header.Get("X-Amz-Sns-Rawdelivery") != "true" || reqs[0].header.Get("X-Amz-Sns-Message-Type") != "Notification" {
		t.Fatalf("headers %v", reqs[0].header)
	}
}

func TestFanOut(t *testing.T) {
	rcs := []*receiver{newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)}
	tp := newTopic(t, "fanout")
	for i, rc := range rcs {
		subscribe(t, tp, SubscriptionConfig{Name: fmt.Sprint("s", i), Protocol: "http", Endpoint: rc.srv.URL})
	}
	path := filepath.Join(t.TempDir(), "a", "b", "out.jsonl")
	subscribe(t, tp, SubscriptionConfig{Name: "file", Protocol: "file", Endpoint: path})
	for i := range 5 {
		publish(t, tp, Message{Body: fmt.Sprint("m", i)})
	}
	flush(t, tp)
	want := "[m0 m1 m2 m3 m4]"
	for i, rc := range rcs {
		if got := fmt.Sprint(rc.messages(t)); got != want {
			t.Errorf("receiver %d got %s, want %s", i, got, want)
		}
		if n := counter(tp, "sluice_sns_deliveries_total", fmt.Sprint("s", i)); n != 5 {
			t.Errorf("receiver %d: %d deliveries counted", i, n)
		}
	}
	if lines := readLines(t, path); len(lines) != 5 {
		t.Errorf("file has %d lines, want 5", len(lines))
	}
	if n := counter(tp, "sluice_sns_published_total", ""); n != 5 {
		t.Errorf("published_total = %d", n)
	}
	// Each copy is the same message: same id.
	if a, b := rcs[0].requests()[2].header.Get("X-Amz-Sns-Message-Id"), rcs[2].requests()[2].header.Get("X-Amz-Sns-Message-Id"); a != b || a == "" {
		t.Errorf("message ids %q, %q", a, b)
	}
}

func TestRetryThenRecover(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	tp := newTopic(t, "recover")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(5)})
	for i := range 3 {
		publish(t, tp, Message{Body: fmt.Sprint("m", i)})
	}
	flush(t, tp)
	// m0 three times refused, then each message once, in order.
	if got := fmt.Sprint(rc.messages(t)); got != "[m0 m0 m0 m0 m1 m2]" {
		t.Fatalf("received %s", got)
	}
	for name, want := range map[string]uint64{
		"sluice_sns_delivery_retries_total":  3,
		"sluice_sns_delivery_failures_total": 3,
		"sluice_sns_deliveries_total":        3,
		"sluice_sns_dead_letters_total":      0,
	} {
		if n := counter(tp, name, "s"); n != want {
			t.Errorf("%s = %d, want %d", name, n, want)
		}
	}
	h := tp.set.GetOrCreateHistogram(fmt.Sprintf(`sluice_sns_delivery_seconds{topic=%q,subscription="s"}`, tp.Name()))
	var count int
	h.VisitNonZeroBuckets(func(_ string, c uint64) { count += int(c) })
	if count != 3 {
		t.Errorf("delivery_seconds has %d observations, want 3", count)
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	// A port nobody listens on: every attempt fails to connect.
	rc := newReceiver(t, nil)
	url := rc.srv.URL
	rc.srv.Close()
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	tp := newTopic(t, "refused")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: url, DeliveryPolicy: fastPolicy(2), DeadLetter: "file://" + dl})
	publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	if n := counter(tp, "sluice_sns_delivery_failures_total", "s"); n != 3 {
		t.Fatalf("%d failed attempts, want 3", n)
	}
	if lines := readLines(t, dl); len(lines) != 1 || !strings.Contains(lines[0], "connect") {
		t.Fatalf("dead letters %q", lines)
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	defer close(release)
	tp := newTopic(t, "timeout")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: rc.srv.URL,
		DeliveryPolicy: fastPolicy(1), AttemptTimeout: 500 * time.Millisecond})
	start := time.Now()
	publish(t, tp, Message{Body: "slow"})
	flush(t, tp)
	if got := fmt.Sprint(rc.messages(t)); got != "[slow slow]" {
		t.Fatalf("received %s", got)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("delivered after %v", d)
	}
	if f, r, d := counter(tp, "sluice_sns_delivery_failures_total", "s"), counter(tp, "sluice_sns_delivery_retries_total", "s"),
		counter(tp, "sluice_sns_deliveries_total", "s"); f != 1 || r != 1 || d != 1 {
		t.Errorf("failures %d, retries %d, deliveries %d; want 1, 1, 1", f, r, d)
	}
}

func TestDeadLetterFile(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	dl := filepath.Join(t.TempDir(), "dead", "letters.jsonl")
	tp := newTopic(t, "dlq")
	s := subscribe(t, tp, SubscriptionConfig{Name: "pager", Protocol: "http", Endpoint: rc.srv.URL,
		DeliveryPolicy: fastPolicy(2), DeadLetter: "file://" + dl, RawMessageDelivery: true})
	id := publish(t, tp, Message{Subject: "subj", Body: "lost"})
	flush(t, tp)
	if n := len(rc.requests()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	lines := readLines(t, dl)
	if len(lines) != 1 {
		t.Fatalf("dead letters: %q", lines)
	}
	var rec struct {
		Subscription, SubscriptionArn, Topic, TopicArn, Reason string
		Attempts                                               int
		Message                                                struct{ Type, MessageId, Subject, Message string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Subscription != "pager" || rec.SubscriptionArn != s.ARN() || rec.Topic != tp.Name() || rec.TopicArn != tp.ARN() ||
		rec.Attempts != 3 || !strings.Contains(rec.Reason, "503") {
		t.Errorf("dead letter %+v", rec)
	}
	if rec.Message.Type != "Notification" || rec.Message.MessageId != id || rec.Message.Message != "lost" || rec.Message.Subject != "subj" {
		t.Errorf("dead letter's message %+v", rec.Message)
	}
	if n := counter(tp, "sluice_sns_dead_letters_total", "pager"); n != 1 {
		t.Errorf("dead_letters_total = %d", n)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNoDeadLetterTargetLogs(t *testing.T) {
	var log syncBuffer
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	tp := newTopicLogged(t, &log, "nodlq")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(0)})
	id := publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	if got := log.String(); !strings.Contains(got, id) || !strings.Contains(got, "no dead-letter target") || !strings.Contains(got, "400") {
		t.Fatalf("log %q", got)
	}
}

func TestCloseWaitsForInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			close(entered)
			<-release
		}
	})
	tp, err := NewTopic("closing", TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL})
	publish(t, tp, Message{Body: "a"})
	publish(t, tp, Message{Body: "b"})
	<-entered
	closed := make(chan error)
	go func() { closed <- tp.Close(context.Background()) }()
	// Publish fails as soon as Close has begun.
	waitFor(t, "Publish to fail", func() bool {
		_, err := tp.Publish(Message{Body: "late"})
		return errors.Is(err, ErrClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a delivery was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Publishes that went in before Close began are delivered too.
	if got := strings.ReplaceAll(fmt.Sprint(rc.messages(t)), " late", ""); got != "[a b]" {
		t.Fatalf("received %s", got)
	}
	if _, err := tp.Subscribe(SubscriptionConfig{Protocol: "stdout"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if err := tp.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	tp, err := NewTopic("giveup", TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Retries an hour apart: only Close's deadline ends them.
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL, DelayUnit: time.Second,
		DeliveryPolicy: `{"healthyRetryPolicy": {"numRetries": 1, "minDelayTarget": 3600, "maxDelayTarget": 3600}}`,
		DeadLetter:     "file://" + dl})
	for _, b := range []string{"a", "b", "c"} {
		publish(t, tp, Message{Body: b})
	}
	waitFor(t, "the first attempt", func() bool { return len(rc.requests()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tp.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Close: %v after %v", err, time.Since(start))
	}
	lines := readLines(t, dl)
	if len(lines) != 3 {
		t.Fatalf("dead letters %q", lines)
	}
	for i, l := range lines {
		if !strings.Contains(l, "the topic was closed") || !strings.Contains(l, fmt.Sprintf(`"Message":"%c"`, 'a'+i)) {
			t.Errorf("dead letter %d: %s", i, l)
		}
	}
}

func TestFlushWaitsForRetries(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n%2 == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	tp := newTopic(t, "flush")
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL,
		DeliveryPolicy: `{"healthyRetryPolicy": {"numRetries": 1, "minDelayTarget": 20, "maxDelayTarget": 20}}`})
	for i := range 10 {
		publish(t, tp, Message{Body: fmt.Sprint(i)})
	}
	flush(t, tp)
	if n := len(rc.requests()); n != 20 {
		t.Fatalf("Flush returned after %d requests, want 20", n)
	}
	// A Flush whose context ends first says so, naming the subscription
	// (on a topic of its own, so that no retry of the first one is still
	// due when the context ends).
	block := make(chan struct{})
	rc2 := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { <-block })
	tp2 := newTopic(t, "flush-blocked")
	defer close(block)
	subscribe(t, tp2, SubscriptionConfig{Name: "blocked", Protocol: "http", Endpoint: rc2.srv.URL, AttemptTimeout: time.Minute})
	publish(t, tp2, Message{Body: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := tp2.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("Flush: %v", err)
	}
}

func TestSlowSubscriptionDoesNotStallOthers(t *testing.T) {
	block := make(chan struct{})
	slow := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { <-block })
	fast := newReceiver(t, nil)
	tp := newTopic(t, "stall")
	defer close(block) // before the topic's Close (cleanups run after defers)
	subscribe(t, tp, SubscriptionConfig{Name: "slow", Protocol: "http", Endpoint: slow.srv.URL, AttemptTimeout: time.Minute})
	subscribe(t, tp, SubscriptionConfig{Name: "fast", Protocol: "http", Endpoint: fast.srv.URL})
	for i := range 20 {
		publish(t, tp, Message{Body: fmt.Sprint(i)})
	}
	waitFor(t, "the fast subscription", func() bool { return len(fast.requests()) == 20 })
	// The slow endpoint's one request may still be on its way on a busy
	// machine; it must get exactly one (the rest wait behind it).
	waitFor(t, "the slow subscription's first request", func() bool { return len(slow.requests()) >= 1 })
	if n := len(slow.requests()); n != 1 {
		t.Fatalf("slow endpoint got %d requests", n)
	}
}

func TestPublishAfterClose(t *testing.T) {
	tp, err := NewTopic("after", TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Publish(Message{Body: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
}

func TestPublishRejectsInvalidMessages(t *testing.T) {
	tp := newTopic(t, "invalid")
	attrs := map[string]Attribute{}
	for i := range 11 {
		attrs[fmt.Sprint("a", i)] = Attribute{Type: "String", Value: "v"}
	}
	f := func(m Message, want string) {
		t.Helper()
		_, err := tp.Publish(m)
		if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), want) {
			t.Errorf("Publish(%.40v): %v, want an error about %q", m, err, want)
		}
	}
	f(Message{}, "empty body")
	f(Message{Body: strings.Repeat("x", MaxMessageBytes+1)}, "more than")
	f(Message{Body: "x", Subject: "two\nlines"}, "subject")
	f(Message{Body: "x", Subject: strings.Repeat("s", 101)}, "subject")
	f(Message{Body: "x", Attributes: attrs}, "11 attributes")
	f(Message{Body: "x", Attributes: map[string]Attribute{"k": {Type: "Blob", Value: "v"}}}, `type "Blob"`)
	f(Message{Body: "x", Attributes: map[string]Attribute{"bad name": {Type: "String", Value: "v"}}}, "attribute name")
	f(Message{Body: "x", Attributes: map[string]Attribute{"AWS.x": {Type: "String", Value: "v"}}}, "attribute name")
	f(Message{Body: "x", Attributes: map[string]Attribute{"k": {Type: "String"}}}, "empty value")
	if _, err := tp.Publish(Message{Body: "x", Subject: "ok", Attributes: map[string]Attribute{
		"a": {Type: "String.Array", Value: `["x"]`}, "b": {Type: "Number.float", Value: "1.5"}}}); err != nil {
		t.Errorf("valid message: %v", err)
	}
}

func TestNewTopicValidates(t *testing.T) {
	f := func(name string, o TopicOptions, want string) {
		t.Helper()
		_, err := NewTopic(name, o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewTopic(%q, %+v): %v, want an error about %q", name, o, err, want)
		}
	}
	f("", TopicOptions{}, "topic name")
	f("a.b", TopicOptions{}, "topic name")
	f(strings.Repeat("a", 257), TopicOptions{}, "topic name")
	f("ok", TopicOptions{Account: "12"}, "account")
	f("ok", TopicOptions{Region: "US EAST"}, "region")
	tp, err := NewTopic(strings.Repeat("a", 256), TopicOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tp.ARN(), "arn:aws:sns:us-east-1:000000000000:aaa") {
		t.Errorf("ARN %s", tp.ARN())
	}
	if err := tp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribeValidates(t *testing.T) {
	tp := newTopic(t, "validate")
	subscribe(t, tp, SubscriptionConfig{Name: "taken", Protocol: "stdout", Out: io.Discard})
	dir := t.TempDir()
	f := func(c SubscriptionConfig, want ...string) {
		t.Helper()
		_, err := tp.Subscribe(c)
		if err == nil {
			t.Errorf("Subscribe(%+v) succeeded", c)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Subscribe(%+v): %v, want %q in it", c, err, w)
			}
		}
	}
	f(SubscriptionConfig{Name: "p", Protocol: "email"}, "subscription p", "option Protocol")
	f(SubscriptionConfig{Name: "u", Protocol: "http", Endpoint: "https://x"}, "subscription u", "option Endpoint")
	f(SubscriptionConfig{Name: "u2", Protocol: "https", Endpoint: "not a url"}, "option Endpoint")
	f(SubscriptionConfig{Name: "d", Protocol: "file", Endpoint: dir}, "subscription d", "option Endpoint")
	f(SubscriptionConfig{Name: "e", Protocol: "file", Endpoint: ""}, "option Endpoint")
	f(SubscriptionConfig{Name: "fp", Protocol: "stdout", FilterPolicy: `{"a": [`}, "subscription fp", "option FilterPolicy")
	f(SubscriptionConfig{Name: "sc", Protocol: "stdout", FilterPolicyScope: "Body"}, "option FilterPolicyScope")
	f(SubscriptionConfig{Name: "dp", Protocol: "stdout", DeliveryPolicy: `{"healthyRetryPolicy": {"numRetries": 101}}`},
		"subscription dp", "option DeliveryPolicy", "healthyRetryPolicy.numRetries")
	f(SubscriptionConfig{Name: "dj", Protocol: "stdout", DeliveryPolicy: `{`}, "option DeliveryPolicy", "JSON")
	f(SubscriptionConfig{Name: "dl", Protocol: "stdout", DeadLetter: "sqs://q"}, "subscription dl", "option DeadLetter")
	f(SubscriptionConfig{Name: "dl2", Protocol: "stdout", DeadLetter: "file://relative/x"}, "option DeadLetter")
	f(SubscriptionConfig{Name: "dl3", Protocol: "stdout", DeadLetter: "store:bad name!"}, "option DeadLetter")
	f(SubscriptionConfig{Name: "st", Protocol: "store", Endpoint: "s", StoreEndpoint: "ftp://x"}, "option Endpoint")
	f(SubscriptionConfig{Name: "taken", Protocol: "stdout"}, "already has a subscription taken")
	f(SubscriptionConfig{Name: "bad name", Protocol: "stdout"}, "option Name")
	f(SubscriptionConfig{Name: "to", Protocol: "stdout", AttemptTimeout: -1}, "option AttemptTimeout")
	if s, err := tp.Subscribe(SubscriptionConfig{Protocol: "STDOUT", Out: io.Discard}); err != nil || s.Name() != "stdout-2" {
		t.Errorf("unnamed subscription: %v, %v", s, err)
	}
}

func TestFileProtocol(t *testing.T) {
	dir := t.TempDir()
	env, raw := filepath.Join(dir, "x", "env.jsonl"), "file://"+filepath.Join(dir, "y", "raw.jsonl")
	tp := newTopic(t, "files")
	subscribe(t, tp, SubscriptionConfig{Protocol: "file", Endpoint: env})
	subscribe(t, tp, SubscriptionConfig{Protocol: "file", Endpoint: raw, RawMessageDelivery: true})
	id := publish(t, tp, Message{Body: "{\n  \"a\": [1, 2]\n}"})
	publish(t, tp, Message{Body: "two\nlines"})
	flush(t, tp)
	lines := readLines(t, env)
	if len(lines) != 2 {
		t.Fatalf("envelope file %q", lines)
	}
	var e struct{ MessageId, Message string }
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil || e.MessageId != id || e.Message != "{\n  \"a\": [1, 2]\n}" {
		t.Errorf("envelope line %s (%v)", lines[0], err)
	}
	if got, want := strings.Join(readLines(t, strings.TrimPrefix(raw, "file://")), "|"), `{"a":[1,2]}|"two\nlines"`; got != want {
		t.Errorf("raw file %s, want %s", got, want)
	}
}

// TestFileSubscriptionWritesABurstAtOnce: a burst of notifications to a
// file subscription is appended in a few fsync'd writes (what queued while
// one write went to disk goes in the next), not with an fsync per message,
// so that a file keeps up with a bounded job's burst of state changes;
// every line arrives, in order.
func TestFileSubscriptionWritesABurstAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "burst.jsonl")
	tp := newTopic(t, "burst")
	s := subscribe(t, tp, SubscriptionConfig{Protocol: "file", Endpoint: path, RawMessageDelivery: true})
	const n = 2000
	for i := range n {
		publish(t, tp, Message{Body: fmt.Sprint(i)})
	}
	flush(t, tp)
	lines := readLines(t, path)
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if l != fmt.Sprint(i) {
			t.Fatalf("line %d is %q, want %d", i+1, l, i)
		}
	}
	if syncs := s.out.(*fileOutput).f.syncs; syncs > n/10 {
		t.Fatalf("%d fsync'd writes for %d notifications, want them written together", syncs, n)
	}
}

func TestStdoutProtocol(t *testing.T) {
	var out syncBuffer
	tp := newTopic(t, "alerts")
	subscribe(t, tp, SubscriptionConfig{Protocol: "stdout", Out: &out})
	publish(t, tp, Message{Subject: `ALARM: "HighLatency"`, Body: `{"AlarmName":"HighLatency","NewStateValue":"ALARM","OldStateValue":"OK","NewStateReason":"Threshold Crossed"}`})
	publish(t, tp, Message{Body: `{"user":"ann","n":3,"tags":["a"]}`})
	publish(t, tp, Message{Subject: "note", Body: "first line\nsecond line"})
	flush(t, tp)
	want := `[alerts] ALARM: "HighLatency" — ALARM "HighLatency" (was OK): Threshold Crossed
  {
    "AlarmName": "HighLatency",
    "NewStateValue": "ALARM",
    "OldStateValue": "OK",
    "NewStateReason": "Threshold Crossed"
  }
[alerts] user="ann", n=3
  {
    "user": "ann",
    "n": 3,
    "tags": [
      "a"
    ]
  }
[alerts] note — first line
  first line
  second line
`
	want = strings.ReplaceAll(want, "[alerts]", "["+tp.Name()+"]")
	if got := out.String(); got != want {
		t.Errorf("stdout\n%s\nwant\n%s", got, want)
	}
}

func TestRequestAndThrottlePolicies(t *testing.T) {
	rc := newReceiver(t, nil)
	tp := newTopic(t, "paced")
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL,
		DeliveryPolicy: `{"throttlePolicy": {"maxReceivesPerSecond": 20}, "requestPolicy": {"headerContentType": "application/json"}}`})
	start := time.Now()
	for i := range 5 {
		publish(t, tp, Message{Body: fmt.Sprint(i)})
	}
	flush(t, tp)
	// Five deliveries at most 20 a second: at least four gaps of 50 ms.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("5 deliveries in %v", d)
	}
	reqs := rc.requests()
	if len(reqs) != 5 || reqs[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d requests, Content-Type %q", len(reqs), reqs[0].header.Get("Content-Type"))
	}
}

func TestFilteredOutCounted(t *testing.T) {
	// An empty filter policy lets everything in.
	rc := newReceiver(t, nil)
	tp := newTopic(t, "nofilter")
	subscribe(t, tp, SubscriptionConfig{Name: "s", Protocol: "http", Endpoint: rc.srv.URL, FilterPolicy: "  "})
	publish(t, tp, Message{Body: "x", Attributes: map[string]Attribute{"k": {Type: "String", Value: "v"}}})
	flush(t, tp)
	if n, f := len(rc.requests()), counter(tp, "sluice_sns_filtered_out_total", "s"); n != 1 || f != 0 {
		t.Fatalf("%d delivered, %d filtered out", n, f)
	}
}

func TestFilterPolicies(t *testing.T) {
	attrs := newReceiver(t, nil)
	body := newReceiver(t, nil)
	all := newReceiver(t, nil)
	tp := newTopic(t, "filtered")
	subscribe(t, tp, SubscriptionConfig{Name: "attrs", Protocol: "http", Endpoint: attrs.srv.URL,
		FilterPolicy: `{"severity": ["high", "critical"]}`})
	subscribe(t, tp, SubscriptionConfig{Name: "body", Protocol: "http", Endpoint: body.srv.URL,
		FilterPolicy: `{"NewStateValue": ["ALARM"]}`, FilterPolicyScope: "MessageBody"})
	subscribe(t, tp, SubscriptionConfig{Name: "all", Protocol: "http", Endpoint: all.srv.URL})
	sev := func(s string) map[string]Attribute {
		return map[string]Attribute{"severity": {Type: "String", Value: s}}
	}
	publish(t, tp, Message{Body: `{"NewStateValue":"ALARM","n":1}`, Attributes: sev("high")})
	publish(t, tp, Message{Body: `{"NewStateValue":"OK","n":2}`, Attributes: sev("low")})
	publish(t, tp, Message{Body: `{"NewStateValue":"ALARM","n":3}`})
	publish(t, tp, Message{Body: `not json`, Attributes: sev("critical")})
	flush(t, tp)
	f := func(rc *receiver, sub, want string, out uint64) {
		t.Helper()
		if got := fmt.Sprint(rc.messages(t)); got != want {
			t.Errorf("%s received %s, want %s", sub, got, want)
		}
		if n := counter(tp, "sluice_sns_filtered_out_total", sub); n != out {
			t.Errorf("%s: filtered_out_total = %d, want %d", sub, n, out)
		}
	}
	f(attrs, "attrs", `[{"NewStateValue":"ALARM","n":1} not json]`, 2)
	f(body, "body", `[{"NewStateValue":"ALARM","n":1} {"NewStateValue":"ALARM","n":3}]`, 2)
	f(all, "all", `[{"NewStateValue":"ALARM","n":1} {"NewStateValue":"OK","n":2} {"NewStateValue":"ALARM","n":3} not json]`, 0)
	// An invalid policy is refused, naming the option and the key.
	_, err := tp.Subscribe(SubscriptionConfig{Name: "bad", Protocol: "stdout", FilterPolicy: `{"severity": "high"}`})
	if err == nil || !strings.Contains(err.Error(), "option FilterPolicy") || !strings.Contains(err.Error(), "severity") {
		t.Errorf("invalid filter policy: %v", err)
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL, http.StatusFound)
	})
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	tp := newTopic(t, "redirect")
	subscribe(t, tp, SubscriptionConfig{Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(1), DeadLetter: "file://" + dl})
	publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	if n, m := len(rc.requests()), len(target.requests()); n != 2 || m != 0 {
		t.Fatalf("%d attempts, %d followed redirects", n, m)
	}
	if lines := readLines(t, dl); len(lines) != 1 || !strings.Contains(lines[0], "302") {
		t.Fatalf("dead letters %q", lines)
	}
}
