// Package store is the 'store' connector: a sink that writes rows as JSON
// records to a stream of Sluice's stream store (`sluice store`, the
// embedded store of `sluice run --store-dir` and `sluice demo`, or any
// Kinesis-compatible endpoint), and a source that reads them back.
//
// Endpoint. With 'endpoint', the connector talks the Kinesis API over HTTP,
// signing requests with SigV4 when it has credentials
// ('aws.credentials.basic.*', else AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY). Without it, the table uses the process's embedded
// store (UseEmbedded) through an in-process transport: the same API, no
// socket.
//
// Sink. Each row is one record, format.AppendJSON of the row; its partition
// key is the text of column 'partition-key' (a NULL or empty value, or no
// such option, takes a round-robin key). Records go to lanes by the shard
// their key maps to; each lane's sender writes, one PutRecords at a time
// (at most 500 records and 5 MiB), everything that gathered while its
// previous request was in flight, so each shard receives the subtask's
// records in order and a busy sink sends big requests. At a checkpoint
// barrier and at the end of input the sink waits until every lane is
// written (at-least-once: a retried request may write a record twice).
// Records refused one by one for a transient reason (throttling, an
// internal failure) and requests that fail in transit are retried with
// exponential backoff; validation errors, a missing stream, and 12 tries
// in a row that write nothing fail the job.
//
// Source. The source reads the whole shard lineage of the stream: every
// shard listed when the job starts (open and closed, sorted by id) and every
// shard a split or merge creates while it runs (GetRecords names a closed
// shard's children once it has been read to its end). A shard is read only
// after all its parents have been read to their end, so for each partition
// key the records of a parent come before those of its children. The shards
// ready at the start are dealt to the subtasks in turn; a child is read by
// the subtask that read the last of its parents to end. Each shard is one
// watermark partition; a shard read to its end stops holding back the
// watermark once the idle timeout has passed.
//
// Each shard has a reader goroutine that long-polls GetRecords (header
// client.LongPollHeader: the store answers as soon as a record is
// committed; a server without long polls is polled every 200 ms) and hands
// the answers to the subtask; 'scan.decode.parallelism' workers (default
// GOMAXPROCS) decode them into batches, which the subtask emits in the
// order they were read (1 worker: the subtask decodes them itself). With 'scan.stream.recordpublisher' = 'EFO' (enhanced
// fan-out, efo.go) the reader instead holds a SubscribeToShard
// subscription of the job's stream consumer and the store pushes records
// as they are committed; positions, resharding, bounds and bad records are
// the same. 'scan.startup.mode' picks where reading starts
// (trim-horizon, latest or at-timestamp); 'scan.bounded.mode' = 'latest'
// reads what had arrived when the job started and then ends the source.
//
// Positions. The source is a runtime.CheckpointedSource: its position is,
// per shard, the sequence number of the last record emitted, plus the
// shards read to their end and where shards without a position start. A
// restored source resumes after those sequence numbers, at any
// parallelism.
//
// A record that is not a JSON object of the table's columns, or whose event
// time is not sane ('scan.watermark.max-future'), is a bad record: counted
// in sluice_operator_bad_records_total and handled by connectors.BadRecords
// (logged naming stream, shard and sequence number; appended to
// 'errors.path' when set), and the job goes on — unless
// 'format.fail-on-error' is true.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/connectors/internal/storeauth"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place.
const (
	// requestTimeout bounds one API call (a long poll included).
	requestTimeout = 30 * time.Second
	// maxAttempts bounds the tries of a PutRecords batch in a row that
	// write nothing.
	maxAttempts = 12
	// minBackoff and maxBackoff bound the wait between retries.
	minBackoff = 20 * time.Millisecond
	maxBackoff = 2 * time.Second
	// pollInterval is how long a shard reader waits after an empty answer
	// that came back before its long poll ended (a server that does not
	// hold GetRecords, as Kinesis; its limit is 5 calls a second per shard).
	pollInterval = 200 * time.Millisecond
	// boundedSettle: with 'scan.bounded.mode' = 'latest', a shard is read
	// to its end only by an empty answer at least this long after the job
	// started, so that records whose commit was under way at the start
	// are read too.
	boundedSettle = 500 * time.Millisecond
)

// The process's embedded store: tables without 'endpoint' use it.
var embedded struct {
	mu  sync.Mutex
	srv *server.Server
}

// UseEmbedded makes srv the embedded store of the process: tables planned
// afterwards without an 'endpoint' option read and write it in-process
// (server.Transport), with no network hop. nil removes it.
func UseEmbedded(srv *server.Server) {
	embedded.mu.Lock()
	defer embedded.mu.Unlock()
	embedded.srv = srv
}

