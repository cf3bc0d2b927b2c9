package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// sqsClient returns an AWS SDK SQS client of a signed store on loopback.
func sqsClient(t *testing.T) *sqs.Client {
	t.Helper()
	_, ts := serveSigned(t, map[string]string{"AKIDTEST": "test-secret"})
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "test-secret", Source: "test"}, nil
		}),
		Retryer: aws.NopRetryer{},
	})
}

func createQueue(t *testing.T, c *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

func TestSQSQueuesWithSDK(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := createQueue(t, c, "orders", map[string]string{"VisibilityTimeout": "45"})
	if !strings.HasSuffix(url, "/000000000000/orders") {
		t.Fatalf("QueueUrl %s", url)
	}
	if again := createQueue(t, c, "orders", map[string]string{"VisibilityTimeout": "45"}); again != url {
		t.Fatalf("CreateQueue again: %s", again)
	}
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders"), Attributes: map[string]string{"VisibilityTimeout": "46"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) || errCode(err) != "QueueAlreadyExists" {
		t.Fatalf("CreateQueue with other attributes: %v", err)
	}
	createQueue(t, c, "orders-eu", nil)
	createQueue(t, c, "other", nil)
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl: %v %v", got, err)
	}
	var listed []string
	p := sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("orders"), MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page.QueueUrls...)
	}
	if len(listed) != 2 || listed[0] != url || !strings.HasSuffix(listed[1], "/orders-eu") {
		t.Fatalf("ListQueues pages: %v", listed)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil || attrs.Attributes["VisibilityTimeout"] != "45" || attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:orders" ||
		attrs.Attributes["MessageRetentionPeriod"] != "345600" || attrs.Attributes["ApproximateNumberOfMessages"] != "0" {
		t.Fatalf("GetQueueAttributes: %v %v", attrs, err)
	}
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"MessageRetentionPeriod": "30"}})
	var badValue *types.InvalidAttributeValue
	if !errors.As(err, &badValue) || !strings.Contains(err.Error(), "MessageRetentionPeriod") {
		t.Fatalf("SetQueueAttributes out of range: %v", err)
	}
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Colour": "red"}})
	var badName *types.InvalidAttributeName
	if !errors.As(err, &badName) {
		t.Fatalf("SetQueueAttributes unknown: %v", err)
	}
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"DelaySeconds": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagQueue(ctx, &sqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"team": "a", "env": "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagQueue(ctx, &sqs.UntagQueueInput{QueueUrl: aws.String(url), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || fmt.Sprint(tags.Tags) != "map[team:a]" {
		t.Fatalf("ListQueueTags: %v %v", tags, err)
	}
	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders")})
	var missing *types.QueueDoesNotExist
	if !errors.As(err, &missing) || errCode(err) != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("GetQueueUrl of a deleted queue: %v", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
	if !errors.As(err, &missing) {
		t.Fatalf("SendMessage to a deleted queue: %v", err)
	}
	if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("jobs.fifo")}); !errors.As(err, &badValue) || !strings.Contains(err.Error(), "FifoQueue") {
		t.Fatalf("CreateQueue of a .fifo name without FifoQueue: %v", err)
	}
}

func TestSQSVisibilityExpiryAndRedelivery(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := aws.String(createQueue(t, c, "work", nil))
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("job-1")})
	if err != nil { // the SDK checks MD5OfMessageBody
		t.Fatal(err)
	}
	first, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, VisibilityTimeout: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil || len(first.Messages) != 1 || aws.ToString(first.Messages[0].MessageId) != aws.ToString(sent.MessageId) ||
		first.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("first receive: %+v %v", first, err)
	}
	none, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url})
	if err != nil || len(none.Messages) != 0 {
		t.Fatalf("receive while invisible: %+v %v", none, err)
	}
	second, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 10, VisibilityTimeout: 60,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount}})
	if err != nil || len(second.Messages) != 1 || second.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("receive after the visibility timeout: %+v %v", second, err)
	}
	oldR, newR := first.Messages[0].ReceiptHandle, second.Messages[0].ReceiptHandle
	if aws.ToString(oldR) == aws.ToString(newR) {
		t.Fatal("the receipt handle did not change")
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: oldR, VisibilityTimeout: 5})
	if errCode(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("ChangeMessageVisibility with the old receipt: %v", err)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: aws.String("garbage")})
	var invalid *types.ReceiptHandleIsInvalid
	if !errors.As(err, &invalid) {
		t.Fatalf("DeleteMessage with a malformed receipt: %v", err)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: newR, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	third, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 5})
	if err != nil || len(third.Messages) != 1 {
		t.Fatalf("receive after ChangeMessageVisibility 0: %+v %v", third, err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: third.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: third.Messages[0].ReceiptHandle, VisibilityTimeout: 5})
	if err == nil {
		t.Fatal("ChangeMessageVisibility of a deleted message succeeded")
	}
	attrs, _ := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if attrs == nil || attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after the delete: %v", attrs)
	}
}

