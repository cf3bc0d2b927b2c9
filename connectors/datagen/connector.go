// Package datagen is the 'datagen' connector: a source of generated rows, with
// Flink's option names, for demos, tests and benchmarks.
//
//	CREATE TABLE clicks (k BIGINT, v DOUBLE, page VARCHAR, ts TIMESTAMP(3),
//	  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
//	) WITH ('connector' = 'datagen', 'number-of-rows' = '5000000',
//	  'fields.k.min' = '0', 'fields.k.max' = '9999',       -- 10,000 keys, uniform
//	  'fields.page.length' = '8',
//	  'fields.ts.kind' = 'sequence', 'fields.ts.max-past' = '1 s');
//
// Rows are numbered 0, 1, 2, … and every value of row i is a pure function
// of (seed, column name, i), computed with a counter-based hash, so the rows
// are the same for the same options whatever the number of subtasks and
// whatever other columns the table has. Rows are dealt to subtasks in blocks
// of runtime.DefaultBatchRows (with rows-per-second, of the rows of 10 ms at
// that rate): subtask s of p generates blocks s, s+p, s+2p, …, so the
// subtasks advance through the row numbers (and the timestamps derived from
// them) together. Each subtask is one partition for the watermark.
//
// Column kinds (fields.<f>.kind, default random, as in Flink):
//   - random INT, BIGINT: uniform in [min, max], both inclusive; default the
//     type's whole range. DOUBLE: uniform in [min, max], default [0, 1].
//     BOOLEAN: TRUE or FALSE with equal chance. VARCHAR: length characters
//     (default 100, as Flink; at most 16384) of lower-case hexadecimal, as
//     Flink's random strings. For 10,000 keys, uniform:
//     'fields.k.kind' = 'random', 'fields.k.min' = '0', 'fields.k.max' = '9999'
//     (a sequence 0…9999 with number-of-rows instead cycles through the keys).
//   - sequence INT, BIGINT: start, start+1, …, end (default start 0, end the
//     type's maximum). An explicit end bounds the source to end-start+1 rows,
//     as in Flink; with several such sequences the shortest wins, and
//     number-of-rows, when set, wins over all of them: a sequence that runs out
//     starts again at start (so a sequence with number-of-rows cycles through
//     its values). Flink also allows sequences of strings and doubles; Sluice
//     does not.
//   - TIMESTAMP (either kind) follows the row clock start + i·step (start
//     default 2026-01-01T00:00:00Z; 'now' is the wall clock when the job is
//     planned; step default 1 ms), minus a random amount
//     in [0, max-past] (default 0: in order). This is Flink's random timestamp
//     "now − random(max-past)" with the row clock standing for the wall clock,
//     so it is deterministic and advances with the rows: a table ported from
//     Flink without field options still has a usable event time. With
//     max-past set, a watermark delay of max-past drops no row as late.
//
// null-rate makes a nullable column NULL in that fraction of the rows (a pure
// function of seed, column and row too).
//
// Checkpoints: the source's position is part of a job's checkpoints. A
// subtask's position is its subtask index, the parallelism and the index
// of the next row it emits (its block is that index over the block size);
// since every value is a pure function of the row index, that is all a
// restored subtask needs to emit exactly the rows an undisturbed one would
// have emitted after the checkpoint — sequences go on from the same row,
// and rows-per-second restarts its clock at the restore, so the rest is
// emitted at the same rate. A job restored with another number of source
// subtasks is refused (the blocks would be dealt differently).
// Source.Position and Source.Restore serve programs that drive subtasks by
// hand.
//
// rows-per-second throttles the whole source. Unlike Flink (10000 by default) the default is unlimited: a
// bounded table is usually a test or a benchmark, where speed is wanted; set
// it for a live demo. Each subtask's share is its share of the rows (equal
// shares for an unbounded table), so the subtasks of a bounded table finish
// together.
package datagen

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

func init() { connectors.Register(factory{}) }

// Defaults and limits of the options, in one place.
const (
	defaultLength   = 100      // as Flink
	maxLength       = 16 << 10 // a batch of such strings is 32 MiB
	defaultStart    = "2026-01-01T00:00:00Z"
	defaultDoubleLo = 0.0
	defaultDoubleHi = 1.0
)

