package connectors

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

// Table is what a connector builds a source or sink from: a table of the
// catalog, with its columns, event time and WITH options.
type Table struct {
	Name    string
	Schema  *runtime.Schema
	Options map[string]string // WITH ('key' = 'value', …), keys as written (lower case by convention)
	// TimeColumn is the event-time column (-1: none) and MaxOutOfOrderness
	// the bound of its WATERMARK clause.
	TimeColumn        int
	MaxOutOfOrderness time.Duration
	// PartitionKeys are the columns of PARTITIONED BY (…), by name, in
	// order (nil: none); PartitionColumns resolves them in Schema. Only a
	// connector that implements Partitioned takes them: Parse refuses a
	// table with partition keys for any other.
	PartitionKeys []string
	// Objects resolves other objects of the job by kind and name — "topic"
	// gives the *sns.Topic of a CREATE TOPIC — for connectors that use
	// them; nil when the job has none.
	Objects func(kind, name string) (any, bool)
	// PrimaryKey names the columns of PRIMARY KEY (…) NOT ENFORCED, in
	// order (nil: none).
	PrimaryKey []string
	// Updates is set by a caller that reads an updating source as a
	// changelog (see UpdatingSource). A source whose ProducesUpdates is
	// true refuses to build without it, so that a reader that would take
	// its -U and -D rows for inserts cannot be built by mistake.
	Updates bool
}

// Partitioned is a connector that takes tables with PARTITIONED BY (…):
// Parse refuses them for a connector that does not implement it
// ("connector print does not support PARTITIONED BY"). The connector
// checks the keys itself (PartitionColumns), on the side that uses them.
type Partitioned interface {
	Factory
	SupportsPartitioning()
}

// PartitionedByHinter is a connector that refuses PARTITIONED BY and says
// what to do instead, appended to the error.
type PartitionedByHinter interface {
	PartitionedByHint() string
}

// PartitionColumns returns the indexes in Schema of the partition keys,
// in order; an error names a key that is not a column.
func (t Table) PartitionColumns() ([]int, error) {
	if len(t.PartitionKeys) == 0 {
		return nil, nil
	}
	if t.Schema == nil {
		return nil, fmt.Errorf("table %s: PARTITIONED BY needs the table's columns", t.Name)
	}
	out := make([]int, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		out[i] = t.Schema.Index(k)
		if out[i] < 0 {
			return nil, fmt.Errorf("table %s: PARTITIONED BY: unknown column %q", t.Name, k)
		}
		for _, prev := range out[:i] {
			if prev == out[i] {
				return nil, fmt.Errorf("table %s: PARTITIONED BY: duplicate column %q", t.Name, k)
			}
		}
	}
	return out, nil
}

// Factory is a connector, registered by name ('connector' = 'name').
type Factory interface {
	Name() string
	// Options lists every option the connector accepts (besides 'connector').
	Options() []Option
}

// Source is a connector that can read a table.
type Source interface {
	Factory
	// NewSource returns a factory of source subtasks and their number
	// (0: the job's parallelism).
	NewSource(t Table) (newSource func() runtime.Source, parallelism int, err error)
}

// Sink is a connector that can write a table.
type Sink interface {
	Factory
	// NewSink returns a factory of sink operators and their number (0: the
	// job's parallelism).
	NewSink(t Table) (newSink func() runtime.Operator, parallelism int, err error)
	// AcceptsUpdates reports whether the sink, with these options, takes
	// an updating (changelog) result rather than only appended rows.
	AcceptsUpdates(t Table) bool
}

// UpdatingSource is implemented by a source connector whose rows may be
// updates rather than only appended rows: with some options (a changelog
// format such as changelog-json or debezium-json) its batches carry
// runtime.Batch.Kinds. A source connector that does not implement it, or
// returns false, produces only inserts (+I, nil Kinds).
//
// When ProducesUpdates(t) is true the planner must treat the table as a
// retract-mode changelog, as Flink does: rows come as +I, -U, +U and -D; an
// update is -U of the old row followed by +U of the new one in the same
// subtask (the two may fall in different batches); -U and -D retract one
// copy of a row added earlier. Consumers must therefore accept updating
// input (aggregates in retract mode, joins that retract, a sink whose
// AcceptsUpdates is true). A PRIMARY KEY declared on the table (NOT
// ENFORCED) is its upsert key: the key of a versioned table for temporal
// joins, and the key changes of one row are about. Source subtasks are not
// partitioned by that key — a file or Kafka partition holds whatever
// keys were written to it — so the planner must repartition by the key
// (runtime.Keyed) before any operator that needs a key's changes in one
// subtask; the order of one key's changes is kept only within one source
// partition (Debezium and the changelog sink write a key's changes to one
// partition). The event-time column and watermark apply to all kinds:
// -U and -D rows carry the event time of the row they retract.
type UpdatingSource interface {
	Source
	ProducesUpdates(t Table) bool
}

