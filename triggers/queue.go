package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// QueueSource is a queue of the store that a trigger polls (ON QUEUE), as
// Lambda's SQS event source mapping polls one: Concurrency pollers receive
// (long polls) and build batches of up to BatchSize messages within
// BatchWindow; a batch the function took is deleted; a batch that failed
// is left, so its messages reappear after the queue's visibility timeout
// (and, past the queue's maxReceiveCount, move to its dead-letter queue:
// a queue's on-failure path). With ReportBatchItemFailures, every message
// but those named is deleted (on a FIFO queue, those before the first one
// named). On a FIFO queue a batch holds one message group's messages, in
// order, and the queue keeps a group's next messages back while a batch
// of it is in flight.
type QueueSource struct {
	Client *client.Client
	Queue  string
}

// MaxQueueBatch is the largest batch.size on a queue (10 on a FIFO queue,
// as Lambda has it).
const MaxQueueBatch = 10000

// OptionError is a Config setting refused, named by its option.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// OptionKey names the option refused.
func (e *OptionError) OptionKey() string { return e.Option }

// StreamOnly are the options of triggers on streams that a trigger on a
// queue refuses, with why.
var StreamOnly = map[string]string{
	"bisect-on-error":    "a failed batch of a queue is received again whole, its messages as the queue hands them out",
	"on-failure":         "a queue's messages that keep failing move to its dead-letter queue (the queue's RedrivePolicy)",
	"positions.dir":      "a queue keeps its own state (a message is deleted once done)",
	"starting-position":  "a queue hands out the messages it holds",
	"max-retry-attempts": "the queue's maxReceiveCount (RedrivePolicy) bounds the attempts",
	"max-record-age":     "the queue's MessageRetentionPeriod bounds a message's age",
}

// CheckQueue checks the settings of a trigger on a queue that can be
// checked without the queue: settings of stream triggers (StreamOnly) are
// refused, as are batches larger than one receive without a batch window,
// and FIFO batches over 10 (as Lambda refuses them). Its errors are
// *OptionError.
func CheckQueue(c Config) error {
	name := c.Name + " ON QUEUE " + c.Queue.Queue
	refuse := func(option, why string) error {
		return &OptionError{Option: option, Msg: fmt.Sprintf("function trigger %s: option %q %s", name, option, why)}
	}
	for option, set := range map[string]bool{"bisect-on-error": c.BisectOnError, "on-failure": c.OnFailure != nil, "positions.dir": c.PositionsDir != "",
		"starting-position": c.StartingPosition != "" && c.StartingPosition != TrimHorizon, "max-retry-attempts": c.MaxRetryAttempts > 0,
		"max-record-age": c.MaxRecordAge > 0} {
		if set {
			return refuse(option, "is for triggers on streams: "+StreamOnly[option])
		}
	}
	switch {
	case c.BatchSize > MaxQueueBatch:
		return refuse("batch.size", fmt.Sprintf("is %d: at most %d on a queue", c.BatchSize, MaxQueueBatch))
	case c.BatchSize > 10 && strings.HasSuffix(c.Queue.Queue, ".fifo"):
		return refuse("batch.size", fmt.Sprintf("is %d: at most 10 on a FIFO queue", c.BatchSize))
	case c.BatchSize > 10 && c.BatchWindow <= 0:
		return refuse("batch.size", fmt.Sprintf("is %d: over 10 (one receive) a queue trigger needs 'batch.window'", c.BatchSize))
	}
	return nil
}

func newQueueTrigger(c Config) (*Trigger, error) {
	if err := CheckQueue(c); err != nil {
		return nil, err
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 10
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 5
	}
	c.defaults()
	pos, _ := loadPositions("", c.Queue.Queue) // in memory: never fails
	t := &Trigger{c: c, pos: pos, sem: make(chan struct{}, c.Concurrency), m: newMetrics(c.Metrics, c.Name)}
	return t, nil
}

// queueInfo is what a trigger learns of its queue at start.
type queueInfo struct {
	sqs       *client.SQS
	name, url string
	arn       string
	fifo      bool
}

