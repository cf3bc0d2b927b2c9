package datagen_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// schema has one column of every type; i is meant to be a sequence that
// numbers the rows.
var schema = runtime.NewSchema(
	runtime.Field{Name: "i", Type: runtime.BigInt},
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "n", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "b", Type: runtime.Boolean},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

const (
	colI = iota
	colK
	colN
	colD
	colS
	colB
	colTS
)

// start is the default start of TIMESTAMP columns, 2026-01-01T00:00:00Z.
var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func factory(t testing.TB) connectors.Source {
	t.Helper()
	f, ok := connectors.Lookup("datagen")
	if !ok {
		t.Fatal("datagen is not registered")
	}
	return f.(connectors.Source)
}

func newSource(t testing.TB, s *runtime.Schema, opts map[string]string) (func() runtime.Source, error) {
	t.Helper()
	newSrc, par, err := factory(t).NewSource(connectors.Table{Name: "gen", Schema: s, Options: opts, TimeColumn: -1})
	if err == nil && par != 0 {
		t.Fatalf("parallelism %d, want 0 (the job's)", par)
	}
	return newSrc, err
}

// opts returns options given as key, value, key, value…
func opts(kv ...string) map[string]string {
	m := map[string]string{"connector": "datagen"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// run runs datagen → collector with par subtasks and returns the rows.
func run(t *testing.T, s *runtime.Schema, o map[string]string, par int) [][]runtime.Value {
	t.Helper()
	newSrc, err := newSource(t, s, o)
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(s)
	g := runtime.NewGraph("datagen")
	src := g.AddSource("gen", s, par, newSrc, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("sink", s, par, 1, sink), runtime.Forward)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
	return c.Rows()
}

// byIndex orders rows by their column i (a sequence numbering them) and
// checks that they are rows 0 … n-1, once each.
func byIndex(t *testing.T, rows [][]runtime.Value) [][]runtime.Value {
	t.Helper()
	out := make([][]runtime.Value, len(rows))
	for _, r := range rows {
		i := r[colI].I
		if i < 0 || i >= int64(len(rows)) || out[i] != nil {
			t.Fatalf("row %d is out of range or twice among %d rows", i, len(rows))
		}
		out[i] = r
	}
	return out
}

func TestOptionErrors(t *testing.T) {
	f := func(o map[string]string, want string) {
		t.Helper()
		_, err := newSource(t, schema, o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got error %v, want %q", o, err, want)
		}
	}
	f(opts("number-of-row", "5"), `table gen: connector "datagen" has no option "number-of-row" (did you mean "number-of-rows"?); its options: number-of-rows, rows-per-second, seed, fields.<f>.kind`)
	f(opts("fields.k.knd", "random"), `has no option "fields.k.knd" (did you mean "fields.k.kind"?)`)
	f(opts("number-of-rows", "ten"), `table gen: option "number-of-rows": "ten" is not an integer`)
	f(opts("number-of-rows", "-1"), `table gen: option "number-of-rows": "-1" must be at least 0`)
	f(opts("rows-per-second", "fast"), `table gen: option "rows-per-second": "fast" is not a number`)
	f(opts("rows-per-second", "0"), `table gen: option "rows-per-second": want a positive number of rows, got 0 (leave it out for no limit)`)
	f(opts("rows-per-second", "+Inf"), `option "rows-per-second": "+Inf" is not a number`)
	f(opts("seed", "0x"), `table gen: option "seed": "0x" is not an integer`)
	f(opts("fields.k.min", "low"), `table gen: option "fields.k.min": "low" is not an integer`)
	f(opts("fields.d.max", "high"), `table gen: option "fields.d.max": "high" is not a number`)
	f(opts("fields.d.max", "NaN"), `table gen: option "fields.d.max": "NaN" is not a number`)
	f(opts("fields.k.min", "10", "fields.k.max", "5"), `table gen: option "fields.k.min": min 10 is greater than max 5`)
	f(opts("fields.d.min", "2"), `table gen: option "fields.d.min": min 2 is greater than max 1`)
	f(opts("fields.n.max", "3000000000"), `table gen: option "fields.n.max": "3000000000" must be between -2147483648 and 2147483647`)
	f(opts("fields.k.kind", "constant"), `table gen: option "fields.k.kind": "constant" is not one of random, sequence`)
	f(opts("fields.s.kind", "sequence"), `table gen: option "fields.s.kind": a sequence must be INT, BIGINT or TIMESTAMP; column s is VARCHAR`)
	f(opts("fields.d.kind", "sequence"), `column d is DOUBLE`)
	f(opts("fields.b.kind", "sequence"), `column b is BOOLEAN`)
	f(opts("fields.k.kind", "sequence", "fields.k.min", "1"), `table gen: option "fields.k.min": not an option of a sequence BIGINT column (those are: kind, start, end, null-rate)`)
	f(opts("fields.k.start", "1"), `table gen: option "fields.k.start": not an option of a random BIGINT column (those are: kind, min, max, null-rate)`)
	f(opts("fields.k.length", "5"), `option "fields.k.length": not an option of a random BIGINT column`)
	f(opts("fields.b.min", "0"), `option "fields.b.min": not an option of a random BOOLEAN column (those are: kind, null-rate)`)
	f(opts("fields.s.max", "9"), `option "fields.s.max": not an option of a random VARCHAR column (those are: kind, length, null-rate)`)
	f(opts("fields.k.max-past", "1s"), `option "fields.k.max-past": not an option of a random BIGINT column`)
	f(opts("fields.ts.end", "2026-01-02T00:00:00Z"), `option "fields.ts.end": not an option of a random TIMESTAMP(3) column (those are: kind, start, step, max-past, null-rate)`)
	f(opts("fields.k.kind", "sequence", "fields.k.start", "5", "fields.k.end", "1"), `table gen: option "fields.k.start": start 5 is after end 1`)
	f(opts("fields.n.kind", "sequence", "fields.n.end", "2147483648"), `option "fields.n.end": "2147483648" must be between -2147483648 and 2147483647`)
	f(opts("fields.s.length", "-1"), `table gen: option "fields.s.length": "-1" must be between 0 and 16384`)
	f(opts("fields.s.length", "long"), `option "fields.s.length": "long" is not an integer`)
	f(opts("fields.s.null-rate", "1.5"), `table gen: option "fields.s.null-rate": "1.5" must be between 0 and 1`)
	f(opts("fields.s.null-rate", "NaN"), `option "fields.s.null-rate": "NaN" is not a number`)
	f(opts("fields.k.null-rate", "0.1"), `table gen: option "fields.k.null-rate": column k is NOT NULL`)
	f(opts("fields.ts.max-past", "-1s"), `table gen: option "fields.ts.max-past": "-1s" must be at least 0`)
	f(opts("fields.ts.max-past", "soon"), `table gen: option "fields.ts.max-past": "soon" is not a duration`)
	f(opts("fields.ts.start", "yesterday"), `table gen: option "fields.ts.start": "yesterday" is neither 'now' nor a time in RFC 3339 form (e.g. 2026-01-01T00:00:00Z)`)
	f(opts("fields.ts.step", "0"), `table gen: option "fields.ts.step": "0" must be at least 1ns`)
	f(opts("fields.xyz.kind", "random"), `table gen: option "fields.xyz.kind": no column "xyz"; columns: i, k, n, d, s, b, ts`)
	f(opts("fields.kk.min", "1"), `option "fields.kk.min": no column "kk" (did you mean "k"?)`)
	f(opts("fields.K.min", "1", "fields.k.min", "2"), `table gen: options "fields.K.min" and "fields.k.min" set the same thing`)

	if _, _, err := factory(t).NewSource(connectors.Table{Name: "empty", Schema: runtime.NewSchema()}); err == nil ||
		err.Error() != "table empty: a datagen table needs at least one column" {
		t.Fatalf("empty table: %v", err)
	}
	// Every option at once, with good values.
	_, err := newSource(t, schema, opts(
		"number-of-rows", "10", "rows-per-second", "1e6", "seed", "-3",
		"fields.i.kind", "SEQUENCE", "fields.i.start", "-5", "fields.i.end", "100",
		"fields.k.kind", "random", "fields.k.min", "-1", "fields.k.max", "1",
		"fields.n.null-rate", "1", "fields.d.min", "-1e300", "fields.d.max", "1e300",
		"fields.s.length", "0", "fields.b.null-rate", "0",
		"fields.ts.kind", "sequence", "fields.ts.start", "2026-11-25 10:00:00.250", "fields.ts.step", "10 s", "fields.ts.max-past", "1 min"))
	if err != nil {
		t.Fatal(err)
	}
}

func TestRegistered(t *testing.T) {
	var keys []string
	for _, o := range factory(t).Options() {
		keys = append(keys, o.Key)
		if o.Doc == "" || o.Default == "" && o.DefaultDoc == "" {
			t.Fatalf("option %s has no doc or no default", o.Key)
		}
	}
	want := []string{"number-of-rows", "rows-per-second", "seed", "fields.<f>.kind", "fields.<f>.min", "fields.<f>.max",
		"fields.<f>.start", "fields.<f>.end", "fields.<f>.length", "fields.<f>.null-rate", "fields.<f>.max-past", "fields.<f>.step"}
	if !slices.Equal(keys, want) {
		t.Fatalf("options %v, want %v", keys, want)
	}
}

// everything configures every column of schema, over rows rows.
func everything(rows int) map[string]string {
	return opts("number-of-rows", fmt.Sprint(rows),
		"fields.i.kind", "sequence",
		"fields.k.min", "0", "fields.k.max", "9999",
		"fields.n.null-rate", "0.1",
		"fields.d.min", "-10", "fields.d.max", "10", "fields.d.null-rate", "0.1",
		"fields.s.length", "8", "fields.s.null-rate", "0.1",
		"fields.ts.kind", "sequence", "fields.ts.max-past", "1 s")
}

// TestDeterminism: the same options give the same rows, with any number of
// subtasks; a value does not depend on the other columns of the table.
func TestDeterminism(t *testing.T) {
	const rows = 3*runtime.DefaultBatchRows + 1000
	one := rttest.Format
	var want []string
	for _, par := range []int{1, 4, 3} {
		got := byIndex(t, run(t, schema, everything(rows), par))
		var s []string
		for _, r := range got {
			s = append(s, one(r))
		}
		if want == nil {
			want = s
			continue
		}
		if !slices.Equal(s, want) {
			t.Fatalf("parallelism %d: rows differ from parallelism 1", par)
		}
	}
	if len(want) != rows {
		t.Fatalf("%d rows, want %d", len(want), rows)
	}

	// Another seed: other values, but the same sequences.
	o := everything(rows)
	o["seed"] = "1"
	other := byIndex(t, run(t, schema, o, 2))
	same := 0
	for i, r := range other {
		if one(r) == want[i] {
			same++
		}
	}
	if same != 0 {
		t.Fatalf("seed 1: %d rows equal to seed 0's", same)
	}

	// A table of two of the columns: the same values for them.
	small := runtime.NewSchema(schema.Fields[colK], schema.Fields[colI])
	part := run(t, small, opts("number-of-rows", fmt.Sprint(rows), "fields.i.kind", "sequence", "fields.k.min", "0", "fields.k.max", "9999"), 2)
	all := byIndex(t, run(t, schema, everything(rows), 2))
	for _, r := range part {
		if w := all[r[1].I][colK]; r[0] != w {
			t.Fatalf("row %d: k is %v alone, %v with the other columns", r[1].I, r[0], w)
		}
	}
}

// TestRandomBounds checks that random values keep to their ranges and fill
// them.
func TestRandomBounds(t *testing.T) {
	const rows = 20000
	rs := byIndex(t, run(t, schema, opts("number-of-rows", fmt.Sprint(rows), "fields.i.kind", "sequence",
		"fields.k.min", "-5", "fields.k.max", "5", "fields.d.min", "-2", "fields.d.max", "3",
		"fields.s.length", "20", "fields.n.null-rate", "0.25"), 2))
	ks := map[int64]int{}
	var nulls, trues, negN, posN int
	var sumD float64
	for _, r := range rs {
		k, n, d, s, b := r[colK], r[colN], r[colD], r[colS], r[colB]
		if k.I < -5 || k.I > 5 {
			t.Fatalf("k = %d out of [-5, 5]", k.I)
		}
		ks[k.I]++
		if n.Null {
			nulls++
		} else if n.I < 0 {
			negN++
		} else {
			posN++
		}
		if d.Null || d.F < -2 || d.F > 3 {
			t.Fatalf("d = %v out of [-2, 3]", d)
		}
		sumD += d.F
		if len(s.S) != 20 || strings.Trim(s.S, "0123456789abcdef") != "" {
			t.Fatalf("s = %q: want 20 hexadecimal digits", s.S)
		}
		if b.I != 0 && b.I != 1 {
			t.Fatalf("b = %d", b.I)
		}
		trues += int(b.I)
	}
	if len(ks) != 11 {
		t.Fatalf("k took %d values, want all 11 of [-5, 5]", len(ks))
	}
	if nulls < rows*20/100 || nulls > rows*30/100 {
		t.Fatalf("%d NULLs in %d rows with null-rate 0.25", nulls, rows)
	}
	if negN < rows/3 || posN < rows/3 {
		t.Fatalf("INT over its whole range: %d negative, %d positive", negN, posN)
	}
	if mean := sumD / rows; mean < 0.4 || mean > 0.6 {
		t.Fatalf("mean of d = %v, want about 0.5", mean)
	}
	if trues < rows*45/100 || trues > rows*55/100 {
		t.Fatalf("%d TRUE of %d", trues, rows)
	}

	// Defaults: DOUBLE in [0, 1], BIGINT over 64 bits, strings of 100.
	var big int
	for _, r := range run(t, schema, opts("number-of-rows", "5000"), 1) {
		if d := r[colD].F; d < 0 || d > 1 {
			t.Fatalf("d = %v out of [0, 1]", d)
		}
		if k := r[colK].I; k > math.MaxInt32 || k < math.MinInt32 {
			big++
		}
		if len(r[colS].S) != 100 {
			t.Fatalf("len(s) = %d, want 100", len(r[colS].S))
		}
	}
	if big < 4900 {
		t.Fatalf("%d BIGINTs of 5000 beyond the INT range", big)
	}

	// NULL everywhere, and empty strings.
	for _, r := range run(t, schema, opts("number-of-rows", "3000", "fields.d.null-rate", "1", "fields.s.length", "0"), 2) {
		if !r[colD].Null || r[colS].Null || r[colS].S != "" {
			t.Fatalf("row %s: want d NULL and s empty", rttest.Format(r))
		}
	}
}

func TestSequences(t *testing.T) {
	f := func(o map[string]string, par int, want string) {
		t.Helper()
		s := runtime.NewSchema(schema.Fields[colI], schema.Fields[colK], schema.Fields[colN])
		var got []string
		for _, r := range byIndex(t, run(t, s, o, par)) {
			got = append(got, fmt.Sprint(r[1].I, ":", r[2].I))
		}
		if g := strings.Join(got, " "); g != want {
			t.Fatalf("%v: got %s, want %s", o, g, want)
		}
	}
	seq := func(kv ...string) map[string]string {
		return opts(append([]string{"fields.i.kind", "sequence", "fields.k.kind", "sequence", "fields.n.kind", "sequence"}, kv...)...)
	}
	// number-of-rows wins; a sequence that runs out starts again.
	f(seq("number-of-rows", "6", "fields.k.start", "10", "fields.k.end", "12", "fields.n.start", "-1"), 2, "10:-1 11:0 12:1 10:2 11:3 12:4")
	// The shortest sequence with an end bounds the table.
	f(seq("fields.k.start", "1", "fields.k.end", "3", "fields.n.start", "7", "fields.n.end", "100"), 3, "1:7 2:8 3:9")
	// Wrapping at the type's maximum, back to start.
	f(seq("number-of-rows", "5", "fields.k.start", "9223372036854775806", "fields.n.start", "2147483646"), 1,
		"9223372036854775806:2147483646 9223372036854775807:2147483647 9223372036854775806:2147483646 9223372036854775807:2147483647 9223372036854775806:2147483646")
	// Every BIGINT: 2^64 values, no bound.
	f(seq("number-of-rows", "3", "fields.k.start", "-9223372036854775808", "fields.k.end", "9223372036854775807", "fields.n.end", "1"), 1,
		"-9223372036854775808:0 -9223372036854775807:1 -9223372036854775806:0")
	f(seq("number-of-rows", "0"), 4, "")

	// Long sequences: exact, also across blocks and subtasks.
	const rows = 5*runtime.DefaultBatchRows + 77
	for _, par := range []int{1, 4} {
		rs := byIndex(t, run(t, schema, opts("fields.i.kind", "sequence", "fields.i.end", fmt.Sprint(rows-1),
			"fields.n.kind", "sequence", "fields.n.start", "100"), par))
		if len(rs) != rows {
			t.Fatalf("parallelism %d: %d rows, want %d (the sequence's end)", par, len(rs), rows)
		}
		for i, r := range rs {
			if r[colN].I != int64(100+i) {
				t.Fatalf("row %d: n = %d, want %d", i, r[colN].I, 100+i)
			}
		}
	}
}

func TestTimestamps(t *testing.T) {
	s := runtime.NewSchema(schema.Fields[colI], schema.Fields[colTS])
	f := func(o map[string]string, want func(i int64) int64) {
		t.Helper()
		o["number-of-rows"] = "5000"
		o["fields.i.kind"] = "sequence"
		for i, r := range byIndex(t, run(t, s, o, 2)) {
			if w := want(int64(i)); r[1].I != w {
				t.Fatalf("%v: row %d at %s, want %s", o, i, r[1], runtime.FormatTimestamp(w))
			}
		}
	}
	f(opts("fields.ts.kind", "sequence"), func(i int64) int64 { return start + i })
	f(opts(), func(i int64) int64 { return start + i }) // random without max-past: the same clock
	at := time.Date(2026, 3, 1, 12, 0, 0, 5e8, time.UTC).UnixMilli()
	f(opts("fields.ts.kind", "sequence", "fields.ts.start", "2026-03-01T14:00:00.5+02:00", "fields.ts.step", "100us"),
		func(i int64) int64 { return at + i/10 })
	f(opts("fields.ts.kind", "sequence", "fields.ts.start", "2026-03-01 12:00:00.500", "fields.ts.step", "1.5ms"),
		func(i int64) int64 { return at + i*3/2 })
	f(opts("fields.ts.start", "2026-03-01 12:00:00.5", "fields.ts.step", "1 min"),
		func(i int64) int64 { return at + i*60000 })

	// max-past: each row at most that far before its clock, and out of order.
	for _, kind := range []string{"sequence", "random"} {
		rs := byIndex(t, run(t, s, opts("number-of-rows", "5000", "fields.i.kind", "sequence",
			"fields.ts.kind", kind, "fields.ts.step", "10ms", "fields.ts.max-past", "1 s"), 3))
		late, maxSeen := 0, int64(math.MinInt64)
		var lo, hi int64 = math.MaxInt64, math.MinInt64
		for i, r := range rs {
			clock, ts := start+int64(i)*10, r[1].I
			if ts > clock || ts < clock-1000 {
				t.Fatalf("%s: row %d at %d ms from its clock, want within [-1000, 0]", kind, i, ts-clock)
			}
			lo, hi = min(lo, ts-clock), max(hi, ts-clock)
			if ts < maxSeen {
				late++
			}
			maxSeen = max(maxSeen, ts)
		}
		if late < 1000 || lo > -990 || hi < -10 {
			t.Fatalf("%s: %d rows out of order, delays in [%d, %d] ms", kind, late, lo, hi)
		}
	}
}

// TestTimestampStartNow: 'fields.<f>.start' = 'now' starts the row clock at
// the wall clock when the table is planned, so that a source throttled to
// one row per step has an event time that keeps up with the wall clock (a
// live job's watermark lag reads seconds, not the days since 2026-01-01).
func TestTimestampStartNow(t *testing.T) {
	s := runtime.NewSchema(schema.Fields[colI], schema.Fields[colTS])
	for _, now := range []string{"now", " NOW "} {
		before := time.Now().UnixMilli()
		rs := byIndex(t, run(t, s, opts("number-of-rows", "3000", "fields.i.kind", "sequence",
			"fields.ts.kind", "sequence", "fields.ts.start", now, "fields.ts.step", "10ms"), 2))
		after := time.Now().UnixMilli()
		if len(rs) != 3000 {
			t.Fatalf("%q: %d rows, want 3000", now, len(rs))
		}
		row0 := rs[0][1].I
		if row0 < before || row0 > after {
			t.Fatalf("%q: row 0 at %s, want the wall clock between %s and %s", now, rs[0][1],
				runtime.FormatTimestamp(before), runtime.FormatTimestamp(after))
		}
		for i, r := range rs {
			if w := row0 + int64(i)*10; r[1].I != w {
				t.Fatalf("%q: row %d at %s, want %s", now, i, r[1], runtime.FormatTimestamp(w))
			}
		}
	}
}

// open returns subtask sub of par of a datagen table, opened.
func open(t *testing.T, o map[string]string, sub, par int) *datagen.Source {
	t.Helper()
	newSrc, err := newSource(t, schema, o)
	if err != nil {
		t.Fatal(err)
	}
	src := newSrc().(*datagen.Source)
	if err := src.Open(rttest.NewContext("gen", sub, par)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// drain polls src until io.EOF, or max batches, and returns its rows.
func drain(t *testing.T, src *datagen.Source, max int) []string {
	t.Helper()
	var out []string
	for range max {
		b, part, err := src.Poll(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if part != slices.Max(src.Partitions()) {
			t.Fatalf("a batch of partition %d, want %v", part, src.Partitions())
		}
		if err := rttest.CheckBatch(b, schema); err != nil {
			t.Fatal(err)
		}
		out = append(out, rttest.Strings(b)...)
	}
	return out
}

func TestPositionRestore(t *testing.T) {
	const rows = 10 * runtime.DefaultBatchRows
	o := everything(rows)
	src := open(t, o, 1, 2)
	if ps := src.Partitions(); !slices.Equal(ps, []int{1}) {
		t.Fatalf("partitions %v, want [1]", ps)
	}
	if _, ok := src.Position(); ok {
		t.Fatal("a position before any barrier")
	}
	head := drain(t, src, 2)
	if err := src.OnBarrier(runtime.Barrier{ID: 7}); err != nil {
		t.Fatal(err)
	}
	pos, ok := src.Position()
	if want := (datagen.Position{Barrier: 7, Next: 5 * runtime.DefaultBatchRows}); !ok || pos != want {
		t.Fatalf("position %+v, want %+v", pos, want)
	}
	tail := drain(t, src, 100)
	if err := src.Restore(0); !errors.Is(err, datagen.ErrRestoreAfterPoll) {
		t.Fatalf("Restore after Poll: %v", err)
	}

	again := open(t, o, 1, 2)
	if err := again.Restore(pos.Next); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, again, 100); !slices.Equal(got, tail) {
		t.Fatalf("after Restore: %d rows, want the %d after the barrier", len(got), len(tail))
	}
	if len(head)+len(tail) != rows/2 {
		t.Fatalf("subtask 1 of 2: %d rows, want %d", len(head)+len(tail), rows/2)
	}

	// Within a block, and to a row of another subtask's block.
	mid := open(t, o, 0, 2)
	if err := mid.Restore(2*runtime.DefaultBatchRows + 100); err != nil {
		t.Fatal(err)
	}
	first := drain(t, mid, 1)
	if len(first) != runtime.DefaultBatchRows-100 || !strings.HasPrefix(first[0], fmt.Sprint(2*runtime.DefaultBatchRows+100, ",")) {
		t.Fatalf("restored in the middle of block 2: %d rows from %q", len(first), first[0])
	}
	other := open(t, o, 0, 2)
	if err := other.Restore(3*runtime.DefaultBatchRows + 5); err != nil {
		t.Fatal(err)
	}
	if first := drain(t, other, 1); !strings.HasPrefix(first[0], fmt.Sprint(4*runtime.DefaultBatchRows, ",")) {
		t.Fatalf("restored to a row of subtask 1's block 3: subtask 0 starts at %q, want block 4", first[0])
	}
	if err := open(t, o, 0, 2).Restore(-1); err == nil || err.Error() != "datagen: cannot restore to row -1" {
		t.Fatalf("Restore(-1): %v", err)
	}
}

// TestRescale: positions taken with 2 subtasks, restored with 3 from the
// smallest, lose no row.
func TestRescale(t *testing.T) {
	const rows = 20 * runtime.DefaultBatchRows
	o := everything(rows)
	seen := map[string]bool{}
	minNext := int64(math.MaxInt64)
	for sub, batches := range []int{3, 5} {
		src := open(t, o, sub, 2)
		for _, r := range drain(t, src, batches) {
			seen[r] = true
		}
		if err := src.OnBarrier(runtime.Barrier{ID: 1}); err != nil {
			t.Fatal(err)
		}
		p, _ := src.Position()
		minNext = min(minNext, p.Next)
	}
	for sub := range 3 {
		src := open(t, o, sub, 3)
		if err := src.Restore(minNext); err != nil {
			t.Fatal(err)
		}
		for _, r := range drain(t, src, 100) {
			seen[r] = true
		}
	}
	if len(seen) != rows {
		t.Fatalf("%d distinct rows after rescaling, want %d", len(seen), rows)
	}
}

// TestThrottle: rows-per-second holds for the whole source, whatever the
// number of subtasks.
func TestThrottle(t *testing.T) {
	s := runtime.NewSchema(schema.Fields[colI])
	for _, tc := range []struct {
		rows, par int
	}{{600, 1}, {600, 3}, {5000, 2}} {
		rate := tc.rows * 10 / 3 // rows in 300 ms
		began := time.Now()
		got := run(t, s, opts("number-of-rows", fmt.Sprint(tc.rows), "rows-per-second", fmt.Sprint(rate)), tc.par)
		took := time.Since(began)
		if len(got) != tc.rows {
			t.Fatalf("%d rows, want %d", len(got), tc.rows)
		}
		// The last row is due at 300 ms; allow for a slow machine above.
		if took < 250*time.Millisecond || took > 5*time.Second {
			t.Fatalf("%d rows at %d rows/s over %d subtasks took %v, want about 300ms", tc.rows, rate, tc.par, took)
		}
	}
}

// counter is a sink that counts rows.
type counter struct {
	runtime.Base
	n *atomic.Int64
}

func (c counter) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	c.n.Add(int64(b.Len()))
	return nil
}

// TestUnboundedStops: an unbounded source runs until the job is cancelled,
// then every goroutine stops (goleak checks in TestMain).
func TestUnboundedStops(t *testing.T) {
	for _, o := range []map[string]string{opts(), opts("rows-per-second", "20")} {
		newSrc, err := newSource(t, schema, o)
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		g := runtime.NewGraph("datagen")
		src := g.AddSource("gen", schema, 2, newSrc, runtime.WatermarkStrategy{TimeColumn: colTS})
		g.Connect(src, g.AddOperator("count", schema, 2, 1, func() runtime.Operator { return counter{n: &n} }), runtime.Forward)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runtime.Run(ctx, g, runtime.Options{Parallelism: 2}) }()
		deadline := time.Now().Add(10 * time.Second)
		for n.Load() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n.Load() < 2 {
			t.Fatalf("%v: no rows within 10 s", o)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%v: Run returned %v, want context.Canceled", o, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: the job did not stop within 5 s of being cancelled", o)
		}
	}
}
