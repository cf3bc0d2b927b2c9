package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/operators/expr"
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
)

// udfSink keeps the rows of the SQL jobs of these tests in memory.
type udfSink struct{}

var udfRows struct {
	sync.Mutex
	c *rttest.Collector
}

func (udfSink) Name() string                         { return "udf_collect" }
func (udfSink) Options() []connectors.Option         { return nil }
func (udfSink) AcceptsUpdates(connectors.Table) bool { return true }
func (udfSink) NewSink(t connectors.Table) (func() rt.Operator, int, error) {
	c, newOp := rttest.NewCollector(t.Schema)
	udfRows.Lock()
	udfRows.c = c
	udfRows.Unlock()
	return newOp, 0, nil
}

var registerOnce sync.Once

// registerTestFunctions registers the functions of these tests, once per
// process (a name is registered only once).
func registerTestFunctions(t testing.TB) {
	t.Helper()
	var err error
	registerOnce.Do(func() {
		connectors.Register(udfSink{})
		// Nexmark q14's count_char.
		err = errors.Join(
			sluice.RegisterFunction("count_char", func(s, c string) int64 { return int64(strings.Count(s, c)) }),
			sluice.RegisterFunction("udf_half", func(x float64) float64 { return x / 2 }),
			sluice.RegisterFunction("udf_mix", func(s string, n int64) float64 { return float64(len(s)) + float64(n)/4 }),
			sluice.RegisterFunction("udf_answer", func() int32 { return 42 }),
			sluice.RegisterFunction("udf_clamp", func(x int32, lo int64) int64 { return max(int64(x), lo) }),
			sluice.RegisterFunction("udf_or_default", func(s *string, d string) string {
				if s == nil {
					return d
				}
				return *s
			}),
			sluice.RegisterFunction("udf_maybe", func(n int64) *string {
				if n < 0 {
					return nil
				}
				s := strconv.FormatInt(n, 10)
				return &s
			}),
			sluice.RegisterFunction("udf_parse", func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }),
			sluice.RegisterFunction("udf_next_day", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }),
			sluice.RegisterFunction("udf_is_even", func(n int64, flag bool) bool { return n%2 == 0 == flag }),
			sluice.RegisterFunction("udf_upper", func(s string) (string, error) {
				if s == "boom" {
					return "", errors.New("boom is not allowed")
				}
				return strings.ToUpper(s), nil
			}),
		)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCountCharUDFRunsNexmarkQ14 registers Nexmark q14's count_char and
// runs q14's select list over generated bids (hex strings with NULLs) at
// parallelism 1 and 3; each row's c_counts must be the count of 'c' in
// the extra column of the same row, counted here.
func TestCountCharUDFRunsNexmarkQ14(t *testing.T) {
	registerTestFunctions(t)
	for _, par := range []int{1, 3} {
		plan, err := sql.Compile(`
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, dateTime TIMESTAMP(3), extra VARCHAR)
WITH ('connector' = 'datagen', 'number-of-rows' = '2000', 'seed' = '14',
      'fields.price.min' = '1', 'fields.price.max' = '100000000',
      'fields.dateTime.kind' = 'sequence', 'fields.dateTime.step' = '97s',
      'fields.extra.length' = '20', 'fields.extra.null-rate' = '0.1');
CREATE TABLE out WITH ('connector' = 'udf_collect');
INSERT INTO out
SELECT auction, bidder, 0.908 * price AS price,
    CASE
        WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
        WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    dateTime, extra, count_char(extra, 'c') AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;`, sql.Options{File: "q14.sql", Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Run(context.Background(), plan.Graph, rt.Options{Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		udfRows.Lock()
		rows := udfRows.c.Rows()
		udfRows.Unlock()
		if len(rows) < 500 {
			t.Fatalf("parallelism %d: only %d rows", par, len(rows))
		}
		nulls, counted := 0, 0
		for _, r := range rows {
			extra, cc := r[5], r[6]
			if extra.Null {
				nulls++
				if !cc.Null {
					t.Fatalf("count_char(NULL, 'c') = %s, want NULL", cc)
				}
				continue
			}
			if want := int64(strings.Count(extra.S, "c")); cc.Null || cc.I != want {
				t.Fatalf("count_char(%q, 'c') = %s, want %d", extra.S, cc, want)
			}
			counted += int(cc.I)
			hour := time.UnixMilli(r[4].I).UTC().Hour()
			want := "otherTime"
			if hour >= 8 && hour <= 18 {
				want = "dayTime"
			} else if hour <= 6 || hour >= 20 {
				want = "nightTime"
			}
			if r[3].S != want {
				t.Fatalf("hour %d: bidTimeType %s, want %s", hour, r[3].S, want)
			}
		}
		if nulls == 0 || counted == 0 {
			t.Fatalf("the data has %d NULL extras and %d c's: the test checks nothing", nulls, counted)
		}
	}
}

var udfSchema = rt.NewSchema(
	rt.Field{Name: "s", Type: rt.Varchar, Nullable: true},
	rt.Field{Name: "n", Type: rt.BigInt, Nullable: true},
	rt.Field{Name: "i", Type: rt.Int, Nullable: true},
	rt.Field{Name: "d", Type: rt.Double, Nullable: true},
	rt.Field{Name: "t", Type: rt.Timestamp, Nullable: true},
	rt.Field{Name: "ok", Type: rt.Boolean, Nullable: true},
)

func udfBatch() *rt.Batch {
	return rttest.NewBatch(udfSchema,
		[]rt.Value{rt.StringValue("12"), rt.IntValue(4), {Type: rt.Int, I: 3}, rt.FloatValue(5), rt.TimeValue(0), rt.BoolValue(true)},
		[]rt.Value{rt.NullValue(rt.Varchar), rt.NullValue(rt.BigInt), rt.NullValue(rt.Int), rt.NullValue(rt.Double), rt.NullValue(rt.Timestamp), rt.NullValue(rt.Boolean)},
		[]rt.Value{rt.StringValue("x"), rt.IntValue(-7), {Type: rt.Int, I: -9}, rt.FloatValue(-1), rt.TimeValue(86_400_000), rt.BoolValue(false)},
	)
}

func evalUDF(t *testing.T, e expr.Expr) (string, error) {
	t.Helper()
	c, err := expr.Compile(e, udfSchema)
	if err != nil {
		return "", err
	}
	var out rt.Vector
	c.Eval(udfBatch(), &out)
	if err := c.Err(); err != nil {
		return "", err
	}
	var s []string
	for i := range out.Len() {
		s = append(s, out.Value(i).String())
	}
	return c.Type().String() + ": " + strings.Join(s, " | "), nil
}

// TestRegisteredFunctionsMapTypesAndNulls calls registered functions of
// every supported signature (fast paths and reflection) on rows with
// NULLs: NULL in gives NULL out except for pointer parameters, a nil
// pointer result is NULL, narrower numbers widen.
func TestRegisteredFunctionsMapTypesAndNulls(t *testing.T) {
	registerTestFunctions(t)
	s, n, i, d, ts, ok := expr.Col("s"), expr.Col("n"), expr.Col("i"), expr.Col("d"), expr.Col("t"), expr.Col("ok")
	for _, c := range []struct {
		e    expr.Expr
		want string
	}{
		{expr.Call("COUNT_CHAR", s, expr.Str("x")), "BIGINT: 0 | NULL | 1"},
		{expr.Call("count_char", expr.Str("abcabc"), expr.Str("c")), "BIGINT: 2 | 2 | 2"},
		{expr.Call("udf_half", d), "DOUBLE: 2.5 | NULL | -0.5"},
		{expr.Call("udf_half", n), "DOUBLE: 2.0 | NULL | -3.5"}, // BIGINT widens to DOUBLE
		{expr.Call("udf_clamp", i, expr.Int(0)), "BIGINT: 3 | NULL | 0"},
		{expr.Call("udf_clamp", i, i), "BIGINT: 3 | NULL | -9"}, // INT widens to BIGINT
		{expr.Call("udf_or_default", s, expr.Str("none")), "VARCHAR: 12 | none | x"},
		{expr.Call("udf_or_default", s, s), "VARCHAR: 12 | NULL | x"}, // NULL into a value parameter
		{expr.Call("udf_maybe", n), "VARCHAR: 4 | NULL | NULL"},
		{expr.Call("udf_next_day", ts), "TIMESTAMP(3): 1970-01-02 00:00:00.000 | NULL | 1970-01-03 00:00:00.000"},
		{expr.Call("udf_is_even", n, ok), "BOOLEAN: TRUE | NULL | TRUE"},
		{expr.Call("udf_upper", s), "VARCHAR: 12 | NULL | X"},
		{expr.Call("udf_mix", s, n), "DOUBLE: 3.0 | NULL | -0.75"},
		{expr.Call("udf_answer"), "INT: 42 | 42 | 42"},
	} {
		got, err := evalUDF(t, c.e)
		if err != nil || got != c.want {
			t.Errorf("%s = %s (%v), want %s", c.e, got, err, c.want)
		}
	}
	// A constant call folds at compile time.
	cc, err := expr.Compile(expr.Call("count_char", expr.Str("cc"), expr.Str("c")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := cc.Const(); !ok || v.I != 2 {
		t.Fatalf("count_char('cc', 'c') folds to %v (%v)", v, ok)
	}
}

// TestRegisteredFunctionErrorsFailTheRow checks that an error returned by
// a function fails the evaluation with an *expr.FuncError naming the
// function and the row, and a constant call that fails is a compile
// error.
func TestRegisteredFunctionErrorsFailTheRow(t *testing.T) {
	registerTestFunctions(t)
	_, err := evalUDF(t, expr.Call("udf_parse", expr.Col("s")))
	var fe *expr.FuncError
	if !errors.As(err, &fe) || fe.Func != "UDF_PARSE" || fe.Row != 2 || !errors.Is(err, strconv.ErrSyntax) {
		t.Fatalf("udf_parse('x'): error %#v", err)
	}
	if want := `function UDF_PARSE failed in "UDF_PARSE(s)": strconv.ParseInt: parsing "x": invalid syntax`; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	// Not for rows a CASE does not take.
	if got, err := evalUDF(t, expr.Case([]expr.When{{Cond: expr.Ne(expr.Col("s"), expr.Str("x")), Then: expr.Call("udf_parse", expr.Col("s"))}}, nil)); err != nil || got != "BIGINT: 12 | NULL | NULL" {
		t.Fatalf("CASE around udf_parse: %s, %v", got, err)
	}
	_, err = expr.Compile(expr.Call("udf_upper", expr.Str("boom")), nil)
	if err == nil || !strings.Contains(err.Error(), "boom is not allowed") {
		t.Fatalf("constant failing call: %v", err)
	}
	// In a job: the error reaches runtime.Run.
	plan, err := sql.Compile(`
CREATE TABLE src (s VARCHAR) WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'fields.s.length' = '3');
CREATE TABLE out WITH ('connector' = 'udf_collect');
INSERT INTO out SELECT udf_upper(CONCAT('bo', SUBSTRING(s, 1, 0), 'om')) AS u FROM src;`, sql.Options{File: "boom.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = rt.Run(context.Background(), plan.Graph, rt.Options{Parallelism: 1})
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "boom is not allowed, for the row (s=") {
		t.Fatalf("job error: %v", err)
	}
}

// TestRegisterFunctionRejectsBadFunctions checks the errors of
// RegisterFunction, and that SQL's unknown-function hints include
// registered functions.
func TestRegisterFunctionRejectsBadFunctions(t *testing.T) {
	registerTestFunctions(t)
	for _, c := range []struct {
		name string
		fn   any
		want string
	}{
		{"upper", func(s string) string { return s }, "function already exists: UPPER is a built-in function"},
		{"COUNT_char", func(s string) string { return s }, "function already exists: COUNT_CHAR is registered already"},
		{"sum", func(s int64) int64 { return s }, "function already exists: SUM is an aggregate function of SQL"},
		{"tumble_end", func(s int64) int64 { return s }, "function already exists: TUMBLE_END is a window function of SQL"},
		{"Ceiling", func(s int64) int64 { return s }, "function already exists: CEILING is a function name of SQL"},
		{"bad name", func(s string) string { return s }, `function name "bad name" is not an identifier (letters, digits and _, not starting with a digit)`},
		{"f1", 42, "function f1: int is not a func"},
		{"f2", nil, "function f2: <nil> is not a func"},
		{"f3", func(x int) int { return x }, "function f3: parameter 1 has type int (types: int64, int32, float64, string, bool, time.Time, or pointers to them)"},
		{"f4", func(x int64) {}, "function f4: it must return one value, optionally followed by an error"},
		{"f5", func(x int64) (int64, int64) { return x, x }, "function f5: it must return one value, optionally followed by an error"},
		{"f6", func(x int64) []byte { return nil }, "function f6: the result has type []uint8 (types: int64, int32, float64, string, bool, time.Time, or pointers to them)"},
		{"f7", func(x ...int64) int64 { return 0 }, "function f7: variadic funcs are not supported"},
	} {
		err := sluice.RegisterFunction(c.name, c.fn)
		if err == nil || err.Error() != c.want {
			t.Errorf("RegisterFunction(%q): %v, want %s", c.name, err, c.want)
		}
	}
	if err := sluice.RegisterFunction("upper", func(s string) string { return s }); !errors.Is(err, sluice.ErrFunctionExists) {
		t.Errorf("error %v does not wrap ErrFunctionExists", err)
	}
	_, err := sql.Compile(`
CREATE TABLE src (s VARCHAR) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
CREATE TABLE out WITH ('connector' = 'udf_collect');
INSERT INTO out SELECT count_chars(s, 'c') AS n FROM src;`, sql.Options{File: "j.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "unknown function COUNT_CHARS (did you mean COUNT_CHAR?)") {
		t.Fatalf("misspelled UDF: %v", err)
	}
	_, err = sql.Compile(`
CREATE TABLE src (s VARCHAR) WITH ('connector' = 'datagen', 'number-of-rows' = '1');
CREATE TABLE out WITH ('connector' = 'udf_collect');
INSERT INTO out SELECT count_char(s, 1) AS n FROM src;`, sql.Options{File: "j.sql", Parallelism: 1})
	if err == nil || !strings.Contains(err.Error(), "COUNT_CHAR's 2nd argument is BIGINT, not VARCHAR") {
		t.Fatalf("mistyped UDF call: %v", err)
	}
}

func benchUDF(b *testing.B, e expr.Expr) {
	registerTestFunctions(b)
	schema := rt.NewSchema(rt.Field{Name: "s", Type: rt.Varchar}, rt.Field{Name: "n", Type: rt.BigInt})
	batch := rttest.NewBatch(schema)
	for k := range rt.DefaultBatchRows {
		batch.Cols[0].AppendString(fmt.Sprintf("%x-%d", k*7919, k))
		batch.Cols[1].AppendInt(int64(k))
	}
	batch.N = rt.DefaultBatchRows
	c, err := expr.Compile(e, schema)
	if err != nil {
		b.Fatal(err)
	}
	var out rt.Vector
	b.ResetTimer()
	for range b.N {
		c.Eval(batch, &out)
	}
	b.ReportMetric(float64(b.N)*float64(rt.DefaultBatchRows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkUDFCountChar is count_char(s, 'c'): a func(string, string)
// int64, called without reflection.
func BenchmarkUDFCountChar(b *testing.B) {
	benchUDF(b, expr.Call("count_char", expr.Col("s"), expr.Str("c")))
}

// BenchmarkUDFGeneric is a func(string, int64) float64, called through a
// generic instantiation for its signature.
func BenchmarkUDFGeneric(b *testing.B) {
	benchUDF(b, expr.Call("udf_mix", expr.Col("s"), expr.Col("n")))
}

// BenchmarkUDFReflect is a func(*string, string) string, called through
// reflect.
func BenchmarkUDFReflect(b *testing.B) {
	benchUDF(b, expr.Call("udf_or_default", expr.Col("s"), expr.Str("-")))
}
