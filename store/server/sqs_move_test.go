package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestSQSMessageMoveTaskResumesAfterRestart starts a slow move task (one
// message a second, so it pauses for ten seconds after its first batch
// of ten), restarts the store during the pause, and sees the task go on
// after the restart: ListMessageMoveTasks shows it, and every message
// ends up moved once.
func TestSQSMessageMoveTaskResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Logf: func(string, ...any) {}}
	s, hc := startServer(t, dir, opts)
	c := sqsClientOf(hc.url)
	ctx := context.Background()
	const dlqARN, jobsARN = "arn:aws:sqs:us-east-1:000000000000:dead", "arn:aws:sqs:us-east-1:000000000000:jobs"
	dlq := aws.String(createQueue(t, c, "dead", nil))
	jobs := aws.String(createQueue(t, c, "jobs", map[string]string{
		"RedrivePolicy": fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":3}`, dlqARN)}))
	const n = 12
	for i := range n {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: dlq, MessageBody: aws.String(fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	started, err := c.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlqARN),
		DestinationArn: aws.String(jobsARN), MaxNumberOfMessagesPerSecond: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	list := func() types.ListMessageMoveTasksResultEntry {
		t.Helper()
		out, err := c.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(dlqARN)})
		if err != nil || len(out.Results) != 1 {
			t.Fatalf("ListMessageMoveTasks: %+v %v", out, err)
		}
		return out.Results[0]
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := list()
		if aws.ToString(r.Status) != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("before the restart: %+v", r)
		}
		if r.ApproximateNumberOfMessagesMoved == 10 {
			break // the first batch moved; the task waits ten seconds
		}
	}
	s.Close()

	_, hc = startServer(t, dir, opts)
	c = sqsClientOf(hc.url)
	r := list()
	if st := aws.ToString(r.Status); st != "RUNNING" && st != "COMPLETED" {
		t.Fatalf("after the restart: %+v", r)
	}
	if st := aws.ToString(r.Status); st == "RUNNING" && aws.ToString(r.TaskHandle) != aws.ToString(started.TaskHandle) {
		t.Fatalf("after the restart the handle is %q, was %q", aws.ToString(r.TaskHandle), aws.ToString(started.TaskHandle))
	}
	for deadline := time.Now().Add(10 * time.Second); aws.ToString(r.Status) != "COMPLETED"; time.Sleep(10 * time.Millisecond) {
		if aws.ToString(r.Status) != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("after the restart: %+v", r)
		}
		r = list()
	}
	if r.ApproximateNumberOfMessagesMoved != n || aws.ToInt64(r.ApproximateNumberOfMessagesToMove) != n ||
		aws.ToString(r.DestinationArn) != jobsARN || r.MaxNumberOfMessagesPerSecond == nil || *r.MaxNumberOfMessagesPerSecond != 1 {
		t.Fatalf("the completed task: %+v", r)
	}
	bodies := map[string]int{}
	for len(bodies) < n {
		got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: jobs, MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil || len(got.Messages) == 0 {
			t.Fatalf("the destination holds %d messages: %+v %v", len(bodies), got, err)
		}
		for _, m := range got.Messages {
			bodies[aws.ToString(m.Body)]++
		}
	}
	if left, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: jobs}); err != nil || len(left.Messages) != 0 {
		t.Fatalf("more than %d messages in the destination: %+v %v", n, left, err)
	}
	if left, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq}); err != nil || len(left.Messages) != 0 {
		t.Fatalf("left in the dead-letter queue: %+v %v", left, err)
	}
}
