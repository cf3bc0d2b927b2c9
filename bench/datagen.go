package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/datagen" // registers 'datagen'
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// The SQL workload is the workload of the first table expressed with the
// datagen connector, so that a SQL job can read it: 10,000 keys drawn
// uniformly at random (datagen cannot express Workload.Event's key
// permutation), v = i mod 1000 (a sequence 0…999 that starts again, as in
// Workload.Event), ten events per millisecond of event time, each up to
// 50 ms in the past, watermark bound 100 ms. The SQL job, the Go API job
// and go-streams all read these same rows — the Go API through the datagen
// connector's own source, go-streams from one subtask of it — so their
// checksums must be equal.

// datagenOptions returns the WITH options of the workload's datagen table.
func (w Workload) datagenOptions() map[string]string {
	return map[string]string{
		"connector":          "datagen",
		"number-of-rows":     fmt.Sprint(w.Events),
		"fields.k.kind":      "random",
		"fields.k.min":       "0",
		"fields.k.max":       fmt.Sprint(w.Keys - 1),
		"fields.v.kind":      "sequence",
		"fields.v.start":     "0",
		"fields.v.end":       "999",
		"fields.ts.kind":     "sequence",
		"fields.ts.step":     "100us",
		"fields.ts.max-past": fmt.Sprintf("%dms", disorder),
	}
}

// datagenSource returns the factory of the datagen connector's source
// subtasks for the workload, with eventSchema's columns (k, v, ts).
func (w Workload) datagenSource() (func() rt.Source, error) {
	return datagenSourceOf(w.datagenOptions())
}

// datagenSourceOf returns the factory of the source subtasks of a datagen
// table of options opts with eventSchema's columns (k, v, ts).
func datagenSourceOf(opts map[string]string) (func() rt.Source, error) {
	f, ok := connectors.Lookup("datagen")
	if !ok {
		return nil, fmt.Errorf("bench: the datagen connector is not registered")
	}
	newSrc, _, err := f.(connectors.Source).NewSource(connectors.Table{
		Name: "events", Schema: eventSchema, Options: opts,
		TimeColumn: eventSchema.Index("ts"), MaxOutOfOrderness: bound,
	})
	return newSrc, err
}

// SQLJob returns the SQL workload as a job file: the datagen table, a
// result table written by connector sink ('blackhole' for the benchmark)
// and the keyed tumbling COUNT+SUM between them.
func (w Workload) SQLJob(sink string) string {
	return windowSQLJob(w.datagenOptions(), window.Tumble(w.Window), sink)
}

// windowSQLJob returns a job file reading the datagen table of options
// opts (columns k, v, ts) and writing COUNT(*) and SUM(v) per key and
// window a (a group window: TUMBLE, HOP or SESSION) to a table of
// connector sink.
func windowSQLJob(opts map[string]string, a window.Assigner, sink string) string {
	var with []string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		with = append(with, fmt.Sprintf("'%s' = '%s'", k, opts[k]))
	}
	ms := func(v int64) string { return fmt.Sprintf("INTERVAL '%d' MILLISECOND", v) }
	fn, args := "TUMBLE", ms(a.Size)
	switch a.Kind {
	case window.Hopping:
		fn, args = "HOP", ms(a.Slide)+", "+ms(a.Size)
	case window.Session:
		fn, args = "SESSION", ms(a.Gap)
	}
	return fmt.Sprintf(`CREATE TABLE events (
  k  BIGINT,
  v  BIGINT,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '%d' MILLISECOND
) WITH (
  %s
);
CREATE TABLE results (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, s BIGINT)
WITH ('connector' = '%s');
INSERT INTO results
SELECT k, %[4]s_START(ts, %[5]s), %[4]s_END(ts, %[5]s), COUNT(*), SUM(v)
FROM events
GROUP BY k, %[4]s(ts, %[5]s);
`, bound.Milliseconds(), strings.Join(with, ",\n  "), sink, fn, args)
}

// goAPIDatagenJob builds the SQL workload with the Go API, reading the
// datagen connector's source, into the sink newSink (which sees rows
// k, window_start, window_end, n, s).
func (w Workload) goAPIDatagenJob(parallelism int, newSink func() rt.Operator) (*sluice.Env, error) {
	newSrc, err := w.datagenSource()
	if err != nil {
		return nil, err
	}
	env := sluice.NewEnv(sluice.WithParallelism(parallelism), sluice.WithName("bench_goapi"))
	env.FromSource("events", eventSchema, newSrc, sluice.Watermark("ts", bound)).
		KeyBy("k").
		Window(window.Tumble(w.Window)).
		Aggregate(sluice.Count("n"), sluice.Sum("v", "s")).
		To("checksum", newSink)
	return env, env.Err()
}

// RunSluiceDatagen runs the SQL workload written with the Go API: the
// datagen connector's source → keyed exchange → tumbling window COUNT+SUM →
// a checksum sink. The time includes building the job, as RunSQL's includes
// compiling it. It returns ctx.Err() when ctx ends first.
func RunSluiceDatagen(ctx context.Context, w Workload, parallelism int) (Result, error) {
	var results, count, sum atomic.Int64
	m := startMeter()
	env, err := w.goAPIDatagenJob(parallelism, func() rt.Operator {
		return &checksumSink{results: &results, count: &count, sum: &sum}
	})
	if err != nil {
		return Result{}, err
	}
	if err := env.Execute(ctx); err != nil {
		return Result{}, err
	}
	wall, cpu := m.stop()
	return Result{Name: "sluice (Go API)", Events: w.Events, Elapsed: wall, CPU: cpu,
		Check: Checksum{Results: results.Load(), Count: count.Load(), Sum: sum.Load()}}, nil
}

// RunGoStreamsDatagen runs the SQL workload's count on go-streams v0.13.0
// as RunGoStreams does, fed from one subtask of the datagen connector's
// source (which then generates every row). It returns ctx.Err() when ctx
// ends first.
func RunGoStreamsDatagen(ctx context.Context, w Workload) (Result, error) {
	newSrc, err := w.datagenSource()
	if err != nil {
		return Result{}, err
	}
	src := newSrc()
	if err := src.Open(&rt.Context{Parallelism: 1}); err != nil {
		return Result{}, err
	}
	defer src.Close()
	var perr error
	r, err := runGoStreams(ctx, w, func(in chan<- any) {
		for ctx.Err() == nil {
			b, _, err := src.Poll(ctx)
			if err == io.EOF {
				return
			}
			if err != nil {
				if ctx.Err() == nil {
					perr = err
				}
				return
			}
			if b == nil {
				continue
			}
			ks, vs, ts := b.Cols[0].I64, b.Cols[1].I64, b.Cols[2].I64
			for i := 0; i < b.Len(); i++ {
				r := b.Row(i)
				in <- gsEvent{ks[r], ts[r], vs[r]}
			}
		}
	})
	if err != nil {
		return Result{}, err
	}
	return r, perr
}
