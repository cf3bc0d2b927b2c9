package sns

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/connectors/store"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

// storeOutput puts each notification (the envelope, or the raw body) as a
// record into a stream of Sluice's store. The partition key is the topic's
// name, so the records of a topic keep their order in one shard.
type storeOutput struct {
	stream string
	c      *client.Client
}

func newStoreOutput(stream, endpoint string) (*storeOutput, error) {
	c, err := storeClient(stream, endpoint)
	if err != nil {
		return nil, err
	}
	return &storeOutput{stream: stream, c: c}, nil
}

// storeClient checks a stream name and returns a client of the store at
// endpoint ("" = the embedded store).
func storeClient(stream, endpoint string) (*client.Client, error) {
	if err := kstore.ValidateStreamName(stream); err != nil {
		return nil, fmt.Errorf("stream %q: %w", stream, err)
	}
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("store endpoint %q is not an http:// or https:// URL", endpoint)
		}
	}
	c, err := store.NewClient(endpoint)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	return c, nil
}

func (o *storeOutput) deliver(ctx context.Context, s *Subscription, n *notification) error {
	data := n.envelope
	if s.raw {
		data = []byte(n.msg.Body)
	}
	return putRecord(ctx, o.c, o.stream, data, s.topic.name)
}

func (o *storeOutput) close() error { return nil }

// putRecord writes one record. A refused record is an error; a record the
// store finds invalid cannot be written by retrying.
func putRecord(ctx context.Context, c *client.Client, stream string, data []byte, key string) error {
	out, err := c.PutRecords(ctx, stream, []client.PutRecordsEntry{{Data: data, PartitionKey: key}})
	if err != nil {
		var e *kstore.Error
		if errors.As(err, &e) && (e.Code == kstore.ErrValidation || e.Code == kstore.ErrInvalidArgument) {
			return &permanentError{fmt.Errorf("stream %s: %w", stream, err)}
		}
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	if out.FailedRecordCount > 0 && len(out.Records) > 0 {
		r := out.Records[0]
		return fmt.Errorf("stream %s: record refused: %s: %s", stream, r.ErrorCode, r.ErrorMessage)
	}
	return nil
}

// deadLetter is a subscription's dead-letter target.
type deadLetter interface {
	write(ctx context.Context, record []byte) error
	// writeAll writes records in order and returns how many it wrote
	// (a file: all or none).
	writeAll(ctx context.Context, records [][]byte) (int, error)
	close() error
}

// newDeadLetter parses a dead-letter target: file:///abs/path.jsonl,
// store:<stream>, or sqs:<queue> (a standard queue's name, URL or ARN; an
// SQS ARN alone will do) (storeEndpoint: the store's URL, "" the embedded
// store).
func newDeadLetter(target, storeEndpoint string) (deadLetter, error) {
	switch {
	case strings.HasPrefix(target, "sqs:") || strings.HasPrefix(target, "arn:"):
		o, err := newSQSOutput(strings.TrimPrefix(target, "sqs:"), storeEndpoint)
		if err != nil {
			return nil, err
		}
		if o.fifo {
			return nil, fmt.Errorf("%q: dead letters go to a standard queue, not a FIFO queue", target)
		}
		return &sqsDeadLetter{o}, nil
	case strings.HasPrefix(target, "file:"):
		u, err := url.Parse(target)
		if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/") {
			return nil, fmt.Errorf("%q is not a file:///absolute/path URL", target)
		}
		path, err := filePath(u.Path)
		if err != nil {
			return nil, err
		}
		f, err := openJSONLines(path)
		if err != nil {
			return nil, err
		}
		return fileDeadLetter{f}, nil
	case strings.HasPrefix(target, "store:"):
		stream := strings.TrimPrefix(target, "store:")
		c, err := storeClient(stream, storeEndpoint)
		if err != nil {
			return nil, err
		}
		return &storeDeadLetter{stream: stream, c: c}, nil
	}
	return nil, fmt.Errorf("%q: want file:///absolute/path.jsonl, store:<stream> or sqs:<queue>", target)
}

type fileDeadLetter struct{ f *jsonLines }

func (d fileDeadLetter) write(_ context.Context, rec []byte) error { return d.f.write(rec) }
func (d fileDeadLetter) writeAll(_ context.Context, recs [][]byte) (int, error) {
	if err := d.f.write(recs...); err != nil {
		return 0, err
	}
	return len(recs), nil
}
func (d fileDeadLetter) close() error { return d.f.close() }

type storeDeadLetter struct {
	stream string
	c      *client.Client
}

func (d *storeDeadLetter) write(ctx context.Context, rec []byte) error {
	return putRecord(ctx, d.c, d.stream, rec, "dead-letter")
}
func (d *storeDeadLetter) writeAll(ctx context.Context, recs [][]byte) (int, error) {
	for i, rec := range recs {
		if err := d.write(ctx, rec); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}
func (d *storeDeadLetter) close() error { return nil }

// sqsDeadLetter sends each dead letter as a message to a standard queue.
// Its callers hold the subscription's deadMu, one at a time.
type sqsDeadLetter struct{ o *sqsOutput }

func (d *sqsDeadLetter) write(ctx context.Context, rec []byte) error {
	u, err := d.o.queueURL(ctx)
	if err != nil {
		return err
	}
	if _, err := d.o.c.Send(ctx, u, client.SendEntry{MessageBody: string(rec)}); err != nil {
		return d.o.failure(err)
	}
	return nil
}

func (d *sqsDeadLetter) writeAll(ctx context.Context, recs [][]byte) (int, error) {
	for i, rec := range recs {
		if err := d.write(ctx, rec); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

func (d *sqsDeadLetter) close() error { return nil }
