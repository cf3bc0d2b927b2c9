package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/eventstream"
)

// Consumer statuses.
const (
	ConsumerCreating = "CREATING"
	ConsumerActive   = "ACTIVE"
	ConsumerDeleting = "DELETING"
)

// Consumer is an enhanced fan-out consumer of a stream: it reads the
// stream's shards with SubscribeToShard. StreamARN is set by
// DescribeStreamConsumer only.
type Consumer struct {
	ConsumerName   string
	ConsumerARN    string
	ConsumerStatus string // ConsumerCreating, ConsumerActive or ConsumerDeleting
	// ConsumerCreationTimestamp is in seconds since the epoch.
	ConsumerCreationTimestamp float64
	StreamARN                 string `json:",omitempty"`
}

// Created is the consumer's registration time.
func (c Consumer) Created() time.Time {
	return time.UnixMilli(int64(c.ConsumerCreationTimestamp * 1000))
}

// RegisterStreamConsumer registers consumer name on the stream of
// streamARN. The consumer starts CREATING; it can subscribe once ACTIVE
// (WaitConsumerActive).
func (c *Client) RegisterStreamConsumer(ctx context.Context, streamARN, name string) (*Consumer, error) {
	in := struct{ StreamARN, ConsumerName string }{streamARN, name}
	var out struct{ Consumer Consumer }
	if err := c.call(ctx, "RegisterStreamConsumer", in, &out); err != nil {
		return nil, err
	}
	return &out.Consumer, nil
}

// ConsumerRef names a consumer: by its ARN, or by its stream's ARN and its
// name.
type ConsumerRef struct {
	ConsumerARN  string `json:",omitempty"`
	StreamARN    string `json:",omitempty"`
	ConsumerName string `json:",omitempty"`
}

// DescribeStreamConsumer describes a consumer.
func (c *Client) DescribeStreamConsumer(ctx context.Context, ref ConsumerRef) (*Consumer, error) {
	var out struct{ ConsumerDescription Consumer }
	if err := c.call(ctx, "DescribeStreamConsumer", ref, &out); err != nil {
		return nil, err
	}
	return &out.ConsumerDescription, nil
}

// DeregisterStreamConsumer removes a consumer; its subscriptions end.
func (c *Client) DeregisterStreamConsumer(ctx context.Context, ref ConsumerRef) error {
	return c.call(ctx, "DeregisterStreamConsumer", ref, nil)
}

// ListStreamConsumers returns every consumer of the stream of streamARN,
// following NextToken until the list is complete.
func (c *Client) ListStreamConsumers(ctx context.Context, streamARN string) ([]Consumer, error) {
	var all []Consumer
	next := ""
	for {
		in := map[string]any{"StreamARN": streamARN}
		if next != "" {
			in["NextToken"] = next
		}
		var out struct {
			Consumers []Consumer
			NextToken string
		}
		if err := c.call(ctx, "ListStreamConsumers", in, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Consumers...)
		if out.NextToken == "" || len(out.Consumers) == 0 {
			return all, nil
		}
		next = out.NextToken
	}
}

// consumerPoll is how often WaitConsumerActive asks for the consumer's
// status.
const consumerPoll = 50 * time.Millisecond

// WaitConsumerActive waits until the consumer ref names is ACTIVE and
// returns it; ctx bounds the wait. A consumer being deleted, or gone, is
// an error (*store.Error ResourceNotFoundException when gone).
func (c *Client) WaitConsumerActive(ctx context.Context, ref ConsumerRef) (*Consumer, error) {
	t := time.NewTimer(0)
	defer t.Stop()
	wait := consumerPoll
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		cons, err := c.DescribeStreamConsumer(ctx, ref)
		if err != nil {
			return nil, err
		}
		switch cons.ConsumerStatus {
		case ConsumerActive:
			return cons, nil
		case ConsumerDeleting:
			return nil, &store.Error{Code: store.ErrResourceInUse, Message: "consumer " + cons.ConsumerName + " is being deleted"}
		}
		t.Reset(wait)
		wait = min(2*wait, time.Second)
	}
}

// IsNotFound reports whether err is the API's ResourceNotFoundException.
func IsNotFound(err error) bool {
	var e *store.Error
	return errors.As(err, &e) && e.Code == store.ErrResourceNotFound
}

// StartingPosition is where a subscription starts reading its shard: Type
// is one of the shard iterator types (TrimHorizon, Latest,
// AtSequenceNumber, AfterSequenceNumber, AtTimestamp), with SequenceNumber
// or Timestamp as the type needs.
type StartingPosition struct {
	Type           string
	SequenceNumber string     `json:",omitempty"`
	Timestamp      *time.Time `json:"-"`
}

// SubscribeToShardInput asks for a subscription of a consumer to a shard.
type SubscribeToShardInput struct {
	ConsumerARN      string
	ShardId          string
	StartingPosition StartingPosition
}

