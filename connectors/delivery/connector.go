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
// Readers must skip the .staging folder. HTTP is at-least-once: buffers are
// delivered and acknowledged at every barrier. Without checkpoints objects
// are delivered as soon as a buffer fills or expires (a file is still
// written under a staging name (.staging/put/) and renamed, so readers never
// see part of one; a crash may leave such a file behind, which can be
// deleted).
package delivery

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Option defaults and limits, in one place (Firehose's).
const (
	defaultBufferMiB      = 5
	minBufferMiB          = 1
	maxBufferMiB          = 128
	defaultBufferInterval = 300 * time.Second
	maxBufferInterval     = 900 * time.Second
	defaultRetry          = 300 * time.Second
	defaultMaxPartitions  = 500
	defaultErrorPrefix    = "errors/!{firehose:error-output-type}/"
	stagingDir            = ".staging"
	minBackoff            = 100 * time.Millisecond
	maxBackoff            = 10 * time.Second
)

type factory struct{}

func (factory) Name() string { return "delivery" }

func (factory) Options() []connectors.Option {
	return []connectors.Option{
		{Key: "destination", Required: true, Doc: "file:///abs/dir, s3://bucket/prefix or http(s)://host/path (Firehose HTTP endpoint delivery)"},
		{Key: "format", Default: "json", Doc: "json (one object per line), csv or parquet (file and s3 only)"},
		{Key: "compression", Default: "none", Doc: "none, gzip, zstd or snappy: of whole json/csv objects; for parquet the column codec (default snappy); http: none or gzip"},
		{Key: "buffer.size", Default: strconv.Itoa(defaultBufferMiB), Doc: "MiB of rows (1–128) that make an object"},
		{Key: "buffer.interval", Default: "300", Doc: "seconds (0–900) a buffer stays open before it is delivered (or a duration such as 500ms)"},
		{Key: "prefix", Doc: "object key prefix with !{timestamp:…}, !{partitionKeyFromQuery:col}, !{firehose:random-string}; yyyy/MM/dd/HH/ appended when it has no timestamp"},
		{Key: "prefix.time", Default: "processing", Doc: "the time of !{timestamp:…}: processing, or a TIMESTAMP column (event time)"},
		{Key: "error-prefix", Default: defaultErrorPrefix, Doc: "prefix of the error output (JSON lines with the reason); yyyy/MM/dd/HH/ appended when it has no timestamp"},
		{Key: "error-destination", Doc: "where the error output goes (file:// or s3://); default: the destination (required to keep failed HTTP records)"},
		{Key: "retry.duration", Default: "300", Doc: "seconds (or a duration) a failing delivery is retried before its rows go to the error output"},
		{Key: "max-open-partitions", Default: strconv.Itoa(defaultMaxPartitions), Doc: "partitions buffered at once; beyond, the oldest buffer is delivered"},
		{Key: "s3.endpoint", Doc: "host:port of the S3-compatible server"},
		{Key: "s3.region", Default: "us-east-1", Doc: "S3 region"},
		{Key: "s3.access-key", Doc: "S3 access key"},
		{Key: "s3.secret-key", Doc: "S3 secret key"},
		{Key: "s3.secure", Default: "false", Doc: "use https to reach s3.endpoint"},
		{Key: "http.access-key", Doc: "sent as X-Amz-Firehose-Access-Key"},
		{Key: "csv.field-delimiter", Default: ",", Doc: "CSV field delimiter"},
	}
}

func (factory) AcceptsUpdates(connectors.Table) bool { return false }

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

func (c *config) errorf(format string, args ...any) error {
	return fmt.Errorf("table %s: "+format, append([]any{c.table}, args...)...)
}

// seconds parses a Firehose duration: a bare number is seconds, else a
// duration such as 500ms or 2 min.
func seconds(t connectors.Table, key string, def time.Duration) (time.Duration, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := connectors.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("table %s: option %q: %v", t.Name, key, err)
	}
	return d, nil
}

