package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// captureLog returns a buffer for the log lines of a test's topics (see
// newTopicLogged and lineLogger).
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	return &syncBuffer{}
}

// lineLogger is a logger writing "sluice: " lines to w, as the command does.
func lineLogger(w io.Writer) *slog.Logger { return slog.New(runtime.NewLineHandler(w, nil)) }

// refusedURL is an http:// URL of a loopback port nobody listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook"
}

// deadLetters reads a dead-letter file: the reason of each record, and the
// Message of its envelope.
// completeLines returns the lines of path that end in a newline: a test
// that polls a file while the topic appends to it may read the start of a
// line whose end is still to come.
func completeLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	} else {
		return nil
	}
	return strings.Split(s, "\n")
}

func deadLetters(t *testing.T, path string) (reasons, bodies []string) {
	t.Helper()
	for _, l := range completeLines(t, path) {
		var rec struct {
			Subscription, Reason string
			Message              struct{ Message string }
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s: not a dead letter: %q: %v", path, l, err)
		}
		reasons = append(reasons, rec.Reason)
		bodies = append(bodies, rec.Message.Message)
	}
	return reasons, bodies
}

// TestHangingSubscriberDoesNotStallTopic: on one topic, an HTTP endpoint that
// accepts connections and never answers, one that refuses them, and a
// file. Publishing never waits for the HTTP ones, the file gets every
// message at once, each HTTP subscription's overflow goes to its dead-letter
// file with the reason, a log line names each failing subscription, and
// Close ends within the topic's drain timeout with every message accounted
// for.
func TestHangingSubscriberDoesNotStallTopic(t *testing.T) {
	log := captureLog(t)
	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	dlHang, dlRefused := filepath.Join(dir, "dl-hang.jsonl"), filepath.Join(dir, "dl-refused.jsonl")
	tp, err := NewTopic(fmt.Sprintf("hang-%d", topicSeq.Add(1)), TopicOptions{DrainTimeout: 300 * time.Millisecond, Logger: lineLogger(log)})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			tp.Close(context.Background())
		}
	})
	// SNS's default policy (3 retries 20 s apart) and a long attempt: the
	// HTTP subscriptions hold their first messages for the whole test.
	subscribe(t, tp, SubscriptionConfig{Name: "hang", Protocol: "http", Endpoint: hang.srv.URL, DelayUnit: time.Second,
		AttemptTimeout: time.Minute, QueueBytes: 4 << 10, DeadLetter: "file://" + dlHang})
	subscribe(t, tp, SubscriptionConfig{Name: "refused", Protocol: "http", Endpoint: refusedURL(t), DelayUnit: time.Second,
		QueueBytes: 4 << 10, DeadLetter: "file://" + dlRefused})
	subscribe(t, tp, SubscriptionConfig{Name: "audit", Protocol: "file", Endpoint: out})

	const total = 300
	published := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := tp.Publish(Message{Body: fmt.Sprintf("m%03d", i)}); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("publishing %d messages took more than 5 s: Publish waits for a subscriber", total)
	}
	waitFor(t, "the file subscription", func() bool { return len(readLines(t, out)) == total })
	var r1, r2 []string
	waitFor(t, "the overflow of both HTTP subscriptions in their dead letters", func() bool {
		r1, _ = deadLetters(t, dlHang)
		r2, _ = deadLetters(t, dlRefused)
		return len(r1) > 0 && len(r2) > 0 &&
			uint64(len(r1)) == counter(tp, "sluice_sns_queue_full_total", "hang") &&
			uint64(len(r2)) == counter(tp, "sluice_sns_queue_full_total", "refused")
	}, func() string {
		return fmt.Sprintf("dead letters %d and %d, queue full %d and %d", len(r1), len(r2),
			counter(tp, "sluice_sns_queue_full_total", "hang"), counter(tp, "sluice_sns_queue_full_total", "refused"))
	})
	for _, name := range []string{"hang", "refused"} {
		if n := counter(tp, "sluice_sns_queue_full_total", name); n < total/2 {
			t.Errorf("subscription %s: %d messages found the queue full, want most of %d", name, n, total)
		}
	}
	waitFor(t, "log lines naming the failing subscriptions", func() bool {
		return strings.Contains(log.String(), "subscription refused: delivery failing")
	})
	reasons, _ := deadLetters(t, dlHang)
	for _, r := range reasons {
		if !strings.HasPrefix(r, "subscription queue full") {
			t.Fatalf("dead letter's reason %q", r)
		}
	}

	// Close: the drain timeout cuts the hanging attempt short; what is left
	// goes to the dead letters.
	start := time.Now()
	err = tp.Close(context.Background())
	closed = true
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Close: %v after %v", err, time.Since(start))
	}
	for _, dl := range []string{dlHang, dlRefused} {
		_, bodies := deadLetters(t, dl)
		seen := map[string]bool{}
		for _, b := range bodies {
			seen[b] = true
		}
		if len(bodies) != total || len(seen) != total {
			t.Errorf("%s: %d dead letters (%d distinct), want each of the %d messages once", dl, len(bodies), len(seen), total)
		}
	}
	if got := log.String(); !strings.Contains(got, "subscription hang:") || !strings.Contains(got, "subscription refused:") {
		t.Errorf("log does not name both failing subscriptions:\n%s", got)
	}
}

