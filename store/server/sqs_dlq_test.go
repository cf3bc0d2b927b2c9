package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
