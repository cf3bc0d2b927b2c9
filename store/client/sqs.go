package client

import (
	"context"
	"strconv"
	"time"
)

// SQS is a client of the store's Amazon SQS API (AWS JSON 1.0): the
// operations a producer, a consumer and a queue's owner need. Errors the
// API answers with are *store.Error with SQS's error name (e.g.
// QueueDoesNotExist). Like Client, it is safe for concurrent use.
type SQS struct{ c Client }

// SQS returns a client of the SQS API at c's endpoint, with c's HTTP
// client and credentials (signed for the service "sqs").
func (c *Client) SQS() *SQS {
	q := &SQS{c: *c}
	q.c.api = sqsAPI
	return q
}

// MessageAttribute is a message attribute's value: DataType is String,
// Number or Binary (optionally with a ".custom" suffix).
type MessageAttribute struct {
	DataType    string
	StringValue *string `json:",omitempty"`
	BinaryValue []byte  `json:",omitempty"`
}

// CreateQueue creates a queue (or returns the URL of the one of that name
// with the same attributes) and returns its URL.
func (s *SQS) CreateQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	var out struct{ QueueUrl string }
	err := s.c.call(ctx, "CreateQueue", struct {
		QueueName  string
		Attributes map[string]string `json:",omitempty"`
	}{name, attrs}, &out)
	return out.QueueUrl, err
}

// QueueURL returns the URL of the queue called name.
func (s *SQS) QueueURL(ctx context.Context, name string) (string, error) {
	var out struct{ QueueUrl string }
	err := s.c.call(ctx, "GetQueueUrl", struct{ QueueName string }{name}, &out)
	return out.QueueUrl, err
}

// DeleteQueue deletes the queue at url.
func (s *SQS) DeleteQueue(ctx context.Context, url string) error {
	return s.c.call(ctx, "DeleteQueue", struct{ QueueUrl string }{url}, nil)
}

// Attributes returns the named attributes of the queue at url ("All":
// every one).
func (s *SQS) Attributes(ctx context.Context, url string, names ...string) (map[string]string, error) {
	var out struct{ Attributes map[string]string }
	err := s.c.call(ctx, "GetQueueAttributes", struct {
		QueueUrl       string
		AttributeNames []string
	}{url, names}, &out)
	return out.Attributes, err
}

// SendEntry is one message of SendMessageBatch.
type SendEntry struct {
	Id                     string
	MessageBody            string
	DelaySeconds           int                         `json:",omitempty"`
	MessageAttributes      map[string]MessageAttribute `json:",omitempty"`
	MessageGroupId         string                      `json:",omitempty"`
	MessageDeduplicationId string                      `json:",omitempty"`
}

// SendResult is one accepted message of SendMessageBatch.
type SendResult struct {
	Id             string
	MessageId      string
	SequenceNumber string // FIFO queues
}

// BatchFailure is one refused entry of a batch operation. SenderFault
// tells a bad entry (not worth retrying as it is) from the queue's own
// failure.
type BatchFailure struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

// SendBatchOutput is SendMessageBatch's answer: each entry is in one of
// the two lists.
type SendBatchOutput struct {
	Successful []SendResult
	Failed     []BatchFailure
}

// SendBatch sends up to 10 messages (at most 256 KiB together) to the
// queue at url. Entries may fail one by one; a whole-request error is the
// returned error.
func (s *SQS) SendBatch(ctx context.Context, url string, entries []SendEntry) (*SendBatchOutput, error) {
	out := new(SendBatchOutput)
	err := s.c.call(ctx, "SendMessageBatch", struct {
		QueueUrl string
		Entries  []SendEntry
	}{url, entries}, out)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Send sends one message and returns its id.
func (s *SQS) Send(ctx context.Context, url string, e SendEntry) (string, error) {
	var out struct{ MessageId string }
	err := s.c.call(ctx, "SendMessage", struct {
		QueueUrl               string
		MessageBody            string
		DelaySeconds           int                         `json:",omitempty"`
		MessageAttributes      map[string]MessageAttribute `json:",omitempty"`
		MessageGroupId         string                      `json:",omitempty"`
		MessageDeduplicationId string                      `json:",omitempty"`
	}{url, e.MessageBody, e.DelaySeconds, e.MessageAttributes, e.MessageGroupId, e.MessageDeduplicationId}, &out)
	return out.MessageId, err
}

// ReceiveInput is a ReceiveMessage request. Zero values leave the queue's
// defaults (visibility timeout, wait).
type ReceiveInput struct {
	Max               int           // 1–10; 0 means 1
	Wait              time.Duration // long poll, whole seconds up to 20 s
	VisibilityTimeout time.Duration // whole seconds; 0: the queue's
	// Every system attribute and every message attribute are asked for.
}

// Message is a received message. Attributes holds its system attributes
// (SentTimestamp, ApproximateReceiveCount, MessageGroupId, …).
type Message struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string
	MD5OfMessageAttributes string
	MessageAttributes      map[string]MessageAttribute
}