// ProducesUpdates reports whether the source of table t, connector
// 'connector', yields an updating stream (see UpdatingSource).
func ProducesUpdates(t Table) bool {
	f, ok := Lookup(t.String("connector", ""))
	if !ok {
		return false
	}
	u, ok := f.(UpdatingSource)
	return ok && u.ProducesUpdates(t)
}

// KeyedSource is a source connector whose records are partitioned by
// some of the table's columns: PartitionKey returns those columns of table
// t, by name as the schema spells them, in the order they make the record
// key (nil: the partitioning is not known). All rows with equal values of
// them are in one partition of the source's input — for Kafka, the topic is
// keyed by them and partitioned by the default partitioner (murmur2 of the
// key) — so the planner need not repartition rows keyed by a superset of
// them when processes share the input's partitions
// (runtime.EdgeSpec.KeyedByInput).
type KeyedSource interface {
	Source
	PartitionKey(t Table) ([]string, error)
}

// PartitionKey returns the partition key of the source of table t (see
// KeyedSource): nil for a connector that is not a KeyedSource or does not
// know it; an error names the option that declares it.
func PartitionKey(t Table) ([]string, error) {
	f, ok := Lookup(t.String("connector", ""))
	if !ok {
		return nil, nil
	}
	k, ok := f.(KeyedSource)
	if !ok {
		return nil, nil
	}
	return k.PartitionKey(t)
}

// UpsertSource is an UpdatingSource whose rows are upserts rather than a
// retract-mode changelog: a +U row is the latest row of its PRIMARY KEY
// (whether or not the key was seen before), a -D row deletes its key (only
// the key columns are set). The planner repartitions such a source by the
// key and normalizes it (operators/normalize: -U of the row held, then +U)
// before any other operator, as Flink's ChangelogNormalize.
type UpsertSource interface {
	UpdatingSource
	ProducesUpserts(t Table) bool
}

// ProducesUpserts reports whether the source of table t yields upserts
// (see UpsertSource).
func ProducesUpserts(t Table) bool {
	f, ok := Lookup(t.String("connector", ""))
	if !ok {
		return false
	}
	u, ok := f.(UpsertSource)
	return ok && u.ProducesUpserts(t)
}

// CheckUpdates returns the error of a source of table t that produces an
// updating stream for a caller that did not set t.Updates.
func CheckUpdates(t Table, produces bool) error {
	if !produces || t.Updates {
		return nil
	}
	return OptionErrorf(t.Name, "format", "%s is an updating stream (rows +I, -U, +U, -D), and this reader does not take updating sources yet",
		t.String("format", ""))
}

// DebeziumOptions are the options of 'format' = 'debezium-json' of a
// source, as Flink's.
var DebeziumOptions = []Option{
	{Key: "debezium-json.schema-include", Type: Bool, Default: "false", Use: SourceOnly, With: "format=debezium-json",
		Doc: "each event is the `payload` of `{\"schema\":…,\"payload\":…}` (Kafka Connect's JSON converter with schemas enabled)"},
	{Key: "debezium-json.ignore-parse-errors", Type: Bool, Default: "false", Use: SourceOnly, With: "format=debezium-json",
		Doc: "skip an event that cannot be decoded without reporting it as a bad record (Flink nulls the bad fields; here the event is skipped)"},
}

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
	aliases  = map[string]string{} // alias → name
)

// Register makes a connector available by its name. It is called from the
// init function of each connector package; registering a name twice panics.
func Register(f Factory) {
	mu.Lock()
	defer mu.Unlock()
	name := strings.ToLower(f.Name())
	if _, dup := registry[name]; dup {
		panic("connectors: " + name + " registered twice")
	}
	registry[name] = f
}

// RegisterAlias makes alias another name of the connector registered as
// target (e.g. Flink's name for it): Lookup finds it, Names does not list
// it. It is called from init functions; a name taken twice panics.
func RegisterAlias(alias, target string) {
	mu.Lock()
	defer mu.Unlock()
	alias = strings.ToLower(alias)
	if _, dup := registry[alias]; dup || aliases[alias] != "" {
		panic("connectors: " + alias + " registered twice")
	}
	aliases[alias] = strings.ToLower(target)
}

// Lookup returns the connector called name (or one of its aliases).
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	name = strings.ToLower(name)
	if target, ok := aliases[name]; ok {
		name = target
	}
	f, ok := registry[name]
	return f, ok
}

// Names returns the registered connector names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckOptions returns an error for an option f does not know (naming the
// nearest known option and listing the valid ones) or a required option
// that is missing.
func CheckOptions(f Factory, opts map[string]string) error {
	known := f.Options()
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := CheckOption(f, k); err != nil {
			return err
		}
	}
	for _, o := range known {
		if o.Required && o.With == "" && !strings.Contains(o.Key, "<") {
			if _, ok := opts[o.Key]; !ok {
				return fmt.Errorf("connector %q needs option %q: %s", f.Name(), o.Key, o.Doc)
			}
		}
	}
	return nil
}

