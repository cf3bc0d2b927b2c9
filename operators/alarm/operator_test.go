package alarm

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestOperator(t *testing.T) {
	h := newHarness(t, testConfig())
	// Out of order within the period, and a later row replacing an earlier
	// one for the same period.
	h.rows(
		row{"web-1", t0 + 10*sec, "95"},
		row{"web-1", t0, "80"},
		row{"web-2", t0, "99"},
		row{"web-2", t0 + 10*sec, "98"},
		row{"web-1", t0 + 10*sec, "97"},
	)
	h.wm(t0 + 10*sec - 1)
	equal(t, h.changes(), []string{"web-1@0:INSUFFICIENT_DATA->OK", "web-2@0:INSUFFICIENT_DATA->ALARM"})

	h.rows(row{"web-1", t0 + 10*sec, "10"}) // late: its period has been evaluated
	if n := h.ctx.Metrics.LateRowsDropped.Get(); n != 1 {
		t.Errorf("%d late rows dropped, want 1", n)
	}

	h.rec.ns = nil
	h.rows(row{"web-1", t0 + 20*sec, "96"}, row{"web-3", t0 + 20*sec, "10"}, row{"web-2", t0 + 20*sec, "_"})
	h.wm(t0 + 20*sec - 1)
	equal(t, h.changes(), []string{"web-1@20:OK->ALARM", "web-3@20:INSUFFICIENT_DATA->OK"})
	if r := h.rec.ns[0].Reason; !strings.Contains(r, "[96.0 (25/11/26 10:00:20), 97.0 (25/11/26 10:00:10)]") {
		t.Errorf("reason %q: want the datapoints that replaced earlier ones", r)
	}

	// No rows for three periods: the watermark alone notices them.
	h.rec.ns = nil
	h.wm(t0 + 50*sec - 1)
	equal(t, h.changes(), []string{
		"web-1@50:ALARM->INSUFFICIENT_DATA",
		"web-2@40:ALARM->INSUFFICIENT_DATA",
		"web-3@50:OK->INSUFFICIENT_DATA",
	})
	if n := h.ctx.Metrics.StateKeys(); n != 3 {
		t.Errorf("%d state keys, want 3", n)
	}
}

func TestSeveralDimensions(t *testing.T) {
	s := runtime.NewSchema(
		runtime.Field{Name: "region", Type: runtime.Varchar},
		runtime.Field{Name: "shard", Type: runtime.BigInt},
		runtime.Field{Name: "window_end", Type: runtime.Timestamp},
		runtime.Field{Name: "errors", Type: runtime.BigInt, Nullable: true},
	)
	cfg := testConfig()
	cfg.Dimensions, cfg.DimCols, cfg.PeriodCol, cfg.MetricCol = []string{"region", "shard"}, []int{0, 1}, 2, 3
	cfg.EvaluationPeriods, cfg.DatapointsToAlarm, cfg.Threshold = 1, 1, 5
	h := newHarness(t, cfg)
	b := rttest.NewBatch(s,
		[]runtime.Value{runtime.StringValue("eu"), runtime.IntValue(1), runtime.TimeValue(t0), runtime.IntValue(9)},
		[]runtime.Value{runtime.StringValue("eu"), runtime.IntValue(2), runtime.TimeValue(t0), runtime.IntValue(1)},
		[]runtime.Value{runtime.StringValue("eu"), runtime.IntValue(1), runtime.TimeValue(t0 + 10*sec), runtime.IntValue(2)},
	)
	if err := h.op.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
		t.Fatal(err)
	}
	h.wm(t0 + 10*sec - 1)
	equal(t, h.changes(), []string{
		"eu,1@0:INSUFFICIENT_DATA->ALARM",
		"eu,1@10:ALARM->OK",
		"eu,2@0:INSUFFICIENT_DATA->OK",
		"eu,2@10:OK->INSUFFICIENT_DATA",
	})
	// After a restore, the same dimension values are the same instances.
	snap, err := h.op.SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	r := newHarness(t, cfg)
	if err := r.op.RestoreState(snap); err != nil {
		t.Fatal(err)
	}
	b.Cols[2].I64[0], b.Cols[2].I64[1], b.Cols[2].I64[2] = t0+20*sec, t0+20*sec, t0+30*sec
	if err := r.op.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
		t.Fatal(err)
	}
	if len(r.op.insts) != 2 {
		t.Errorf("%d instances after a restore, want 2", len(r.op.insts))
	}
	n := h.rec.ns[1]
	if n.Dimensions["region"] != "eu" || n.Dimensions["shard"] != "1" || n.NewState != "OK" {
		t.Errorf("notification %+v", n)
	}
	if !strings.Contains(n.Body, `"Dimensions":{"region":"eu","shard":"1"}`) ||
		!strings.Contains(n.Body, `"Dimensions":[{"name":"region","value":"eu"},{"name":"shard","value":"1"}]`) {
		t.Errorf("body %s", n.Body)
	}
}

