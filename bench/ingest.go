package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	_ "github.com/sluicehq/sluice/connectors/file" // registers 'file'
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// The ingest workload is the workload written to a JSON-lines file, one
// event per line in event order:
//
//	{"k":4711,"v":123,"ts":"2023-11-14 22:13:20.123"}
//
// The time is a string in SQL's TIMESTAMP literal form (UTC, milliseconds):
// what a TIMESTAMP(3) column declares naturally (Flink's JSON format reads
// the same form), and the string form the file connector's JSON decoder
// reads fastest (no zone to parse). It is read back two ways: by the file
// connector in a SQL job (RunFileSQL), and by a hand-written
// single-goroutine parser with a Go map (RunHandParser). Both must give
// RunLoop's checksum.

// WriteJSONLines writes w's events to path as JSON lines.
func WriteJSONLines(path string, w Workload) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for i := int64(0); i < w.Events; i++ {
		k, ts, v := w.Event(i)
		line = appendEventJSON(line[:0], k, ts, v)
		if _, err := bw.Write(line); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	// Written through to the disk now, so that the write-back of the file's
	// pages does not run during the timed reads that follow.
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// appendEventJSON appends one event's line, newline included.
func appendEventJSON(b []byte, k, ts, v int64) []byte {
	b = append(b, `{"k":`...)
	b = strconv.AppendInt(b, k, 10)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, v, 10)
	b = append(b, `,"ts":"`...)
	b = appendTimestamp(b, ts)
	return append(b, "\"}\n"...)
}

// appendTimestamp appends epoch milliseconds ms (after 1970) as
// YYYY-MM-DD HH:MM:SS.mmm in UTC.
func appendTimestamp(b []byte, ms int64) []byte {
	days, rem := ms/86_400_000, ms%86_400_000
	y, m, d := civilFromDays(days)
	b = appendDigits(b, y, 4)
	b = append(b, '-')
	b = appendDigits(b, m, 2)
	b = append(b, '-')
	b = appendDigits(b, d, 2)
	b = append(b, ' ')
	b = appendDigits(b, rem/3_600_000, 2)
	b = append(b, ':')
	b = appendDigits(b, rem/60_000%60, 2)
	b = append(b, ':')
	b = appendDigits(b, rem/1000%60, 2)
	b = append(b, '.')
	return appendDigits(b, rem%1000, 3)
}

func appendDigits(b []byte, v int64, n int) []byte {
	var buf [20]byte
	for i := n - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, buf[:n]...)
}

// civilFromDays returns the proleptic Gregorian date of a day number
// (days since 1970-01-01), counting in 400-year eras of 146,097 days.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719_468 // days from 0000-03-01 to 1970-01-01
	era := z / 146_097
	if z < 0 && z%146_097 != 0 {
		era--
	}
	doe := z - era*146_097                                   // day of the era
	yoe := (doe - doe/1460 + doe/36_524 - doe/146_096) / 365 // year of the era
	doy := doe - (365*yoe + yoe/4 - yoe/100)                 // day of the year, from March 1
	mp := (5*doy + 2) / 153                                  // month, from March
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is civilFromDays's inverse.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146_097 + doe - 719_468
}

// RunHandParser reads the file WriteJSONLines wrote for w the way one
// writes it by hand for speed, in one goroutine: a bufio.Reader of 1 MiB,
// each line scanned byte by byte for its three fields (any order, no
// encoding/json), the time parsed digit by digit, and RunLoop's Go map of
// accumulators per open window closed by the same watermark rule. It is
// the peer RunFileSQL is measured against. It returns ctx.Err() soon after
// ctx ends.
func RunHandParser(ctx context.Context, path string, w Workload) (Result, error) {
	type acc struct{ count, sum int64 }
	m := startMeter()
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	size := w.Window.Milliseconds()
	open := map[int64]map[int64]acc{}
	var check Checksum
	maxTs := int64(-1 << 62)
	nextFire := int64(1 << 62) // earliest end-1 of an open window
	var events int64
	for lineNo := int64(1); ; lineNo++ {
		line, err := r.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return Result{}, fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
		if lineNo&(checkEvery-1) == 0 && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		k, ts, v, ok := parseEventLine(line)
		if !ok {
			return Result{}, fmt.Errorf("%s:%d: not an event: %q", path, lineNo, line)
		}
		events++
		ws := ts - ts%size
		m := open[ws]
		if m == nil {
			m = make(map[int64]acc)
			open[ws] = m
			nextFire = min(nextFire, ws+size-1)
		}
		a := m[k]
		a.count++
		a.sum += v
		m[k] = a
		if ts > maxTs {
			maxTs = ts
			if wm := maxTs - bound.Milliseconds() - 1; wm >= nextFire {
				nextFire = 1 << 62
				for s, m := range open {
					if s+size-1 <= wm {
						for _, a := range m {
							check.add(a.count, a.sum)
						}
						delete(open, s)
					} else {
						nextFire = min(nextFire, s+size-1)
					}
				}
			}
		}
	}
	for _, m := range open {
		for _, a := range m {
			check.add(a.count, a.sum)
		}
	}
	wall, cpu := m.stop()
	return Result{Name: "hand-written parser", Events: events, Elapsed: wall, CPU: cpu, Check: check}, nil
}

