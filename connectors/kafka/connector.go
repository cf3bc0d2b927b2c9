// Package kafka is the 'kafka' connector: a source that reads the
// partitions of Kafka topics and a sink that writes rows to a topic, with
// github.com/segmentio/kafka-go. Option names follow Flink's Kafka
// connector.
//
// Source. The source reads partitions directly, without the consumer-group
// protocol's rebalancing: when the job starts, each subtask lists the
// partitions of the topic ('topic', or every topic matching
// 'topic-pattern') and reads its share — partition p of a single topic
// goes to subtask p mod parallelism (with several topics, each topic's
// partitions start at a subtask chosen by a hash of its name). Every
// 'scan.topic-partition-discovery.interval' (default 10 s; 0 turns it off)
// the subtask lists them again and starts reading new partitions — of a
// topic whose partition count grew, or of a new topic matching the
// pattern — from their earliest offset. Each partition has a reader
// goroutine that fetches from the partition's leader and hands batches of
// records to the subtask; 'scan.decode.parallelism' workers (default
// GOMAXPROCS) decode them ('format' json, csv, or raw: the value as the one
// VARCHAR column; or a changelog: changelog-json or debezium-json, whose
// rows carry their kind and whose records with no value — Debezium's
// tombstones — are skipped), and the subtask emits the batches in the order
// they were read (1 worker: the subtask decodes them itself). Each
// partition is a watermark partition, so a partition that lags never makes
// the rows of another late.
//
// Where reading starts ('scan.startup.mode'): earliest-offset,
// latest-offset, timestamp ('scan.startup.timestamp-millis': the first
// record at or after it), specific-offsets ('scan.startup.specific-offsets'
// = 'partition:0,offset:42;partition:1,offset:300'; partitions not listed
// start as group-offsets would with a group id, else at the earliest
// offset), or group-offsets (the offsets committed by
// 'properties.group.id'; a partition with none starts as
// 'properties.auto.offset.reset' says, earliest by default). Unlike Flink,
// whose default is group-offsets, the default here is group-offsets when
// a group id is given and earliest-offset otherwise, so a table without a
// group reads the topic from its start.
//
// 'scan.bounded.mode' = latest-offset reads up to the end offsets of the
// partitions when the job starts, timestamp up to the first record at or
// after 'scan.bounded.timestamp-millis'; then the source ends (a subtask
// with no partition ends at once). A bounded source does not look for new
// partitions.
//
// Positions. The source is a runtime.CheckpointedSource: its position is,
// per partition, the offset of the next record to read (and, when bounded,
// where to stop). A restored source resumes there at any parallelism: the
// positions of all subtasks are merged and the partitions dealt again.
// With 'properties.group.id', once a checkpoint is complete the offsets it
// recorded are committed to the group (a "simple" commit, outside any
// group generation, as Flink does), so lag tools see the job's progress;
// the group's offsets are not what a restored job resumes from. Without
// checkpoints nothing is committed.
//
// 'key.fields' on a source declares the columns the topic's records are
// keyed by, and partitioned by with Kafka's default partitioner (murmur2 of
// the key), as a sink with the same 'key.fields' writes them: the source
// still decodes the values alone (which hold every column, as Flink's
// 'value.fields-include' = 'ALL'), and the planner learns from it
// (PartitionKey) that rows with equal values of those columns are in one
// partition. upsert-kafka topics are partitioned by their PRIMARY KEY.
//
// Malformed records, and records whose event time is not sane
// ('scan.watermark.max-future'), never stop the job unless
// 'format.fail-on-error' is true (then the job fails naming topic,
// partition and offset). They are counted in
// sluice_operator_bad_records_total and handled by connectors.BadRecords:
// the first ten logged in full, then at most about once a second, and
// appended to 'errors.path' as JSON lines {"topic":…,"partition":…,
// "offset":…,"error":…,"record":…} when it is set.
//
// Sink. Each row is one record: its value the row in 'format', its key the
// columns of 'key.fields' ('key.format' json: an object of them; csv: a CSV
// record; raw: the text of the one key column; default: as 'format').
// 'sink.partitioner' picks the partition: default (Kafka's murmur2 hash of
// the key, as the Java client does; round-robin without 'key.fields'),
// fixed (subtask i writes partition i mod n) or round-robin. Rows are
// buffered and written, one produce request per partition, when
// 'sink.buffer-flush.max-rows' have gathered, when
// 'sink.buffer-flush.interval' has passed, at every checkpoint barrier and
// at the end of input; at a barrier and at the end the sink waits for the
// brokers' acknowledgement ('properties.acks': all, 1 or 0). kafka-go has
// no transactional producer, so the sink is at-least-once: after a failure
// the records written since the last checkpoint are written again. A write
// that fails (after a few retries of transient errors) fails the job,
// naming the broker, topic and partition. A sink subtask writes to the
// partitions the topic had when it opened.
//
// Security: 'properties.security.protocol' PLAINTEXT, SSL, SASL_PLAINTEXT
// or SASL_SSL; 'properties.sasl.mechanism' PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 with 'properties.sasl.username' and
// 'properties.sasl.password'; 'properties.ssl.truststore.location' is a
// PEM file of CA certificates (absent: the system's).
//
// The brokers are contacted when a source or sink subtask opens: brokers
// that cannot be reached within a few seconds, a topic that does not
// exist and a failed authentication fail the job at its start.
package kafka

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place.
const (
	// dialTimeout bounds connecting to one broker; callTimeout one request
	// of the control plane (metadata, offsets, commits).
	dialTimeout = 5 * time.Second
	callTimeout = 10 * time.Second
	// fetchWait is how long a broker may hold a fetch that finds nothing
	// (it also bounds how long stopping a reader takes).
	fetchWait = 250 * time.Millisecond
	// fetchBytes bounds the records of one fetch.
	fetchBytes = 4 << 20
	// writeAttempts bounds the tries of one produce request; the wait
	// between them doubles from minBackoff.
	writeAttempts = 5
	minBackoff    = 50 * time.Millisecond
)

