package file

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// DefaultPartitionName is the folder value of a NULL or empty partition
// value, as Hive's and Flink's ('partition.default-name').
const DefaultPartitionName = "__DEFAULT_PARTITION__"

// Partition commit triggers.
const (
	triggerProcessTime   = "process-time"
	triggerPartitionTime = "partition-time"
)

// escapePartitionValue appends v to dst escaped as Hive escapes a
// partition value in a path (FileUtils.escapePathName): control
// characters and " # % ' * / : = ? \ DEL { [ ] ^ become %XX (upper-case
// hex).
func escapePartitionValue(dst []byte, v string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(`"#%'*/:=?\{[]^`, c) >= 0 {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// unescapePartitionValue reverses escapePartitionValue.
func unescapePartitionValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b []byte
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			if n, err := strconv.ParseUint(v[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(n))
				i += 2
				continue
			}
		}
		b = append(b, v[i])
	}
	return string(b)
}

// appendPartitionValue appends the text of row r of v as a partition
// value: NULL (and the empty string) as DefaultPartitionName, TIMESTAMP
// as 2015-07-15 10:02:00.000 (UTC), DOUBLE as runtime.FormatFloat.
func appendPartitionValue(dst []byte, v *runtime.Vector, r int) []byte {
	if v.IsNull(r) {
		return append(dst, DefaultPartitionName...)
	}
	switch v.Type {
	case runtime.Varchar:
		if v.Str[r] == "" {
			return append(dst, DefaultPartitionName...)
		}
		return escapePartitionValue(dst, v.Str[r])
	case runtime.Double:
		return escapePartitionValue(dst, runtime.FormatFloat(v.F64[r]))
	case runtime.Boolean:
		return strconv.AppendBool(dst, v.I64[r] != 0)
	case runtime.Timestamp:
		return escapePartitionValue(dst, time.UnixMilli(v.I64[r]).UTC().Format("2006-01-02 15:04:05.000"))
	}
	return strconv.AppendInt(dst, v.I64[r], 10)
}

// partitionValues returns the values of a partition folder
// (k1=v1/k2=v2), unescaped.
func partitionValues(rel string) map[string]string {
	out := map[string]string{}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		if k, v, ok := strings.Cut(seg, "="); ok {
			out[strings.ToLower(k)] = unescapePartitionValue(v)
		}
	}
	return out
}

// timeExtractor is partition.time-extractor.timestamp-pattern: the
// pattern with $column placeholders, filled with a partition's values and
// parsed as yyyy-MM-dd[ HH:mm:ss[.SSS]] (one or two digits for every field
// but the year), in UTC.
type timeExtractor struct {
	pattern string
	keys    []string // the partition keys, lower case, longest first
}

func newTimeExtractor(pattern string, keys []string) (*timeExtractor, error) {
	e := &timeExtractor{pattern: pattern}
	for _, k := range keys {
		e.keys = append(e.keys, strings.ToLower(k))
	}
	sort.SliceStable(e.keys, func(i, j int) bool { return len(e.keys[i]) > len(e.keys[j]) })
	if pattern == "" {
		return nil, fmt.Errorf("the pattern is empty")
	}
	// Every $name must be a partition key.
	rest := pattern
	for {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		ok := false
		for _, k := range e.keys {
			if len(rest) >= len(k) && strings.EqualFold(rest[:len(k)], k) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("%q: $ must be followed by a partition column (%s)", pattern, strings.Join(keys, ", "))
		}
	}
	return e, nil
}

// extract returns the time of the partition folder rel, in milliseconds.
func (e *timeExtractor) extract(rel string) (int64, error) {
	vals := partitionValues(rel)
	var b strings.Builder
	rest := e.pattern
	for rest != "" {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		rest = rest[i+1:]
		for _, k := range e.keys {
			if len(rest) >= len(k) && strings.EqualFold(rest[:len(k)], k) {
				b.WriteString(vals[k])
				rest = rest[len(k):]
				break
			}
		}
	}
	ms, err := parseLocalTimestamp(b.String())
	if err != nil {
		return 0, fmt.Errorf("partition %s: partition.time-extractor.timestamp-pattern %q gives %q, not a timestamp (yyyy-MM-dd[ HH:mm:ss])",
			rel, e.pattern, b.String())
	}
	return ms, nil
}