func embeddedStore() *server.Server {
	embedded.mu.Lock()
	defer embedded.mu.Unlock()
	return embedded.srv
}

// factory is the 'store' connector.
type factory struct{}

func (factory) Name() string { return "store" }

var options = append(append([]connectors.Option{
	{Key: "stream", Required: true, Doc: "the name of the stream"},
	{Key: "endpoint", DefaultDoc: "the embedded store", Doc: "the URL of the store, e.g. `http://127.0.0.1:4567` (`sluice store`)"},
	connectors.FormatOption("one JSON object per record", "json"),
	{Key: "partition-key", Type: connectors.Column, DefaultDoc: "round robin", Use: connectors.SinkOnly,
		Doc: "the column whose value is each record's partition key"},
	{Key: "sink.requests.max-inflight", Type: connectors.Int, Default: "4", Min: "1", Max: "64", Use: connectors.SinkOnly,
		Doc: "lanes sending at once per subtask (records of one partition key stay in order)"},
	{Key: "scan.startup.mode", Type: connectors.Enum, Default: "trim-horizon", Values: []string{"trim-horizon", "latest", "at-timestamp"},
		Use: connectors.SourceOnly, Doc: "`trim-horizon` (the oldest record kept), `latest` (records put after the job starts) or `at-timestamp`"},
	{Key: "scan.startup.timestamp-millis", Required: true, With: "scan.startup.mode=at-timestamp", Use: connectors.SourceOnly,
		Parse: func(s string) (any, error) { return parseTimestamp(s) },
		Doc:   "the first arrival time to read, epoch ms or RFC 3339"},
	{Key: "scan.bounded.mode", Type: connectors.Enum, Default: "unbounded", Values: []string{"unbounded", "latest"}, Use: connectors.SourceOnly,
		Doc: "`unbounded`, or `latest`: read what had arrived when the job started, then end (a backfill)"},
	{Key: "scan.shard.getrecords.maxrecordcount", Type: connectors.Int, Default: strconv.Itoa(runtime.DefaultBatchRows), Min: "1", Max: "10000",
		Use: connectors.SourceOnly, Doc: "records per `GetRecords` (with `EFO`: per batch of an event's records)"},
	{Key: "scan.shard.long-poll", Type: connectors.Duration, Default: "1 s", Min: "0", Max: client.MaxLongPoll.String(), Use: connectors.SourceOnly,
		Doc: "how long the store may hold a `GetRecords` that finds nothing (`0`: poll every 200 ms, as for Kinesis)"},
	decodepool.Option,
	{Key: "scan.stream.recordpublisher", Type: connectors.Enum, Default: "POLLING", Values: []string{"POLLING", "EFO"}, Use: connectors.SourceOnly,
		Doc: "`POLLING` (`GetRecords`) or `EFO`: enhanced fan-out, each shard pushed to the job by `SubscribeToShard` as records are committed"},
	{Key: "scan.stream.efo.consumername", Required: true, With: "scan.stream.recordpublisher=EFO", Use: connectors.SourceOnly,
		Doc: "the name of the job's stream consumer (enhanced fan-out)"},
	{Key: "scan.stream.efo.registration", Type: connectors.Enum, Default: "LAZY", Values: []string{"LAZY", "EAGER", "NONE"},
		With: "scan.stream.recordpublisher=EFO", Use: connectors.SourceOnly,
		Doc: "`LAZY`: register the consumer when the job starts if it does not exist; `EAGER`: the same when the job is planned; `NONE`: it must exist"},
	{Key: "stream.create-shards", Type: connectors.Int, Min: "1", Max: strconv.Itoa(server.MaxShardsPerStream),
		Doc: "create the stream with this many shards if it does not exist (absent: it must exist)"},
}, storeauth.Options...), connectors.BadRecordOptions(`"stream","shard","sequenceNumber"`, "stream, shard and sequence number")...)

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: the sink writes appended rows only.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

// config is a table's options, checked.
type config struct {
	table    string
	schema   *runtime.Schema
	stream   string
	endpoint string // "" for the embedded store
	keyCol   int    // sink: partition-key column, -1: round robin
	startup  string // client.TrimHorizon, client.Latest or client.AtTimestamp
	startTs  int64  // with client.AtTimestamp: epoch milliseconds
	bounded  bool   // read what arrived before the start, then end
	limit    int    // records per GetRecords
	longPoll time.Duration
	efo      *efoConfig // source: enhanced fan-out; nil: polling
	decoders int        // source: 'scan.decode.parallelism' (0: absent, GOMAXPROCS)
	inflight int        // sink: concurrent request lanes
	create   int        // shards of the stream to create when missing; 0: none
	client   *client.Client
	http     *http.Client
	log      *connectors.Limiter

	bad       *connectors.BadRecords // source: errors.path, format.fail-on-error
	eventTime connectors.EventTime   // source: scan.watermark.max-future
}