func TestInferredPeriod(t *testing.T) {
	cfg := testConfig()
	cfg.Period = 0
	h := newHarness(t, cfg)
	h.rows(row{"web-1", t0 + 5*sec, "80"}, row{"web-1", t0 + 15*sec, "95"}, row{"web-1", t0 + 25*sec, "95"})
	h.wm(t0 + 5*sec - 1) // one period end complete: the period is not known yet
	equal(t, h.changes(), nil)
	h.wm(t0 + 15*sec - 1)
	equal(t, h.changes(), []string{"web-1@5:INSUFFICIENT_DATA->OK"})
	h.rows(row{"web-1", t0 + 20*sec, "1"}) // off the grid of 10 s periods
	if n := h.ctx.Metrics.BadRecords.Get(); n != 1 {
		t.Errorf("%d bad records, want 1", n)
	}
	h.wm(t0 + 65*sec - 1)
	equal(t, h.changes(), []string{
		"web-1@5:INSUFFICIENT_DATA->OK",
		"web-1@25:OK->ALARM",
		"web-1@55:ALARM->INSUFFICIENT_DATA",
	})
	if !strings.Contains(h.rec.ns[1].Body, `"Period":10,`) {
		t.Errorf("body %s: want the inferred period", h.rec.ns[1].Body)
	}

	// A single period end: evaluated at the end of input, period unknown.
	h = newHarness(t, cfg)
	h.rows(row{"web-1", t0, "95"})
	h.wm(t0 + time.Hour.Milliseconds())
	equal(t, h.changes(), nil)
	h.wm(runtime.MaxWatermark)
	equal(t, h.changes(), []string{"web-1@0:INSUFFICIENT_DATA->ALARM"})
	if !strings.Contains(h.rec.ns[0].Body, `"Period":0,`) {
		t.Errorf("body %s", h.rec.ns[0].Body)
	}
}

func TestEndOfInput(t *testing.T) {
	cfg := testConfig()
	cfg.TreatMissing, cfg.DatapointsToAlarm = Breaching, 3
	h := newHarness(t, cfg)
	h.rows(row{"web-1", t0, "80"}, row{"web-1", t0 + 10*sec, "80"}, row{"web-2", t0 + 20*sec, "80"})
	h.wm(t0 + 10*sec - 1)
	h.rows(row{"web-1", t0 + 20*sec, "80"})
	h.wm(runtime.MaxWatermark)
	if err := h.op.Finish(&rttest.Discard{}); err != nil {
		t.Fatal(err)
	}
	// Evaluated up to the last period end seen (20 s), not beyond: later
	// periods would be missing, hence breaching.
	equal(t, h.changes(), []string{"web-1@0:INSUFFICIENT_DATA->OK", "web-2@20:INSUFFICIENT_DATA->OK"})
}

