package sns

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/connectors/store"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// Limits of SendMessageBatch, as SQS has them.
const (
	sqsBatchEntries = 10
	sqsBatchBytes   = 256 << 10
	// sqsMaxAttributes is the most message attributes SNS hands to a queue
	// with raw delivery; a message with more is a client-side error.
	sqsMaxAttributes = 10
)

// queueName is SQS's rule: 1 to 80 letters, digits, '-' and '_', a FIFO
// queue's name ending in ".fifo" (within the 80).
var queueName = regexp.MustCompile(`^(?:[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo)$`)

// sqsOutput sends notifications to a queue of Sluice's store through its
// SQS API: the envelope as the message body, or with raw delivery the body
// with the attributes as message attributes. A FIFO queue gets each
// message's group and deduplication ids. Several notifications queued at
// once go in SendMessageBatch requests. It is used by the subscription's
// goroutine only.
type sqsOutput struct {
	name  string // the queue's
	fifo  bool   // the name ends in .fifo
	where string // the store, for errors: its URL or "the embedded store"
	c     *client.SQS
	fixed bool   // the endpoint was the queue's URL
	url   string // the queue's URL; "" until GetQueueUrl found it
}

// newSQSOutput parses an sqs endpoint — a queue name, a queue URL
// (http://host:port/<account>/<name>) or an SQS ARN
// (arn:aws:sqs:<region>:<account>:<name>) — and returns an output to the
// queue. A name or an ARN names a queue of the store at storeEndpoint (""
// = the embedded store); a URL names its store too.
func newSQSOutput(endpoint, storeEndpoint string) (*sqsOutput, error) {
	o := &sqsOutput{}
	ep := strings.TrimSpace(endpoint)
	switch {
	case ep == "":
		return nil, errors.New("empty queue: want a queue name, a queue URL or an SQS ARN (arn:aws:sqs:region:account:name)")
	case strings.HasPrefix(ep, "arn:"):
		p := strings.Split(ep, ":")
		if len(p) != 6 || p[2] != "sqs" || p[3] == "" {
			return nil, fmt.Errorf("%q is not an SQS ARN (arn:aws:sqs:region:account:name)", endpoint)
		}
		if p[4] != kstore.AccountID {
			return nil, fmt.Errorf("ARN %q: the store's queues are in the account %s, not %s", endpoint, kstore.AccountID, p[4])
		}
		o.name = p[5]
	case strings.HasPrefix(ep, "http://") || strings.HasPrefix(ep, "https://"):
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%q is not a queue URL (http://host:port/%s/name)", endpoint, kstore.AccountID)
		}
		p := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(p) != 2 || p[0] != kstore.AccountID {
			return nil, fmt.Errorf("%q is not a queue URL of the store (http://host:port/%s/name)", endpoint, kstore.AccountID)
		}
		origin := u.Scheme + "://" + u.Host
		if storeEndpoint != "" && strings.TrimRight(storeEndpoint, "/") != origin {
			return nil, fmt.Errorf("the queue URL %q is of the store %s, but store.endpoint is %s: give one or the other", endpoint, origin, storeEndpoint)
		}
		o.name, o.url, o.fixed = p[1], ep, true
		storeEndpoint = origin
	default:
		o.name = ep
	}
	if !queueName.MatchString(o.name) {
		return nil, fmt.Errorf("queue name %q: want 1 to 80 letters, digits, '-' or '_' (a FIFO queue's ending in .fifo)", o.name)
	}
	o.fifo = strings.HasSuffix(o.name, ".fifo")
	o.where = "the embedded store"
	if storeEndpoint != "" {
		if u, err := url.Parse(storeEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("store endpoint %q is not an http:// or https:// URL", storeEndpoint)
		}
		o.where = "the store at " + storeEndpoint
	}
	c, err := store.NewClient(storeEndpoint)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", o.name, err)
	}
	o.c = c.SQS()
	return o, nil
}