// factory is the 'kafka' connector.
type factory struct{}

func (factory) Name() string { return "kafka" }

var options = append([]connectors.Option{
	{Key: "topic", DefaultDoc: "required (or `topic-pattern`)", Doc: "the topic (source: several separated by `;`)"},
	{Key: "topic-pattern", Use: connectors.SourceOnly, Doc: "a regular expression; every topic whose whole name matches is read (instead of `topic`)"},
	{Key: "properties.bootstrap.servers", Required: true, Doc: "`host:port` of the brokers to contact first, comma-separated"},
	{Key: "properties.group.id", Use: connectors.SourceOnly, Doc: "the group `group-offsets` starts from and completed checkpoints commit to"},
	{Key: "properties.auto.offset.reset", Type: connectors.Enum, Default: "earliest", Values: []string{"earliest", "latest"}, Use: connectors.SourceOnly,
		Doc: "where a partition without a committed (or specific) offset starts: `earliest` or `latest`"},
	{Key: "scan.startup.mode", Type: connectors.Enum, Values: []string{startEarliest, startLatest, startGroup, startTime, startSpecific},
		DefaultDoc: "`group-offsets` with a group, else `earliest-offset`", Use: connectors.SourceOnly,
		Doc: "`earliest-offset`, `latest-offset`, `group-offsets`, `timestamp` or `specific-offsets`"},
	{Key: "scan.startup.timestamp-millis", Type: connectors.Int, Min: "0", Required: true, With: "scan.startup.mode=timestamp", Use: connectors.SourceOnly,
		Doc: "epoch milliseconds; reading starts at the first record at or after it"},
	{Key: "scan.startup.specific-offsets", Required: true, With: "scan.startup.mode=specific-offsets", Use: connectors.SourceOnly,
		Parse: func(s string) (any, error) { return parseSpecific(s) },
		Doc:   "e.g. `partition:0,offset:42;partition:1,offset:300`; partitions not listed start as with `group-offsets`"},
	{Key: "scan.bounded.mode", Type: connectors.Enum, Default: "unbounded", Values: []string{"unbounded", startLatest, startTime}, Use: connectors.SourceOnly,
		Doc: "`unbounded`, `latest-offset` (end at the end offsets when the job starts) or `timestamp`"},
	{Key: "scan.bounded.timestamp-millis", Type: connectors.Int, Min: "0", Required: true, With: "scan.bounded.mode=timestamp", Use: connectors.SourceOnly,
		Doc: "epoch milliseconds; reading ends before the first record at or after it"},
	{Key: "scan.topic-partition-discovery.interval", Type: connectors.Duration, Default: "10 s", Min: "0", Use: connectors.SourceOnly,
		Doc: "how often to look for new partitions (`0`: never)"},
	decodepool.Option,
	connectors.FormatOption("`json` (one object per record), `csv`, `raw` (the value as the table's one VARCHAR column), "+
		"or, to read an updating stream, `changelog-json` (`{\"op\":\"+U\",\"row\":{…}}`) or `debezium-json` (Debezium change events)",
		"json", "csv", "raw", "changelog-json", "debezium-json"),
	csvDelimiter,
	{Key: "key.fields", Type: connectors.Columns, Doc: "columns whose values make each record's key, separated by commas (absent: no key); " +
		"on a source, the columns the topic's records are keyed by, and partitioned by with Kafka's default partitioner (the values still hold every column)"},
	{Key: "key.format", Type: connectors.Enum, Values: []string{"json", "csv", "raw"}, DefaultDoc: "as `format`", Use: connectors.SinkOnly,
		Doc: "`json`, `csv` or `raw` (one key column)"},
	{Key: "sink.partitioner", Type: connectors.Enum, Default: "default", Values: []string{"default", "fixed", "round-robin"}, Use: connectors.SinkOnly,
		Doc: "`default` (murmur2 of the key, as the Java client; round-robin without a key), `fixed` (subtask i → partition i mod n) or `round-robin`"},
	{Key: "sink.buffer-flush.max-rows", Type: connectors.Int, Default: "1000", Min: "1", Max: "1048576", Use: connectors.SinkOnly,
		Doc: "write once this many rows are buffered"},
	{Key: "sink.buffer-flush.interval", Type: connectors.Duration, Default: "100 ms", Min: "1ms", Use: connectors.SinkOnly,
		Doc: "write buffered rows at least this often"},
	{Key: "properties.acks", Type: connectors.Enum, Default: "all", Values: []string{"all", "1", "0", "-1"}, Use: connectors.SinkOnly,
		Doc: "acknowledgement to wait for: `all` (also `-1`), `1` or `0`"},
	{Key: "properties.security.protocol", Type: connectors.Enum, Default: "PLAINTEXT", Values: []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
		Doc: "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`"},
	{Key: "properties.sasl.mechanism", Type: connectors.Enum, Default: "PLAIN", Values: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
		With: "properties.security.protocol=SASL_PLAINTEXT|SASL_SSL", Doc: "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`"},
	{Key: "properties.sasl.username", Required: true, With: "properties.security.protocol=SASL_PLAINTEXT|SASL_SSL", Doc: "the SASL user"},
	{Key: "properties.sasl.password", With: "properties.security.protocol=SASL_PLAINTEXT|SASL_SSL", Doc: "the SASL password"},
	{Key: "properties.ssl.truststore.location", DefaultDoc: "the system's", With: "properties.security.protocol=SSL|SASL_SSL",
		Doc: "a PEM file of the CA certificates to trust"},
}, append(connectors.DebeziumOptions, connectors.BadRecordOptions(`"topic","partition","offset"`, "topic, partition and offset")...)...)

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: the sink writes appended rows only.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