// Receive receives up to in.Max messages from the queue at url, waiting up
// to in.Wait for the first one.
func (s *SQS) Receive(ctx context.Context, url string, in ReceiveInput) ([]Message, error) {
	req := struct {
		QueueUrl                    string
		MaxNumberOfMessages         int  `json:",omitempty"`
		WaitTimeSeconds             *int `json:",omitempty"`
		VisibilityTimeout           *int `json:",omitempty"`
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
	}{QueueUrl: url, MaxNumberOfMessages: in.Max,
		MessageSystemAttributeNames: []string{"All"}, MessageAttributeNames: []string{"All"}}
	if in.Wait > 0 {
		w := int(in.Wait / time.Second)
		req.WaitTimeSeconds = &w
	}
	if in.VisibilityTimeout > 0 {
		v := int(in.VisibilityTimeout / time.Second)
		req.VisibilityTimeout = &v
	}
	var out struct{ Messages []Message }
	err := s.c.call(ctx, "ReceiveMessage", req, &out)
	return out.Messages, err
}

// Delete deletes the messages received with the receipt handles, and
// returns the entries that failed (their Id is the handle's index in
// receipts, as a decimal). Up to 10 handles a call.
func (s *SQS) Delete(ctx context.Context, url string, receipts []string) ([]BatchFailure, error) {
	type entry struct{ Id, ReceiptHandle string }
	entries := make([]entry, len(receipts))
	for i, r := range receipts {
		entries[i] = entry{Id: strconv.Itoa(i), ReceiptHandle: r}
	}
	var out struct{ Failed []BatchFailure }
	err := s.c.call(ctx, "DeleteMessageBatch", struct {
		QueueUrl string
		Entries  []entry
	}{url, entries}, &out)
	return out.Failed, err
}

// ChangeVisibility sets the visibility timeout of received messages (0:
// visible again now), and returns the entries that failed (Id: the
// handle's index in receipts). Up to 10 handles a call.
func (s *SQS) ChangeVisibility(ctx context.Context, url string, receipts []string, timeout time.Duration) ([]BatchFailure, error) {
	type entry struct {
		Id, ReceiptHandle string
		VisibilityTimeout int
	}
	entries := make([]entry, len(receipts))
	for i, r := range receipts {
		entries[i] = entry{Id: strconv.Itoa(i), ReceiptHandle: r, VisibilityTimeout: int(timeout / time.Second)}
	}
	var out struct{ Failed []BatchFailure }
	err := s.c.call(ctx, "ChangeMessageVisibilityBatch", struct {
		QueueUrl string
		Entries  []entry
	}{url, entries}, &out)
	return out.Failed, err
}

// ListQueues returns the URLs of the queues whose names start with prefix
// ("": every queue), following the answer's pages.
func (s *SQS) ListQueues(ctx context.Context, prefix string) ([]string, error) {
	var urls []string
	next := ""
	for {
		var out struct {
			QueueUrls []string
			NextToken string
		}
		err := s.c.call(ctx, "ListQueues", struct {
			QueueNamePrefix string `json:",omitempty"`
			MaxResults      int
			NextToken       string `json:",omitempty"`
		}{prefix, 1000, next}, &out)
		if err != nil {
			return nil, err
		}
		urls = append(urls, out.QueueUrls...)
		if out.NextToken == "" {
			return urls, nil
		}
		next = out.NextToken
	}
}

// SetAttributes sets attributes of the queue at url.
func (s *SQS) SetAttributes(ctx context.Context, url string, attrs map[string]string) error {
	return s.c.call(ctx, "SetQueueAttributes", struct {
		QueueUrl   string
		Attributes map[string]string
	}{url, attrs}, nil)
}

// Purge deletes every message of the queue at url.
func (s *SQS) Purge(ctx context.Context, url string) error {
	return s.c.call(ctx, "PurgeQueue", struct{ QueueUrl string }{url}, nil)
}

// StartMoveTask starts moving the messages of the dead-letter queue
// sourceARN to destinationARN ("": back to the queues they came from), at
// most perSecond messages a second (0: as fast as the store goes), and
// returns the task's handle.
func (s *SQS) StartMoveTask(ctx context.Context, sourceARN, destinationARN string, perSecond int) (string, error) {
	var out struct{ TaskHandle string }
	err := s.c.call(ctx, "StartMessageMoveTask", struct {
		SourceArn                    string
		DestinationArn               string `json:",omitempty"`
		MaxNumberOfMessagesPerSecond int    `json:",omitempty"`
	}{sourceARN, destinationARN, perSecond}, &out)
	return out.TaskHandle, err
}

// MoveTask is one of a dead-letter queue's message move tasks.
type MoveTask struct {
	TaskHandle                        string
	Status                            string // RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED
	SourceArn, DestinationArn         string
	ApproximateNumberOfMessagesMoved  int64
	ApproximateNumberOfMessagesToMove int64
	FailureReason                     string
	StartedTimestamp                  int64
}

// MoveTasks lists the move tasks of the dead-letter queue sourceARN, the
// newest first.
func (s *SQS) MoveTasks(ctx context.Context, sourceARN string) ([]MoveTask, error) {
	var out struct{ Results []MoveTask }
	err := s.c.call(ctx, "ListMessageMoveTasks", struct {
		SourceArn  string
		MaxResults int
	}{sourceARN, 10}, &out)
	return out.Results, err
}
