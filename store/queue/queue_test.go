package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTest(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func mustCreate(t *testing.T, s *Store, name string, attrs map[string]string) *Queue {
	t.Helper()
	q, err := s.Create(name, attrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func sendOne(t *testing.T, q *Queue, body string) {
	t.Helper()
	res, err := q.Send(context.Background(), []SendInput{{Body: body}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
}

func TestLongPollWakesOnSend(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	q := mustCreate(t, s, "q", nil)
	wait := 20 * time.Second
	got := make(chan []Message, 1)
	go func() {
		m, err := q.Receive(context.Background(), ReceiveOptions{Wait: &wait})
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	for { // the receive is waiting before the send
		q.mu.Lock()
		n := q.waiters
		q.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sendOne(t, q, "hello")
	select {
	case m := <-got:
		if len(m) != 1 || m[0].Body != "hello" {
			t.Fatalf("received %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not wake on the send")
	}
}

func TestLongPollWakesAtVisibilityDeadline(t *testing.T) {
	for _, name := range []string{"q", "q.fifo"} {
		t.Run(name, func(t *testing.T) {
			s, _ := openTest(t, Options{NoSync: true})
			var attrs map[string]string
			in := SendInput{Body: "again"}
			if name == "q.fifo" {
				attrs = map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}
				in.Group = "g"
			}
			q := mustCreate(t, s, name, attrs)
			if res, err := q.Send(context.Background(), []SendInput{in}); err != nil || res[0].Err != nil {
				t.Fatal(err, res)
			}
			vis, zero, wait := 300*time.Millisecond, time.Duration(0), 20*time.Second
			first, err := q.Receive(context.Background(), ReceiveOptions{Visibility: &vis, Wait: &zero})
			if err != nil || len(first) != 1 {
				t.Fatal(err, first)
			}
			start := time.Now()
			second, err := q.Receive(context.Background(), ReceiveOptions{Wait: &wait})
			if err != nil || len(second) != 1 || second[0].ReceiveCount != 2 || second[0].Receipt == first[0].Receipt {
				t.Fatalf("after the visibility timeout: %+v, %v", second, err)
			}
			// Woken at the deadline (300 ms), not at the end of the wait.
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("the long poll returned after %v, the message was visible after 300ms", el)
			}
		})
	}
}

func TestStaleReceiptDeleteIsAcceptedAndKeepsMessage(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	q := mustCreate(t, s, "q", nil)
	sendOne(t, q, "x")
	zero := time.Duration(0)
	ctx := context.Background()
	a, _ := q.Receive(ctx, ReceiveOptions{Visibility: &zero, Wait: &zero})
	b, _ := q.Receive(ctx, ReceiveOptions{Visibility: &zero, Wait: &zero})
	if len(a) != 1 || len(b) != 1 {
		t.Fatal(a, b)
	}
	errs, err := q.Delete(ctx, []string{a[0].Receipt, "not-a-receipt"})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrReceiptInvalid) {
		t.Fatal(err, errs)
	}
	if c, _ := q.Receive(ctx, ReceiveOptions{Wait: &zero}); len(c) != 1 {
		t.Fatal("a delete with an old receipt deleted the message")
	}
	ch, _ := q.ChangeVisibility(ctx, []VisibilityChange{{Receipt: b[0].Receipt, Timeout: time.Minute}})
	if !errors.Is(ch[0], ErrReceiptExpired) {
		t.Fatalf("ChangeVisibility with an old receipt: %v", ch[0])
	}
}

func TestAttributeErrorsNameTheAttribute(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	for _, c := range []struct{ name, value string }{
		{AttrVisibilityTimeout, "43201"}, {AttrDelaySeconds, "-1"}, {AttrMessageRetentionPeriod, "59"},
		{AttrMaximumMessageSize, "262145"}, {AttrReceiveMessageWaitTimeSeconds, "x"}, {"Bogus", "1"},
		{AttrApproximateNumberOfMessages, "3"},
	} {
		_, err := s.Create("q", map[string]string{c.name: c.value}, nil)
		var ae *AttributeError
		if !errors.As(err, &ae) || ae.Name != c.name {
			t.Errorf("%s=%s: %v", c.name, c.value, err)
		}
	}
	q := mustCreate(t, s, "q", map[string]string{AttrVisibilityTimeout: "10"})
	if _, err := s.Create("q", map[string]string{AttrVisibilityTimeout: "11"}, nil); !errors.Is(err, ErrQueueExists) {
		t.Fatalf("create with other attributes: %v", err)
	}
	if q2, err := s.Create("q", map[string]string{AttrVisibilityTimeout: "10"}, nil); err != nil || q2 != q {
		t.Fatalf("create with the same attributes: %v", err)
	}
	var ae *AttributeError
	if _, err := s.Create("q.fifo", nil, nil); !errors.As(err, &ae) || ae.Name != AttrFifoQueue {
		t.Fatalf("a .fifo name without FifoQueue: %v", err)
	}
	if _, err := s.Create("plain", map[string]string{AttrFifoQueue: "true"}, nil); !errors.As(err, &ae) || ae.Name != AttrFifoQueue {
		t.Fatalf("FifoQueue without a .fifo name: %v", err)
	}
	if _, err := s.Create("plain", map[string]string{AttrContentBasedDeduplication: "true"}, nil); !errors.As(err, &ae) || !ae.Unknown {
		t.Fatalf("ContentBasedDeduplication on a standard queue: %v", err)
	}
}

func TestMessageLimits(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	q := mustCreate(t, s, "q", nil)
	res, err := q.Send(context.Background(), []SendInput{
		{Body: strings.Repeat("a", MaxMessageBytes)},
		{Body: strings.Repeat("a", MaxMessageBytes+1)},
		{Body: ""},
		{Body: "bad \x01"},
		{Body: "ok", Delay: 16 * time.Minute, HasDelay: true},
		{Body: "ok", Attributes: []MessageAttribute{{Name: "AWS.x", DataType: "String", StringValue: "v"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatalf("256 KiB body refused: %v", res[0].Err)
	}
	for i := 1; i < len(res); i++ {
		var ve *ValueError
		if !errors.As(res[i].Err, &ve) {
			t.Errorf("message %d accepted: %+v", i, res[i])
		}
	}
}

func TestOpenCutsTornTailAndRefusesDamage(t *testing.T) {
	s, dir := openTest(t, Options{NoSync: true})
	q := mustCreate(t, s, "q", nil)
	sendOne(t, q, "one")
	sendOne(t, q, "two")
	s.Close()
	path := filepath.Join(dir, "q", logFile)
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, data[:len(data)/3]...), 0o644); err != nil { // a torn frame
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{NoSync: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	q2, _ := s2.Queue("q")
	if a, _ := q2.Attributes(AttrApproximateNumberOfMessages); a[AttrApproximateNumberOfMessages] != "2" {
		t.Fatalf("after the torn tail: %v", a)
	}
	s2.Close()
	data, _ = os.ReadFile(path)
	data[frameHeader+3] ^= 0xff // damage the first frame; the second follows it
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if s3, err := Open(dir, Options{NoSync: true, Logf: t.Logf}); err == nil || !strings.Contains(err.Error(), "damaged at offset 0") {
		if s3 != nil {
			s3.Close()
		}
		t.Fatalf("Open of a damaged log: %v", err)
	}
}

func TestDeleteQueueEndsLongPoll(t *testing.T) {
	s, _ := openTest(t, Options{NoSync: true})
	q := mustCreate(t, s, "q", nil)
	wait := 20 * time.Second
	errc := make(chan error, 1)
	go func() {
		_, err := q.Receive(context.Background(), ReceiveOptions{Wait: &wait})
		errc <- err
	}()
	for {
		q.mu.Lock()
		n := q.waiters
		q.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Delete("q"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrQueueDeleted) {
		t.Fatalf("long poll on a deleted queue: %v", err)
	}
	if _, err := s.Queue("q"); !errors.Is(err, ErrQueueNotFound) {
		t.Fatal(err)
	}
}

// TestMD5OfAttributesMatchesSQS checks the digest against one computed by
// another SQS implementation (moto) for the same attributes.
func TestMD5OfAttributesMatchesSQS(t *testing.T) {
	got := MD5OfAttributes([]MessageAttribute{
		{Name: "color", DataType: "String", StringValue: "blue"},
		{Name: "n", DataType: "Number", StringValue: "42"},
		{Name: "raw", DataType: "Binary", BinaryValue: []byte{0, 1, 0xff}},
		{Name: "lab", DataType: "String.custom", StringValue: "x"},
	})
	if want := "c129059a377e5e156a5bbf9a1915a8e0"; got != want {
		t.Fatalf("MD5OfAttributes = %s, want %s", got, want)
	}
}