// runQueue polls the queue until ctx ends (nil), or fails at start: the
// queue is not found, or its visibility timeout is shorter than Timeout.
func (t *Trigger) runQueue(ctx context.Context) error {
	q, err := t.openQueue(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() { t.watchQueue(ctx, q) })
	for range t.c.Concurrency {
		wg.Go(func() { t.poll(ctx, q) })
	}
	wg.Wait()
	return nil
}

// openQueue finds the queue (retrying a while: it may be created after the
// trigger starts) and checks its visibility timeout against Timeout.
func (t *Trigger) openQueue(ctx context.Context) (*queueInfo, error) {
	q := &queueInfo{sqs: t.c.Queue.Client.SQS(), name: t.c.Queue.Queue}
	backoff := t.c.RetryBackoff
	for fails := 1; ; fails++ {
		url, err := q.sqs.QueueURL(ctx, q.name)
		var attrs map[string]string
		if err == nil {
			attrs, err = q.sqs.Attributes(ctx, url, "All")
		}
		if err == nil {
			q.url, q.arn, q.fifo = url, attrs["QueueArn"], attrs["FifoQueue"] == "true"
			return q, t.checkVisibility(attrs["VisibilityTimeout"])
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if fails >= 20 {
			return nil, fmt.Errorf("trigger %s: queue %s: %w", t.c.Name, q.name, err)
		}
		if fails%5 == 0 {
			hint := ""
			var se *store.Error
			if errors.As(err, &se) && se.Code == "QueueDoesNotExist" {
				hint = fmt.Sprintf(" — create it (sluice queue create %s, or a job's sink with 'queue.create' = 'true')", q.name)
			}
			t.c.Logf("trigger %s: finding queue %s: %v%s (retrying, %d of 20)", t.c.Name, q.name, err, hint, fails)
		}
		if !sleep(ctx, backoff) {
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, t.c.MaxBackoff)
	}
}

// checkVisibility sets Timeout when unset (the queue's visibility
// timeout, up to a minute) and refuses one longer than the queue's
// visibility timeout: a message would reappear, and be invoked again,
// while the function still works on it (Lambda refuses such a mapping).
func (t *Trigger) checkVisibility(attr string) error {
	secs, err := strconv.Atoi(attr)
	if err != nil {
		return fmt.Errorf("trigger %s: queue %s: VisibilityTimeout %q is not a number of seconds", t.c.Name, t.c.Queue.Queue, attr)
	}
	vis := time.Duration(secs) * time.Second
	if t.c.Timeout <= 0 {
		t.c.Timeout = min(vis, time.Minute)
	}
	if t.c.Timeout <= 0 || t.c.Timeout > vis {
		return &OptionError{Option: "timeout", Msg: fmt.Sprintf("function trigger %s: option \"timeout\" (%v) is longer than queue %s's VisibilityTimeout (%ds): "+
			"its messages would reappear while the function still works on them; raise the queue's VisibilityTimeout or lower 'timeout'",
			t.c.Name, t.c.Timeout, t.c.Queue.Queue, secs)}
	}
	if t.c.BatchWindow+t.c.Timeout > vis {
		t.c.Logf("trigger %s: batch.window (%v) and timeout (%v) together exceed queue %s's VisibilityTimeout (%ds): a message may reappear, and be invoked twice, before its batch is done",
			t.c.Name, t.c.BatchWindow, t.c.Timeout, t.c.Queue.Queue, secs)
	}
	return nil
}

// poll receives batches and delivers them until ctx ends; a failed
// receive or a throttled invocation pauses it, with backoff.
func (t *Trigger) poll(ctx context.Context, q *queueInfo) {
	backoff := t.c.RetryBackoff
	for ctx.Err() == nil {
		msgs, err := t.receive(ctx, q)
		throttled := len(msgs) > 0 && t.deliverMessages(ctx, q, msgs)
		if err != nil && ctx.Err() == nil {
			t.c.Logf("trigger %s: receiving from queue %s: %v (retrying)", t.c.Name, q.name, err)
		}
		if err == nil && !throttled {
			backoff = t.c.RetryBackoff
			continue
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, t.c.MaxBackoff)
	}
}

// receive builds a batch: a long poll for the first messages, then up to
// BatchSize within BatchWindow. It returns what it has with an error.
func (t *Trigger) receive(ctx context.Context, q *queueInfo) ([]client.Message, error) {
	var batch []client.Message
	var deadline time.Time
	for len(batch) < t.c.BatchSize {
		wait := 20 * time.Second
		if len(batch) > 0 {
			if t.c.BatchWindow <= 0 {
				break
			}
			if wait = min(time.Until(deadline), wait); wait <= 0 {
				break
			}
		}
		in := client.ReceiveInput{Max: min(10, t.c.BatchSize-len(batch)), Wait: wait.Truncate(time.Second)}
		msgs, err := q.sqs.Receive(ctx, q.url, in)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return batch, err
		}
		if len(batch) == 0 && len(msgs) > 0 {
			deadline = time.Now().Add(t.c.BatchWindow)
		}
		batch = append(batch, msgs...)
		if len(msgs) == 0 && in.Wait == 0 {
			// The window's last fraction of a second: paced short polls.
			if !sleep(ctx, min(wait, 100*time.Millisecond)) {
				break
			}
		}
	}
	return batch, nil
}

