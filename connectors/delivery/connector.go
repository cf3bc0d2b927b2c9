// Package delivery is the 'delivery' connector: a sink that delivers rows
// the way Amazon Data Firehose does — buffered, partitioned by a prefix,
// formatted, compressed and written as objects to a folder
// (file:///abs/dir), an S3-compatible bucket (s3://bucket/prefix) or POSTed
// to an HTTP endpoint in Firehose's HTTP endpoint delivery format.
//
// Buffering. Each sink subtask keeps one buffer per partition (the value of
// 'prefix' for a row). A buffer becomes an object when it holds
// 'buffer.size' MiB of rows (counted as the rows' JSON or CSV text, before
// conversion and compression, as Firehose counts incoming data), when it
// has been open 'buffer.interval' seconds (a processing-time timer), at
// every checkpoint barrier and at the end of input. At most
// 'max-open-partitions' buffers are open at once: a row for a new partition
// beyond that first delivers the buffer opened earliest. Delivery runs in
// the subtask's goroutine: a slow destination slows the job
// (backpressure), it never grows memory.
//
// Prefixes. 'prefix' takes Firehose's expressions: !{timestamp:<pattern>}
// (yyyy, MM, dd, HH, mm, ss; of processing time, or of the TIMESTAMP column
// named by 'prefix.time', in UTC), !{partitionKeyFromQuery:<column>} (the
// column's value; a NULL or empty value, or one holding '/' or naming "." or
// "..", sends the row to the error output) and !{firehose:random-string}.
// Without a timestamp expression, yyyy/MM/dd/HH/ is appended, as Firehose
// does. An object is named
// <prefix><table>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>, the time being
// that of its delivery.
//
// Errors. Nothing is dropped silently. A row that cannot be converted (a
// NULL in a NOT NULL column, an INT out of range for Parquet's INT32) or
// partitioned goes to the error output; so does every row of an object whose
// delivery still fails after 'retry.duration' (retried with exponential
// backoff from 100 ms up to 10 s between attempts). The error output is
// 'error-prefix' (default errors/!{firehose:error-output-type}/ followed by
// yyyy/MM/dd/HH/) on the same destination — or on 'error-destination' — as
// JSON lines {"attemptsMade", "arrivalTimestamp", "errorCode",
// "errorMessage", "attemptEndingTimestamp", "rawData" (base64 of the row as
// JSON, or of the record that failed), "deliveryStreamName"}. The output
// types are format-conversion-failed, processing-failed (partitioning) and
// delivery-failed (http-endpoint-failed for HTTP). When the error output
// cannot be written either, the job fails (and, with checkpoints, replays).
// Every outcome is counted in the default VictoriaMetrics set:
// sluice_delivery_records_total, sluice_delivery_bytes_total (bytes of the
// objects delivered), sluice_delivery_objects_total,
// sluice_delivery_retries_total and sluice_delivery_errors_total{type=…}
// (rows sent to the error output, by output type), all labelled by table.
//
// Formats. json (one object per line), csv, parquet (one row group per
// object; columns from the table: BIGINT int64, INT int32, DOUBLE double,
// BOOLEAN boolean, VARCHAR string, TIMESTAMP timestamp(millis, UTC); a
// nullable column is optional, NOT NULL required). 'compression' (none,
// gzip, zstd, snappy — snappy in its framing format) compresses whole
// json/csv objects; for parquet it is the column chunks' codec (default
// snappy), the file itself staying readable by any Parquet reader. HTTP
// takes json or csv records, one per row, and only none or gzip (the
// request body is then sent with Content-Encoding: gzip).
//
// Exactly-once. When the job takes checkpoints, file:// and s3://
// destinations are exactly-once (two-phase commit): an object is first
// written under a staging name, <root>/.staging/<table>/<subtask>/<uuid>
// (a file written whole then renamed there; an S3 object PUT there), and
// published only once a checkpoint covering it is complete: a rename of the
// file, or for S3 a server-side copy to its final key followed by a delete
// of the staged object (the S3-compatible servers we test against,
// gofakes3 among them, support CopyObject; a multipart upload completed at
// commit would also do, but leaves uploads to abort on restore that not
// every server lists). A restored job publishes the objects its checkpoint
// lists, then deletes every other staged object of the subtask — what the
// failed attempt wrote after the checkpoint, which the sources replay.
// In a task of a job that several processes share (runtime.TaskInfo) the
// staging folder carries the attempt, .staging/<table>/<subtask>-<attempt>,
// and a restore never removes the folder of an attempt that may be the
// task's owner (see commit.go). Readers must skip the .staging folder.
// HTTP is at-least-once: buffers are delivered and acknowledged at every
// barrier. Without checkpoints objects
// are delivered as soon as a buffer fills or expires (a file is still
// written under a staging name (.staging/put/) and renamed, so readers never
// see part of one; a crash may leave such a file behind, which can be
// deleted).
package delivery

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place (Firehose's).
const (
	defaultErrorPrefix = "errors/!{firehose:error-output-type}/"
	stagingDir         = ".staging"
	minBackoff         = 100 * time.Millisecond
	maxBackoff         = 10 * time.Second
)

type factory struct{}

func (factory) Name() string { return "delivery" }

var options = []connectors.Option{
	{Key: "destination", Required: true, Doc: "`file:///abs/dir`, `s3://bucket/prefix` or `http(s)://host/path` (Firehose HTTP endpoint delivery)"},
	connectors.FormatOption("`json` (one object per line), `csv` or `parquet` (file and s3 only)", "json", "csv", "parquet"),
	{Key: "compression", Type: connectors.Enum, Values: []string{"none", "gzip", "zstd", "snappy", "uncompressed"},
		DefaultDoc: "`none`; parquet: `snappy`",
		Doc:        "`none`, `gzip`, `zstd` or `snappy`: of whole json/csv objects; for parquet the column codec; http: `none` or `gzip`"},
	{Key: "buffer.size", Type: connectors.Float, Default: "5", Min: "1", Max: "128", Doc: "MiB of rows that make an object"},
	{Key: "buffer.interval", Type: connectors.Seconds, Default: "300", Min: "0", Max: "900",
		Doc: "seconds a buffer stays open before it is delivered (or a duration such as `500ms`)"},
	{Key: "prefix", Doc: "object key prefix with `!{timestamp:…}`, `!{partitionKeyFromQuery:col}`, `!{firehose:random-string}`; " +
		"`yyyy/MM/dd/HH/` appended when it has no timestamp"},
	{Key: "prefix.time", Type: connectors.Column, Default: "processing", Values: []string{"processing"},
		Doc: "the time of `!{timestamp:…}`: `processing`, or a TIMESTAMP column (event time)"},
	{Key: "error-prefix", Default: defaultErrorPrefix, Doc: "prefix of the error output (JSON lines with the reason); `yyyy/MM/dd/HH/` appended when it has no timestamp"},
	{Key: "error-destination", DefaultDoc: "the destination", Doc: "where the error output goes (`file://` or `s3://`; required to keep failed HTTP records)"},
	{Key: "retry.duration", Type: connectors.Seconds, Default: "300", Min: "0", Max: "7200",
		Doc: "seconds (or a duration) a failing delivery is retried, with backoff from 100 ms doubling to 10 s, before its rows go to the error output"},
	{Key: "max-open-partitions", Type: connectors.Int, Default: "500", Min: "1", Max: "100000",
		Doc: "partitions buffered at once; a new partition beyond delivers the oldest buffer first"},
	{Key: "s3.endpoint", Doc: "with `s3://` (destination or error destination): `host:port` of the S3-compatible server"},
	{Key: "s3.region", Default: "us-east-1", Doc: "with `s3://`: the S3 region"},
	{Key: "s3.access-key", Doc: "with `s3://`: the S3 access key"},
	{Key: "s3.secret-key", Doc: "with `s3://`: the S3 secret key"},
	{Key: "s3.secure", Type: connectors.Bool, Default: "false", Doc: "with `s3://`: use https to reach `s3.endpoint`"},
	{Key: "http.access-key", Doc: "with `http(s)://`: sent as `X-Amz-Firehose-Access-Key`"},
	connectors.CSVDelimiterOption,
}

func (factory) Options() []connectors.Option { return options }

func (factory) AcceptsUpdates(connectors.Table) bool { return false }

// PartitionedByHint: PARTITIONED BY does not map onto the prefix (its
// values are not escaped as Hive's, a NULL key is an error record, the
// columns stay in the records and the time folders come after), so the
// table says how it partitions in its prefix.
func (factory) PartitionedByHint() string {
	return "partition objects with 'prefix', e.g. 'dt=!{partitionKeyFromQuery:dt}/'"
}

// config is a table's options, checked.
type config struct {
	table       string
	schema      *runtime.Schema
	dest        destSpec
	errDest     destSpec
	errDestSet  bool
	format      string // json, csv, parquet
	compression string // none, gzip, zstd, snappy
	csvDelim    byte
	bufferBytes int
	interval    time.Duration
	retry       time.Duration
	maxOpen     int
	prefix      *prefixExpr
	errPrefix   *prefixExpr
	timeCol     int // -1: processing time
	accessKey   string
}

// destSpec is a parsed destination URL.
type destSpec struct {
	kind   string // file, s3, http
	root   string // file: the folder; s3: the key prefix
	bucket string
	url    string // http
	s3     s3Options
}

type s3Options struct {
	endpoint, region, accessKey, secretKey string
	secure                                 bool
}

func parseConfig(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, timeCol: o.Column("prefix.time"), accessKey: o.String("http.access-key"),
		bufferBytes: int(o.Float("buffer.size") * (1 << 20)), interval: o.Duration("buffer.interval"),
		retry: o.Duration("retry.duration"), maxOpen: int(o.Int("max-open-partitions")), csvDelim: ','}
	if d := o.Delimiter("csv.field-delimiter"); d != 0 {
		c.csvDelim = d
	}
	if err := c.parseDestinations(o); err != nil {
		return nil, err
	}
	if err := c.parseFormat(o); err != nil {
		return nil, err
	}
	if err := c.parsePrefixes(o); err != nil {
		return nil, err
	}
	return c, nil
}