// options is the list the registry checks and the README documents. The
// type of min, max, start and end depends on the column's: they are
// parsed by parseColumn.
var options = []connectors.Option{
	{Key: "number-of-rows", Type: connectors.Int, Min: "0", DefaultDoc: "unbounded",
		Doc: "rows to generate; absent: no end, unless a sequence has an `end`"},
	{Key: "rows-per-second", Type: connectors.Float, DefaultDoc: "unlimited",
		Doc: "limit for the whole source, shared by its subtasks (Flink's default is 10000)"},
	{Key: "seed", Type: connectors.Int, Default: "0", Doc: "row i's values depend only on (seed, column name, i)"},
	{Key: "fields.<f>.kind", Type: connectors.Enum, Default: "random", Values: []string{"random", "sequence"},
		Doc: "`random`, or `sequence` (INT, BIGINT, TIMESTAMP only)"},
	{Key: "fields.<f>.min", DefaultDoc: "type minimum (DOUBLE: `0`)", Doc: "smallest value of a random INT, BIGINT or DOUBLE (inclusive)"},
	{Key: "fields.<f>.max", DefaultDoc: "type maximum (DOUBLE: `1`)", Doc: "largest value of a random INT, BIGINT or DOUBLE (inclusive)"},
	{Key: "fields.<f>.start", DefaultDoc: "`0`; TIMESTAMP: `" + defaultStart + "`", Doc: "first value of a sequence; for a TIMESTAMP, the time of row 0 (RFC 3339, or `now`: the wall clock when the job starts)"},
	{Key: "fields.<f>.end", DefaultDoc: "type maximum", Doc: "last value of an INT/BIGINT sequence; it bounds the table to end−start+1 rows"},
	{Key: "fields.<f>.length", Type: connectors.Int, Default: "100", Min: "0", Max: "16384",
		Doc: "length of a random VARCHAR (lower-case hex characters)"},
	{Key: "fields.<f>.null-rate", Type: connectors.Float, Default: "0", Min: "0", Max: "1", Doc: "fraction of rows where a nullable column is NULL"},
	{Key: "fields.<f>.max-past", Type: connectors.Duration, Default: "0", Min: "0",
		Doc: "TIMESTAMP: each row's time is its row clock minus a random amount up to this (out-of-order rows)"},
	{Key: "fields.<f>.step", Type: connectors.Duration, Default: "1 ms", Min: "1ns",
		Doc: "TIMESTAMP: how far the row clock moves per row (`100us`: ten rows per ms)"},
}

// factory is the 'datagen' connector (a source).
type factory struct{}

func (factory) Name() string                 { return "datagen" }
func (factory) Options() []connectors.Option { return options }

func (factory) NewSource(t connectors.Table) (func() runtime.Source, int, error) {
	cfg, err := parse(t)
	if err != nil {
		return nil, 0, err
	}
	return func() runtime.Source { return &Source{cfg: cfg} }, 0, nil
}

type kind uint8

const (
	kindRandom kind = iota
	kindSequence
)

// config is a parsed datagen table, shared read-only by its subtasks.
type config struct {
	table  string
	schema *runtime.Schema
	rows   int64   // -1: unbounded
	rate   float64 // rows per second for the whole source; 0: unlimited
	cols   []column
}

func parse(t connectors.Table) (*config, error) {
	o, err := connectors.Parse(factory{}, t)
	if err != nil {
		return nil, err
	}
	if t.Schema == nil || t.Schema.Len() == 0 {
		return nil, fmt.Errorf("table %s: a datagen table needs at least one column", t.Name)
	}
	cfg := &config{table: t.Name, schema: t.Schema, rows: -1, rate: o.Float("rows-per-second")}
	if o.Has("number-of-rows") {
		cfg.rows = o.Int("number-of-rows")
	}
	if o.Has("rows-per-second") && !(cfg.rate > 0) {
		return nil, o.Errorf("rows-per-second", "want a positive number of rows, got %s (leave it out for no limit)", o.Raw("rows-per-second"))
	}
	perCol, err := fieldOptions(t)
	if err != nil {
		return nil, err
	}
	for c, f := range t.Schema.Fields {
		col, err := parseColumn(o, f, perCol[c], uint64(o.Int("seed")))
		if err != nil {
			return nil, err
		}
		cfg.cols = append(cfg.cols, col)
		// Sequences with an end bound the source; the shortest wins.
		if n := int64(min(col.seqLen, math.MaxInt64)); !o.Has("number-of-rows") && col.bounded && col.seqLen != 0 && (cfg.rows < 0 || n < cfg.rows) {
			cfg.rows = n
		}
	}
	return cfg, nil
}

