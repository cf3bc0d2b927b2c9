// Package file is the 'file' connector: a source that reads rows from JSON
// lines or CSV files (one file, a folder or a glob; bounded, or following
// new lines and new files), and a sink that writes them to part files in a
// folder (or to one file), as Flink's filesystem connector. Rows are
// decoded and encoded by package format.
//
// Paths are made absolute and clean; only local paths (or file:// URLs)
// are taken, and only regular files are read.
//
// Source. The files are the partitions: listed once when the job starts,
// sorted by name and dealt to the source's subtasks in turn, each file one
// watermark partition. A subtask reads its files round-robin, a batch at a
// time, with at most maxOpen of them open at once. In a folder or a glob,
// hidden files (names starting with '.' or '_', such as a sink's files in
// progress) are skipped; so are blank lines, and a UTF-8 byte order mark.
// A record is one line (\n or \r\n), or for CSV one record, which may span
// lines inside quotes; a record over MaxRecordBytes is a bad record.
//
// Split files. A bounded source with more than one subtask splits a file
// larger than 'source.split-size' (32 MB) into byte ranges, as Flink's
// file source splits files: at most that size each, their number a
// multiple of the parallelism, dealt to the subtasks in turn like files.
// A range holds the records that start in it: its reader skips to the
// first line start at or after its first byte and reads on until the line
// that crosses its end is complete, so every line is read exactly once. A
// subtask's ranges of a file are one watermark partition, read in file
// order, so its watermark only moves forward and the ranges of other
// subtasks, which hold the job's watermark back, never make rows late
// (given the file's times are in order up to the watermark's bound). Bad
// records name file:line: the lines before a range are counted (once per
// range) when one of its records is bad. A CSV record whose quoted field
// holds a line break across a range boundary fails the job, naming
// 'source.split-size' = 'off', which reads every file whole. A following
// source splits no file.
//
// With 'source.monitor-interval' the source is unbounded: at that interval
// it lists the path again (new files are dealt on to the subtasks in turn)
// and reads what was appended to its files. A line is read once its line
// break has been written; a file that becomes shorter than what was read
// is read again from the start; a file that disappears is left until it
// comes back.
//
// A malformed record, or one whose event time is not sane (outside the
// years 0001-9999, or more than 'scan.watermark.max-future' ahead of the
// wall clock), never stops the job unless 'format.fail-on-error' is true
// (then the job fails naming file:line). It is counted in
// sluice_operator_bad_records_total and handled by connectors.BadRecords:
// the first ten logged in full with file:line, then at most about once a
// second, and appended to 'errors.path' as a JSON line
// {"file":…,"line":…,"error":…,"record":…} (records over 64 KiB are cut,
// with "truncated":true) when it is set.
//
// Checkpoints: a source subtask's position (runtime.CheckpointedSource) is,
// per file (or range) it reads, the byte offset after the last record
// emitted, the lines up to it, and whether a bounded source has read the
// file (range) to its end; a range's position also holds its bounds, and
// a restored run reads the ranges the checkpoint holds — dealt anew to its
// subtasks, whatever its parallelism and split size — each from its
// position. (A position without bounds is a whole file's, as all were
// before files were split.) A restored source resumes each file right after that record — also
// when the file has grown since — and does not read again files a bounded
// source had finished; files in no position are read from the start, and
// a file now shorter than its position is read again from the start. Every
// subtask is given the positions of all, so a file's position reaches
// whichever subtask it is dealt to, whatever the parallelism. Bad records
// before the position are not reported again. (Source.Position and
// Source.Restore do the same for programs that drive subtasks by hand.)
//
// Sink. Each subtask writes part files named part-<subtask>-<n>.<ext> (n
// above any already there), or, when the path has an extension, the one
// file (with one subtask). A file is written hidden
// (.part-<subtask>-<n>.<ext>.inprogress) and published — renamed into place —
// once complete. Files are flushed and fsynced before the rename, and the
// folder after it.
//
// Without checkpoints, a file is complete when the sink finishes, when it
// rolls (file size, rollover interval), and when the job stops — also after
// a failure or a cancel, so the rows the sink received are kept.
//
// With checkpoints the sink is exactly-once (two-phase commit): at each
// checkpoint's barrier the file in progress (and any that rolled since the
// last checkpoint) is completed and renamed to
// .part-<subtask>-<n>.<ext>.pending-<checkpoint>; once the checkpoint is
// durable the pending files of it and earlier checkpoints are published.
// The end of input is pre-committed as pending-end and published with the
// job's final checkpoint. A restored job publishes the pending files of the
// checkpoint it starts from, deletes every other hidden file of the
// subtask (what the failed attempt wrote after that checkpoint, which the
// sources replay) and numbers new parts after every name used before. A job
// that stops without finishing publishes nothing no checkpoint covers.
// Readers see only published files, so every row appears once. Output
// becomes visible at checkpoints only: the checkpoint interval is the
// sink's latency. In a task of a job that several processes share
// (runtime.TaskInfo), hidden names carry the attempt
// (.part-<subtask>-<n>.<ext>.<attempt>.inprogress, ….<attempt>.pending-<checkpoint>),
// so that a zombie attempt and the task's new owner never share a file, and
// a restore never deletes the files of an attempt that may be the owner
// (see commit.go); such a task needs checkpoints, and cannot write one
// file nor commit partitions. A sink writing one file keeps it in progress across
// checkpoints (a restore truncates it back to its length at the checkpoint)
// and publishes it when the job ends.
//
// The changelog-json format writes {"op":"+I","row":{…}} per row, with the
// row's changelog kind (+I, -U, +U, -D). The source reads it back, and
// Debezium change events with debezium-json, as an updating stream (see
// connectors.UpdatingSource and package format).
//
// PARTITIONED BY (connectors.Table.PartitionKeys): the sink writes each row,
// without its partition columns, to a part file in its partition folder,
// k1=v1/k2=v2/part-<subtask>-<n>.<ext>, values escaped as Hive escapes them
// (%XX for control characters and " # % ' * / : = ? \ { [ ] ^; NULL and
// the empty string are __DEFAULT_PARTITION__). A subtask keeps one file in
// progress per partition; rolling, the two-phase commit and the restore
// work per file, in every folder. The subtasks of a run share a committer that commits a
// partition — writes its success file, after every subtask's files of it
// are published — once it is due: with trigger partition-time, when every
// subtask's watermark (with checkpoints: the watermark at the checkpoint
// whose files were just published) is past the partition's time
// (partition.time-extractor.timestamp-pattern, UTC) plus the delay; with
// process-time, when its creation plus the delay has passed and every
// subtask that wrote to it has published its files of it (at a checkpoint,
// or without checkpoints when they roll); at the end of
// input, every partition. The partitions a subtask wrote to and that were
// not committed are part of its checkpointed state, so a restored run
// commits them. The planner needs to guarantee nothing more: any
// partitioning of the input works. 'filesystem', Flink's name, is an alias
// of the connector.
package file