// parseDestinations reads destination, error-destination and the s3.*
// options.
func (c *config) parseDestinations(o *connectors.Values) error {
	s3o := s3Options{endpoint: o.String("s3.endpoint"), region: o.String("s3.region"),
		accessKey: o.String("s3.access-key"), secretKey: o.String("s3.secret-key"), secure: o.Bool("s3.secure")}
	var err error
	if c.dest, err = parseDest(o.String("destination"), s3o); err != nil {
		return o.Errorf("destination", "%v", err)
	}
	c.errDest = c.dest
	if o.Has("error-destination") {
		if c.errDest, err = parseDest(o.String("error-destination"), s3o); err != nil {
			return o.Errorf("error-destination", "%v", err)
		}
		if c.errDest.kind == "http" {
			return o.Errorf("error-destination", "the error output goes to file:// or s3://")
		}
		c.errDestSet = true
	}
	return c.checkDestOptions(o)
}

// checkDestOptions refuses the options of a kind of destination that
// neither the destination nor the error destination is.
func (c *config) checkDestOptions(o *connectors.Values) error {
	for _, kind := range []string{"s3", "http"} {
		if c.dest.kind == kind || c.errDest.kind == kind {
			continue
		}
		for _, key := range []string{"s3.endpoint", "s3.region", "s3.access-key", "s3.secret-key", "s3.secure", "http.access-key"} {
			if strings.HasPrefix(key, kind+".") && o.Has(key) {
				return o.ErrAt(key, "option %q is only used with a destination %s://…", key, kind)
			}
		}
	}
	return nil
}

