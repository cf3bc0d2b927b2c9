package sql

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// finalRows applies a collected changelog: the current row per key (the
// first nKeys columns), failing on a retraction of a row not held.
func finalRows(t *testing.T, name string, nKeys int) map[string][]runtime.Value {
	t.Helper()
	c := collected(name)
	kinds := c.Kinds()
	cur := map[string][]runtime.Value{}
	for i, r := range c.Rows() {
		var key []string
		for _, v := range r[:nKeys] {
			key = append(key, v.String())
		}
		k := strings.Join(key, "|")
		switch kinds[i] {
		case runtime.UpdateBefore, runtime.Delete:
			if !slices.Equal(cur[k], r) {
				t.Fatalf("%s retracts %v, holding %v", kinds[i], r, cur[k])
			}
			delete(cur, k)
		default:
			cur[k] = r
		}
	}
	return cur
}

// variances returns VAR_POP and VAR_SAMP of xs.
func variances(xs []float64) (pop, samp float64) {
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return ss / float64(len(xs)), ss / float64(len(xs)-1)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

// TestNewAggregateFunctionsInGroupBy runs STDDEV_POP, STDDEV_SAMP,
// VAR_POP, VAR_SAMP, LISTAGG (default and given separator), FIRST_VALUE,
// LAST_VALUE, BOOL_AND, BOOL_OR and SUM(DISTINCT) in a GROUP BY from SQL,
// at parallelism 1 and 2, against values computed here (arrival order
// only checked where it is defined: one source subtask).
func TestNewAggregateFunctionsInGroupBy(t *testing.T) {
	for _, par := range []int{1, 2} {
		run(t, src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT k, STDDEV_POP(v) AS sd, STDDEV_SAMP(v) AS ss, VAR_POP(v) AS vp, VARIANCE(v) AS vs,
       LISTAGG(CAST(v AS VARCHAR)) AS l, LISTAGG(CAST(v AS VARCHAR), ' - ') AS l2,
       FIRST_VALUE(v) AS fv, LAST_VALUE(v) AS lv, BOOL_AND(v > 5) AS ba, BOOL_OR(v > 990) AS bo,
       SUM(DISTINCT MOD(v, 7)) AS sd7, COUNT(*) AS n
FROM src GROUP BY k;`, par)
		got := finalRows(t, "out", 1)
		if len(got) != 10 {
			t.Fatalf("parallelism %d: %d keys, want 10", par, len(got))
		}
		for k := 0; k < 10; k++ {
			r := got[strconv.Itoa(k)]
			var xs []float64
			var strs []string
			d7 := map[int]bool{}
			for v := k; v < 1000; v += 10 {
				xs = append(xs, float64(v))
				strs = append(strs, strconv.Itoa(v))
				d7[v%7] = true
			}
			pop, samp := variances(xs)
			if !near(r[1].F, math.Sqrt(pop)) || !near(r[2].F, math.Sqrt(samp)) || !near(r[3].F, pop) || !near(r[4].F, samp) {
				t.Fatalf("parallelism %d, k=%d: stddev/var %v %v %v %v, want %v %v %v %v", par, k, r[1].F, r[2].F, r[3].F, r[4].F,
					math.Sqrt(pop), math.Sqrt(samp), pop, samp)
			}
			l, l2 := strings.Split(r[5].S, ","), strings.Split(r[6].S, " - ")
			if par == 1 {
				if !slices.Equal(l, strs) || !slices.Equal(l2, strs) || r[7].I != int64(k) || r[8].I != int64(990+k) {
					t.Fatalf("k=%d: LISTAGG %q, %q, FIRST_VALUE %d, LAST_VALUE %d", k, r[5].S, r[6].S, r[7].I, r[8].I)
				}
			}
			slices.Sort(l)
			slices.Sort(l2)
			slices.Sort(strs)
			if !slices.Equal(l, strs) || !slices.Equal(l2, strs) {
				t.Fatalf("parallelism %d, k=%d: LISTAGG holds %q, want %q", par, k, l, strs)
			}
			sum7 := 0
			for m := range d7 {
				sum7 += m
			}
			if ba, bo := r[9].I != 0, r[10].I != 0; ba != (k > 5) || !bo == (k > 0) || r[11].I != int64(sum7) || r[12].I != 100 {
				t.Fatalf("parallelism %d, k=%d: BOOL_AND %v, BOOL_OR %v, SUM(DISTINCT) %d, COUNT %d", par, k, ba, bo, r[11].I, r[12].I)
			}
		}
	}
}

// TestNewAggregateFunctionsInWindows runs the new aggregates in a tumbling
// window from SQL.
func TestNewAggregateFunctionsInWindows(t *testing.T) {
	run(t, src+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT k, TUMBLE_START(ts, INTERVAL '1' SECOND) AS ws, STDDEV_SAMP(v) AS ss, LISTAGG(CAST(v AS VARCHAR), ';') AS l,
       FIRST_VALUE(v) AS fv, LAST_VALUE(v) AS lv
FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);`, 1)
	rows := collected("out").Rows()
	if len(rows) != 100 {
		t.Fatalf("%d rows, want 100 (10 keys × 10 windows)", len(rows))
	}
	for _, r := range rows {
		k, w := r[0].I, (r[1].I-1767225600000)/1000
		var xs []float64
		var strs []string
		for v := 100*w + k; v < 100*w+100; v += 10 {
			xs = append(xs, float64(v))
			strs = append(strs, strconv.FormatInt(v, 10))
		}
		_, samp := variances(xs)
		if !near(r[2].F, math.Sqrt(samp)) || r[3].S != strings.Join(strs, ";") || r[4].I != 100*w+k || r[5].I != 100*w+90+k {
			t.Fatalf("k=%d, window %d: got %v", k, w, r)
		}
	}
}

// TestNewAggregateErrors checks that misuses of the new aggregates are
// errors naming the call.
func TestNewAggregateErrors(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{"SELECT k, LISTAGG(v) AS l FROM src GROUP BY k", "LISTAGG(v): v is BIGINT, want VARCHAR"},
		{"SELECT k, LISTAGG(CAST(v AS VARCHAR), k) AS l FROM src GROUP BY k", "LISTAGG takes a value and, optionally, a separator"},
		{"SELECT k, BOOL_AND(v) AS b FROM src GROUP BY k", "BOOL_AND(v): v is BIGINT, want BOOLEAN"},
		{"SELECT k, STDDEV_POP(DISTINCT v) AS b FROM src GROUP BY k", "STDDEV_POP(DISTINCT …) is not supported"},
	} {
		_, err := Compile(src+"CREATE TABLE out WITH ('connector' = 'collect');\nINSERT INTO out "+c.q+";", Options{File: "job.sql", Parallelism: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.q, err, c.want)
		}
	}
}