// ProducesUpdates: the changelog formats are read as updating streams.
func (factory) ProducesUpdates(t connectors.Table) bool {
	f := strings.ToLower(strings.TrimSpace(t.String("format", "json")))
	return f == "changelog-json" || f == "debezium-json"
}

// PartitionKey: the columns of 'key.fields', which the topic's records
// are keyed, and partitioned, by (nil without it).
func (factory) PartitionKey(t connectors.Table) ([]string, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	return columnNames(t.Schema, o.Columns("key.fields")), nil
}

// columnNames returns the names of columns cols of schema.
func columnNames(schema *runtime.Schema, cols []int) []string {
	var out []string
	for _, c := range cols {
		out = append(out, schema.Fields[c].Name)
	}
	return out
}

var _ connectors.KeyedSource = factory{}

// Startup modes.
const (
	startEarliest = "earliest-offset"
	startLatest   = "latest-offset"
	startGroup    = "group-offsets"
	startTime     = "timestamp"
	startSpecific = "specific-offsets"
)

// config is a table's options, checked.
type config struct {
	table   string
	schema  *runtime.Schema
	brokers []string
	topics  []string       // named topics
	pattern *regexp.Regexp // or a pattern
	group   string

	startup   string
	resetLate bool            // group-offsets without a commit: latest
	startTs   int64           // startup timestamp
	specific  map[int32]int64 // specific-offsets by partition
	bounded   string          // "", latest-offset or timestamp
	boundTs   int64
	discovery time.Duration

	format    string // json, csv, raw, changelog-json or debezium-json
	csv       format.CSVOptions
	dbz       format.DebeziumOptions
	bad       *connectors.BadRecords // source: errors.path, format.fail-on-error
	eventTime connectors.EventTime   // source: scan.watermark.max-future

	keyCols     []int
	keyFormat   string
	partitioner string
	flushRows   int
	flushEvery  time.Duration
	acks        kafka.RequiredAcks

	tls  *tls.Config
	sasl sasl.Mechanism

	log *connectors.Limiter

	// decoders is 'scan.decode.parallelism' (0: absent, GOMAXPROCS).
	decoders int

	// upsert-kafka: records are upserts of their key (the PRIMARY KEY
	// columns, keyCols, in keyFormat) and a record without a value deletes
	// the key.
	upsert bool
}