// TestFullQueueWithoutDeadLetterIsCountedAndLogged: a subscription without a
// dead-letter target whose endpoint hangs does not hold Publish up; what
// finds its queue full is counted and logged, naming it.
func TestFullQueueWithoutDeadLetterIsCountedAndLogged(t *testing.T) {
	log := captureLog(t)
	block := make(chan struct{})
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) { <-block })
	tp := newTopicLogged(t, log, "nodlq-full")
	defer close(block) // before the topic's Close (cleanups run after defers)
	// Room for about one message of ~250 bytes.
	subscribe(t, tp, SubscriptionConfig{Name: "slow", Protocol: "http", Endpoint: rc.srv.URL, QueueBytes: 300,
		AttemptTimeout: time.Minute, DeliveryPolicy: fastPolicy(0)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			if _, err := tp.Publish(Message{Body: fmt.Sprint("message ", i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a full queue")
	}
	waitFor(t, "the first delivery attempt", func() bool { return len(rc.requests()) == 1 })
	if n := counter(tp, "sluice_sns_queue_full_total", "slow"); n != 4 {
		t.Errorf("queue_full_total = %d, want 4 (one message in the queue)", n)
	}
	if n := counter(tp, "sluice_sns_dead_letters_total", "slow"); n != 4 {
		t.Errorf("dead_letters_total = %d, want 4", n)
	}
	if got := log.String(); !strings.Contains(got, "subscription slow: message") || !strings.Contains(got, "the queue is full") ||
		!strings.Contains(got, "no dead-letter target") {
		t.Fatalf("log %q", got)
	}
	if got := log.String(); strings.Count(got, "the queue is full") != 1 {
		t.Errorf("overflow lines not rate-limited:\n%s", got)
	}
}

// TestFailingSubscriptionIsLoggedAndItsRecovery: the first failed attempt
// of a subscription is logged, naming it and the error, and so is the next
// successful delivery; the failures in between are not logged one by one.
func TestFailingSubscriptionIsLoggedAndItsRecovery(t *testing.T) {
	log := captureLog(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 3 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	tp := newTopicLogged(t, log, "flaky")
	subscribe(t, tp, SubscriptionConfig{Name: "flaky", Protocol: "http", Endpoint: rc.srv.URL, DeliveryPolicy: fastPolicy(5)})
	publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	got := log.String()
	if !strings.Contains(got, "subscription flaky: delivery failing: ") || !strings.Contains(got, "500") ||
		!strings.Contains(got, "subscription flaky: delivering again, after 3 failed attempts") {
		t.Fatalf("log %q", got)
	}
	if n := strings.Count(got, "\n"); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, got)
	}
}

// TestSilentTCPEndpointAttemptTimesOut: an endpoint that accepts TCP
// connections and never reads or answers (not even HTTP) costs each
// attempt its timeout, no more; the message then goes to the dead letters
// with the reason.
func TestSilentTCPEndpointAttemptTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c // held open, never read
		}
	}()
	defer func() {
		l.Close()
		for c := range conns {
			c.Close()
		}
	}()
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	tp := newTopic(t, "silent")
	subscribe(t, tp, SubscriptionConfig{Name: "silent", Protocol: "http", Endpoint: "http://" + l.Addr().String() + "/",
		DeliveryPolicy: fastPolicy(1), AttemptTimeout: 300 * time.Millisecond, DeadLetter: "file://" + dl})
	start := time.Now()
	publish(t, tp, Message{Body: "x"})
	flush(t, tp)
	if d := time.Since(start); d < 600*time.Millisecond || d > 5*time.Second {
		t.Errorf("two attempts took %v, want about 600ms", d)
	}
	reasons, _ := deadLetters(t, dl)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "no answer within 300ms") {
		t.Fatalf("dead letters: %q", reasons)
	}
}
