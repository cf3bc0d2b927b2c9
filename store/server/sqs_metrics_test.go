package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluicehq/sluice/internal/promtext"
	"github.com/sluicehq/sluice/store/queue"
)

// sqsClientOf is an AWS SDK SQS client of the store at url.
func sqsClientOf(url string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", Source: "test"}, nil
		}),
		Retryer: aws.NopRetryer{},
	})
}

// metricsEndpoint serves the process's metrics as --metrics-addr does.
func metricsEndpoint(t *testing.T) string {
	t.Helper()
	ms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", promtext.ContentType)
		promtext.Write(w)
	}))
	t.Cleanup(ms.Close)
	return ms.URL
}

// scrapeQueue returns the lines of /metrics of the queue name.
func scrapeQueue(t *testing.T, url, name string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, `{queue="`+name+`"}`) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

func queueMetrics(name string, delayed, deleted, inFlight, dead, received, sent, visible int, age float64, bytes int) string {
	l := `{queue="` + name + `"}`
	return strings.Join([]string{
		fmt.Sprint("sluice_queue_messages_delayed", l, " ", delayed),
		fmt.Sprint("sluice_queue_messages_deleted_total", l, " ", deleted),
		fmt.Sprint("sluice_queue_messages_in_flight", l, " ", inFlight),
		fmt.Sprint("sluice_queue_messages_moved_to_dead_letter_total", l, " ", dead),
		fmt.Sprint("sluice_queue_messages_received_total", l, " ", received),
		fmt.Sprint("sluice_queue_messages_sent_total", l, " ", sent),
		fmt.Sprint("sluice_queue_messages_visible", l, " ", visible),
		fmt.Sprint("sluice_queue_oldest_message_age_seconds", l, " ", age),
		fmt.Sprint("sluice_queue_sent_bytes_total", l, " ", bytes),
	}, "\n")
}

// TestSQSQueueMetricsOnMetricsEndpoint sends, receives, deletes and
// dead-letters messages through the AWS SDK and scrapes the queue metrics
// from a real /metrics endpoint after each step.
func TestSQSQueueMetricsOnMetricsEndpoint(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	_, hc := startServer(t, t.TempDir(), Options{Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	mu := metricsEndpoint(t)
	c := sqsClientOf(hc.url)
	ctx := context.Background()
	createQueue(t, c, "metered-dlq", nil)
	q := aws.String(createQueue(t, c, "metered", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:metered-dlq","maxReceiveCount":1}`}))
	if got, want := scrapeQueue(t, mu, "metered"), queueMetrics("metered", 0, 0, 0, 0, 0, 0, 0, 0, 0); got != want {
		t.Fatalf("an empty queue:\n%s\nwant:\n%s", got, want)
	}
	send := func(in *sqs.SendMessageInput) {
		t.Helper()
		in.QueueUrl = q
		if _, err := c.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	send(&sqs.SendMessageInput{MessageBody: aws.String("hello")}) // 5 bytes
	send(&sqs.SendMessageInput{MessageBody: aws.String("hello"), MessageAttributes: map[string]types.MessageAttributeValue{
		"a": {DataType: aws.String("String"), StringValue: aws.String("xy")}}}) // 5 + 1 + 6 + 2
	clock.Add(3000)
	send(&sqs.SendMessageInput{MessageBody: aws.String("later"), DelaySeconds: 600}) // 5
	send(&sqs.SendMessageInput{MessageBody: aws.String("world!")})                   // 6
	clock.Add(4000)
	if got, want := scrapeQueue(t, mu, "metered"), queueMetrics("metered", 1, 0, 0, 0, 0, 4, 3, 7, 30); got != want {
		t.Fatalf("after 4 sends:\n%s\nwant:\n%s", got, want)
	}

	// Two received (in flight for 10 minutes), one of them deleted.
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 2, VisibilityTimeout: 600})
	if err != nil || len(got.Messages) != 2 {
		t.Fatalf("ReceiveMessage: %+v %v", got, err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	// The last visible one received for a second, then moved to the
	// dead-letter queue by the next receive (maxReceiveCount 1).
	last, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, VisibilityTimeout: 1})
	if err != nil || len(last.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %+v %v", last, err)
	}
	clock.Add(1000)
	if none, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q}); err != nil || len(none.Messages) != 0 {
		t.Fatalf("ReceiveMessage that moves the message: %+v %v", none, err)
	}
	// Left: one in flight (sent at the start: 8 s old) and the delayed one.
	if got, want := scrapeQueue(t, mu, "metered"), queueMetrics("metered", 1, 1, 1, 1, 3, 4, 0, 8, 30); got != want {
		t.Fatalf("after receives, a delete and a dead letter:\n%s\nwant:\n%s", got, want)
	}
	// The dead-letter queue holds the moved message, which it did not count as sent.
	if got, want := scrapeQueue(t, mu, "metered-dlq"), queueMetrics("metered-dlq", 0, 0, 0, 0, 0, 0, 1, 5, 0); got != want {
		t.Fatalf("the dead-letter queue:\n%s\nwant:\n%s", got, want)
	}

	resp, err := http.Get(mu + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# HELP sluice_queue_messages_in_flight Messages of a queue received and neither deleted nor visible again (ApproximateNumberOfMessagesNotVisible).",
		"# TYPE sluice_queue_messages_in_flight gauge",
		"# TYPE sluice_queue_messages_sent_total counter",
	} {
		if strings.Count(string(all), want+"\n") != 1 {
			t.Fatalf("/metrics has not exactly one line %q", want)
		}
	}

	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q}); err != nil {
		t.Fatal(err)
	}
	if got := scrapeQueue(t, mu, "metered"); got != "" {
		t.Fatalf("metrics after DeleteQueue:\n%s", got)
	}
	if got := scrapeQueue(t, mu, "metered-dlq"); got == "" {
		t.Fatal("the dead-letter queue's metrics went with the other queue")
	}
}