// where names the brokers for messages.
func (c *config) where() string { return strings.Join(c.brokers, ",") }

func parseConfig(t connectors.Table, sink bool) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, group: strings.TrimSpace(o.String("properties.group.id"))}
	if err := c.parseBrokers(o); err != nil {
		return nil, err
	}
	for _, parse := range []func(*connectors.Values, bool) error{c.parseTopics, c.parseFormat, c.parseScan, c.parseSink, c.parseSecurity} {
		if err := parse(o, sink); err != nil {
			return nil, err
		}
	}
	c.log = connectors.NewLimiter(time.Second)
	return c, nil
}

// parseBrokers reads properties.bootstrap.servers.
func (c *config) parseBrokers(o *connectors.Values) error {
	for _, b := range strings.Split(o.String("properties.bootstrap.servers"), ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return o.Errorf("properties.bootstrap.servers", "%q is not host:port", b)
		}
		c.brokers = append(c.brokers, b)
	}
	if len(c.brokers) == 0 {
		return o.Errorf("properties.bootstrap.servers", "no broker given")
	}
	return nil
}

// parseTopics reads topic and topic-pattern.
func (c *config) parseTopics(o *connectors.Values, sink bool) error {
	switch {
	case o.Has("topic") && o.Has("topic-pattern"):
		return o.ErrAt("topic-pattern", "options %q and %q exclude each other", "topic", "topic-pattern")
	case o.Has("topic-pattern") && sink:
		return o.Errorf("topic-pattern", "a sink writes one topic; give %q", "topic")
	case o.Has("topic-pattern"):
		re, err := regexp.Compile("^(?:" + o.String("topic-pattern") + ")$")
		if err != nil {
			return o.Errorf("topic-pattern", "%v", err)
		}
		c.pattern = re
	case o.Has("topic"):
		for _, s := range strings.Split(o.String("topic"), ";") {
			if s = strings.TrimSpace(s); s != "" {
				c.topics = append(c.topics, s)
			}
		}
		if len(c.topics) == 0 {
			return o.Errorf("topic", "empty topic name")
		}
		if sink && len(c.topics) > 1 {
			return o.Errorf("topic", "a sink writes one topic, not %d", len(c.topics))
		}
	default:
		return o.Err("needs option %q (or, to read, %q)", "topic", "topic-pattern")
	}
	return nil
}