// queueURL returns the queue's URL, asking the store for it the first
// time (and after the queue was found missing).
func (o *sqsOutput) queueURL(ctx context.Context) (string, error) {
	if o.url != "" {
		return o.url, nil
	}
	u, err := o.c.QueueURL(ctx, o.name)
	if err != nil {
		return "", o.failure(err)
	}
	o.url = u
	return u, nil
}

// sqsTransient are the SQS errors worth retrying; any other answer of the
// store (a missing queue, a refused message, denied access) is a
// client-side error, which SNS does not retry.
var sqsTransient = map[string]bool{
	"InternalError": true, "InternalFailure": true, "ServiceUnavailable": true, "RequestThrottled": true,
	"ThrottlingException": true, "RequestTimeout": true, "KMS.ThrottlingException": true,
}

// failure turns an error of the store into the delivery's error: a
// *permanentError unless retrying may mend it. A missing queue is named
// as such, and its URL asked for again next time (it may be created).
func (o *sqsOutput) failure(err error) error {
	var e *kstore.Error
	if !errors.As(err, &e) || sqsTransient[e.Code] || strings.HasPrefix(e.Code, "HTTP5") {
		return fmt.Errorf("queue %s (%s): %w", o.name, o.where, err)
	}
	if e.Code == "QueueDoesNotExist" || e.Code == "AWS.SimpleQueueService.NonExistentQueue" {
		if !o.fixed {
			o.url = ""
		}
		return &permanentError{fmt.Errorf("queue %s does not exist in %s", o.name, o.where)}
	}
	return &permanentError{fmt.Errorf("queue %s (%s): %w", o.name, o.where, err)}
}

// entry is n as a message of the queue, with the batch entry id id.
func (o *sqsOutput) entry(s *Subscription, n *notification, id string) (client.SendEntry, error) {
	e := client.SendEntry{Id: id, MessageBody: string(n.envelope)}
	if s.raw {
		e.MessageBody = n.msg.Body
		if len(n.msg.Attributes) > sqsMaxAttributes {
			return e, &permanentError{fmt.Errorf("%d message attributes: raw delivery to a queue carries at most %d", len(n.msg.Attributes), sqsMaxAttributes)}
		}
		if len(n.msg.Attributes) > 0 {
			e.MessageAttributes = make(map[string]client.MessageAttribute, len(n.msg.Attributes))
			for name, a := range n.msg.Attributes {
				e.MessageAttributes[name] = sqsAttribute(a)
			}
		}
	}
	if o.fifo {
		e.MessageGroupId, e.MessageDeduplicationId = n.msg.GroupID, n.msg.DeduplicationID
	}
	return e, nil
}

// sqsAttribute is a message attribute as SQS carries it: String, Number and
// String.Array (a custom String type) as text; Binary as bytes (its value
// is base64, as in the envelope; text that is not base64 goes as it is).
func sqsAttribute(a Attribute) client.MessageAttribute {
	if base, _, _ := strings.Cut(a.Type, "."); base == "Binary" {
		b, err := base64.StdEncoding.DecodeString(a.Value)
		if err != nil {
			b = []byte(a.Value)
		}
		return client.MessageAttribute{DataType: a.Type, BinaryValue: b}
	}
	v := a.Value
	return client.MessageAttribute{DataType: a.Type, StringValue: &v}
}

// entrySize is what an entry weighs in a batch's 256 KiB: the body and the
// attributes' names, types and values.
func entrySize(e *client.SendEntry) int {
	n := len(e.MessageBody)
	for name, a := range e.MessageAttributes {
		n += len(name) + len(a.DataType) + len(a.BinaryValue)
		if a.StringValue != nil {
			n += len(*a.StringValue)
		}
	}
	return n
}

func (o *sqsOutput) deliver(ctx context.Context, s *Subscription, n *notification) error {
	e, err := o.entry(s, n, "0")
	if err != nil {
		return err
	}
	u, err := o.queueURL(ctx)
	if err != nil {
		return err
	}
	if _, err := o.c.Send(ctx, u, e); err != nil {
		return o.failure(err)
	}
	return nil
}

