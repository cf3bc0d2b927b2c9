// Package store is the 'store' connector: a sink that writes rows as JSON
// records to a stream of Sluice's stream store (`sluice store`, or any
// Kinesis-compatible endpoint), and a source that reads them back.
//
// Sink. Each row is one record, format.AppendJSON of the row; its partition
// key is the text of column 'partition-key' (a NULL or empty value, or no
// such option, takes a round-robin key, so rows spread over the shards).
// Records are sent with PutRecords in requests of at most 500 records and
// 5 MiB, at the end of every batch the sink receives: nothing is held
// between batches, so what the sink has acknowledged to the runtime is in
// the store (at-least-once: a retried request may write a record twice).
// Records the store refuses one by one for a transient reason (throttling,
// an internal failure) and requests that fail in transit are retried with
// exponential backoff; validation errors, a missing stream, and running
// 12 tries in a row that write nothing fail the job.
//
// Source. The source reads the whole shard lineage of the stream: every
// shard listed when the job starts (open and closed, sorted by id) and every
// shard a split or merge creates while it runs (GetRecords names a closed
// shard's children once it has been read to its end). A shard is read only
// after all its parents have been read to their end, so for each partition
// key the records of a parent come before those of its children. The shards
// ready at the start (with no parent in the list; with 'latest', the open
// shards, closed ones being skipped) are dealt to the subtasks in turn
// (shard k to subtask k mod p); a child is read, from its first record, by
// the subtask that read the last of its parents to end, once they all
// have — the subtasks of a run share that lineage in-process. Each shard is
// one watermark partition (its index in the lineage); a shard read to its
// end is dropped and stops being reported, so it no longer holds back the
// watermark once the idle timeout has passed. A subtask reads its shards
// round-robin with GetRecords from 'scan.startup.mode' (trim-horizon: the
// oldest record kept; latest: what arrives after the job starts), and
// sleeps a few milliseconds when none of them has anything new. It reads
// until the job is cancelled. A record that is not a JSON object of the
// table's columns is counted in sluice_operator_bad_records_total and
// reported on standard error at most about once a second; the job goes on.
// Positions are not yet part of checkpoints.
package store

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/client"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place.
const (
	defaultFormat      = "json"
	defaultStartupMode = "trim-horizon"
	// requestTimeout bounds one API call.
	requestTimeout = 30 * time.Second
	// maxAttempts bounds the tries of a PutRecords batch in a row that
	// write nothing.
	maxAttempts = 12
	// minBackoff and maxBackoff bound the wait between retries.
	minBackoff = 20 * time.Millisecond
	maxBackoff = 2 * time.Second
	// idleSleep is how long a source subtask waits when none of its shards
	// had a record.
	idleSleep = 10 * time.Millisecond
)

// logOutput receives rate-limited warnings (tests replace it).
var logOutput io.Writer = os.Stderr

// factory is the 'store' connector.
type factory struct{}

func (factory) Name() string { return "store" }

func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: "stream", Required: true, Doc: "the name of the stream"},
		{Key: "endpoint", Required: true, Doc: "the URL of the store, e.g. http://127.0.0.1:4567 (`sluice store`)"},
		{Key: "format", Default: defaultFormat, Doc: "json: one JSON object per record"},
		{Key: "partition-key", Doc: "sink: the column whose value is each record's partition key (absent: a round-robin key)"},
		{Key: "scan.startup.mode", Default: defaultStartupMode, Doc: "source: trim-horizon (the oldest record kept) or latest (records put after the job starts)"},
	}
}

// AcceptsUpdates: the sink writes appended rows only.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

// config is a table's options, checked.
type config struct {
	table    string
	schema   *runtime.Schema
	stream   string
	endpoint string
	keyCol   int    // sink: partition-key column, -1: round robin
	startup  string // client.TrimHorizon or client.Latest
	client   *client.Client
	http     *http.Client
	log      *connectors.Limiter
}

func (c *config) errorf(format string, args ...any) error {
	return fmt.Errorf("table %s: "+format, append([]any{c.table}, args...)...)
}

func parseConfig(t connectors.Table) (*config, error) {
	if err := connectors.CheckOptions(factory{}, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c := &config{table: t.Name, schema: t.Schema, keyCol: -1}
	c.stream = strings.TrimSpace(t.String("stream", ""))
	if c.stream == "" {
		return nil, c.errorf("option %q: empty stream name", "stream")
	}
	c.endpoint = strings.TrimSpace(t.String("endpoint", ""))
	u, err := url.Parse(c.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, c.errorf("option %q: %q is not an http:// or https:// URL", "endpoint", c.endpoint)
	}
	if f := strings.ToLower(strings.TrimSpace(t.String("format", defaultFormat))); f != "json" {
		return nil, c.errorf("option %q: unknown format %q (want json)", "format", f)
	}
	if v, ok := t.Options["partition-key"]; ok {
		if c.keyCol = t.Schema.Index(strings.TrimSpace(v)); c.keyCol < 0 {
			return nil, c.errorf("option %q: no column %q (columns: %s)", "partition-key", v, strings.Join(t.Schema.Names(), ", "))
		}
	}
	switch m := strings.ToLower(strings.TrimSpace(t.String("scan.startup.mode", defaultStartupMode))); m {
	case "trim-horizon":
		c.startup = client.TrimHorizon
	case "latest":
		c.startup = client.Latest
	default:
		return nil, c.errorf("option %q: unknown mode %q (want trim-horizon or latest)", "scan.startup.mode", m)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	c.http = &http.Client{Transport: tr, Timeout: requestTimeout}
	c.client = client.New(c.endpoint, c.http)
	c.log = connectors.NewLimiter(logOutput, time.Second)
	return c, nil
}

// NewSource builds the source of table t.
func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	c, err := parseConfig(t)
	if err != nil {
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