// csvDelimiter is the shared 'csv.field-delimiter', which a sink's CSV
// keys take too: parseFormat checks where it applies.
var csvDelimiter = func() connectors.Option {
	o := connectors.CSVDelimiterOption
	o.With, o.Doc = "", "with `format` or `key.format` = `csv`: "+o.Doc
	return o
}()

func (c *config) parseFormat(o *connectors.Values, sink bool) error {
	c.format = o.Enum("format")
	c.csv.Delimiter = o.Delimiter("csv.field-delimiter")
	if o.Has("csv.field-delimiter") && c.format != "csv" && !(sink && o.Enum("key.format") == "csv") {
		return o.ErrAt("csv.field-delimiter", "option %q is only used with 'format' = 'csv' or 'key.format' = 'csv'", "csv.field-delimiter")
	}
	if sink && (c.format == "changelog-json" || c.format == "debezium-json") {
		return o.Errorf("format", "%s can only be read (the sink writes appended rows: json, csv or raw)", c.format)
	}
	c.dbz = format.DebeziumOptions{SchemaInclude: o.Bool("debezium-json.schema-include"),
		IgnoreParseErrors: o.Bool("debezium-json.ignore-parse-errors")}
	if s := c.schema; c.format == "raw" && (s == nil || s.Len() != 1 || s.Fields[0].Type != runtime.Varchar) {
		return o.Errorf("format", "raw needs exactly one VARCHAR column")
	}
	return nil
}

func (c *config) parseScan(o *connectors.Values, _ bool) error {
	c.startup = o.Enum("scan.startup.mode")
	switch {
	case c.startup == "" && c.group != "":
		c.startup = startGroup
	case c.startup == "":
		c.startup = startEarliest
	case c.startup == startGroup && c.group == "":
		return o.ErrAt("scan.startup.mode", "option %q = 'group-offsets' needs option %q", "scan.startup.mode", "properties.group.id")
	}
	c.startTs = o.Int("scan.startup.timestamp-millis")
	c.specific, _ = o.Value("scan.startup.specific-offsets").(map[int32]int64)
	c.resetLate = o.Enum("properties.auto.offset.reset") == "latest"
	if c.bounded = o.Enum("scan.bounded.mode"); c.bounded == "unbounded" {
		c.bounded = ""
	}
	c.boundTs = o.Int("scan.bounded.timestamp-millis")
	c.discovery = o.Duration("scan.topic-partition-discovery.interval")
	c.decoders = int(o.Int(decodepool.Key))
	return nil
}

// parseSpecific reads 'partition:0,offset:42;partition:1,offset:300'.
func parseSpecific(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, item := range strings.Split(s, ";") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, o := int64(-1), int64(-1)
		for _, kv := range strings.Split(item, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), ":")
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("%q is not partition:N,offset:N", item)
			}
			switch strings.TrimSpace(k) {
			case "partition":
				p = n
			case "offset":
				o = n
			default:
				return nil, fmt.Errorf("%q is not partition:N,offset:N", item)
			}
		}
		if p < 0 || o < 0 || p > 1<<31-1 {
			return nil, fmt.Errorf("%q is not partition:N,offset:N", item)
		}
		out[int32(p)] = o
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no offsets in %q", s)
	}
	return out, nil
}