// deliverMessages invokes the function with msgs — on a FIFO queue one
// batch per message group, in parallel — and reports whether an
// invocation was throttled.
func (t *Trigger) deliverMessages(ctx context.Context, q *queueInfo, msgs []client.Message) bool {
	if !q.fifo {
		return t.deliverBatch(ctx, q, msgs)
	}
	var groups []string
	byGroup := map[string][]client.Message{}
	for _, m := range msgs {
		g := m.Attributes["MessageGroupId"]
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], m)
	}
	var wg sync.WaitGroup
	throttled := make([]bool, len(groups))
	for i, g := range groups {
		wg.Go(func() { throttled[i] = t.deliverBatch(ctx, q, byGroup[g]) })
	}
	wg.Wait()
	return slices.Contains(throttled, true)
}

// deliverBatch invokes the function once with b and deletes the messages
// done; the others reappear after the queue's visibility timeout. It
// reports whether the invocation was throttled.
func (t *Trigger) deliverBatch(ctx context.Context, q *queueInfo, b []client.Message) bool {
	t.m.batch.Update(float64(len(b)))
	oldest := time.Now().UnixMilli()
	for _, m := range b {
		if ms, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64); err == nil {
			oldest = min(oldest, ms)
		}
	}
	t.m.setAge("queue", q.name, max(0, time.Now().UnixMilli()-oldest))
	answer, err := t.call(ctx, queueEvent(q.arn, t.c.Region, b))
	if ctx.Err() != nil {
		return false
	}
	done := b
	switch {
	case isThrottle(err):
		t.m.throttles.Inc()
		t.m.noteError(err)
		return true
	case err != nil:
		t.m.errors.Inc()
		t.m.failed.Inc()
		t.m.noteError(err)
		t.c.Logf("trigger %s: queue %s: a batch of %d messages failed (they reappear after the visibility timeout): %v", t.c.Name, q.name, len(b), err)
		return false
	case t.c.ReportBatchItemFailures:
		named, err := failedItems(answer, func(id string) int {
			return slices.IndexFunc(b, func(m client.Message) bool { return m.MessageId == id })
		})
		if err != nil {
			t.m.errors.Inc()
			t.m.failed.Inc()
			t.m.noteError(err)
			t.c.Logf("trigger %s: queue %s: a batch of %d messages failed whole: %v", t.c.Name, q.name, len(b), err)
			return false
		}
		if len(named) == 0 {
			break
		}
		t.m.errors.Inc()
		t.m.failed.Inc()
		t.m.noteError(errorf("the function reported %d of %d messages as failed", len(named), len(b)))
		if q.fifo {
			done = b[:slices.Min(named)] // the rest stays, in order
			break
		}
		done = nil
		for i, m := range b {
			if !slices.Contains(named, i) {
				done = append(done, m)
			}
		}
	}
	t.m.records.Add(len(done))
	t.deleteMessages(ctx, q, done)
	return false
}

