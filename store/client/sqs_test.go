package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/server"
	"github.com/sluicehq/sluice/store/sigv4"
)

func TestSQSRoundTrip(t *testing.T) {
	q := start(t).SQS()
	ctx := context.Background()
	url, err := q.CreateQueue(ctx, "jobs", map[string]string{"VisibilityTimeout": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := q.QueueURL(ctx, "jobs"); err != nil || got != url {
		t.Fatalf("QueueURL = %q, %v; want %q", got, err, url)
	}
	var entries []SendEntry
	for i := range 10 {
		entries = append(entries, SendEntry{Id: fmt.Sprint("e", i), MessageBody: fmt.Sprint("body ", i)})
	}
	v := "blue"
	entries[3].MessageAttributes = map[string]MessageAttribute{"color": {DataType: "String", StringValue: &v}}
	out, err := q.SendBatch(ctx, url, entries)
	if err != nil || len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("SendBatch = %+v, %v", out, err)
	}
	got := map[string]Message{}
	for len(got) < 10 {
		msgs, err := q.Receive(ctx, url, ReceiveInput{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got[m.Body] = m
		}
	}
	m := got["body 3"]
	if a := m.MessageAttributes["color"]; a.StringValue == nil || *a.StringValue != "blue" || m.MD5OfMessageAttributes == "" {
		t.Fatalf("attributes of body 3 = %+v", m)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
		t.Fatalf("system attributes = %v", m.Attributes)
	}
	var receipts []string
	for _, m := range got {
		if m.Body != "body 0" {
			receipts = append(receipts, m.ReceiptHandle)
		}
	}
	receipts = append(receipts, "not-a-handle")
	failed, err := q.Delete(ctx, url, receipts)
	if err != nil || len(failed) != 1 || failed[0].Id != "9" || failed[0].Code != "ReceiptHandleIsInvalid" {
		t.Fatalf("Delete = %+v, %v", failed, err)
	}
	// body 0 was not deleted: made visible at once, it is received again.
	if failed, err := q.ChangeVisibility(ctx, url, []string{got["body 0"].ReceiptHandle}, 0); err != nil || len(failed) != 0 {
		t.Fatalf("ChangeVisibility = %+v, %v", failed, err)
	}
	msgs, err := q.Receive(ctx, url, ReceiveInput{Max: 10, Wait: 2 * time.Second})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "body 0" || msgs[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("Receive after ChangeVisibility = %+v, %v", msgs, err)
	}
	attrs, err := q.Attributes(ctx, url, "All")
	if err != nil || attrs["ApproximateNumberOfMessagesNotVisible"] != "1" {
		t.Fatalf("Attributes = %v, %v", attrs, err)
	}
	if err := q.SetAttributes(ctx, url, map[string]string{"DelaySeconds": "7"}); err != nil {
		t.Fatal(err)
	}
	if a, err := q.Attributes(ctx, url, "DelaySeconds"); err != nil || a["DelaySeconds"] != "7" {
		t.Fatalf("DelaySeconds after SetAttributes = %v, %v", a, err)
	}
	if err := q.Purge(ctx, url); err != nil {
		t.Fatal(err)
	}
	if a, err := q.Attributes(ctx, url, "All"); err != nil || a["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after Purge = %v, %v", a, err)
	}
	if _, err := q.CreateQueue(ctx, "other", nil); err != nil {
		t.Fatal(err)
	}
	if urls, err := q.ListQueues(ctx, "jo"); err != nil || len(urls) != 1 || urls[0] != url {
		t.Fatalf("ListQueues(jo) = %v, %v", urls, err)
	}
	if urls, err := q.ListQueues(ctx, ""); err != nil || len(urls) != 2 {
		t.Fatalf("ListQueues() = %v, %v", urls, err)
	}
	if err := q.DeleteQueue(ctx, url); err != nil {
		t.Fatal(err)
	}
	_, err = q.QueueURL(ctx, "jobs")
	var e *store.Error
	if !errors.As(err, &e) || e.Code != "QueueDoesNotExist" {
		t.Fatalf("QueueURL of a deleted queue: %v", err)
	}
}

func TestSQSFIFO(t *testing.T) {
	q := start(t).SQS()
	ctx := context.Background()
	url, err := q.CreateQueue(ctx, "orders.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := q.Send(ctx, url, SendEntry{MessageBody: fmt.Sprint("m", i), MessageGroupId: "g"}); err != nil {
			t.Fatal(err)
		}
	}
	// The same body again within 5 minutes is a duplicate.
	out, err := q.SendBatch(ctx, url, []SendEntry{{Id: "a", MessageBody: "m1", MessageGroupId: "g"}, {Id: "b", MessageBody: "m3", MessageGroupId: "g"}})
	if err != nil || len(out.Successful) != 2 || out.Successful[1].SequenceNumber == "" {
		t.Fatalf("SendBatch = %+v, %v", out, err)
	}
	msgs, err := q.Receive(ctx, url, ReceiveInput{Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.Body)
		if m.Attributes["MessageGroupId"] != "g" {
			t.Errorf("MessageGroupId = %q", m.Attributes["MessageGroupId"])
		}
	}
	if fmt.Sprint(bodies) != "[m0 m1 m2 m3]" {
		t.Fatalf("bodies = %v", bodies)
	}
	// A group with a batch in flight gives nothing more.
	if more, err := q.Receive(ctx, url, ReceiveInput{Max: 10}); err != nil || len(more) != 0 {
		t.Fatalf("second Receive = %+v, %v", more, err)
	}
	_, err = q.Send(ctx, url, SendEntry{MessageBody: "x"})
	var e *store.Error
	if !errors.As(err, &e) || e.Code != "MissingParameter" {
		t.Fatalf("Send without a group: %v", err)
	}
}

func TestSQSSigned(t *testing.T) {
	ctx := context.Background()
	plain := startWith(t, server.Options{Credentials: map[string]string{"AKID": "secret"}, Region: "eu-west-1"})
	good := plain.WithCredentials(Credentials{AccessKey: "AKID", SecretKey: "secret", Region: "eu-west-1"}).SQS()
	url, err := good.CreateQueue(ctx, "q", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Send(ctx, url, SendEntry{MessageBody: "hi"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    *SQS
		code string
	}{
		{plain.SQS(), sigv4.CodeMissingAuthenticationToken},
		{plain.WithCredentials(Credentials{AccessKey: "AKID", SecretKey: "wrong", Region: "eu-west-1"}).SQS(), sigv4.CodeInvalidSignature},
	} {
		_, err := c.q.Send(ctx, url, SendEntry{MessageBody: "hi"})
		var e *store.Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("error = %v, want code %s", err, c.code)
		}
	}
}
