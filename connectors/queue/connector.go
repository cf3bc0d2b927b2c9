// Package queue is the 'queue' connector: a source that receives the
// messages of a queue of Sluice's store (its Amazon SQS API: `sluice
// store`, the embedded store of `sluice run --store-dir`, or any
// SQS-compatible endpoint) and a sink that sends rows to one.
//
// Endpoint. As the 'store' connector: with 'endpoint' the connector talks
// HTTP, signing with SigV4 when it has credentials
// ('aws.credentials.basic.*', else AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY); without it, the table uses the process's
// embedded store in-process. 'queue.create' creates the queue when it is
// missing (a name ending in .fifo: a FIFO queue).
//
// Source. Each subtask runs 'scan.pollers' pollers, each long-polling
// ReceiveMessage (up to 'scan.receive.max-messages' messages a call, waiting
// up to 'scan.receive.wait') and handing the answers to the subtask, which
// decodes each body with the table's format. A body that does not decode
// is a bad record (connectors.BadRecords, named by queue and message id):
// skipped and deleted like the others. See delivery.go for when messages
// are deleted, and position.go for what checkpoints record.
//
// Sink. See sink.go: SendMessageBatch in lanes, FIFO group and
// deduplication ids from columns, retries, flush at checkpoints
// (at-least-once).
package queue

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/connectors/internal/storeauth"
	storeconn "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
)

func init() { connectors.Register(factory{}) }

// Defaults and limits, in one place.
const (
	// maxBatch is SQS's limit of entries per batch call.
	maxBatch = 10
	// maxBatchBytes bounds the bodies of one SendMessageBatch (SQS's 256 KiB).
	maxBatchBytes = 256 << 10
	// maxAttempts bounds the tries of a send in a row that send nothing.
	maxAttempts = 12
	// minBackoff and maxBackoff bound the wait between retries.
	minBackoff = 20 * time.Millisecond
	maxBackoff = 2 * time.Second
	// callTimeout bounds a call that is not a long poll (deletes and
	// visibility changes after the source closed).
	callTimeout = 30 * time.Second
)

// factory is the 'queue' connector.
type factory struct{}

func (factory) Name() string { return "queue" }

var options = append([]connectors.Option{
	{Key: "queue", Required: true, Doc: "the name of the queue (a FIFO queue's ends in `.fifo`)"},
	{Key: "endpoint", DefaultDoc: "the embedded store", Doc: "the URL of the store's SQS API, e.g. `http://127.0.0.1:4567` (`sluice store`)"},
	connectors.FormatOption("the message body: `json` (one object), `csv` (one record) or `raw` (the body as the table's one VARCHAR column)",
		"json", "csv", "raw"),
	connectors.CSVDelimiterOption,
	{Key: "queue.create", Type: connectors.Bool, Default: "false",
		Doc: "create the queue if it does not exist (a `.fifo` name: a FIFO queue, with content-based deduplication unless the sink names `sink.message-deduplication-id`)"},
	{Key: "scan.receive.max-messages", Type: connectors.Int, Default: "10", Min: "1", Max: "10", Use: connectors.SourceOnly,
		Doc: "messages per `ReceiveMessage`"},
	{Key: "scan.receive.wait", Type: connectors.Duration, Default: "1 s", Min: "0", Max: "20 s", Use: connectors.SourceOnly,
		Doc: "how long a `ReceiveMessage` waits for a message (long poll; rounded up to whole seconds)"},
	{Key: "scan.visibility-timeout", Type: connectors.Duration, Default: "30 s", Min: "1 s", Max: "12 h", Use: connectors.SourceOnly,
		Doc: "how long a received message stays hidden from other consumers; the source extends it until the message is deleted"},
	{Key: "scan.pollers", Type: connectors.Int, Default: "4", Min: "1", Max: "64", Use: connectors.SourceOnly,
		Doc: "`ReceiveMessage` calls in flight per subtask"},
	{Key: "scan.bounded.mode", Type: connectors.Enum, Default: "unbounded", Values: []string{"unbounded", "empty"}, Use: connectors.SourceOnly,
		Doc: "`unbounded`, or `empty`: end once the queue has had no message for the subtask for `scan.bounded.idle` (a batch run)"},
	{Key: "scan.bounded.idle", Type: connectors.Duration, Default: "2 s", Min: "0", With: "scan.bounded.mode=empty", Use: connectors.SourceOnly,
		Doc: "how long the queue must stay empty"},
	{Key: "metadata.message-id", Type: connectors.Column, Use: connectors.SourceOnly,
		Doc: "a VARCHAR column that takes each message's id instead of a value of the body"},
	{Key: "metadata.sent-time", Type: connectors.Column, Use: connectors.SourceOnly,
		Doc: "a TIMESTAMP column that takes the time the message was sent (`SentTimestamp`)"},
	{Key: "metadata.group-id", Type: connectors.Column, Use: connectors.SourceOnly,
		Doc: "a VARCHAR column that takes the message's group id (FIFO queues; NULL otherwise)"},
	{Key: "metadata.receive-count", Type: connectors.Column, Use: connectors.SourceOnly,
		Doc: "a BIGINT column that takes how many times the message has been received (`ApproximateReceiveCount`)"},
	{Key: "sink.message-group-id", Type: connectors.Column, Use: connectors.SinkOnly,
		Doc: "the column whose text is each message's group id: required for a FIFO queue, refused for a standard one"},
	{Key: "sink.message-deduplication-id", Type: connectors.Column, DefaultDoc: "content-based", Use: connectors.SinkOnly,
		Doc: "FIFO queues: the column whose text is each message's deduplication id (absent: the queue must have content-based deduplication)"},
	{Key: "sink.delay", Type: connectors.Duration, Default: "0", Min: "0", Max: "15 min", Use: connectors.SinkOnly,
		Doc: "deliver each message this long after it is sent (standard queues; rounded up to whole seconds)"},
	{Key: "sink.requests.max-inflight", Type: connectors.Int, Default: "4", Min: "1", Max: "64", Use: connectors.SinkOnly,
		Doc: "`SendMessageBatch` calls in flight per subtask (the messages of one group stay in order)"},
	{Key: "errors.path", DefaultDoc: "absent (log)", Doc: "append every bad record (source: a body that does not decode; sink: a message the queue refused) " +
		"as a `{\"queue\",\"messageId\",\"error\",\"record\"}` JSON line (the first 10 are logged in full either way)"},
	{Key: "format.fail-on-error", Type: connectors.Bool, Default: "false",
		Doc: "fail the job on the first bad record, naming the queue and message id (sink: on the first message the queue refuses)"},
	connectors.BadRecordOptions("", "")[2], // scan.watermark.max-future
}, storeauth.Options...)

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: the sink sends appended rows only.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