// where names the store for messages.
func (c *config) where() string {
	if c.endpoint == "" {
		return "the embedded store"
	}
	return c.endpoint
}

func parseConfig(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, keyCol: o.Column("partition-key"), inflight: int(o.Int("sink.requests.max-inflight")),
		create: int(o.Int("stream.create-shards")), stream: strings.TrimSpace(o.String("stream")), endpoint: strings.TrimSpace(o.String("endpoint"))}
	if c.stream == "" {
		return nil, o.Errorf("stream", "empty stream name")
	}
	if err := c.parseScan(o); err != nil {
		return nil, err
	}
	if c.endpoint == "" {
		srv := embeddedStore()
		if srv == nil {
			return nil, connectors.Errorf(c.table, "option %q is absent and the job has no embedded store: give the store's URL, or run the job with --store-dir DIR", "endpoint")
		}
		c.http = &http.Client{Transport: srv.Transport(), Timeout: requestTimeout}
		c.client = client.New("http://embedded", c.http)
	} else if u, err := url.Parse(c.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, o.Errorf("endpoint", "%q is not an http:// or https:// URL", c.endpoint)
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: tr, Timeout: requestTimeout}
		c.client = client.New(c.endpoint, c.http)
	}
	creds, err := storeauth.Credentials(o)
	if err != nil {
		return nil, err
	}
	if creds != nil {
		c.client = c.client.WithCredentials(*creds)
	}
	c.log = connectors.NewLimiter(time.Second)
	return c, nil
}

// ensureStream creates the stream when 'stream.create-shards' asks for it
// and it does not exist yet, and waits until it is ACTIVE (another subtask
// may have just created it).
func (c *config) ensureStream(ctx context.Context) error {
	if c.create == 0 {
		return nil
	}
	err := c.client.CreateStream(ctx, c.stream, c.create)
	var e *kstore.Error
	if errors.As(err, &e) && e.Code == kstore.ErrResourceInUse {
		err = c.client.WaitActive(ctx, c.stream)
	}
	if err == nil {
		return nil
	}
	return connectors.Errorf(c.table, "stream %s on %s: cannot create it: %w", c.stream, c.where(), err)
}

// parseScan reads the source's options.
func (c *config) parseScan(o *connectors.Values) error {
	c.startup = map[string]string{"trim-horizon": client.TrimHorizon, "latest": client.Latest, "at-timestamp": client.AtTimestamp}[o.Enum("scan.startup.mode")]
	c.startTs, _ = o.Value("scan.startup.timestamp-millis").(int64)
	c.bounded = o.Enum("scan.bounded.mode") == "latest"
	c.limit = int(o.Int("scan.shard.getrecords.maxrecordcount"))
	c.longPoll = o.Duration("scan.shard.long-poll")
	c.decoders = int(o.Int(decodepool.Key))
	return c.parseEFO(o)
}

// parseTimestamp reads epoch milliseconds or an RFC 3339 time.
func parseTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("%q is before 1970", s)
		}
		return ms, nil
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither epoch milliseconds nor an RFC 3339 time like 2026-11-25T10:00:00Z", s)
	}
	return ts.UnixMilli(), nil
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
	if err := c.eagerRegister(); err != nil {
		return nil, 0, err
	}
	runs := &lineages{} // the subtasks of a run share its shard lineage
	return func() runtime.Source { return &source{cfg: c, runs: runs} }, 0, nil
}

// NewSink builds the sink of table t.
func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseConfig(t)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Operator { return &sink{cfg: c} }, 0, nil
}

// NewClient returns a client of the store at endpoint (an http:// or
// https:// URL), or of the process's embedded store when endpoint is "" —
// for other connectors that write to streams (topic subscriptions, dead
// letters). Requests are signed with the AWS_* environment credentials
// when they are set.
func NewClient(endpoint string) (*client.Client, error) {
	t := connectors.Table{Name: "stream", Options: map[string]string{"stream": "x"}}
	if endpoint != "" {
		t.Options["endpoint"] = endpoint
	}
	c, err := parseConfig(t)
	if err != nil {
		return nil, err
	}
	return c.client, nil
}