// parseLocalTimestamp parses y-M-d[ H:m[:s[.fff]]] (or a T between date
// and time) as UTC milliseconds.
func parseLocalTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q is not a timestamp", s)
	date, clock, hasClock := strings.Cut(s, " ")
	if !hasClock {
		date, clock, hasClock = strings.Cut(s, "T")
	}
	num := func(p string, maxLen int) (int, bool) {
		if p == "" || len(p) > maxLen {
			return 0, false
		}
		n, err := strconv.Atoi(p)
		return n, err == nil && n >= 0
	}
	d := strings.Split(date, "-")
	if len(d) != 3 {
		return 0, bad
	}
	y, ok1 := num(d[0], 4)
	mo, ok2 := num(d[1], 2)
	day, ok3 := num(d[2], 2)
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || day < 1 || day > 31 {
		return 0, bad
	}
	var h, mi, sec, ms int
	if hasClock {
		frac := ""
		clock, frac, _ = strings.Cut(strings.TrimSpace(clock), ".")
		c := strings.Split(clock, ":")
		if len(c) < 2 || len(c) > 3 {
			return 0, bad
		}
		var ok bool
		if h, ok = num(c[0], 2); !ok || h > 23 {
			return 0, bad
		}
		if mi, ok = num(c[1], 2); !ok || mi > 59 {
			return 0, bad
		}
		if len(c) == 3 {
			if sec, ok = num(c[2], 2); !ok || sec > 59 {
				return 0, bad
			}
		}
		if frac != "" {
			f, ok := num(frac, 9)
			if !ok {
				return 0, bad
			}
			for i := len(frac); i < 3; i++ {
				f *= 10
			}
			for i := len(frac); i > 3; i-- {
				f /= 10
			}
			ms = f
		}
	}
	t := time.Date(y, time.Month(mo), day, h, mi, sec, ms*int(time.Millisecond), time.UTC)
	if t.Day() != day {
		return 0, bad
	}
	return t.UnixMilli(), nil
}

// committer commits the partitions of one run of a partitioned sink, for
// all its subtasks: it writes a partition's success file once every
// subtask has published its files of the partition.
//
// With trigger partition-time a partition is due once the watermark of
// every subtask — each reports the watermark up to which its rows are
// published — is past the partition's time plus the delay. With
// process-time it is due when its creation plus the delay has passed and
// every subtask that wrote to it has published its files of it. At the end
// of input (every subtask ended) every partition is committed.
type committer struct {
	cfg *config

	mu     sync.Mutex
	opened bool
	par    int
	wm     []int64 // per subtask: its rows up to this watermark are published
	ended  []bool
	parts  map[string]*commitPart
}

// commitPart is a partition the committer knows.
type commitPart struct {
	at        int64 // commit time: partition time (or creation) + delay
	writers   map[int]bool
	done      map[int]bool
	committed bool
}

// open makes subtask of par a member of the run.
func (c *committer) open(subtask, par int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.opened {
		c.opened, c.par = true, par
		c.wm = make([]int64, par)
		for i := range c.wm {
			c.wm[i] = math.MinInt64
		}
		c.ended = make([]bool, par)
		c.parts = map[string]*commitPart{}
	}
	if par != c.par || subtask < 0 || subtask >= par {
		return fmt.Errorf("table %s: sink subtask %d of %d opened in a run of %d subtasks", c.cfg.table, subtask, par, c.par)
	}
	return nil
}

func (c *committer) isOpened() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened
}

// register records that subtask writes (again) to partition rel, whose
// commit time is at unless the partition is known already; it returns
// the partition's commit time.
func (c *committer) register(subtask int, rel string, at int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[rel]
	if p == nil {
		p = &commitPart{at: at, writers: map[int]bool{}, done: map[int]bool{}}
		c.parts[rel] = p
	}
	p.writers[subtask] = true
	delete(p.done, subtask)
	p.committed = false
	return p.at
}

// isCommitted reports whether partition rel is committed.
func (c *committer) isCommitted(rel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[rel]
	return p == nil || p.committed
}

// report is what a subtask tells the committer once the files it wrote
// so far are published: the watermark they cover (partition-time), the
// partitions it is done with (process-time), or the end of its input.
type report struct {
	wm   int64
	done []string
	end  bool
}

// report takes a subtask's report and commits the partitions that are due.
func (c *committer) report(subtask int, r report) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.end {
		c.ended[subtask] = true
		r.wm = math.MaxInt64
	}
	c.wm[subtask] = max(c.wm[subtask], r.wm)
	for _, rel := range r.done {
		if p := c.parts[rel]; p != nil {
			p.done[subtask] = true
		}
	}
	allEnded := !slices.Contains(c.ended, false)
	minWM := slices.Min(c.wm)
	var due []string
	for rel, p := range c.parts {
		if p.committed {
			continue
		}
		ok := allEnded
		switch {
		case ok:
		case c.cfg.trigger == triggerPartitionTime:
			ok = minWM > p.at
		default:
			ok = len(p.writers) > 0
			for w := range p.writers {
				ok = ok && p.done[w]
			}
		}
		if ok {
			due = append(due, rel)
		}
	}
	sort.Strings(due)
	for _, rel := range due {
		if err := c.commit(rel); err != nil {
			return err
		}
		c.parts[rel].committed = true
	}
	return nil
}

// commit writes the success file of partition rel. The caller holds mu.
func (c *committer) commit(rel string) error {
	dir := filepath.Join(c.cfg.path, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("table %s: cannot commit partition %s: %w", c.cfg.table, rel, err)
	}
	if err := writeSynced(filepath.Join(dir, c.cfg.successFile), nil); err != nil {
		return fmt.Errorf("table %s: cannot commit partition %s: %w", c.cfg.table, rel, err)
	}
	return syncDir(dir)
}
