package kafka

import (
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/connectors/internal/decodepool"
	"github.com/sluicehq/sluice/runtime"
)

// upsertFactory is the 'upsert-kafka' connector, as Flink's: a table with
// a PRIMARY KEY (…) NOT ENFORCED over a topic whose records are keyed by
// it.
//
// Source: a record with a value is an upsert of its key (the row decoded
// from the value, 'value.format', which holds every column); a record
// without one (a tombstone) deletes the key decoded from the record's key
// ('key.format'). The rows come as +U and -D, and the planner turns them
// into a retract-mode changelog (operators/normalize, keyed by the PRIMARY
// KEY: +I for a new key, -U/+U for a change, -D of the row held). The topic
// is read from its earliest offset; 'scan.bounded.mode' = 'latest-offset'
// ends at the end offsets when the job starts (not in Flink). Positions
// and checkpoints are the kafka source's.
//
// Sink: it takes an updating result. +I and +U are written as the row
// (value) under its key (the PRIMARY KEY columns in 'key.format'), -D as a
// tombstone (the key without a value), and -U is skipped, as Flink does: a
// reader that keeps the last value per key (a compacted topic) holds the
// result. Records of one key go to one partition (murmur2 of the key), in
// order. At-least-once, as the kafka sink: after a failure the records
// since the last checkpoint are written again, which upserts make
// harmless.
type upsertFactory struct{}

func init() { connectors.Register(upsertFactory{}) }

func (upsertFactory) Name() string { return "upsert-kafka" }

var upsertOptions = append([]connectors.Option{
	{Key: "topic", Required: true, Doc: "the topic"},
	{Key: "properties.bootstrap.servers", Required: true, Doc: "`host:port` of the brokers to contact first, comma-separated"},
	{Key: "key.format", Type: connectors.Enum, Required: true, Values: []string{"json", "raw"},
		Doc: "the record key, which holds the PRIMARY KEY columns: `json` (an object of them) or `raw` (the text of one VARCHAR key column)"},
	{Key: "value.format", Type: connectors.Enum, Required: true, Values: []string{"json"}, Doc: "the record value, which holds every column: `json`"},
	{Key: "scan.bounded.mode", Type: connectors.Enum, Default: "unbounded", Values: []string{"unbounded", startLatest}, Use: connectors.SourceOnly,
		Doc: "`unbounded`, or `latest-offset`: end at the end offsets when the job starts (not in Flink)"},
	{Key: "scan.topic-partition-discovery.interval", Type: connectors.Duration, Default: "10 s", Min: "0", Use: connectors.SourceOnly,
		Doc: "how often to look for new partitions (`0`: never)"},
	decodepool.Option,
	{Key: "sink.buffer-flush.max-rows", Type: connectors.Int, Default: "1000", Min: "1", Max: "1048576", Use: connectors.SinkOnly,
		Doc: "write once this many rows are buffered"},
	{Key: "sink.buffer-flush.interval", Type: connectors.Duration, Default: "100 ms", Min: "1ms", Use: connectors.SinkOnly,
		Doc: "write buffered rows at least this often"},
	{Key: "properties.acks", Type: connectors.Enum, Default: "all", Values: []string{"all", "1", "0", "-1"}, Use: connectors.SinkOnly,
		Doc: "acknowledgement to wait for: `all` (also `-1`), `1` or `0`"},
}, append(securityOptions(), connectors.BadRecordOptions(`"topic","partition","offset"`, "topic, partition and offset")...)...)

// securityOptions are the kafka connector's properties.security.* and
// properties.sasl.* options.
func securityOptions() []connectors.Option {
	var out []connectors.Option
	for _, o := range options {
		if strings.HasPrefix(o.Key, "properties.s") {
			out = append(out, o)
		}
	}
	return out
}

func (upsertFactory) Options() []connectors.Option { return upsertOptions }

// AcceptsUpdates: the sink writes upserts and tombstones.
func (upsertFactory) AcceptsUpdates(connectors.Table) bool { return true }

// ProducesUpdates and ProducesUpserts: the source's rows are upserts.
func (upsertFactory) ProducesUpdates(connectors.Table) bool { return true }
func (upsertFactory) ProducesUpserts(connectors.Table) bool { return true }