// sqsBatch is what one SendMessageBatch request carries, or a
// notification that cannot be an entry (alone: left to a delivery of its
// own, which fails as it should).
type sqsBatch struct {
	ns      []*notification
	entries []client.SendEntry
	alone   bool
}

// batches splits ns, in order, into requests of up to 10 entries and
// 256 KiB.
func (o *sqsOutput) batches(s *Subscription, ns []*notification) []sqsBatch {
	var (
		out   []sqsBatch
		cur   sqsBatch
		bytes int
	)
	flush := func() {
		if len(cur.ns) > 0 {
			out = append(out, cur)
		}
		cur, bytes = sqsBatch{}, 0
	}
	for _, n := range ns {
		e, err := o.entry(s, n, strconv.Itoa(len(cur.entries)))
		if err != nil {
			flush()
			out = append(out, sqsBatch{ns: []*notification{n}, alone: true})
			continue
		}
		size := entrySize(&e)
		if len(cur.entries) == sqsBatchEntries || (len(cur.entries) > 0 && bytes+size > sqsBatchBytes) {
			flush()
			e.Id = "0"
		}
		cur.ns, cur.entries = append(cur.ns, n), append(cur.entries, e)
		bytes += size
	}
	flush()
	return out
}

// sendBatch sends b to the queue at u and returns its notifications not
// sent: those the store refused, or all of them with the error of a
// request that failed as a whole. It does not touch o's state, so that
// several may run at once.
func (o *sqsOutput) sendBatch(ctx context.Context, u string, b sqsBatch) ([]*notification, error) {
	if b.alone {
		return b.ns, nil
	}
	out, err := o.c.SendBatch(ctx, u, b.entries)
	if err != nil {
		return b.ns, err
	}
	if len(out.Failed) == 0 {
		return nil, nil
	}
	failed := make(map[string]bool, len(out.Failed))
	for _, f := range out.Failed {
		failed[f.Id] = true
	}
	var rest []*notification
	for i, n := range b.ns {
		if failed[strconv.Itoa(i)] {
			rest = append(rest, n)
		}
	}
	return rest, nil
}

// sqsSenders is how many SendMessageBatch requests to a standard queue
// are in flight at once (the store commits them together).
const sqsSenders = 4

// deliverAll sends ns in SendMessageBatch requests of up to 10 messages
// and 256 KiB, and returns those not sent, in order: the entries the store
// refused and those of requests that failed. A standard queue gets up to
// sqsSenders requests at once; a FIFO queue one after the other, none
// after one that did not send everything, so that a group's messages are
// not overtaken by later ones.
func (o *sqsOutput) deliverAll(ctx context.Context, s *Subscription, ns []*notification) []*notification {
	u, err := o.queueURL(ctx)
	if err != nil {
		return ns
	}
	bs := o.batches(s, ns)
	var rest []*notification
	if o.fifo || len(bs) == 1 {
		for i, b := range bs {
			r, err := o.sendBatch(ctx, u, b)
			rest = append(rest, r...)
			if err != nil {
				_ = o.failure(err) // forgets the URL of a missing queue
			}
			if len(r) > 0 && o.fifo {
				for _, later := range bs[i+1:] {
					rest = append(rest, later.ns...)
				}
				break
			}
		}
		return rest
	}
	results := make([][]*notification, len(bs))
	errs := make([]error, len(bs))
	sem := make(chan struct{}, sqsSenders)
	var wg sync.WaitGroup
	for i, b := range bs {
		sem <- struct{}{}
		wg.Add(1)
		go func() { // owned by deliverAll, which waits for it
			defer wg.Done()
			results[i], errs[i] = o.sendBatch(ctx, u, b)
			<-sem
		}()
	}
	wg.Wait()
	for i, r := range results {
		rest = append(rest, r...)
		if errs[i] != nil {
			_ = o.failure(errs[i])
		}
	}
	return rest
}

func (o *sqsOutput) close() error { return nil }
