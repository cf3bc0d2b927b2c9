package alarm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// recorder is a Publisher that keeps what it is given.
type recorder struct {
	ns  []Notification
	err error
}

func (r *recorder) Publish(n Notification) error {
	if r.err != nil {
		return r.err
	}
	r.ns = append(r.ns, n)
	return nil
}

// t0 is 25/11/26 10:00:00 UTC.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()

const sec = int64(1000)

// schema is the input of the tests: host, period end, value.
var schema = runtime.NewSchema(
	runtime.Field{Name: "host", Type: runtime.Varchar},
	runtime.Field{Name: "period_end", Type: runtime.Timestamp},
	runtime.Field{Name: "value", Type: runtime.Double, Nullable: true},
)

func testConfig() Config {
	return Config{
		Name:              "cpu-high",
		Description:       "CPU above 90% on a host",
		MetricName:        "cpu",
		Dimensions:        []string{"host"},
		DimCols:           []int{0},
		PeriodCol:         1,
		MetricCol:         2,
		Period:            10 * time.Second,
		Comparison:        GreaterThanThreshold,
		Threshold:         90,
		EvaluationPeriods: 3,
		DatapointsToAlarm: 2,
	}
}

// harness drives one alarm operator directly.
type harness struct {
	t   testing.TB
	op  *op
	rec *recorder
	ctx *runtime.Context
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, rec: &recorder{}, ctx: rttest.NewContext("alarm", 0, 1)}
	h.op = New(cfg, h.rec)().(*op)
	if err := h.op.Open(h.ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// row is a datapoint: value "_" is a NULL.
type row struct {
	host  string
	end   int64
	value string
}

func (h *harness) rows(rs ...row) {
	h.t.Helper()
	vals := make([][]runtime.Value, len(rs))
	for i, r := range rs {
		v := runtime.NullValue(runtime.Double)
		if r.value != "_" {
			f, err := strconv.ParseFloat(r.value, 64)
			if err != nil {
				h.t.Fatal(err)
			}
			v = runtime.FloatValue(f)
		}
		vals[i] = []runtime.Value{runtime.StringValue(r.host), runtime.TimeValue(r.end), v}
	}
	if err := h.op.ProcessBatch(0, rttest.NewBatch(schema, vals...), &rttest.Discard{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) wm(ms int64) {
	h.t.Helper()
	if err := h.op.ProcessWatermark(ms, &rttest.Discard{}); err != nil {
		h.t.Fatal(err)
	}
}

// changes returns the notifications as "host@seconds after t0:OLD->NEW".
func (h *harness) changes() []string {
	return changes(h.rec.ns)
}

func changes(ns []Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		var dims []string
		for _, k := range slices.Sorted(maps.Keys(n.Dimensions)) {
			dims = append(dims, n.Dimensions[k])
		}
		out[i] = fmt.Sprintf("%s@%d:%s->%s", strings.Join(dims, ","), (n.Time-t0)/sec, n.OldState, n.NewState)
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