func TestSQSBatchPartialFailures(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := aws.String(createQueue(t, c, "batch", nil))
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("one")},
		{Id: aws.String("b"), MessageBody: aws.String("bad \x01")},
		{Id: aws.String("c"), MessageBody: aws.String("three"), DelaySeconds: 901},
		{Id: aws.String("d"), MessageBody: aws.String("four")},
	}})
	if err != nil || len(out.Successful) != 2 || len(out.Failed) != 2 {
		t.Fatalf("SendMessageBatch: %+v %v", out, err)
	}
	for _, f := range out.Failed {
		if !f.SenderFault || (aws.ToString(f.Id) == "b") != (aws.ToString(f.Code) == "InvalidMessageContents") {
			t.Fatalf("failed entry %s: %s %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("x"), MessageBody: aws.String("1")}, {Id: aws.String("x"), MessageBody: aws.String("2")}}})
	var notDistinct *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &notDistinct) {
		t.Fatalf("repeated ids: %v", err)
	}
	var eleven []types.SendMessageBatchRequestEntry
	for i := range 11 {
		eleven = append(eleven, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String("m")})
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: eleven})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v", err)
	}
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 2 {
		t.Fatalf("ReceiveMessage: %+v %v", got, err)
	}
	vis, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: url, Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("ok"), ReceiptHandle: got.Messages[0].ReceiptHandle, VisibilityTimeout: 120},
		{Id: aws.String("bad"), ReceiptHandle: aws.String("nope"), VisibilityTimeout: 120},
	}})
	if err != nil || len(vis.Successful) != 1 || len(vis.Failed) != 1 || aws.ToString(vis.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("ChangeMessageVisibilityBatch: %+v %v", vis, err)
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("m0"), ReceiptHandle: got.Messages[0].ReceiptHandle},
		{Id: aws.String("m1"), ReceiptHandle: got.Messages[1].ReceiptHandle},
		{Id: aws.String("junk"), ReceiptHandle: aws.String("!!")},
	}})
	if err != nil || len(del.Successful) != 2 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Id) != "junk" {
		t.Fatalf("DeleteMessageBatch: %+v %v", del, err)
	}
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: url}); err != nil {
		t.Fatal(err)
	}
	var inProgress *types.PurgeQueueInProgress
	if _, err := c.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: url}); !errors.As(err, &inProgress) {
		t.Fatalf("second PurgeQueue: %v", err)
	}
}

func TestSQSLongPollWakesOnSend(t *testing.T) {
	c := sqsClient(t)
	url := aws.String(createQueue(t, c, "poll", nil))
	type result struct {
		out *sqs.ReceiveMessageOutput
		err error
	}
	done := make(chan result, 1)
	// The wait is 20 s; the call must return on the send, well within the
	// context's 15 s.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 20})
		done <- result{out, err}
	}()
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("wake")}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || len(r.out.Messages) != 1 || aws.ToString(r.out.Messages[0].Body) != "wake" {
		t.Fatalf("long poll: %+v %v", r.out, r.err)
	}
}

func TestSQSDelayAndAttributes(t *testing.T) {
	c := sqsClient(t)
	ctx := context.Background()
	url := aws.String(createQueue(t, c, "delayed", nil))
	attrs := map[string]types.MessageAttributeValue{
		"color": {DataType: aws.String("String"), StringValue: aws.String("blue")},
		"n":     {DataType: aws.String("Number"), StringValue: aws.String("42")},
		"raw":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 0xff}},
		"lab":   {DataType: aws.String("String.custom"), StringValue: aws.String("x")},
	}
	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("later"), DelaySeconds: 1, MessageAttributes: attrs})
	// The digest another SQS implementation (moto) computes for these attributes.
	if err != nil || aws.ToString(sent.MD5OfMessageAttributes) != "c129059a377e5e156a5bbf9a1915a8e0" {
		t.Fatalf("SendMessage: %+v %v", sent, err)
	}
	now, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url})
	if err != nil || len(now.Messages) != 0 {
		t.Fatalf("a delayed message was received at once: %+v %v", now, err)
	}
	qa, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessagesDelayed"}})
	if err != nil || qa.Attributes["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Fatalf("delayed count: %v %v", qa, err)
	}
	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 10, MessageAttributeNames: []string{"All"}})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receive after the delay: %+v %v", got, err)
	}
	m := got.Messages[0]
	if aws.ToString(m.MD5OfMessageAttributes) != "c129059a377e5e156a5bbf9a1915a8e0" || len(m.MessageAttributes) != 4 ||
		string(m.MessageAttributes["raw"].BinaryValue) != "\x00\x01\xff" || aws.ToString(m.MessageAttributes["n"].StringValue) != "42" {
		t.Fatalf("received attributes: %+v", m)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	some, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 5, MessageAttributeNames: []string{"color", "ra.*"}})
	if err != nil || len(some.Messages) != 1 || len(some.Messages[0].MessageAttributes) != 1 || some.Messages[0].MessageAttributes["color"].StringValue == nil {
		t.Fatalf("receive of selected attributes: %+v %v", some, err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(strings.Repeat("x", 256<<10+1))})
	if errCode(err) != "InvalidParameterValue" {
		t.Fatalf("a message over 256 KiB: %v", err)
	}
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 11})
	if errCode(err) != "InvalidParameterValue" {
		t.Fatalf("MaxNumberOfMessages 11: %v", err)
	}
}

func TestSQSRefusesBadSignature(t *testing.T) {
	_, ts := serveSigned(t, map[string]string{"AKIDTEST": "test-secret"})
	c := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Retryer: aws.NopRetryer{},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "wrong"}, nil
		})})
	_, err := c.ListQueues(context.Background(), &sqs.ListQueuesInput{})
	if err == nil || !strings.Contains(errCode(err), "Signature") {
		t.Fatalf("a wrong secret: %v", err)
	}
}