// PartitionKey: the PRIMARY KEY, which the records are keyed, and
// partitioned, by.
func (upsertFactory) PartitionKey(t connectors.Table) ([]string, error) {
	c, err := parseUpsertConfig(t, false)
	if err != nil {
		return nil, err
	}
	return columnNames(t.Schema, c.keyCols), nil
}

var (
	_ connectors.UpsertSource = upsertFactory{}
	_ connectors.KeyedSource  = upsertFactory{}
)

// parseUpsertConfig checks the options of an upsert-kafka table.
func parseUpsertConfig(t connectors.Table, sink bool) (*config, error) {
	o, err := connectors.Parse(upsertFactory{}, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, upsert: true, startup: startEarliest, partitioner: "default"}
	if err := c.parseBrokers(o); err != nil {
		return nil, err
	}
	if c.topics = []string{strings.TrimSpace(o.String("topic"))}; c.topics[0] == "" {
		return nil, o.Errorf("topic", "empty topic name")
	}
	if len(t.PrimaryKey) == 0 {
		return nil, connectors.Errorf(t.Name, "an upsert-kafka table needs a PRIMARY KEY (…) NOT ENFORCED: the columns its records are keyed by")
	}
	for _, k := range t.PrimaryKey {
		i := t.Schema.Index(k)
		if i < 0 {
			return nil, connectors.Errorf(t.Name, "PRIMARY KEY column %s is not a column of the table", k)
		}
		c.keyCols = append(c.keyCols, i)
	}
	c.format, c.keyFormat = o.Enum("value.format"), o.Enum("key.format")
	if c.keyFormat == "raw" && (len(c.keyCols) != 1 || t.Schema.Fields[c.keyCols[0]].Type != runtime.Varchar) {
		return nil, o.Errorf("key.format", "raw keys are one VARCHAR PRIMARY KEY column")
	}
	if c.bounded = o.Enum("scan.bounded.mode"); c.bounded == "unbounded" {
		c.bounded = ""
	}
	c.discovery = o.Duration("scan.topic-partition-discovery.interval")
	c.decoders = int(o.Int(decodepool.Key))
	c.flushRows = int(o.Int("sink.buffer-flush.max-rows"))
	c.flushEvery = o.Duration("sink.buffer-flush.interval")
	c.acks = acksOf(o.Enum("properties.acks"))
	if err := c.parseSecurity(o, sink); err != nil {
		return nil, err
	}
	c.log = connectors.NewLimiter(time.Second)
	return c, nil
}

// NewSource builds the source of upsert-kafka table t.
func (upsertFactory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	c, err := parseUpsertConfig(t, false)
	if err != nil {
		return nil, 0, err
	}
	if err := connectors.CheckUpdates(t, true); err != nil {
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

// NewSink builds the sink of upsert-kafka table t.
func (upsertFactory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseUpsertConfig(t, true)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Operator { return &sink{cfg: c} }, 0, nil
}

// keyDecoder decodes record keys into rows of the PRIMARY KEY columns.
type keyDecoder struct {
	dec   format.Decoder
	batch *runtime.Batch
	of    []int // per column of the table: its place in the key, or -1
}

func newKeyDecoder(c *config) *keyDecoder {
	fields := make([]runtime.Field, len(c.keyCols))
	for i, col := range c.keyCols {
		fields[i] = c.schema.Fields[col]
		fields[i].Nullable = true
	}
	s := runtime.NewSchema(fields...)
	d := &keyDecoder{batch: runtime.NewBatch(s), of: make([]int, c.schema.Len())}
	for i := range d.of {
		d.of[i] = -1
	}
	for k, col := range c.keyCols {
		d.of[col] = k
	}
	if c.keyFormat == "raw" {
		d.dec = format.RawDecoder{}
	} else {
		d.dec = format.NewJSONDecoder(s)
	}
	return d
}

// appendDelete decodes key and appends to b a -D row of it: the key
// columns set, the others NULL.
func (d *keyDecoder) appendDelete(key []byte, b *runtime.Batch) error {
	d.batch.Reset()
	if err := d.dec.Decode(key, d.batch); err != nil {
		return err
	}
	for i := range b.Cols {
		if k := d.of[i]; k >= 0 {
			b.Cols[i].AppendFrom(&d.batch.Cols[k], 0)
		} else {
			b.Cols[i].AppendNull()
		}
	}
	b.N++
	b.SetKind(b.N-1, runtime.Delete)
	return nil
}