// config is a table's options, checked.
type config struct {
	table  string
	schema *runtime.Schema
	queue  string
	fifo   bool
	where  string // the store, for messages
	format string
	csv    format.CSVOptions
	create bool
	sqs    *client.SQS

	// Source.
	max      int
	wait     time.Duration
	vis      time.Duration
	pollers  int
	bounded  bool
	idle     time.Duration
	metaID   int // metadata columns, -1: none
	metaSent int
	metaGrp  int
	metaRecv int

	// Sink.
	groupCol int // -1: none
	dedupCol int // -1: content-based
	delay    time.Duration
	inflight int

	bad       *connectors.BadRecords
	eventTime connectors.EventTime
	log       *connectors.Limiter
}

func parseConfig(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, queue: strings.TrimSpace(o.String("queue")), format: o.Enum("format"),
		create: o.Bool("queue.create"), max: int(o.Int("scan.receive.max-messages")), wait: o.Duration("scan.receive.wait"),
		vis: o.Duration("scan.visibility-timeout"), pollers: int(o.Int("scan.pollers")), bounded: o.Enum("scan.bounded.mode") == "empty",
		idle: o.Duration("scan.bounded.idle"), metaID: o.Column("metadata.message-id"), metaSent: o.Column("metadata.sent-time"),
		metaGrp: o.Column("metadata.group-id"), metaRecv: o.Column("metadata.receive-count"),
		groupCol: o.Column("sink.message-group-id"), dedupCol: o.Column("sink.message-deduplication-id"),
		delay: o.Duration("sink.delay"), inflight: int(o.Int("sink.requests.max-inflight")), log: connectors.NewLimiter(time.Second)}
	// The API takes whole seconds: round up, so that a long poll stays one.
	c.wait, c.vis, c.delay = upToSecond(c.wait), upToSecond(c.vis), upToSecond(c.delay)
	c.csv.Delimiter = o.Delimiter("csv.field-delimiter")
	if c.queue == "" {
		return nil, o.Errorf("queue", "empty queue name")
	}
	c.fifo = strings.HasSuffix(c.queue, ".fifo")
	if err := c.checkColumns(o); err != nil {
		return nil, err
	}
	endpoint := strings.TrimSpace(o.String("endpoint"))
	c.where = "the embedded store"
	if endpoint != "" {
		c.where = endpoint
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, o.Errorf("endpoint", "%q is not an http:// or https:// URL", endpoint)
		}
	}
	cl, err := storeconn.NewClient(endpoint)
	if err != nil {
		return nil, connectors.Errorf(c.table, "option %q is absent and the job has no embedded store: give the store's URL, or run the job with --store-dir DIR", "endpoint")
	}
	creds, err := storeauth.Credentials(o)
	if err != nil {
		return nil, err
	}
	if creds != nil {
		cl = cl.WithCredentials(*creds)
	}
	c.sqs = cl.SQS()
	return c, nil
}

// upToSecond rounds d up to whole seconds.
func upToSecond(d time.Duration) time.Duration { return (d + time.Second - 1).Truncate(time.Second) }

