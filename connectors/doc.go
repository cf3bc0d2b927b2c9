// Package connectors is the connector model of Sluice: the registry that
// SQL tables name with 'connector' = 'name', the option specs every
// connector declares, and what sources share for bad records. The
// connectors themselves live in the packages below it — datagen, file
// (with format: JSON lines and CSV), store, kafka, delivery, host, alarm,
// print, blackhole — and sns holds the topics and subscriptions the alarm
// sink publishes to; gostreams bridges go-streams flows for the Go API.
// The engine (runtime) imports none of them.
//
// Registry. A connector is a Factory, registered by name from its
// package's init function (Register). It is a Source (NewSource builds
// the source subtasks of a table: runtime.Source), a Sink (NewSink builds
// its sink operators: runtime.Operator; AcceptsUpdates tells whether it
// takes an updating result), or both. The planner looks a table's
// connector up (Lookup), checks its options (CheckOptions) and hands it
// the Table: name, schema, event-time column and WITH options.
//
// Options. Options returns the connector's option specs (Option): key (a
// pattern with <f> for a column name), type, default, range or allowed
// values, where it applies (source or sink, or only with another
// option's value) and its doc. A connector reads a table's options with
// Parse, which refuses unknown keys ("did you mean"), missing required
// options, and values that do not parse or lie outside their range or
// allowed values, with errors of one form — table T: option "key": … —
// and returns typed values (Values). Options shared by several connectors
// are defined once here: FormatOption, CSVDelimiterOption (parsed by
// format.ParseDelimiter) and BadRecordOptions. The README's option tables
// are rendered from the specs (MarkdownTable), and a test keeps them so.
//
// Bad records. Sources that decode records (file, store, kafka) share
// one path for records that cannot be decoded or whose event time is not
// sane (EventTime, 'scan.watermark.max-future'): BadRecords skips and
// counts them, logs the first ones in full and later ones rate-limited,
// appends them to 'errors.path' when it is set, or fails the job with
// 'format.fail-on-error'; Summaries tells a command how many each table
// skipped and where.
package connectors
