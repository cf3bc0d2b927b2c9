package triggers

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/connectors"
)

// OptionSpecs are the WITH options of CREATE FUNCTION TRIGGER. Those in
// StreamOnly are refused ON QUEUE.
var OptionSpecs = []connectors.Option{
	{Key: "endpoint", DefaultDoc: "none (give it or 'command')", Parse: parseEndpoint,
		Doc: "the function's URL: each batch is POSTed there as Lambda's Kinesis or SQS event (`{\"Records\":[…]}`); 2xx is success, 429 a throttle"},
	{Key: "command", DefaultDoc: "none (give it or 'endpoint')",
		Doc: "a local command (run with `sh -c`) invoked per batch: the event on its standard input, its answer on standard output; exit status 0 is success"},
	{Key: "batch.size", Type: connectors.Int, Default: "100", DefaultDoc: "100 (ON QUEUE: 10)", Min: "1", Max: "10000",
		Doc: "the most records per invocation (ON QUEUE over 10 needs 'batch.window'; a FIFO queue takes at most 10)"},
	{Key: "batch.window", Type: connectors.Duration, Default: "0", Min: "0", Max: "300s",
		Doc: "how long a batch waits to fill once it has a record (0: invoke with what one read returns)"},
	{Key: "starting-position", Type: connectors.Enum, Values: []string{TrimHorizon, Latest}, Default: TrimHorizon,
		Doc: "where a shard without a recorded position starts: its oldest record, or what arrives from the trigger's first start on (that time is kept in 'positions.dir')"},
	{Key: "max-retry-attempts", Type: connectors.Int, Default: "-1", Min: "-1", Max: "10000",
		Doc: "retries of a failed batch before it goes to 'on-failure' (-1: until it succeeds)"},
	{Key: "max-record-age", Type: connectors.Duration, DefaultDoc: "none (records wait until done)", Min: "1s", Max: "7d",
		Doc: "records that arrived longer ago are not invoked, also between retries: they go to 'on-failure' with the condition `RecordAgeExceeded` (Lambda's MaximumRecordAgeInSeconds)"},
	{Key: "bisect-on-error", Type: connectors.Bool, Default: "false", Doc: "split a failing batch in two before retrying, down to the record that fails"},
	{Key: "report-batch-item-failures", Type: connectors.Bool, Default: "false",
		Doc: "read the answer as `{\"batchItemFailures\":[{\"itemIdentifier\":\"<sequenceNumber or messageId>\"}]}`: on a stream the records before the first one named are done, the rest retried; on a queue every message but those named is deleted"},
	{Key: "on-failure", DefaultDoc: "none (logged)",
		Doc: "where a batch given up on is described (Lambda's on-failure record): a stream of the store (`NAME` or `stream:NAME`) or a topic of the job (`topic:NAME`)"},
	{Key: "concurrency", Type: connectors.Int, Min: "1", DefaultDoc: "one per shard (ON QUEUE: 5)", Doc: "the most invocations in flight over all shards; ON QUEUE, also the number of pollers"},
	{Key: "timeout", Type: connectors.Duration, Default: "1 min", DefaultDoc: "1 min (ON QUEUE: the queue's VisibilityTimeout, at most 1 min)", Min: "1ms",
		Doc: "how long one invocation may take before it counts as failed (ON QUEUE, at most the queue's VisibilityTimeout: checked at start)"},
	{Key: "positions.dir", DefaultDoc: "none (in memory: a restart starts over)",
		Doc: "a folder where the trigger keeps each shard's position (`NAME.positions`), fsync'd after each batch; a restarted trigger goes on after it"},
	{Key: "store.endpoint", DefaultDoc: "the embedded store", Doc: "the URL of the store that holds the stream or queue (and an on-failure stream)"},
	{Key: "region", Default: "us-east-1", Doc: "the `awsRegion` of the events"},
}

func parseEndpoint(s string) (any, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	return s, nil
}

// Destination names: what 'on-failure' names.
const (
	StreamPrefix = "stream:"
	TopicPrefix  = "topic:"
)

// ParseDestination splits an 'on-failure' value into its kind ("stream"
// or "topic") and name.
func ParseDestination(s string) (kind, name string, err error) {
	switch {
	case strings.HasPrefix(s, TopicPrefix):
		kind, name = "topic", strings.TrimPrefix(s, TopicPrefix)
	default:
		kind, name = "stream", strings.TrimPrefix(s, StreamPrefix)
	}
	if name == "" || strings.ContainsAny(name, ": ") {
		return "", "", fmt.Errorf("%q is not a stream (NAME or stream:NAME) or a topic (topic:NAME)", s)
	}
	return kind, name, nil
}