func (c *config) parseSink(o *connectors.Values, sink bool) error {
	if !sink {
		return nil
	}
	c.keyCols = o.Columns("key.fields")
	if o.Has("key.format") && len(c.keyCols) == 0 {
		return o.ErrAt("key.format", "option %q is only used with 'key.fields'", "key.format")
	}
	if c.keyFormat = o.Enum("key.format"); c.keyFormat == "" {
		c.keyFormat = c.format
	}
	if c.keyFormat == "raw" && len(c.keyCols) > 1 {
		return o.Errorf("key.format", "raw keys take one column of 'key.fields', not %d", len(c.keyCols))
	}
	c.partitioner = o.Enum("sink.partitioner")
	c.flushRows = int(o.Int("sink.buffer-flush.max-rows"))
	c.flushEvery = o.Duration("sink.buffer-flush.interval")
	c.acks = acksOf(o.Enum("properties.acks"))
	return nil
}

// acksOf reads 'properties.acks'.
func acksOf(s string) kafka.RequiredAcks {
	return map[string]kafka.RequiredAcks{"all": kafka.RequireAll, "-1": kafka.RequireAll, "1": kafka.RequireOne, "0": kafka.RequireNone}[s]
}

func (c *config) parseSecurity(o *connectors.Values, _ bool) error {
	proto := o.Enum("properties.security.protocol")
	if strings.HasPrefix(proto, "SASL_") {
		user, pass := o.String("properties.sasl.username"), o.String("properties.sasl.password")
		if user == "" {
			return o.ErrAt("properties.security.protocol", "option %q = %q needs option %q", "properties.security.protocol", proto, "properties.sasl.username")
		}
		var err error
		switch o.Enum("properties.sasl.mechanism") {
		case "PLAIN":
			c.sasl = plain.Mechanism{Username: user, Password: pass}
		case "SCRAM-SHA-256":
			c.sasl, err = newSCRAM(sha256.New, "SCRAM-SHA-256", user, pass)
		case "SCRAM-SHA-512":
			c.sasl, err = newSCRAM(sha512.New, "SCRAM-SHA-512", user, pass)
		}
		if err != nil {
			return o.Errorf("properties.sasl.mechanism", "%v", err)
		}
	}
	if proto != "SSL" && proto != "SASL_SSL" {
		return nil
	}
	c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := strings.TrimSpace(o.String("properties.ssl.truststore.location")); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return o.Errorf("properties.ssl.truststore.location", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o.Errorf("properties.ssl.truststore.location", "%s holds no PEM certificate", ca)
		}
		c.tls.RootCAs = pool
	}
	return nil
}

// transport returns a new kafka-go transport (its own connections, closed
// by CloseIdleConnections) for the table's brokers.
func (c *config) transport() *kafka.Transport {
	return &kafka.Transport{
		DialTimeout: dialTimeout,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: time.Second,
		ClientID:    "sluice",
		TLS:         c.tls,
		SASL:        c.sasl,
	}
}

// client returns a client of the table's brokers on a new transport; the
// caller closes the transport's connections when done.
func (c *config) client(tr *kafka.Transport) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.brokers...), Timeout: callTimeout, Transport: tr}
}

// call runs fn with a client on a transport of its own, closed afterwards,
// under callTimeout (stopped early by ctx).
func (c *config) call(ctx context.Context, fn func(ctx context.Context, cl *kafka.Client) error) error {
	tr := c.transport()
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return fn(ctx, c.client(tr))
}