// parseFormat reads format and compression, which depend on the
// destination.
func (c *config) parseFormat(o *connectors.Values) error {
	c.format = o.Enum("format")
	if c.format == "parquet" && c.dest.kind == "http" {
		return o.Errorf("format", "an HTTP endpoint takes json or csv records, not parquet")
	}
	switch c.compression = o.Enum("compression"); c.compression {
	case "":
		c.compression = "none"
		if c.format == "parquet" {
			c.compression = "snappy"
		}
	case "uncompressed":
		c.compression = "none"
	}
	if c.dest.kind == "http" && c.compression != "none" && c.compression != "gzip" {
		return o.Errorf("compression", "an HTTP endpoint takes none or gzip")
	}
	return nil
}

// parsePrefixes reads prefix, prefix.time and error-prefix.
func (c *config) parsePrefixes(o *connectors.Values) error {
	if c.timeCol >= 0 && c.schema.Fields[c.timeCol].Type != runtime.Timestamp {
		return o.Errorf("prefix.time", "%q is neither processing nor a TIMESTAMP column", o.Raw("prefix.time"))
	}
	if o.String("prefix") != "" && c.dest.kind == "http" {
		return o.Errorf("prefix", "an HTTP endpoint has no prefix")
	}
	var err error
	if c.prefix, err = parsePrefix(o.String("prefix"), c.schema, false); err != nil {
		return o.Errorf("prefix", "%v", err)
	}
	if c.errPrefix, err = parsePrefix(o.String("error-prefix"), c.schema, true); err != nil {
		return o.Errorf("error-prefix", "%v", err)
	}
	if len(c.errPrefix.cols) > 0 {
		return o.Errorf("error-prefix", "the error prefix cannot use partitionKeyFromQuery")
	}
	return nil
}

// parseDest parses a destination URL.
func parseDest(s string, s3o s3Options) (destSpec, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return destSpec{}, err
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return destSpec{}, fmt.Errorf("%q: a file URL names a local folder (file:///abs/dir)", s)
		}
		if !filepath.IsAbs(p) || strings.ContainsRune(p, 0) {
			return destSpec{}, fmt.Errorf("%q: the folder must be an absolute path (file:///abs/dir)", s)
		}
		return destSpec{kind: "file", root: filepath.Clean(p)}, nil
	case "s3":
		if u.Host == "" {
			return destSpec{}, fmt.Errorf("%q names no bucket (s3://bucket/prefix)", s)
		}
		if s3o.endpoint == "" {
			return destSpec{}, fmt.Errorf("%q: option s3.endpoint (host:port) is needed", s)
		}
		root := strings.TrimPrefix(u.Path, "/")
		if root != "" && !strings.HasSuffix(root, "/") {
			root += "/"
		}
		return destSpec{kind: "s3", bucket: u.Host, root: root, s3: s3o}, nil
	case "http", "https":
		if u.Host == "" {
			return destSpec{}, fmt.Errorf("%q names no host", s)
		}
		return destSpec{kind: "http", url: s}, nil
	}
	return destSpec{}, fmt.Errorf("%q: want file:///abs/dir, s3://bucket/prefix or http(s)://…", s)
}

// NewSink builds the sink of table t.
func (factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseConfig(t)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Operator { return &sink{cfg: c} }, 0, nil
}
