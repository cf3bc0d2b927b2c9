package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// Enhanced fan-out ('scan.stream.recordpublisher' = 'EFO', as Flink's
// Kinesis connector names it). The source reads each shard through a
// stream consumer of its own name ('scan.stream.efo.consumername'):
// SubscribeToShard pushes records as they are committed, with no
// GetRecords calls and no share of the shard's read limits with other
// readers. Registration ('scan.stream.efo.registration'): LAZY registers
// the consumer when the job starts if it does not exist yet and waits
// until it is ACTIVE; EAGER does the same when the job is planned; NONE
// takes a consumer registered beforehand. The consumer stays registered
// when the job ends (a restarted job subscribes again with it): remove it
// with DeregisterStreamConsumer.
//
// Each shard's reader subscribes from the shard's position (after the
// sequence number of the last record emitted, else where the job starts),
// hands every event's records to the subtask as the polling reader hands
// GetRecords answers, and when a subscription ends (a store ends them
// after 5 minutes, as Kinesis does) subscribes again after the last
// event's ContinuationSequenceNumber. The event that names ChildShards is
// the shard's end. Failures are retried with backoff as polls are.

// registrationTimeout bounds the wait for a consumer to become ACTIVE.
const registrationTimeout = time.Minute

// efoConfig is the fan-out options of a source.
type efoConfig struct {
	consumer     string // the consumer's name
	registration string // LAZY, EAGER or NONE
	eagerARN     string // EAGER: the consumer registered when the source was planned
}

// consumerName is AWS's rule for consumer names.
var consumerName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// parseEFO reads the fan-out options.
func (c *config) parseEFO(o *connectors.Values) error {
	if o.Enum("scan.stream.recordpublisher") != "EFO" {
		return nil
	}
	name := strings.TrimSpace(o.String("scan.stream.efo.consumername"))
	if !consumerName.MatchString(name) {
		return o.Errorf("scan.stream.efo.consumername", "%q is not a consumer name: 1 to 128 letters, digits, '_', '.' or '-'", name)
	}
	c.efo = &efoConfig{consumer: name, registration: o.Enum("scan.stream.efo.registration")}
	return nil
}

// eagerRegister registers the consumer of an EAGER source as it is
// planned.
func (c *config) eagerRegister() error {
	if c.efo == nil || c.efo.registration != "EAGER" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registrationTimeout+requestTimeout)
	defer cancel()
	if err := c.ensureStream(ctx); err != nil {
		return err
	}
	arn, err := c.consumerARN(ctx)
	if err != nil {
		return err
	}
	c.efo.eagerARN = arn
	return nil
}

// consumerARN returns the ARN of the source's consumer once it is ACTIVE,
// registering it first when it does not exist and the registration mode
// allows.
func (c *config) consumerARN(ctx context.Context) (string, error) {
	e := c.efo
	if e.eagerARN != "" {
		return e.eagerARN, nil
	}
	sum, err := c.client.DescribeStreamSummary(ctx, c.stream)
	if err != nil {
		return "", c.listError(ctx, err)
	}
	ref := client.ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: e.consumer}
	_, err = c.client.DescribeStreamConsumer(ctx, ref)
	switch {
	case client.IsNotFound(err) && e.registration == "NONE":
		return "", connectors.Errorf(c.table, "option %q = 'NONE': stream %s on %s has no consumer %q: register it "+
			"(`aws kinesis register-stream-consumer --stream-arn %s --consumer-name %s`), or let the job register it "+
			"with 'scan.stream.efo.registration' = 'LAZY'", "scan.stream.efo.registration", c.stream, c.where(), e.consumer, sum.StreamARN, e.consumer)
	case client.IsNotFound(err):
		_, err = c.client.RegisterStreamConsumer(ctx, sum.StreamARN, e.consumer)
		var se *kstore.Error
		if errors.As(err, &se) && se.Code == kstore.ErrResourceInUse {
			err = nil // registered meanwhile, by another job
		}
		if err != nil {
			return "", connectors.Errorf(c.table, "stream %s on %s: cannot register consumer %q (option %q): %w", c.stream, c.where(), e.consumer, "scan.stream.efo.consumername", err)
		}
	case err != nil:
		return "", connectors.Errorf(c.table, "stream %s on %s: cannot describe consumer %q: %w", c.stream, c.where(), e.consumer, err)
	}
	wctx, cancel := context.WithTimeout(ctx, registrationTimeout)
	defer cancel()
	cons, err := c.client.WaitConsumerActive(wctx, ref)
	if err != nil {
		return "", connectors.Errorf(c.table, "stream %s on %s: consumer %q is not ACTIVE: %w", c.stream, c.where(), e.consumer, err)
	}
	return cons.ConsumerARN, nil
}

// readEFO is the reader goroutine of one shard with enhanced fan-out: it
// subscribes to the shard from its position and hands every event with
// records, and the shard's end, to the subtask; when a subscription ends
// it subscribes again after the last event's continuation.
func (s *source) readEFO(sh *shardState) {
	defer s.readers.Done()
	r := s.newShardReader(sh)
	for r.ctx.Err() == nil {
		pos := client.StartingPosition{Type: r.startup}
		if r.startup == client.AtTimestamp {
			ts := time.UnixMilli(s.lin.startTs)
			pos.Timestamp = &ts
		}
		if r.last != "" {
			pos = client.StartingPosition{Type: client.AfterSequenceNumber, SequenceNumber: r.last}
		}
		sub, err := s.cfg.client.SubscribeToShard(r.ctx, client.SubscribeToShardInput{ConsumerARN: s.lin.consumerARN, ShardId: sh.id, StartingPosition: pos})
		var se *kstore.Error
		if errors.As(err, &se) && se.Code == kstore.ErrResourceInUse {
			// The shard's previous subscription (of a run that has
			// stopped) is still open on the server, or the consumer is
			// not ACTIVE yet: both pass.
			err = &transient{err}
		}
		if err != nil {
			if !r.retry("cannot subscribe", err) {
				return
			}
			continue
		}
		more, err := r.follow(sub)
		sub.Close()
		if !more {
			return
		}
		what := "subscription failed"
		if errors.As(err, &se) && se.Code == kstore.ErrResourceInUse {
			what = fmt.Sprintf("a newer subscription took the shard over (does another job read with consumer %q?)", s.cfg.efo.consumer)
		}
		if err != nil && !r.retry(what, err) {
			return
		}
	}
}

// follow hands the events of one subscription to the subtask until it
// ends. It reports false when the reader is done, else the error that
// ended the subscription (nil: its lifetime was over).
func (r *shardReader) follow(sub *client.Subscription) (bool, error) {
	for {
		ev, err := sub.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		// An event holds up to 10,000 records: the subtask takes them in
		// batches of at most 'scan.shard.getrecords.maxrecordcount'.
		recs := ev.Records
		for len(recs) > r.s.cfg.limit {
			if !r.deliver(recs[:r.s.cfg.limit], false, nil, ev.MillisBehindLatest) {
				return false, nil
			}
			recs = recs[r.s.cfg.limit:]
		}
		if !r.deliver(recs, len(ev.ChildShards) > 0, ev.ChildShards, ev.MillisBehindLatest) {
			return false, nil
		}
		if ev.ContinuationSequenceNumber != "" {
			r.last = ev.ContinuationSequenceNumber
		}
	}
}

// transient marks an API error that is worth retrying here although it is
// not in general (retryable).
type transient struct{ err error }

func (t *transient) Error() string { return t.err.Error() }