// TestSQSInFlightLimits lowers the limits of messages in flight: a
// standard queue then answers a short-polling ReceiveMessage with
// OverLimit and keeps a long poll waiting (a delete wakes it), a FIFO
// queue returns no more messages; deletes make room, and the count of
// messages in flight survives a restart.
func TestSQSInFlightLimits(t *testing.T) {
	dir := t.TempDir()
	opts := Options{QueueLimits: queue.Limits{MaxInFlight: 3, MaxInFlightFIFO: 2}, Logf: func(string, ...any) {}}
	s, hc := startServer(t, dir, opts)
	c := sqsClientOf(hc.url)
	ctx := context.Background()
	q := aws.String(createQueue(t, c, "limited", map[string]string{"VisibilityTimeout": "600"}))
	for i := range 5 {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String(fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func(q *string) (*sqs.ReceiveMessageOutput, error) {
		return c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10})
	}
	got, err := receive(q)
	if err != nil || len(got.Messages) != 3 {
		t.Fatalf("a receive of 10 with room for 3: %+v %v", got, err)
	}
	var over *types.OverLimit
	if _, err := receive(q); !errors.As(err, &over) || errCode(err) != "OverLimit" {
		t.Fatalf("a receive at the limit: %v", err)
	}
	// A long poll at the limit gets no error: it waits for room.
	if none, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 1}); err != nil || len(none.Messages) != 0 {
		t.Fatalf("a long poll at the limit: %+v %v", none, err)
	}
	polled := make(chan *sqs.ReceiveMessageOutput, 1)
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q, MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
		if err != nil {
			t.Error(err)
		}
		polled <- out
	}()
	time.Sleep(200 * time.Millisecond) // most likely waiting by now; if not, it finds the room at once
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q, ReceiptHandle: got.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	select {
	case again := <-polled:
		if again == nil || len(again.Messages) != 1 {
			t.Fatalf("a long poll woken by a delete: %+v", again)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a long poll at the limit was not woken by a delete")
	}

	// FIFO: at the limit a receive returns nothing more.
	f := aws.String(createQueue(t, c, "limited.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "600"}))
	for i := range 4 {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: f, MessageBody: aws.String(fmt.Sprint("f", i)),
			MessageGroupId: aws.String(fmt.Sprint("g", i))}); err != nil {
			t.Fatal(err)
		}
	}
	fgot, err := receive(f)
	if err != nil || len(fgot.Messages) != 2 {
		t.Fatalf("a FIFO receive of 10 with room for 2: %+v %v", fgot, err)
	}
	if none, err := receive(f); err != nil || len(none.Messages) != 0 {
		t.Fatalf("a FIFO receive at the limit: %+v %v", none, err)
	}

	// After a restart the messages in flight still count.
	s.Close()
	_, hc = startServer(t, dir, opts)
	c = sqsClientOf(hc.url)
	if _, err := receive(q); !errors.As(err, &over) {
		t.Fatalf("a receive at the limit after a restart: %v", err)
	}
	if none, err := receive(f); err != nil || len(none.Messages) != 0 {
		t.Fatalf("a FIFO receive at the limit after a restart: %+v %v", none, err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: f, ReceiptHandle: fgot.Messages[1].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if one, err := receive(f); err != nil || len(one.Messages) != 1 {
		t.Fatalf("a FIFO receive after a delete: %+v %v", one, err)
	}
}