// CheckOption returns an error when f has no option key, naming the
// nearest known option and listing the valid ones. also are keys taken
// besides f's own (options the planner reads): they are suggested and
// listed too, not checked.
func CheckOption(f Factory, key string, also ...string) error {
	known := f.Options()
	if key == "connector" || matchesAny(known, key) {
		return nil
	}
	var keys []string
	for _, o := range known {
		keys = append(keys, o.Key)
	}
	keys = append(keys, also...)
	msg := fmt.Sprintf("connector %q has no option %q", f.Name(), key)
	msg += suggest.Hint(key, instantiate(keys, key))
	if len(keys) == 0 {
		return fmt.Errorf("%s; it takes no options", msg)
	}
	return fmt.Errorf("%s; its options: %s", msg, strings.Join(keys, ", "))
}

// instantiate returns keys with each pattern's <x> segments taken from
// key where it has as many segments ("fields.<f>.kind" for
// "fields.a.knd" is "fields.a.kind"), so that "did you mean" names the
// option as the table would write it.
func instantiate(keys []string, key string) []string {
	parts := strings.Split(key, ".")
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k
		kp := strings.Split(k, ".")
		if !strings.Contains(k, "<") || len(kp) != len(parts) {
			continue
		}
		for j, p := range kp {
			if strings.HasPrefix(p, "<") && strings.HasSuffix(p, ">") && parts[j] != "" {
				kp[j] = parts[j]
			}
		}
		out[i] = strings.Join(kp, ".")
	}
	return out
}

func matchesAny(known []Option, key string) bool {
	for _, o := range known {
		if matchPattern(o.Key, key) {
			return true
		}
	}
	return false
}

// matchPattern matches key against a pattern where <x> stands for one
// non-empty dot-free segment.
func matchPattern(pattern, key string) bool {
	for {
		i := strings.Index(pattern, "<")
		if i < 0 {
			return pattern == key
		}
		if !strings.HasPrefix(key, pattern[:i]) {
			return false
		}
		j := strings.Index(pattern[i:], ">")
		if j < 0 {
			return false
		}
		pattern, key = pattern[i+j+1:], key[i:]
		// The segment runs to the next dot (or the end).
		k := strings.IndexByte(key, '.')
		if pattern == "" {
			return k < 0 && key != ""
		}
		if k <= 0 {
			return false
		}
		key = key[k:]
	}
}

// Option accessors with errors that name the option.

// String returns option key or def.
func (t Table) String(key, def string) string {
	if v, ok := t.Options[key]; ok {
		return v
	}
	return def
}

// Int returns option key parsed as an integer, or def when absent.
func (t Table) Int(key string, def int64) (int64, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("table %s: option %q: %q is not an integer", t.Name, key, v)
	}
	return n, nil
}

// Bool returns option key parsed as true/false, or def when absent.
func (t Table) Bool(key string, def bool) (bool, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("table %s: option %q: %q is not true or false", t.Name, key, v)
}

// Duration returns option key parsed as a duration ("500ms", "10s", "1 min"
// and Flink's "10 s" forms), or def when absent.
func (t Table) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := t.Options[key]
	if !ok {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("table %s: option %q: %v", t.Name, key, err)
	}
	return d, nil
}

// ParseSize parses a size as Flink's MemorySize does: a number of bytes
// with an optional unit (b, kb, mb, gb, tb, or k, m, g, t, kib, mib, …;
// powers of 1024, any case, spaces allowed).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 128MB, 512kb, 1048576)", s)
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	shift := map[string]uint{"": 0, "b": 0, "bytes": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
		"g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("%q is not a size (e.g. 128MB, 512kb, 1048576)", s)
	}
	if n <= 0 || n > (1<<62)>>sh {
		return 0, &RangeError{Value: s, Min: sizeMin, Max: sizeMax}
	}
	return n << sh, nil
}

// ParseStartTime reads the start of a generator's row clock: RFC 3339
// ("2026-01-01T00:00:00Z"), the SQL form Sluice prints ("2026-01-01
// 00:00:00.000", UTC) or "now" (the wall clock when the job is planned: a
// generator whose row clock moves as fast as the wall clock then keeps
// event time up with it), into epoch milliseconds.
func ParseStartTime(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "now") {
		return time.Now().UnixMilli(), nil
	}
	if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return ts.UnixMilli(), nil
	}
	if ts, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
		return ts.UnixMilli(), nil
	}
	return 0, fmt.Errorf("%q is neither 'now' nor a time in RFC 3339 form (e.g. 2026-01-01T00:00:00Z)", s)
}

// ParseDuration parses Go durations ("1m30s") and Flink's forms ("10 s",
// "500 ms", "1 min", "2 h", "1 d"); a bare number is milliseconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok && rest != "" && rest[0] != '-' {
		// -1 s: a duration, negative, which a range refuses as such.
		if d, err := ParseDuration(rest); err == nil {
			return -d, nil
		}
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || i == 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 10 s, 1 min)", s)
	}
	units := map[string]time.Duration{
		"": time.Millisecond, "ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}
	u, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 10 s, 1 min)", s)
	}
	if d := n * float64(u); d < math.MaxInt64 {
		return time.Duration(d), nil
	}
	return 0, &RangeError{Value: s, Max: durationMax}
}