// deleteMessages deletes msgs, 10 per call, retrying a failed call until
// ctx ends (then the messages reappear and are invoked again: at least
// once).
func (t *Trigger) deleteMessages(ctx context.Context, q *queueInfo, msgs []client.Message) {
	for chunk := range slices.Chunk(msgs, 10) {
		receipts := make([]string, len(chunk))
		for i, m := range chunk {
			receipts[i] = m.ReceiptHandle
		}
		backoff := t.c.RetryBackoff
		for {
			failed, err := q.sqs.Delete(ctx, q.url, receipts)
			if err == nil {
				for _, f := range failed {
					t.c.Logf("trigger %s: queue %s: deleting a message done: %s: %s (it may be invoked again)", t.c.Name, q.name, f.Code, f.Message)
				}
				break
			}
			if ctx.Err() != nil {
				return
			}
			t.c.Logf("trigger %s: queue %s: deleting messages done: %v (retrying)", t.c.Name, q.name, err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, t.c.MaxBackoff)
		}
	}
}

// watchQueue polls the queue's message counts for the metrics every
// PollInterval until ctx ends.
func (t *Trigger) watchQueue(ctx context.Context, q *queueInfo) {
	l := fmt.Sprintf(`{trigger=%q,queue=%q}`, t.c.Name, q.name)
	for _, g := range []struct {
		name string
		v    *atomic.Int64
	}{{"sluice_trigger_queue_messages_visible", &t.m.visible}, {"sluice_trigger_queue_messages_in_flight", &t.m.inFlight}} {
		t.c.Metrics.GetOrCreateGauge(g.name+l, func() float64 { return float64(g.v.Load()) })
	}
	for {
		attrs, err := q.sqs.Attributes(ctx, q.url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
		if err == nil {
			for name, v := range map[string]*atomic.Int64{"ApproximateNumberOfMessages": &t.m.visible, "ApproximateNumberOfMessagesNotVisible": &t.m.inFlight} {
				if n, err := strconv.ParseInt(attrs[name], 10, 64); err == nil {
					v.Store(n)
				}
			}
		}
		if !sleep(ctx, t.c.PollInterval) {
			return
		}
	}
}

// queueRecord is one message of Lambda's SQS event.
type queueRecord struct {
	MessageID              string                    `json:"messageId"`
	ReceiptHandle          string                    `json:"receiptHandle"`
	Body                   string                    `json:"body"`
	Attributes             map[string]string         `json:"attributes"`
	MessageAttributes      map[string]queueAttribute `json:"messageAttributes"`
	MD5OfMessageAttributes string                    `json:"md5OfMessageAttributes,omitempty"`
	MD5OfBody              string                    `json:"md5OfBody"`
	EventSource            string                    `json:"eventSource"`
	EventSourceARN         string                    `json:"eventSourceARN"`
	AWSRegion              string                    `json:"awsRegion"`
}

// queueAttribute is a message attribute in Lambda's SQS event (binary
// values base64).
type queueAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// queueEvent is Lambda's SQS event for msgs: {"Records":[…]}.
func queueEvent(arn, region string, msgs []client.Message) []byte {
	recs := make([]queueRecord, len(msgs))
	for i, m := range msgs {
		r := queueRecord{MessageID: m.MessageId, ReceiptHandle: m.ReceiptHandle, Body: m.Body, Attributes: m.Attributes,
			MessageAttributes: map[string]queueAttribute{}, MD5OfMessageAttributes: m.MD5OfMessageAttributes, MD5OfBody: m.MD5OfBody,
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: region}
		if r.Attributes == nil {
			r.Attributes = map[string]string{}
		}
		for name, a := range m.MessageAttributes {
			r.MessageAttributes[name] = queueAttribute{StringValue: a.StringValue, BinaryValue: a.BinaryValue,
				StringListValues: []string{}, BinaryListValues: []string{}, DataType: a.DataType}
		}
		recs[i] = r
	}
	b, _ := json.Marshal(struct {
		Records []queueRecord `json:"Records"`
	}{recs}) // strings, maps of strings and byte slices always marshal
	return b
}