// SubscribeToShardEvent is one event of a subscription: the records
// committed since the previous event (maybe none), the sequence number to
// resubscribe after (AfterSequenceNumber), how far the shard's newest
// record is ahead of them, and — once a closed shard has been read to its
// end, in the subscription's last event — the shards that follow.
type SubscribeToShardEvent struct {
	Records                    []Record
	ContinuationSequenceNumber string
	MillisBehindLatest         int64
	ChildShards                []ChildShard
}

// SubscriptionIdle is how long a subscription waits for the server's next
// message before it fails: a store sends an event, with records or not,
// every few seconds.
const SubscriptionIdle = 30 * time.Second

// Subscription is the event stream of a SubscribeToShard call. Next reads
// its events; Close releases its connection. It is not safe for
// concurrent use, except that Close may be called while Next waits.
type Subscription struct {
	body   io.ReadCloser
	dec    *eventstream.Decoder
	cancel context.CancelFunc
	idle   *time.Timer
	idled  atomic.Bool // the idle timer cancelled the request
	err    error       // sticky: what ended the subscription
}

// SubscribeToShard subscribes a consumer (ACTIVE) to a shard: the server
// pushes records as they are committed, for up to 5 minutes, over one
// streaming answer (HTTP/2 or HTTP/1.1, as c's transport allows). Errors
// before the stream starts — an unknown consumer or shard, a consumer not
// ACTIVE, a second subscription too soon — are *store.Error as for the
// other operations. The request is made without the http.Client's Timeout
// (the answer lasts minutes); ctx, Close and SubscriptionIdle bound it.
func (c *Client) SubscribeToShard(ctx context.Context, in SubscribeToShardInput) (*Subscription, error) {
	type position struct {
		StartingPosition
		Timestamp *float64 `json:",omitempty"`
	}
	body := struct {
		ConsumerARN      string
		ShardId          string
		StartingPosition position
	}{in.ConsumerARN, in.ShardId, position{StartingPosition: in.StartingPosition}}
	if ts := in.StartingPosition.Timestamp; ts != nil {
		secs := float64(ts.UnixMilli()) / 1000
		body.StartingPosition.Timestamp = &secs
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("SubscribeToShard: cannot encode request: %w", err)
	}
	hc := *c.http
	hc.Timeout = 0
	sctx, cancel := context.WithCancel(ctx)
	resp, err := c.post(sctx, &hc, "SubscribeToShard", nil, data)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		msg, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if err != nil {
			return nil, fmt.Errorf("SubscribeToShard: cannot read response: %w", err)
		}
		return nil, responseError("SubscribeToShard", resp, msg)
	}
	s := &Subscription{body: resp.Body, dec: eventstream.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10)), cancel: cancel}
	s.idle = time.AfterFunc(SubscriptionIdle, func() { s.idled.Store(true); cancel() })
	return s, nil
}

// Next returns the subscription's next event (the initial response is
// skipped). At the end of the subscription — its lifetime is over, or its
// shard has been read to its end — it returns io.EOF; resubscribe after
// the last event's ContinuationSequenceNumber unless it named ChildShards.
// An exception the server sends is a *store.Error with AWS's type; a
// transport failure or a malformed message is another error. Once Next
// has returned an error it returns it again.
func (s *Subscription) Next() (*SubscribeToShardEvent, error) {
	for s.err == nil {
		m, err := s.dec.Decode()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				s.fail(io.EOF)
			case s.idled.Load():
				s.fail(fmt.Errorf("SubscribeToShard: no message from the server for %v", SubscriptionIdle))
			default:
				s.fail(fmt.Errorf("SubscribeToShard: %w", err))
			}
			break
		}
		s.idle.Reset(SubscriptionIdle)
		switch m.HeaderString(":message-type") {
		case "event":
			switch m.HeaderString(":event-type") {
			case "SubscribeToShardEvent":
				var ev SubscribeToShardEvent
				if decodeEvent(m.Payload, &ev) {
					return &ev, nil
				}
				ev = SubscribeToShardEvent{}
				if err := json.Unmarshal(m.Payload, &ev); err != nil {
					s.fail(fmt.Errorf("SubscribeToShard: cannot decode event: %w", err))
					break
				}
				return &ev, nil
			default: // initial-response, and events of later API versions
				continue
			}
		case "exception":
			var e struct {
				Message  string `json:"message"`
				Message2 string `json:"Message"`
			}
			_ = json.Unmarshal(m.Payload, &e)
			if e.Message == "" {
				e.Message = e.Message2
			}
			s.fail(&store.Error{Code: m.HeaderString(":exception-type"), Message: e.Message})
		case "error":
			s.fail(&store.Error{Code: m.HeaderString(":error-code"), Message: m.HeaderString(":error-message")})
		default:
			s.fail(fmt.Errorf("SubscribeToShard: a message of type %q", m.HeaderString(":message-type")))
		}
	}
	return nil, s.err
}

// fail ends the subscription with err.
func (s *Subscription) fail(err error) {
	s.err = err
	s.release()
}

// release closes the connection (idempotent).
func (s *Subscription) release() {
	s.idle.Stop()
	s.cancel()
	_ = s.body.Close()
}

// Close ends the subscription and releases its connection.
func (s *Subscription) Close() error {
	s.release()
	return nil
}
