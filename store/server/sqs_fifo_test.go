package server

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestSQSFIFOOrderPerGroupWithConcurrentConsumers sends 10 messages to
// each of 20 groups and consumes them with 4 concurrent consumers: each
// group's messages arrive in send order, each once, and no message
// arrives before the delete of the one before it in its group was sent
// (unless it came in the same batch): one batch in flight per group.
func TestSQSFIFOOrderPerGroupWithConcurrentConsumers(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := aws.String(createQueue(t, c, "orders.fifo", map[string]string{"FifoQueue": "true"}))
	const groups, perGroup = 20, 10
	lastSeq := ""
	for i := range perGroup {
		var entries []types.SendMessageBatchRequestEntry
		for g := range groups {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", g)),
				MessageBody: aws.String(fmt.Sprintf("%d/%d", g, i)), MessageGroupId: aws.String(fmt.Sprint("g", g)),
				MessageDeduplicationId: aws.String(fmt.Sprintf("%d-%d", g, i))})
			if len(entries) == 10 {
				out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: entries})
				if err != nil || len(out.Failed) != 0 {
					t.Fatalf("SendMessageBatch: %+v %v", out, err)
				}
				for _, s := range out.Successful {
					if seq := aws.ToString(s.SequenceNumber); len(seq) != 20 || seq <= lastSeq {
						t.Fatalf("sequence number %q after %q", seq, lastSeq)
					} else {
						lastSeq = seq
					}
				}
				entries = nil
			}
		}
	}
	var mu sync.Mutex
	deleting := map[string]int{} // group → 1 + the index of the last message whose delete was sent
	next := map[string]int{}     // group → index of the next message
	done := 0
	var wg sync.WaitGroup
	for consumer := range 4 {
		wg.Go(func() {
			for {
				mu.Lock()
				finished := done == groups*perGroup
				mu.Unlock()
				if finished || t.Failed() {
					return
				}
				out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
					MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inBatch := map[string]int{} // group → 1 + the last index of it in this batch
				for _, m := range out.Messages {
					var g, i int
					fmt.Sscanf(aws.ToString(m.Body), "%d/%d", &g, &i)
					group := m.Attributes["MessageGroupId"]
					if group != fmt.Sprint("g", g) {
						t.Errorf("message %s has MessageGroupId %q", aws.ToString(m.Body), group)
					}
					if i > 0 && deleting[group] < i && inBatch[group] != i {
						t.Errorf("consumer %d received %s/%d before the delete of %d was sent", consumer, group, i, i-1)
					}
					inBatch[group] = i + 1
					if i != next[group] {
						t.Errorf("group %s: message %d arrived, %d was next", group, i, next[group])
					}
					next[group] = i + 1
				}
				for g, n := range inBatch { // the deletes are sent next
					deleting[g] = max(deleting[g], n)
				}
				done += len(out.Messages)
				mu.Unlock()
				if len(out.Messages) == 0 {
					continue
				}
				var entries []types.DeleteMessageBatchRequestEntry
				for i, m := range out.Messages {
					entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: m.ReceiptHandle})
				}
				if del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: entries}); err != nil || len(del.Failed) != 0 {
					t.Errorf("DeleteMessageBatch: %+v %v", del, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for g := range groups {
		if n := next[fmt.Sprint("g", g)]; n != perGroup {
			t.Errorf("group g%d: %d messages received", g, n)
		}
	}
}

func TestSQSFIFODeduplication(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := aws.String(createQueue(t, c, "dedup.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}))
	first, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("same"), MessageGroupId: aws.String("g")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("same"), MessageGroupId: aws.String("g")})
	if err != nil || aws.ToString(again.MessageId) != aws.ToString(first.MessageId) || aws.ToString(again.SequenceNumber) != aws.ToString(first.SequenceNumber) {
		t.Fatalf("a content-based duplicate: %+v %v", again, err)
	}
	byID, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("other"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("changed"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("x")})
	if err != nil || aws.ToString(dup.MessageId) != aws.ToString(byID.MessageId) {
		t.Fatalf("a duplicate id: %+v %v", dup, err)
	}
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(got.Messages) != 2 || aws.ToString(got.Messages[0].Body) != "same" || aws.ToString(got.Messages[1].Body) != "other" ||
		got.Messages[1].Attributes["MessageDeduplicationId"] != "x" || got.Messages[0].Attributes["SequenceNumber"] != aws.ToString(first.SequenceNumber) {
		t.Fatalf("ReceiveMessage: %+v %v", got, err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("m")}); errCode(err) != "MissingParameter" {
		t.Fatalf("a FIFO send without MessageGroupId: %v", err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("m"), MessageGroupId: aws.String("g"), DelaySeconds: 5}); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("a FIFO send with DelaySeconds: %v", err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil || attrs.Attributes["FifoQueue"] != "true" || attrs.Attributes["ContentBasedDeduplication"] != "true" || attrs.Attributes["DeduplicationScope"] != "queue" {
		t.Fatalf("GetQueueAttributes: %v %v", attrs, err)
	}
	std := aws.String(createQueue(t, c, "standard", nil))
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: std, MessageBody: aws.String("m"), MessageDeduplicationId: aws.String("x")}); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("a deduplication id on a standard queue: %v", err)
	}
}