import (
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Option defaults, in one place.
const (
	// MaxRecordBytes bounds one record (a line, or a CSV record over
	// several lines); a longer one is a bad record.
	MaxRecordBytes = 16 << 20
	// maxOpen bounds the files a source subtask keeps open at once.
	maxOpen = 8
	// readBuffer is the read buffer of each open file.
	readBuffer = 256 << 10
	// writeBuffer is the write buffer of each sink subtask.
	writeBuffer = 256 << 10
)

// maxRecordBytes is MaxRecordBytes (tests lower it).
var maxRecordBytes = MaxRecordBytes

// batchRows is the most rows a source subtask returns at once (tests lower
// it, to stop part-way through small files).
var batchRows = runtime.DefaultBatchRows

// factory is the 'file' connector, also called 'filesystem' (Flink's
// name for it).
type factory struct{}

func init() { connectors.RegisterAlias("filesystem", "file") }

func (factory) Name() string { return "file" }

// SupportsPartitioning: the sink writes tables with PARTITIONED BY.
func (factory) SupportsPartitioning() {}

// parsePartitioning reads the partition columns and the partition commit
// options of a sink.
func (c *config) parsePartitioning(t connectors.Table, o *connectors.Values) error {
	cols, err := t.PartitionColumns()
	if err != nil {
		return err
	}
	commitOpts := []string{"sink.partition-commit.trigger", "sink.partition-commit.delay", "sink.partition-commit.policy.kind",
		"sink.partition-commit.success-file.name", "partition.time-extractor.kind", "partition.time-extractor.timestamp-pattern"}
	if len(cols) == 0 {
		for _, k := range commitOpts {
			if o.Has(k) {
				return o.Errorf(k, "applies only to a table with PARTITIONED BY (…)")
			}
		}
		return nil
	}
	if len(cols) == len(t.Schema.Fields) {
		return connectors.Errorf(t.Name, "PARTITIONED BY (%s) takes every column: the files would hold none", strings.Join(t.PartitionKeys, ", "))
	}
	c.partCols = cols
	c.trigger = o.Enum("sink.partition-commit.trigger")
	c.commitDelay = o.Duration("sink.partition-commit.delay")
	for _, kind := range strings.Split(o.String("sink.partition-commit.policy.kind"), ",") {
		switch k := strings.ToLower(strings.TrimSpace(kind)); k {
		case "success-file":
		case "metastore":
			return o.Errorf("sink.partition-commit.policy.kind", "metastore: Sluice has no metastore to add partitions to; use success-file")
		case "custom":
			return o.Errorf("sink.partition-commit.policy.kind", "custom commit policies are not supported; use success-file")
		default:
			return o.Errorf("sink.partition-commit.policy.kind", "%q is not a commit policy (success-file)", k)
		}
	}
	c.successFile = o.String("sink.partition-commit.success-file.name")
	if c.successFile == "" {
		c.successFile = "_SUCCESS"
	}
	if !isPlainName(c.successFile) || c.successFile == "." || c.successFile == ".." {
		return o.Errorf("sink.partition-commit.success-file.name", "%q is not a file name", c.successFile)
	}
	if o.Enum("partition.time-extractor.kind") == "custom" {
		return o.Errorf("partition.time-extractor.kind", "custom time extractors are not supported; use default")
	}
	pattern := "$" + t.PartitionKeys[0]
	if o.Has("partition.time-extractor.timestamp-pattern") {
		pattern = o.String("partition.time-extractor.timestamp-pattern")
	}
	if c.extractor, err = newTimeExtractor(pattern, t.PartitionKeys); err != nil {
		return o.Errorf("partition.time-extractor.timestamp-pattern", "%v", err)
	}
	return nil
}

var options = append([]connectors.Option{
	{Key: "path", Required: true, Doc: "source: a file, a folder (its files in name order, names starting `.`/`_` skipped) or a glob; " +
		"sink: a folder of part files, or one file when the path has an extension (`.json`, `.jsonl`, `.csv`, …; then one subtask)"},
	connectors.FormatOption("`json` (one object per line), `csv`, `changelog-json` "+
		"(`{\"op\":\"+U\",\"row\":{…}}` per line: the sink writes updating results, the source reads them as an updating stream), "+
		"or `debezium-json` (source only: Debezium change events, an updating stream)", "json", "csv", "changelog-json", "debezium-json"),
	connectors.CSVDelimiterOption,
	{Key: "csv.ignore-first-line", Type: connectors.Bool, Default: "false", Use: connectors.SourceOnly, With: "format=csv", Doc: "skip the first line (a header) of every file"},
	{Key: "csv.header", Type: connectors.Bool, Default: "false", Use: connectors.SinkOnly, With: "format=csv", Doc: "write the column names as the first line of every file"},
	{Key: "source.monitor-interval", Type: connectors.Duration, Min: "1ms", DefaultDoc: "absent (bounded)", Use: connectors.SourceOnly,
		Doc: "e.g. `1 s`: follow appended lines and new files, checking at this interval (unbounded). " +
			"A subtask with no file yet holds the watermark back like a silent partition: with fewer files than subtasks, " +
			"windows fire only with `'scan.watermark.idle-timeout'` set (or `--parallelism` at most the number of files)"},
	{Key: "source.split-size", Type: connectors.Size, Default: "32MB", Values: []string{"off"}, Use: connectors.SourceOnly,
		Doc: "when bounded (no `source.monitor-interval`) with more than one subtask: a file larger than this is split into " +
			"byte ranges of at most this size (their number a multiple of the parallelism), each read from its first line start " +
			"by one subtask, so that every subtask reads a share of one big file; a subtask reads its ranges of a file in order, " +
			"and bad records still name `file:line`. `off`: every file is read whole by one subtask (needed for CSV files whose " +
			"quoted fields hold line breaks: a range boundary inside such a field fails the job)"},
	{Key: "sink.rolling-policy.file-size", Type: connectors.Size, Default: "128MB", Use: connectors.SinkOnly,
		Doc: "start a new part file once one reaches this size (e.g. `64MB`, `512kb`)"},
	{Key: "sink.rolling-policy.rollover-interval", Type: connectors.Duration, Default: "30 min", Min: "1ms", Use: connectors.SinkOnly,
		Doc: "start a new part file once one has been open this long"},
	{Key: "sink.rolling-policy.check-interval", Type: connectors.Duration, Default: "1 min", Min: "1ms", Use: connectors.SinkOnly,
		Doc: "taken for Flink's DDL; Sluice needs no polling: a timer rolls each file exactly at its rollover interval"},
	{Key: "sink.partition-commit.trigger", Type: connectors.Enum, Values: []string{triggerProcessTime, triggerPartitionTime},
		Default: triggerProcessTime, Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: when a partition is committed — `partition-time`: once the watermark passes the time " +
			"extracted from the partition's values plus the delay; `process-time`: once the processing time passes the " +
			"partition's creation plus the delay (and its files are published). Every partition is committed at the end of input"},
	{Key: "sink.partition-commit.delay", Type: connectors.Duration, Default: "0 s", Min: "0ms", Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: how long after its time a partition is committed (e.g. `1 h` for hourly partitions)"},
	{Key: "sink.partition-commit.policy.kind", Default: "success-file", Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: what committing a partition does: `success-file` writes an empty success file in its " +
			"folder, after all its files are published (`metastore` and `custom` are refused: Sluice has no metastore " +
			"and no custom policies)"},
	{Key: "sink.partition-commit.success-file.name", Default: "_SUCCESS", Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: the name of the success file"},
	{Key: "partition.time-extractor.kind", Type: connectors.Enum, Values: []string{"default", "custom"}, Default: "default", Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: how a partition's time is extracted (`default` only: `custom` is refused)"},
	{Key: "partition.time-extractor.timestamp-pattern", DefaultDoc: "`$` and the first partition column", Use: connectors.SinkOnly,
		Doc: "with `PARTITIONED BY`: the partition's time, from its values: `$column` placeholders, " +
			"e.g. `$dt $hm:00`, read as `yyyy-MM-dd[ HH:mm:ss]` in UTC"},
}, append(connectors.DebeziumOptions, connectors.BadRecordOptions(`"file","line"`, "`file:line`")...)...)

func (factory) Options() []connectors.Option { return options }

// AcceptsUpdates: only changelog-json writes the kind of each row.
func (factory) AcceptsUpdates(t connectors.Table) bool {
	return strings.EqualFold(strings.TrimSpace(t.String("format", "json")), "changelog-json")
}

// ProducesUpdates: the changelog formats are read as updating streams.
func (factory) ProducesUpdates(t connectors.Table) bool {
	f := strings.ToLower(strings.TrimSpace(t.String("format", "json")))
	return f == "changelog-json" || f == "debezium-json"
}

// config is a table's options, checked.
type config struct {
	table  string
	schema *runtime.Schema
	path   string // absolute and clean
	format string // json, csv, changelog-json or debezium-json
	csv    format.CSVOptions
	dbz    format.DebeziumOptions

	csvSkipFirst bool
	csvHeader    bool
	monitor      time.Duration          // 0: bounded
	splitSize    int64                  // source: split files larger than this (0: never)
	bad          *connectors.BadRecords // source: errors.path, format.fail-on-error
	eventTime    connectors.EventTime   // source: scan.watermark.max-future

	rollSize     int64
	rollInterval time.Duration
	rollSet      bool // a rolling option was given
	single       bool // sink: path is one file

	// Sink with PARTITIONED BY: the partition columns (nil: none), the
	// commit trigger, delay and success file, the time extractor.
	partCols    []int
	trigger     string
	commitDelay time.Duration
	successFile string
	extractor   *timeExtractor

	log *connectors.Limiter
}

func parseConfig(f factory, t connectors.Table, sink bool) (*config, error) {
	o, err := connectors.Parse(f, t)
	if err != nil {
		return nil, err
	}
	c := &config{table: t.Name, schema: t.Schema, format: o.Enum("format"),
		csv:          format.CSVOptions{Delimiter: o.Delimiter("csv.field-delimiter")},
		csvSkipFirst: o.Bool("csv.ignore-first-line"), csvHeader: o.Bool("csv.header"),
		monitor: o.Duration("source.monitor-interval"), rollSize: o.Size("sink.rolling-policy.file-size"),
		rollInterval: o.Duration("sink.rolling-policy.rollover-interval"),
		rollSet:      o.Has("sink.rolling-policy.file-size") || o.Has("sink.rolling-policy.rollover-interval")}
	if o.Word("source.split-size") != "off" {
		c.splitSize = o.Size("source.split-size")
	}
	if c.path, err = connectors.LocalPath(o.String("path")); err != nil {
		return nil, o.Errorf("path", "%v", err)
	}
	if c.format == "debezium-json" && sink {
		return nil, o.Errorf("format", "debezium-json can only be read (a source format); write changelog-json")
	}
	c.dbz = format.DebeziumOptions{SchemaInclude: o.Bool("debezium-json.schema-include"),
		IgnoreParseErrors: o.Bool("debezium-json.ignore-parse-errors")}
	if len(t.PartitionKeys) > 0 && !sink {
		return nil, connectors.Errorf(t.Name, "connector %s cannot read a table with PARTITIONED BY (%s) yet: declare the table without it to read its files",
			t.Options["connector"], strings.Join(t.PartitionKeys, ", "))
	}
	if sink {
		if err := c.parsePartitioning(t, o); err != nil {
			return nil, err
		}
	}
	if !sink {
		if c.eventTime, err = connectors.NewEventTime(t); err != nil {
			return nil, err
		}
		if c.bad, err = connectors.NewBadRecords(t); err != nil {
			return nil, err
		}
	}
	c.log = connectors.NewLimiter(time.Second)
	return c, nil
}

// NewSource builds the source of table t.
func (f factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	c, err := parseConfig(f, t, false)
	if err != nil {
		return nil, 0, err
	}
	if err := connectors.CheckUpdates(t, factory{}.ProducesUpdates(t)); err != nil {
		return nil, 0, err
	}
	if err := c.checkSourcePath(); err != nil {
		return nil, 0, err
	}
	return newSourceFactory(c), 0, nil
}

// NewSink builds the sink of table t: one subtask when it writes one file.
func (f factory) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, err := parseConfig(f, t, true)
	if err != nil {
		return nil, 0, err
	}
	if err := c.checkSinkPath(); err != nil {
		return nil, 0, err
	}
	par := 0
	if c.single {
		par = 1
	}
	if c.partCols == nil {
		return func() runtime.Operator { return &sink{cfg: c} }, par, nil
	}
	// The subtasks of one run share a committer; subtasks made after one
	// of them opened start a new run.
	var mu sync.Mutex
	var cur *committer
	return func() runtime.Operator {
		mu.Lock()
		defer mu.Unlock()
		if cur == nil || cur.isOpened() {
			cur = &committer{cfg: c}
		}
		return &sink{cfg: c, committer: cur}
	}, par, nil
}
