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
// records to the subtask over a small channel; the subtask decodes them
// ('format' json, csv, or raw: the value as the one VARCHAR column). Each
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
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place.
const (
	defaultFormat        = "json"
	defaultDiscovery     = 10 * time.Second
	defaultFlushRows     = 1000
	defaultFlushInterval = 100 * time.Millisecond
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

func (factory) Options() []connectors.Option {
	return append([]connectors.Option{
		{Key: "topic", Doc: "the topic (source: several separated by ';'); the source takes 'topic' or 'topic-pattern'"},
		{Key: "topic-pattern", Doc: "source: a regular expression; every topic whose whole name matches is read"},
		{Key: "properties.bootstrap.servers", Required: true, Doc: "brokers to contact first, host:port separated by commas"},
		{Key: "properties.group.id", Doc: "source: consumer group whose offsets group-offsets starts from and to which completed checkpoints commit"},
		{Key: "properties.auto.offset.reset", Default: "earliest", Doc: "source, group-offsets: where a partition without a committed offset starts: earliest or latest"},
		{Key: "scan.startup.mode", Doc: "source: earliest-offset, latest-offset, group-offsets, timestamp or specific-offsets (default: group-offsets with a group id, else earliest-offset)"},
		{Key: "scan.startup.timestamp-millis", Doc: "source, with timestamp: epoch milliseconds; reading starts at the first record at or after it"},
		{Key: "scan.startup.specific-offsets", Doc: "source, with specific-offsets: e.g. partition:0,offset:42;partition:1,offset:300"},
		{Key: "scan.bounded.mode", Default: "unbounded", Doc: "source: unbounded, latest-offset (end at the end offsets when the job starts) or timestamp"},
		{Key: "scan.bounded.timestamp-millis", Doc: "source, with bounded timestamp: epoch milliseconds; reading ends before the first record at or after it"},
		{Key: "scan.topic-partition-discovery.interval", Default: "10 s", Doc: "source: how often to look for new partitions (0: never)"},
		{Key: "format", Default: defaultFormat, Doc: "json (one object per record), csv, or raw (the value as the table's one VARCHAR column)"},
		{Key: "csv.field-delimiter", Default: ",", Doc: `the CSV field delimiter: one character, or \t`},
		{Key: "key.fields", Doc: "sink: columns whose values make each record's key, separated by commas (absent: no key)"},
		{Key: "key.format", Doc: "sink: json, csv or raw (one key column); default: as 'format'"},
		{Key: "sink.partitioner", Default: "default", Doc: "sink: default (hash of the key; round-robin without key), fixed (subtask i writes partition i mod n) or round-robin"},
		{Key: "sink.buffer-flush.max-rows", Default: strconv.Itoa(defaultFlushRows), Doc: "sink: write once this many rows are buffered"},
		{Key: "sink.buffer-flush.interval", Default: "100 ms", Doc: "sink: write buffered rows at least this often"},
		{Key: "properties.acks", Default: "all", Doc: "sink: acknowledgement to wait for: all, 1 or 0"},
		{Key: "properties.security.protocol", Default: "PLAINTEXT", Doc: "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
		{Key: "properties.sasl.mechanism", Default: "PLAIN", Doc: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{Key: "properties.sasl.username", Doc: "the SASL user"},
		{Key: "properties.sasl.password", Doc: "the SASL password"},
		{Key: "properties.ssl.truststore.location", Doc: "a PEM file of the CA certificates to trust (absent: the system's)"},
	}, connectors.BadRecordOptions(`"topic":…,"partition":…,"offset":…`, "topic, partition and offset")...)
}

// AcceptsUpdates: the sink writes appended rows only.
func (factory) AcceptsUpdates(connectors.Table) bool { return false }

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

	format    string // json, csv or raw
	csv       format.CSVOptions
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
}

func (c *config) errorf(format string, args ...any) error {
	return fmt.Errorf("table %s: "+format, append([]any{c.table}, args...)...)
}

// where names the brokers for messages.
func (c *config) where() string { return strings.Join(c.brokers, ",") }

func parseConfig(t connectors.Table, sink bool) (*config, error) {
	if err := connectors.CheckOptions(factory{}, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c := &config{table: t.Name, schema: t.Schema}
	for _, b := range strings.Split(t.String("properties.bootstrap.servers", ""), ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return nil, c.errorf("option %q: %q is not host:port", "properties.bootstrap.servers", b)
		}
		c.brokers = append(c.brokers, b)
	}
	if len(c.brokers) == 0 {
		return nil, c.errorf("option %q: no broker given", "properties.bootstrap.servers")
	}
	topic, hasTopic := t.Options["topic"]
	pat, hasPat := t.Options["topic-pattern"]
	switch {
	case hasTopic && hasPat:
		return nil, c.errorf("options %q and %q exclude each other", "topic", "topic-pattern")
	case hasPat && sink:
		return nil, c.errorf("option %q: a sink writes one topic; give %q", "topic-pattern", "topic")
	case hasPat:
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			return nil, c.errorf("option %q: %v", "topic-pattern", err)
		}
		c.pattern = re
	case hasTopic:
		for _, s := range strings.Split(topic, ";") {
			if s = strings.TrimSpace(s); s != "" {
				c.topics = append(c.topics, s)
			}
		}
		if len(c.topics) == 0 {
			return nil, c.errorf("option %q: empty topic name", "topic")
		}
		if sink && len(c.topics) > 1 {
			return nil, c.errorf("option %q: a sink writes one topic, not %d", "topic", len(c.topics))
		}
	default:
		return nil, c.errorf("needs option %q (or, to read, %q)", "topic", "topic-pattern")
	}
	c.group = strings.TrimSpace(t.String("properties.group.id", ""))
	if err := c.parseFormat(t, sink); err != nil {
		return nil, err
	}
	if err := c.parseScan(t); err != nil {
		return nil, err
	}
	if sink {
		if err := c.parseSink(t); err != nil {
			return nil, err
		}
	}
	if err := c.parseSecurity(t); err != nil {
		return nil, err
	}
	c.log = connectors.NewLimiter(time.Second)
	return c, nil
}

func (c *config) parseFormat(t connectors.Table, sink bool) error {
	var err error
	c.format = strings.ToLower(strings.TrimSpace(t.String("format", defaultFormat)))
	switch c.format {
	case "json", "csv":
	case "raw":
		if err := checkRaw(t.Schema, "format"); err != nil {
			return c.errorf("%v", err)
		}
	default:
		return c.errorf("option %q: unknown format %q (want json, csv or raw)", "format", c.format)
	}
	if v, ok := t.Options["csv.field-delimiter"]; ok {
		if c.csv.Delimiter, err = format.ParseDelimiter(v); err != nil {
			return c.errorf("option %q: %v", "csv.field-delimiter", err)
		}
	}
	if _, err := format.NewCSVEncoder(c.csv); err != nil {
		return c.errorf("option %q: %v", "csv.field-delimiter", err)
	}
	return nil
}

// checkRaw checks that a raw format has one VARCHAR column to fill.
func checkRaw(s *runtime.Schema, opt string) error {
	if s == nil || s.Len() != 1 || s.Fields[0].Type != runtime.Varchar {
		return fmt.Errorf("option %q: raw needs exactly one VARCHAR column", opt)
	}
	return nil
}

func (c *config) parseScan(t connectors.Table) error {
	def := startEarliest
	if c.group != "" {
		def = startGroup
	}
	c.startup = strings.ToLower(strings.TrimSpace(t.String("scan.startup.mode", def)))
	_, hasTs := t.Options["scan.startup.timestamp-millis"]
	_, hasSpec := t.Options["scan.startup.specific-offsets"]
	switch c.startup {
	case startEarliest, startLatest:
	case startGroup:
		if c.group == "" {
			return c.errorf("option %q = 'group-offsets' needs option %q", "scan.startup.mode", "properties.group.id")
		}
	case startTime:
		if !hasTs {
			return c.errorf("option %q = 'timestamp' needs option %q", "scan.startup.mode", "scan.startup.timestamp-millis")
		}
		ms, err := parseMillis(t.Options["scan.startup.timestamp-millis"])
		if err != nil {
			return c.errorf("option %q: %v", "scan.startup.timestamp-millis", err)
		}
		c.startTs = ms
	case startSpecific:
		if !hasSpec {
			return c.errorf("option %q = 'specific-offsets' needs option %q", "scan.startup.mode", "scan.startup.specific-offsets")
		}
		m, err := parseSpecific(t.Options["scan.startup.specific-offsets"])
		if err != nil {
			return c.errorf("option %q: %v", "scan.startup.specific-offsets", err)
		}
		c.specific = m
	default:
		return c.errorf("option %q: unknown mode %q (want earliest-offset, latest-offset, group-offsets, timestamp or specific-offsets)", "scan.startup.mode", c.startup)
	}
	if hasTs && c.startup != startTime {
		return c.errorf("option %q is only used with 'scan.startup.mode' = 'timestamp'", "scan.startup.timestamp-millis")
	}
	if hasSpec && c.startup != startSpecific {
		return c.errorf("option %q is only used with 'scan.startup.mode' = 'specific-offsets'", "scan.startup.specific-offsets")
	}
	switch r := strings.ToLower(strings.TrimSpace(t.String("properties.auto.offset.reset", "earliest"))); r {
	case "earliest":
	case "latest":
		c.resetLate = true
	default:
		return c.errorf("option %q: %q is not earliest or latest", "properties.auto.offset.reset", r)
	}
	_, hasBoundTs := t.Options["scan.bounded.timestamp-millis"]
	switch m := strings.ToLower(strings.TrimSpace(t.String("scan.bounded.mode", "unbounded"))); m {
	case "unbounded":
	case startLatest:
		c.bounded = m
	case startTime:
		c.bounded = m
		if !hasBoundTs {
			return c.errorf("option %q = 'timestamp' needs option %q", "scan.bounded.mode", "scan.bounded.timestamp-millis")
		}
		ms, err := parseMillis(t.Options["scan.bounded.timestamp-millis"])
		if err != nil {
			return c.errorf("option %q: %v", "scan.bounded.timestamp-millis", err)
		}
		c.boundTs = ms
	default:
		return c.errorf("option %q: unknown mode %q (want unbounded, latest-offset or timestamp)", "scan.bounded.mode", m)
	}
	if hasBoundTs && c.bounded != startTime {
		return c.errorf("option %q is only used with 'scan.bounded.mode' = 'timestamp'", "scan.bounded.timestamp-millis")
	}
	var err error
	if c.discovery, err = t.Duration("scan.topic-partition-discovery.interval", defaultDiscovery); err != nil {
		return err
	}
	if c.discovery < 0 {
		return c.errorf("option %q: must not be negative", "scan.topic-partition-discovery.interval")
	}
	return nil
}

func parseMillis(s string) (int64, error) {
	ms, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || ms < 0 {
		return 0, fmt.Errorf("%q is not epoch milliseconds", s)
	}
	return ms, nil
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

func (c *config) parseSink(t connectors.Table) error {
	if v, ok := t.Options["key.fields"]; ok {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			i := t.Schema.Index(name)
			if i < 0 {
				return c.errorf("option %q: no column %q (columns: %s)", "key.fields", name, strings.Join(t.Schema.Names(), ", "))
			}
			c.keyCols = append(c.keyCols, i)
		}
	}
	c.keyFormat = strings.ToLower(strings.TrimSpace(t.String("key.format", c.format)))
	switch c.keyFormat {
	case "json", "csv":
	case "raw":
		if len(c.keyCols) > 1 {
			return c.errorf("option %q: raw keys take one column of 'key.fields', not %d", "key.format", len(c.keyCols))
		}
	default:
		return c.errorf("option %q: unknown format %q (want json, csv or raw)", "key.format", c.keyFormat)
	}
	c.partitioner = strings.ToLower(strings.TrimSpace(t.String("sink.partitioner", "default")))
	switch c.partitioner {
	case "default", "fixed", "round-robin":
	default:
		return c.errorf("option %q: unknown partitioner %q (want default, fixed or round-robin)", "sink.partitioner", c.partitioner)
	}
	n, err := t.Int("sink.buffer-flush.max-rows", defaultFlushRows)
	if err != nil {
		return err
	}
	if n < 1 || n > 1<<20 {
		return c.errorf("option %q: %d is not from 1 to %d", "sink.buffer-flush.max-rows", n, 1<<20)
	}
	c.flushRows = int(n)
	if c.flushEvery, err = t.Duration("sink.buffer-flush.interval", defaultFlushInterval); err != nil {
		return err
	}
	if c.flushEvery <= 0 {
		return c.errorf("option %q: must be positive", "sink.buffer-flush.interval")
	}
	switch a := strings.ToLower(strings.TrimSpace(t.String("properties.acks", "all"))); a {
	case "all", "-1":
		c.acks = kafka.RequireAll
	case "1":
		c.acks = kafka.RequireOne
	case "0":
		c.acks = kafka.RequireNone
	default:
		return c.errorf("option %q: %q is not all, 1 or 0", "properties.acks", a)
	}
	return nil
}

func (c *config) parseSecurity(t connectors.Table) error {
	proto := strings.ToUpper(strings.TrimSpace(t.String("properties.security.protocol", "PLAINTEXT")))
	useTLS, useSASL := false, false
	switch proto {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return c.errorf("option %q: unknown protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", "properties.security.protocol", proto)
	}
	user, hasUser := t.Options["properties.sasl.username"]
	pass := t.Options["properties.sasl.password"]
	if useSASL {
		if !hasUser || user == "" {
			return c.errorf("option %q = %q needs option %q", "properties.security.protocol", proto, "properties.sasl.username")
		}
		var err error
		switch m := strings.ToUpper(strings.TrimSpace(t.String("properties.sasl.mechanism", "PLAIN"))); m {
		case "PLAIN":
			c.sasl = plain.Mechanism{Username: user, Password: pass}
		case "SCRAM-SHA-256":
			c.sasl, err = newSCRAM(sha256.New, "SCRAM-SHA-256", user, pass)
		case "SCRAM-SHA-512":
			c.sasl, err = newSCRAM(sha512.New, "SCRAM-SHA-512", user, pass)
		default:
			return c.errorf("option %q: unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", "properties.sasl.mechanism", m)
		}
		if err != nil {
			return c.errorf("option %q: %v", "properties.sasl.mechanism", err)
		}
	} else if hasUser {
		return c.errorf("option %q needs 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL'", "properties.sasl.username")
	}
	ca, hasCA := t.Options["properties.ssl.truststore.location"]
	if useTLS {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		if hasCA {
			pem, err := os.ReadFile(strings.TrimSpace(ca))
			if err != nil {
				return c.errorf("option %q: %v", "properties.ssl.truststore.location", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return c.errorf("option %q: %s holds no PEM certificate", "properties.ssl.truststore.location", ca)
			}
			c.tls.RootCAs = pool
		}
	} else if hasCA {
		return c.errorf("option %q needs 'properties.security.protocol' = 'SSL' or 'SASL_SSL'", "properties.ssl.truststore.location")
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
		return c.errorf("kafka brokers %s: authentication failed: %w", c.where(), err)
	}
	if c.sasl != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// Some brokers close the connection instead of answering a
		// failed SASL exchange.
		return c.errorf("kafka brokers %s: %s: authentication failed? the broker closed the connection (check the SASL user, password and mechanism): %w", c.where(), what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return c.errorf("kafka brokers %s: %s: no answer within %v (are they reachable?): %w", c.where(), what, callTimeout, err)
	}
	return c.errorf("kafka brokers %s: %s: %w", c.where(), what, err)
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
				return nil, c.errorf("kafka topic %q does not exist on %s", t.Name, c.where())
			}
			if errors.Is(t.Error, kafka.TopicAuthorizationFailed) {
				return nil, c.errorf("kafka topic %q on %s: not authorized: %v", t.Name, c.where(), t.Error)
			}
			return nil, c.errorf("kafka topic %q on %s: %v", t.Name, c.where(), t.Error)
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
			return nil, c.errorf("kafka topic %q does not exist on %s", name, c.where())
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