// brokerError names the brokers in an error reaching them.
func (c *config) brokerError(what string, err error) error {
	var ke kafka.Error
	if errors.As(err, &ke) && (errors.Is(ke, kafka.SASLAuthenticationFailed) || errors.Is(ke, kafka.IllegalSASLState) || errors.Is(ke, kafka.UnsupportedSASLMechanism)) {
		return connectors.Errorf(c.table, "kafka brokers %s: authentication failed: %w", c.where(), err)
	}
	if c.sasl != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// Some brokers close the connection instead of answering a
		// failed SASL exchange.
		return connectors.Errorf(c.table, "kafka brokers %s: %s: authentication failed? the broker closed the connection (check the SASL user, password and mechanism): %w", c.where(), what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connectors.Errorf(c.table, "kafka brokers %s: %s: no answer within %v (are they reachable?): %w", c.where(), what, callTimeout, err)
	}
	return connectors.Errorf(c.table, "kafka brokers %s: %s: %w", c.where(), what, err)
}

// topicPart is a partition of a topic.
type topicPart struct {
	topic string
	part  int
}

func (tp topicPart) String() string { return fmt.Sprintf("topic %q partition %d", tp.topic, tp.part) }

// partitionInfo is a partition and the address of its leader.
type partitionInfo struct {
	topicPart
	leader string
}

// listPartitions returns the partitions of the table's topics, sorted.
// A named topic that does not exist is an error.
func (c *config) listPartitions(ctx context.Context) ([]partitionInfo, error) {
	var md *kafka.MetadataResponse
	err := c.call(ctx, func(ctx context.Context, cl *kafka.Client) error {
		var err error
		md, err = cl.Metadata(ctx, &kafka.MetadataRequest{Topics: c.topics})
		return err
	})
	if err != nil {
		return nil, c.brokerError("cannot list the partitions", err)
	}
	var out []partitionInfo
	for _, t := range md.Topics {
		if c.pattern != nil && (t.Internal || !c.pattern.MatchString(t.Name)) {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return nil, connectors.Errorf(c.table, "kafka topic %q does not exist on %s", t.Name, c.where())
			}
			if errors.Is(t.Error, kafka.TopicAuthorizationFailed) {
				return nil, connectors.Errorf(c.table, "kafka topic %q on %s: not authorized: %v", t.Name, c.where(), t.Error)
			}
			return nil, connectors.Errorf(c.table, "kafka topic %q on %s: %v", t.Name, c.where(), t.Error)
		}
		for _, p := range t.Partitions {
			leader := net.JoinHostPort(p.Leader.Host, strconv.Itoa(p.Leader.Port))
			out = append(out, partitionInfo{topicPart: topicPart{t.Name, p.ID}, leader: leader})
		}
	}
	for _, name := range c.topics {
		found := false
		for _, t := range md.Topics {
			found = found || t.Name == name
		}
		if !found {
			return nil, connectors.Errorf(c.table, "kafka topic %q does not exist on %s", name, c.where())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].part < out[j].part
	})
	return out, nil
}

// owner is the subtask (of par) that reads tp: partition p of the only
// topic goes to subtask p mod par; with several topics each topic starts
// at a subtask given by a hash of its name.
func (c *config) owner(tp topicPart, par int) int {
	start := 0
	if c.pattern != nil || len(c.topics) > 1 {
		h := fnv.New32a()
		h.Write([]byte(tp.topic))
		start = int(h.Sum32() % uint32(par))
	}
	return (start + tp.part) % par
}

// NewSource builds the source of table t.
func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	c, err := parseConfig(t, false)
	if err != nil {
		return nil, 0, err
	}
	if err := connectors.CheckUpdates(t, factory{}.ProducesUpdates(t)); err != nil {
		return nil, 0, err
	}
	if c.eventTime, err = connectors.NewEventTime(t); err != nil {
		return nil, 0, err
	}
	if c.bad, err = connectors.NewBadRecords(t); err != nil {
		return nil, 0, err
	}
	return func() runtime.Source { return &source{cfg: c} }, 0, nil
}

// NewSink builds the sink of table t.
func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseConfig(t, true)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Operator { return &sink{cfg: c} }, 0, nil
}