func TestNullsAndBadRows(t *testing.T) {
	h := newHarness(t, testConfig())
	b := rttest.NewBatch(schema,
		[]runtime.Value{runtime.StringValue("web-1"), runtime.NullValue(runtime.Timestamp), runtime.FloatValue(1)},
		[]runtime.Value{runtime.NullValue(runtime.Varchar), runtime.TimeValue(t0), runtime.FloatValue(95)},
		[]runtime.Value{runtime.StringValue("web-1"), runtime.TimeValue(t0 + 3*sec), runtime.FloatValue(1)},
	)
	if err := h.op.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
		t.Fatal(err)
	}
	if n := h.ctx.Metrics.BadRecords.Get(); n != 2 {
		t.Errorf("%d bad records, want 2 (a NULL period end, a period end off the grid)", n)
	}
	h.wm(t0 - 1)
	// A NULL dimension is an instance of its own, named as SQL prints it;
	// a row off the grid of periods is dropped.
	equal(t, h.changes(), []string{"NULL@0:INSUFFICIENT_DATA->ALARM"})
}

func TestExtremeTimes(t *testing.T) {
	for _, period := range []time.Duration{10 * time.Second, 0} {
		cfg := testConfig()
		cfg.Period = period
		h := newHarness(t, cfg)
		h.rows(row{"web-1", maxTime - 10*sec, "95"}, row{"web-1", maxTime, "95"}, row{"web-1", maxTime + 10*sec, "95"})
		h.wm(runtime.MaxWatermark)
		if got := len(h.rec.ns); got != 1 {
			t.Errorf("period %v: %d notifications, want 1", period, got)
		}
		if n := h.ctx.Metrics.BadRecords.Get(); n != 1 {
			t.Errorf("period %v: %d bad records, want 1", period, n)
		}
	}
}

// TestJob runs the alarm in a job: a source of rows with event time, the
// watermarks the runtime derives from them, the end of input.
func TestJob(t *testing.T) {
	hosts := []string{"web-1", "web-2", "web-3"}
	var chunks []rttest.Chunk
	var steps [][]row
	for p := 0; p < 12; p++ {
		var rows [][]runtime.Value
		var step []row
		for i, h := range hosts {
			if (p+i)%5 == 4 || i == 2 && p > 6 {
				continue // gaps, and web-3 stops sending
			}
			v := 70 + (p*7+i*13)%40
			rows = append(rows, []runtime.Value{runtime.StringValue(h), runtime.TimeValue(t0 + int64(p)*10*sec), runtime.FloatValue(float64(v))})
			step = append(step, row{h, t0 + int64(p)*10*sec, strconv.Itoa(v)})
		}
		chunks = append(chunks, rttest.Chunk{Rows: rows})
		steps = append(steps, step)
	}
	cfg := testConfig()
	rec := &recorder{}
	g := runtime.NewGraph("alarms")
	src := g.AddSource("src", schema, 1, rttest.Source(schema, chunks), runtime.WatermarkStrategy{TimeColumn: 1})
	al := g.AddOperator("alarm", schema, 1, 1, New(cfg, rec))
	g.Connect(src, al, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	set := metrics.NewSet()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: set}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n, _ := rttest.Metric(set, "sluice_operator_late_rows_dropped_total", "alarm"); n != 0 {
		t.Fatalf("%v late rows", n)
	}

	// The same rows, each period's watermark given by hand.
	h := newHarness(t, cfg)
	play(h, steps, 0, len(steps))
	h.wm(runtime.MaxWatermark)
	want := h.changes()
	if len(want) < 4 {
		t.Fatalf("only %v: the rows test little", want)
	}
	equal(t, changes(rec.ns), want)
}

func TestGridFromFirstRow(t *testing.T) {
	cfg := testConfig()
	cfg.EvaluationPeriods, cfg.DatapointsToAlarm = 1, 1
	h := newHarness(t, cfg)
	// Periods ending 5 s past the tens of seconds, as windows with an
	// offset give them.
	h.rows(row{"web-1", t0 + 5*sec, "95"}, row{"web-1", t0 + 15*sec, "10"}, row{"web-1", t0 + 20*sec, "95"})
	h.wm(t0 + 35*sec - 1)
	equal(t, h.changes(), []string{
		"web-1@5:INSUFFICIENT_DATA->ALARM",
		"web-1@15:ALARM->OK",
		"web-1@25:OK->INSUFFICIENT_DATA",
	})
	if n := h.ctx.Metrics.BadRecords.Get(); n != 1 {
		t.Errorf("%d bad records, want 1", n)
	}
}
