package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestSQSDeadLetterQueueAfterMaxReceiveCount: a message received
// maxReceiveCount times moves to the dead-letter queue on the next
// receive, with its id and body.
func TestSQSDeadLetterQueueAfterMaxReceiveCount(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	dlq := aws.String(createQueue(t, c, "dead", nil))
	arn, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	policy := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"3"}`, arn.Attributes["QueueArn"])
	src := aws.String(createQueue(t, c, "jobs", map[string]string{"RedrivePolicy": policy, "VisibilityTimeout": "0"}))
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: src, MessageBody: aws.String("poison")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: src})
		if err != nil || len(got.Messages) != 1 {
			t.Fatalf("receive %d: %+v %v", i+1, got, err)
		}
	}
	if got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: src}); err != nil || len(got.Messages) != 0 {
		t.Fatalf("receive 4: %+v %v", got, err)
	}
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq, WaitTimeSeconds: 5})
	if err != nil || len(got.Messages) != 1 || aws.ToString(got.Messages[0].MessageId) != aws.ToString(sent.MessageId) || aws.ToString(got.Messages[0].Body) != "poison" {
		t.Fatalf("the dead-letter queue: %+v %v", got, err)
	}
	srcs, err := c.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: dlq})
	if err != nil || len(srcs.QueueUrls) != 1 || srcs.QueueUrls[0] != aws.ToString(src) {
		t.Fatalf("ListDeadLetterSourceQueues: %+v %v", srcs, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: src, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil || attrs.Attributes["RedrivePolicy"] != policy {
		t.Fatalf("RedrivePolicy: %v %v", attrs, err)
	}
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: dlq, Attributes: map[string]string{"RedriveAllowPolicy": `{"redrivePermission":"denyAll"}`}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("refused"), Attributes: map[string]string{"RedrivePolicy": policy}})
	var badValue *types.InvalidAttributeValue
	if !errors.As(err, &badValue) {
		t.Fatalf("a RedrivePolicy the target's RedriveAllowPolicy denies: %v", err)
	}
}

// TestSQSMessageMoveTaskRedrivesToSource moves dead letters back to the
// queue they came from with StartMessageMoveTask.
func TestSQSMessageMoveTaskRedrivesToSource(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	dlq := aws.String(createQueue(t, c, "dead", nil))
	dlqARN := "arn:aws:sqs:us-east-1:000000000000:dead"
	src := aws.String(createQueue(t, c, "jobs", map[string]string{"VisibilityTimeout": "0",
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":1}`, dlqARN)}))
	ids := map[string]bool{}
	for i := range 3 {
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: src, MessageBody: aws.String(fmt.Sprint("m", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids[aws.ToString(out.MessageId)] = true
	}
	for range 2 { // the first receive counts them, the second moves them
		if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: src, MaxNumberOfMessages: 10}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:jobs")})
	if errCode(err) != "InvalidParameterValue" {
		t.Fatalf("a move task from a queue that is no dead-letter queue: %v", err)
	}
	if _, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlqARN)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tasks, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlqARN)})
		if err != nil || len(tasks.Results) != 1 {
			t.Fatalf("ListMessageMoveTasks: %+v %v", tasks, err)
		}
		r := tasks.Results[0]
		if aws.ToString(r.Status) == "COMPLETED" {
			if r.ApproximateNumberOfMessagesMoved != 3 || r.ApproximateNumberOfMessagesToMove == nil || *r.ApproximateNumberOfMessagesToMove != 3 {
				t.Fatalf("completed task: %+v", r)
			}
			break
		}
		if aws.ToString(r.Status) != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("task: %+v", r)
		}
	}
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: src, MaxNumberOfMessages: 10, VisibilityTimeout: 60,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(got.Messages) != 3 {
		t.Fatalf("the source after the move: %+v %v", got, err)
	}
	for _, m := range got.Messages {
		if !ids[aws.ToString(m.MessageId)] || m.Attributes["ApproximateReceiveCount"] != "1" {
			t.Fatalf("moved back: %+v", m)
		}
	}
	if left, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq}); left == nil || len(left.Messages) != 0 {
		t.Fatalf("left in the dead-letter queue: %+v", left)
	}
	if _, err := c.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String("nope")}); errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("CancelMessageMoveTask of no task: %v", err)
	}
}