// parseEventLine scans one line {"k":…,"v":…,"ts":"…"} (fields in any
// order, spaces allowed around tokens, a final "\n" or "\r\n").
func parseEventLine(s []byte) (k, ts, v int64, ok bool) {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return 0, 0, 0, false
	}
	var seen uint8
	for {
		i = skipSpace(s, i+1)
		if i >= len(s) || s[i] != '"' {
			return 0, 0, 0, false
		}
		j := i + 1
		for j < len(s) && s[j] != '"' {
			j++
		}
		if j >= len(s) {
			return 0, 0, 0, false
		}
		key := s[i+1 : j]
		i = skipSpace(s, j+1)
		if i >= len(s) || s[i] != ':' {
			return 0, 0, 0, false
		}
		i = skipSpace(s, i+1)
		switch {
		case len(key) == 1 && key[0] == 'k':
			k, i, ok = scanInt(s, i)
			seen |= 1
		case len(key) == 1 && key[0] == 'v':
			v, i, ok = scanInt(s, i)
			seen |= 2
		case len(key) == 2 && key[0] == 't' && key[1] == 's':
			ts, i, ok = scanTimestamp(s, i)
			seen |= 4
		default:
			return 0, 0, 0, false
		}
		if !ok {
			return 0, 0, 0, false
		}
		i = skipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			continue
		}
		if i < len(s) && s[i] == '}' && seen == 7 {
			return k, ts, v, true
		}
		return 0, 0, 0, false
	}
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// scanInt scans a decimal integer of at most 18 digits at s[i:].
func scanInt(s []byte, i int) (v int64, end int, ok bool) {
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 18 {
		v = v*10 + int64(s[i]-'0')
		i++
	}
	if i == start || i < len(s) && s[i] >= '0' && s[i] <= '9' {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// scanTimestamp scans "YYYY-MM-DD HH:MM:SS.mmm" (quotes included) at s[i:]
// as epoch milliseconds.
func scanTimestamp(s []byte, i int) (ms int64, end int, ok bool) {
	const n = len(`"2023-11-14 22:13:20.123"`)
	if i+n > len(s) || s[i] != '"' || s[i+n-1] != '"' {
		return 0, i, false
	}
	t := s[i+1 : i+n-1]
	num := func(a, b int) int64 {
		var v int64
		for _, c := range t[a:b] {
			if c < '0' || c > '9' {
				ok = false
			}
			v = v*10 + int64(c-'0')
		}
		return v
	}
	ok = t[4] == '-' && t[7] == '-' && t[10] == ' ' && t[13] == ':' && t[16] == ':' && t[19] == '.'
	y, mo, d := num(0, 4), num(5, 7), num(8, 10)
	h, mi, sec, frac := num(11, 13), num(14, 16), num(17, 19), num(20, 23)
	if !ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return 0, i, false
	}
	ms = daysFromCivil(y, mo, d)*86_400_000 + h*3_600_000 + mi*60_000 + sec*1000 + frac
	return ms, i + n, true
}

// FileSQLJob returns the ingest workload as a SQL job reading path: a
// JSON-lines file table and the keyed tumbling COUNT+SUM as a bare SELECT,
// whose rows (k, window_start, window_end, n, s) go to the collecting sink
// of sql.Options.Collect.
func (w Workload) FileSQLJob(path string) string { return w.fileSQLJob(path, "") }

// fileSQLJob is FileSQLJob with the file table's 'source.split-size' when
// split is not empty.
func (w Workload) fileSQLJob(path, split string) string {
	opt := ""
	if split != "" {
		opt = fmt.Sprintf(",\n  'source.split-size' = '%s'", split)
	}
	win := fmt.Sprintf("INTERVAL '%d' MILLISECOND", w.Window.Milliseconds())
	return fmt.Sprintf(`CREATE TABLE events (
  k  BIGINT,
  v  BIGINT,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND
) WITH (
  'connector' = 'file',
  'path' = '%s',
  'format' = 'json'%[4]s
);
SELECT k, TUMBLE_START(ts, %[3]s), TUMBLE_END(ts, %[3]s), COUNT(*), SUM(v)
FROM events
GROUP BY k, TUMBLE(ts, %[3]s);
`, bound.Milliseconds(), strings.ReplaceAll(path, "'", "''"), win, opt)
}

// RunFileSQL runs w.FileSQLJob(path) — the file written by WriteJSONLines
// for w — at the given parallelism, compiled with sql.Compile and run by
// the runtime as `sluice run` does, its results folded into the checksum
// by a one-subtask sink. The time includes compiling the job. It returns
// ctx.Err() when ctx ends first.
func RunFileSQL(ctx context.Context, path string, w Workload, parallelism int) (Result, error) {
	return runFileSQL(ctx, path, w, parallelism, "")
}

func runFileSQL(ctx context.Context, path string, w Workload, parallelism int, split string) (Result, error) {
	var results, count, sum atomic.Int64
	set := metrics.NewSet()
	m := startMeter()
	plan, err := sql.Compile(w.fileSQLJob(path, split), sql.Options{File: "bench_file.sql", Parallelism: parallelism, Metrics: set,
		Collect: func(*rt.Schema, bool) func() rt.Operator {
			return func() rt.Operator { return &checksumSink{results: &results, count: &count, sum: &sum} }
		}})
	if err != nil {
		return Result{}, err
	}
	if plan.Graph == nil {
		return Result{}, errors.New("bench: the file SQL job has no query")
	}
	if err := rt.Run(ctx, plan.Graph, rt.Options{Parallelism: parallelism, Metrics: set}); err != nil {
		return Result{}, err
	}
	wall, cpu := m.stop()
	return Result{Name: "sluice SQL (file)", Events: w.Events, Elapsed: wall, CPU: cpu,
		Check: Checksum{Results: results.Load(), Count: count.Load(), Sum: sum.Load()}}, nil
}