// checkColumns checks the types of the columns the options name, and the
// options that depend on the queue's kind.
func (c *config) checkColumns(o *connectors.Values) error {
	s := c.schema
	want := func(key string, col int, ty runtime.Type) error {
		if col >= 0 && s.Fields[col].Type != ty {
			return o.Errorf(key, "column %s is %s, not %s", s.Fields[col].Name, s.Fields[col].Type, ty)
		}
		return nil
	}
	for _, e := range []error{want("metadata.message-id", c.metaID, runtime.Varchar), want("metadata.sent-time", c.metaSent, runtime.Timestamp),
		want("metadata.group-id", c.metaGrp, runtime.Varchar), want("metadata.receive-count", c.metaRecv, runtime.BigInt)} {
		if e != nil {
			return e
		}
	}
	if c.metaGrp >= 0 && !c.fifo && !s.Fields[c.metaGrp].Nullable {
		return o.Errorf("metadata.group-id", "column %s is NOT NULL, but messages of standard queue %s have no group id", s.Fields[c.metaGrp].Name, c.queue)
	}
	if c.format == "raw" && (s == nil || s.Len() != 1 || s.Fields[0].Type != runtime.Varchar) {
		return o.Errorf("format", "raw needs exactly one VARCHAR column")
	}
	if c.format == "csv" && (c.metaID >= 0 || c.metaSent >= 0 || c.metaGrp >= 0 || c.metaRecv >= 0) {
		return o.Errorf("format", "metadata.* columns are taken with 'format' = 'json' only (a CSV body holds every column)")
	}
	switch {
	case c.fifo && c.delay > 0:
		return o.Errorf("sink.delay", "FIFO queue %s: a FIFO queue takes no per-message delay", c.queue)
	case !c.fifo && o.Has("sink.message-group-id"):
		return o.Errorf("sink.message-group-id", "queue %s is a standard queue (its name does not end in .fifo): it takes no group id", c.queue)
	case !c.fifo && o.Has("sink.message-deduplication-id"):
		return o.Errorf("sink.message-deduplication-id", "queue %s is a standard queue (its name does not end in .fifo): it takes no deduplication id", c.queue)
	}
	return nil
}

// queueURL returns the URL of the table's queue, creating the queue when
// 'queue.create' asks for it. A missing queue is named with its store.
func (c *config) queueURL(ctx context.Context, contentDedup bool) (string, error) {
	u, err := c.sqs.QueueURL(ctx, c.queue)
	if err == nil {
		return u, nil
	}
	var e *kstore.Error
	missing := errors.As(err, &e) && e.Code == "QueueDoesNotExist"
	if missing && c.create {
		var attrs map[string]string
		if c.fifo {
			attrs = map[string]string{"FifoQueue": "true"}
			if contentDedup {
				attrs["ContentBasedDeduplication"] = "true"
			}
		}
		u, err = c.sqs.CreateQueue(ctx, c.queue, attrs)
		if err == nil {
			return u, nil
		}
		// Another subtask may have created it with other attributes.
		if u2, err2 := c.sqs.QueueURL(ctx, c.queue); err2 == nil {
			return u2, nil
		}
		return "", connectors.Errorf(c.table, "queue %s on %s: cannot create it: %w", c.queue, c.where, err)
	}
	if missing {
		return "", connectors.Errorf(c.table, "queue %q does not exist on %s: create it with 'queue.create' = 'true' in the table's WITH options, "+
			"or before the job (e.g. `aws sqs create-queue --queue-name %s --endpoint-url URL`)", c.queue, c.where, c.queue)
	}
	return "", connectors.Errorf(c.table, "queue %s on %s: %w", c.queue, c.where, err)
}

// retryable decides, for the whole connector, whether a call that failed
// with err is tried again: throttling, the queue's internal failures and
// transport errors are; the queue's refusals of the request are not.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *kstore.Error
	if !errors.As(err, &e) {
		return true // transport: connection refused, reset, timeout
	}
	switch e.Code {
	case "RequestThrottled", "ThrottlingException", "InternalFailure", "InternalError", "ServiceUnavailable", "KmsThrottled",
		"OverLimit": // too many messages in flight: deletes after the next checkpoint make room
		return true
	}
	return strings.HasPrefix(e.Code, "HTTP5")
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewSource builds the source of table t.
func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	c, err := parseConfig(t)
	if err != nil {
		return nil, 0, err
	}
	if c.eventTime, err = connectors.NewEventTime(t); err != nil {
		return nil, 0, err
	}
	if c.bad, err = connectors.NewBadRecords(t); err != nil {
		return nil, 0, err
	}
	runs := &runs{}
	return func() runtime.Source { return &source{cfg: c, runs: runs} }, 0, nil
}

// NewSink builds the sink of table t.
func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseConfig(t)
	if err != nil {
		return nil, 0, err
	}
	if c.fifo && c.groupCol < 0 {
		return nil, 0, connectors.OptionErrorf(c.table, "sink.message-group-id", "queue %s is a FIFO queue: name the column of each message's group id", c.queue)
	}
	if c.bad, err = connectors.NewBadRecords(t); err != nil {
		return nil, 0, err
	}
	return func() runtime.Operator { return &sink{cfg: c} }, 0, nil
}
