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
// the answers to the subtask over a small channel; the subtask decodes them
// into batches. 'scan.startup.mode' picks where reading starts
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
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	kstore "github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place.
const (
	defaultFormat      = "json"
	defaultStartupMode = "trim-horizon"
	defaultBoundedMode = "unbounded"
	defaultLongPoll    = time.Second
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

// logOutput receives rate-limited warnings (tests replace it).
var logOutput io.Writer = os.Stderr

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

func (factory) Options() []connectors.Option {
	return append([]connectors.Option{
		{Key: "stream", Required: true, Doc: "the name of the stream"},
		{Key: "endpoint", Doc: "the URL of the store, e.g. http://127.0.0.1:4567 (`sluice store`); absent: the job's embedded store"},
		{Key: "format", Default: defaultFormat, Doc: "json: one JSON object per record"},
		{Key: "partition-key", Doc: "sink: the column whose value is each record's partition key (absent: a round-robin key)"},
		{Key: "scan.startup.mode", Default: defaultStartupMode, Doc: "source: trim-horizon (the oldest record kept), latest (records put after the job starts) or at-timestamp"},
		{Key: "scan.startup.timestamp-millis", Doc: "source, with at-timestamp: the first arrival time to read, epoch milliseconds or RFC 3339"},
		{Key: "scan.bounded.mode", Default: defaultBoundedMode, Doc: "source: unbounded, or latest (read what arrived before the job started, then end)"},
		{Key: "scan.shard.getrecords.maxrecordcount", Default: strconv.Itoa(runtime.DefaultBatchRows), Doc: "source: records per GetRecords call, 1–10000"},
		{Key: "scan.shard.long-poll", Default: "1 s", Doc: "source: how long the store may hold a GetRecords that finds nothing new (0: plain polling)"},
		{Key: "sink.requests.max-inflight", Default: "4", Doc: "sink: PutRecords requests in flight per subtask, 1–64 (records of one partition key stay in order)"},
		{Key: "stream.create-shards", Doc: "create the stream with this many shards when it does not exist (absent: it must exist)"},
		{Key: "aws.region", Doc: "region of signed requests (default: AWS_REGION, else us-east-1)"},
		{Key: "aws.credentials.basic.accesskeyid", Doc: "sign requests with this access key (default: AWS_ACCESS_KEY_ID when AWS_SECRET_ACCESS_KEY is set too)"},
		{Key: "aws.credentials.basic.secretkey", Doc: "the secret key of the access key"},
	}, connectors.BadRecordOptions(`"stream":…,"shard":…,"sequenceNumber":…`, "stream, shard and sequence number")...)
}

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
	inflight int // sink: concurrent request lanes
	create   int // shards of the stream to create when missing; 0: none
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
	if err := connectors.CheckOptions(factory{}, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c := &config{table: t.Name, schema: t.Schema, keyCol: -1}
	c.stream = strings.TrimSpace(t.String("stream", ""))
	if c.stream == "" {
		return nil, connectors.Errorf(c.table, "option %q: empty stream name", "stream")
	}
	c.endpoint = strings.TrimSpace(t.String("endpoint", ""))
	var srv *server.Server
	if c.endpoint == "" {
		if srv = embeddedStore(); srv == nil {
			return nil, connectors.Errorf(c.table, "option %q is absent and the job has no embedded store: give the store's URL, or run the job with --store-dir DIR", "endpoint")
		}
	} else if u, err := url.Parse(c.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, connectors.Errorf(c.table, "option %q: %q is not an http:// or https:// URL", "endpoint", c.endpoint)
	}
	if f := strings.ToLower(strings.TrimSpace(t.String("format", defaultFormat))); f != "json" {
		return nil, connectors.Errorf(c.table, "option %q: unknown format %q (want json)", "format", f)
	}
	if v, ok := t.Options["partition-key"]; ok {
		if c.keyCol = t.Schema.Index(strings.TrimSpace(v)); c.keyCol < 0 {
			return nil, connectors.Errorf(c.table, "option %q: no column %q (columns: %s)", "partition-key", v, strings.Join(t.Schema.Names(), ", "))
		}
	}
	if err := c.parseScan(t); err != nil {
		return nil, err
	}
	inflight, err := t.Int("sink.requests.max-inflight", 4)
	if err != nil || inflight < 1 || inflight > 64 {
		return nil, connectors.Errorf(c.table, "option %q: %q is not a number from 1 to 64", "sink.requests.max-inflight", t.Options["sink.requests.max-inflight"])
	}
	c.inflight = int(inflight)
	if v, ok := t.Options["stream.create-shards"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > server.MaxShardsPerStream {
			return nil, connectors.Errorf(c.table, "option %q: %q is not a number of shards from 1 to %d", "stream.create-shards", v, server.MaxShardsPerStream)
		}
		c.create = n
	}
	if srv != nil {
		c.endpoint = ""
		c.http = &http.Client{Transport: srv.Transport(), Timeout: requestTimeout}
		c.client = client.New("http://embedded", c.http)
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: tr, Timeout: requestTimeout}
		c.client = client.New(c.endpoint, c.http)
	}
	creds, err := credentials(t)
	if err != nil {
		return nil, connectors.Errorf(c.table, "%v", err)
	}
	if creds != nil {
		c.client = c.client.WithCredentials(*creds)
	}
	c.log = connectors.NewLimiter(logOutput, time.Second)
	return c, nil
}