// fieldOptions groups the fields.<f>.<suffix> options by column: suffix →
// the key as written.
func fieldOptions(t connectors.Table) ([]map[string]string, error) {
	perCol := make([]map[string]string, t.Schema.Len())
	for _, key := range slices.Sorted(maps.Keys(t.Options)) {
		rest, ok := strings.CutPrefix(key, "fields.")
		if !ok {
			continue
		}
		dot := strings.LastIndexByte(rest, '.')
		name, suffix := rest[:dot], rest[dot+1:] // Parse has matched fields.<f>.suffix
		c := t.Schema.Index(name)
		if c < 0 {
			msg := fmt.Sprintf("table %s: option %q: no column %q", t.Name, key, name)
			msg += suggest.Hint(name, t.Schema.Names())
			return nil, fmt.Errorf("%s; columns: %s", msg, strings.Join(t.Schema.Names(), ", "))
		}
		if perCol[c] == nil {
			perCol[c] = map[string]string{}
		}
		if prev, dup := perCol[c][suffix]; dup {
			return nil, fmt.Errorf("table %s: options %q and %q set the same thing", t.Name, min(prev, key), max(prev, key))
		}
		perCol[c][suffix] = key
	}
	return perCol, nil
}

// parseColumn builds the generator of field f from its options (suffix →
// full key; nil when it has none).
func parseColumn(o *connectors.Values, f runtime.Field, opts map[string]string, seed uint64) (column, error) {
	col := column{typ: f.Type}
	base := runtime.HashInt64(seed*gamma + runtime.HashString(strings.ToLower(f.Name)))
	col.key = base
	col.nullKey = runtime.HashInt64(base ^ nullSalt)
	if key, ok := opts["kind"]; ok && o.Enum(key) == "sequence" {
		col.kind = kindSequence
	}
	if err := checkSuffixes(o, f, col.kind, opts); err != nil {
		return col, err
	}
	if key, ok := opts["null-rate"]; ok {
		r := o.Float(key)
		if r > 0 && !f.Nullable {
			return col, o.Errorf(key, "column %s is NOT NULL", f.Name)
		}
		col.nullRate = r
		if r < 1 {
			col.nullBelow = uint64(r * (1 << 64))
		}
	}
	switch {
	case f.Type == runtime.Timestamp:
		return parseTime(o, col, opts)
	case col.kind == kindSequence:
		return parseSequence(o, f, col, opts)
	case f.Type == runtime.Double:
		return parseDoubleRange(o, col, opts)
	case f.Type.Numeric():
		return parseIntRange(o, f, col, opts)
	case f.Type == runtime.Varchar:
		col.length = defaultLength
		if key, ok := opts["length"]; ok {
			col.length = int(o.Int(key))
		}
	}
	return col, nil
}

// suffixes lists, per column shape, the field options it accepts.
var (
	numberRandom = []string{"kind", "min", "max", "null-rate"}
	numberSeq    = []string{"kind", "start", "end", "null-rate"}
	boolRandom   = []string{"kind", "null-rate"}
	stringRandom = []string{"kind", "length", "null-rate"}
	timeAny      = []string{"kind", "start", "step", "max-past", "null-rate"}
)