func parseConfig(t connectors.Table) (*config, error) {
	if err := connectors.CheckOptions(factory{}, t.Options); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c := &config{table: t.Name, schema: t.Schema, timeCol: -1}
	secure, err := t.Bool("s3.secure", false)
	if err != nil {
		return nil, err
	}
	s3o := s3Options{endpoint: t.String("s3.endpoint", ""), region: t.String("s3.region", "us-east-1"),
		accessKey: t.String("s3.access-key", ""), secretKey: t.String("s3.secret-key", ""), secure: secure}
	if c.dest, err = parseDest(t.String("destination", ""), s3o); err != nil {
		return nil, c.errorf("option %q: %v", "destination", err)
	}
	c.errDest = c.dest
	if v, ok := t.Options["error-destination"]; ok {
		if c.errDest, err = parseDest(v, s3o); err != nil {
			return nil, c.errorf("option %q: %v", "error-destination", err)
		}
		if c.errDest.kind == "http" {
			return nil, c.errorf("option %q: the error output goes to file:// or s3://", "error-destination")
		}
		c.errDestSet = true
	}
	c.format = strings.ToLower(strings.TrimSpace(t.String("format", "json")))
	switch c.format {
	case "json", "csv":
	case "parquet":
		if c.dest.kind == "http" {
			return nil, c.errorf("option %q: an HTTP endpoint takes json or csv records, not parquet", "format")
		}
	default:
		return nil, c.errorf("option %q: unknown format %q (want json, csv or parquet)", "format", c.format)
	}
	c.compression = strings.ToLower(strings.TrimSpace(t.String("compression", "")))
	switch c.compression {
	case "":
		c.compression = "none"
		if c.format == "parquet" {
			c.compression = "snappy"
		}
	case "none", "gzip", "zstd", "snappy":
	case "uncompressed":
		c.compression = "none"
	default:
		return nil, c.errorf("option %q: unknown compression %q (want none, gzip, zstd or snappy)", "compression", c.compression)
	}
	if c.dest.kind == "http" && c.compression != "none" && c.compression != "gzip" {
		return nil, c.errorf("option %q: an HTTP endpoint takes none or gzip", "compression")
	}
	c.csvDelim = ','
	if v, ok := t.Options["csv.field-delimiter"]; ok {
		if v == `\t` {
			v = "\t"
		}
		if len(v) != 1 || v[0] == '"' || v[0] == '\n' || v[0] == '\r' {
			return nil, c.errorf("option %q: %q is not one character", "csv.field-delimiter", v)
		}
		c.csvDelim = v[0]
	}
	size, err := t.Float("buffer.size", defaultBufferMiB)
	if err != nil {
		return nil, err
	}
	if size < minBufferMiB || size > maxBufferMiB {
		return nil, c.errorf("option %q: %v MiB is out of range (1–128)", "buffer.size", size)
	}
	c.bufferBytes = int(size * (1 << 20))
	if c.interval, err = seconds(t, "buffer.interval", defaultBufferInterval); err != nil {
		return nil, err
	}
	if c.interval < 0 || c.interval > maxBufferInterval {
		return nil, c.errorf("option %q: %v is out of range (0–900 s)", "buffer.interval", c.interval)
	}
	if c.retry, err = seconds(t, "retry.duration", defaultRetry); err != nil {
		return nil, err
	}
	if c.retry < 0 || c.retry > 7200*time.Second {
		return nil, c.errorf("option %q: %v is out of range (0–7200 s)", "retry.duration", c.retry)
	}
	n, err := t.Int("max-open-partitions", defaultMaxPartitions)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > 100000 {
		return nil, c.errorf("option %q: %d is out of range (1–100000)", "max-open-partitions", n)
	}
	c.maxOpen = int(n)
	if tc := strings.TrimSpace(t.String("prefix.time", "processing")); !strings.EqualFold(tc, "processing") {
		i := t.Schema.Index(tc)
		if i < 0 || t.Schema.Fields[i].Type != runtime.Timestamp {
			return nil, c.errorf("option %q: %q is neither processing nor a TIMESTAMP column", "prefix.time", tc)
		}
		c.timeCol = i
	}
	if v, ok := t.Options["prefix"]; ok && c.dest.kind == "http" && v != "" {
		return nil, c.errorf("option %q: an HTTP endpoint has no prefix", "prefix")
	}
	if c.prefix, err = parsePrefix(t.String("prefix", ""), t.Schema, false); err != nil {
		return nil, c.errorf("option %q: %v", "prefix", err)
	}
	if c.errPrefix, err = parsePrefix(t.String("error-prefix", defaultErrorPrefix), t.Schema, true); err != nil {
		return nil, c.errorf("option %q: %v", "error-prefix", err)
	}
	if len(c.errPrefix.cols) > 0 {
		return nil, c.errorf("option %q: the error prefix cannot use partitionKeyFromQuery", "error-prefix")
	}
	c.accessKey = t.String("http.access-key", "")
	return c, nil
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