// ensureStream creates the stream when 'stream.create-shards' asks for it
// and it does not exist yet.
func (c *config) ensureStream(ctx context.Context) error {
	if c.create == 0 {
		return nil
	}
	err := c.client.CreateStream(ctx, c.stream, c.create)
	var e *kstore.Error
	if err == nil || errors.As(err, &e) && e.Code == kstore.ErrResourceInUse {
		return nil
	}
	return connectors.Errorf(c.table, "stream %s on %s: cannot create it: %w", c.stream, c.where(), err)
}

// parseScan checks the source's options.
func (c *config) parseScan(t connectors.Table) error {
	tsOpt, hasTs := t.Options["scan.startup.timestamp-millis"]
	switch m := strings.ToLower(strings.TrimSpace(t.String("scan.startup.mode", defaultStartupMode))); m {
	case "trim-horizon":
		c.startup = client.TrimHorizon
	case "latest":
		c.startup = client.Latest
	case "at-timestamp":
		c.startup = client.AtTimestamp
		if !hasTs {
			return connectors.Errorf(c.table, "option %q = 'at-timestamp' needs option %q", "scan.startup.mode", "scan.startup.timestamp-millis")
		}
		ms, err := parseTimestamp(tsOpt)
		if err != nil {
			return connectors.Errorf(c.table, "option %q: %v", "scan.startup.timestamp-millis", err)
		}
		c.startTs = ms
	default:
		return connectors.Errorf(c.table, "option %q: unknown mode %q (want trim-horizon, latest or at-timestamp)", "scan.startup.mode", m)
	}
	if hasTs && c.startup != client.AtTimestamp {
		return connectors.Errorf(c.table, "option %q is only used with 'scan.startup.mode' = 'at-timestamp'", "scan.startup.timestamp-millis")
	}
	switch m := strings.ToLower(strings.TrimSpace(t.String("scan.bounded.mode", defaultBoundedMode))); m {
	case "unbounded":
	case "latest":
		c.bounded = true
	default:
		return connectors.Errorf(c.table, "option %q: unknown mode %q (want unbounded or latest)", "scan.bounded.mode", m)
	}
	n, err := t.Int("scan.shard.getrecords.maxrecordcount", runtime.DefaultBatchRows)
	if err != nil || n < 1 || n > 10000 {
		return connectors.Errorf(c.table, "option %q: %q is not a number from 1 to 10000", "scan.shard.getrecords.maxrecordcount", t.Options["scan.shard.getrecords.maxrecordcount"])
	}
	c.limit = int(n)
	c.longPoll = defaultLongPoll
	if v, ok := t.Options["scan.shard.long-poll"]; ok {
		d, err := connectors.ParseDuration(v)
		if err != nil || d < 0 || d > client.MaxLongPoll {
			return connectors.Errorf(c.table, "option %q: %q is not a duration from 0 to %v", "scan.shard.long-poll", v, client.MaxLongPoll)
		}
		c.longPoll = d
	}
	return nil
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

// credentials are the table's signing credentials: its options, else the
// AWS_* environment variables, else none (unsigned requests).
func credentials(t connectors.Table) (*client.Credentials, error) {
	id, hasID := t.Options["aws.credentials.basic.accesskeyid"]
	secret, hasSecret := t.Options["aws.credentials.basic.secretkey"]
	region := strings.TrimSpace(t.String("aws.region", os.Getenv("AWS_REGION")))
	switch {
	case hasID != hasSecret:
		return nil, fmt.Errorf("options %q and %q go together", "aws.credentials.basic.accesskeyid", "aws.credentials.basic.secretkey")
	case hasID:
		if strings.TrimSpace(id) == "" || secret == "" {
			return nil, fmt.Errorf("option %q: empty credentials", "aws.credentials.basic.accesskeyid")
		}
	default:
		id, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return nil, nil
		}
	}
	return &client.Credentials{AccessKey: strings.TrimSpace(id), SecretKey: secret, Region: region}, nil
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
	if c.bad, err = connectors.NewBadRecords(t, logOutput); err != nil {
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