// checkSuffixes checks that column f, of kind k, takes the options given.
func checkSuffixes(o *connectors.Values, f runtime.Field, k kind, opts map[string]string) error {
	var allowed []string
	switch {
	case f.Type == runtime.Timestamp:
		allowed = timeAny
	case k == kindSequence && (f.Type == runtime.Int || f.Type == runtime.BigInt):
		allowed = numberSeq
	case k == kindSequence:
		return o.Errorf(opts["kind"], "a sequence must be INT, BIGINT or TIMESTAMP; column %s is %v", f.Name, f.Type)
	case f.Type.Numeric():
		allowed = numberRandom
	case f.Type == runtime.Boolean:
		allowed = boolRandom
	case f.Type == runtime.Varchar:
		allowed = stringRandom
	default:
		return o.Err("column %s: datagen cannot generate %v", f.Name, f.Type)
	}
	for _, suffix := range slices.Sorted(maps.Keys(opts)) {
		if !slices.Contains(allowed, suffix) {
			what := map[kind]string{kindRandom: "random", kindSequence: "sequence"}[k]
			return o.Errorf(opts[suffix], "not an option of a %s %v column (those are: %s)", what, f.Type, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func parseSequence(o *connectors.Values, f runtime.Field, col column, opts map[string]string) (column, error) {
	lo, hi := intRange(f.Type)
	start, err := intOption(o, opts, "start", 0, lo, hi)
	if err != nil {
		return col, err
	}
	end, err := intOption(o, opts, "end", hi, lo, hi)
	if err != nil {
		return col, err
	}
	if start > end {
		return col, o.Errorf(opts["start"], "start %d is after end %d", start, end)
	}
	_, col.bounded = opts["end"]
	col.start = start
	col.seqLen = uint64(end) - uint64(start) + 1 // 0: all 2^64 BIGINTs
	return col, nil
}

func parseDoubleRange(o *connectors.Values, col column, opts map[string]string) (column, error) {
	lo, err := floatOption(o, opts, "min", defaultDoubleLo)
	if err != nil {
		return col, err
	}
	hi, err := floatOption(o, opts, "max", defaultDoubleHi)
	if err != nil {
		return col, err
	}
	if lo > hi {
		return col, minMaxError(o, opts, fmt.Sprint(lo), fmt.Sprint(hi))
	}
	col.fmin, col.fmax = lo, hi
	return col, nil
}

func parseIntRange(o *connectors.Values, f runtime.Field, col column, opts map[string]string) (column, error) {
	tlo, thi := intRange(f.Type)
	lo, err := intOption(o, opts, "min", tlo, tlo, thi)
	if err != nil {
		return col, err
	}
	hi, err := intOption(o, opts, "max", thi, tlo, thi)
	if err != nil {
		return col, err
	}
	if lo > hi {
		return col, minMaxError(o, opts, fmt.Sprint(lo), fmt.Sprint(hi))
	}
	col.min = lo
	col.span = uint64(hi) - uint64(lo) + 1 // 0: all 2^64 BIGINTs
	return col, nil
}

func parseTime(o *connectors.Values, col column, opts map[string]string) (column, error) {
	startText := defaultStart
	if key, ok := opts["start"]; ok {
		startText = o.Raw(key)
	}
	start, err := connectors.ParseStartTime(startText)
	if err != nil {
		return col, o.Errorf(opts["start"], "%v", err)
	}
	step, maxPast := o.Duration("fields.<f>.step"), o.Duration("fields.<f>.max-past")
	if key, ok := opts["step"]; ok {
		step = o.Duration(key)
	}
	if key, ok := opts["max-past"]; ok {
		maxPast = o.Duration(key)
	}
	col.start = start
	col.stepNs = uint64(step)
	col.maxPast = uint64(maxPast / time.Millisecond)
	return col, nil
}

func intRange(t runtime.Type) (int64, int64) {
	if t == runtime.Int {
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// intOption parses the option of suffix as an integer in [lo, hi] (def
// when absent).
func intOption(o *connectors.Values, opts map[string]string, suffix string, def, lo, hi int64) (int64, error) {
	key, ok := opts[suffix]
	if !ok {
		return def, nil
	}
	n, err := connectors.ParseValue(connectors.Option{Key: key, Type: connectors.Int,
		Min: strconv.FormatInt(lo, 10), Max: strconv.FormatInt(hi, 10)}, o.Table(), o.Raw(key))
	if err != nil {
		return 0, err
	}
	return n.(int64), nil
}

// floatOption parses the option of suffix as a number (def when absent).
func floatOption(o *connectors.Values, opts map[string]string, suffix string, def float64) (float64, error) {
	key, ok := opts[suffix]
	if !ok {
		return def, nil
	}
	f, err := connectors.ParseValue(connectors.Option{Key: key, Type: connectors.Float}, o.Table(), o.Raw(key))
	if err != nil {
		return 0, err
	}
	return f.(float64), nil
}

func minMaxError(o *connectors.Values, opts map[string]string, lo, hi string) error {
	key := opts["min"]
	if key == "" {
		key = opts["max"]
	}
	return o.Errorf(key, "min %s is greater than max %s", lo, hi)
}

// mulHi returns the high 64 bits of x·y: a value uniform in [0, y) for x
// uniform over 64 bits (Lemire's multiply-shift, without a division).
func mulHi(x, y uint64) uint64 {
	hi, _ := bits.Mul64(x, y)
	return hi
}
