// Package clickstream is the ready-made clickstream job behind `sluice
// demo`: page views per page in 10-second event-time windows, with distinct
// users, average and worst latency, computed from generated events.
package clickstream

import (
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// Schema of a click event.
var Schema = rt.NewSchema(
	rt.Field{Name: "user_id", Type: rt.BigInt},
	rt.Field{Name: "page", Type: rt.Varchar},
	rt.Field{Name: "latency_ms", Type: rt.BigInt},
	rt.Field{Name: "ts", Type: rt.Timestamp},
)

// Pages are the pages the generator visits.
var Pages = []string{"/", "/search", "/product", "/cart", "/checkout"}

// Start is the event time of the first generated click.
var Start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixMilli()

// Config configures the job.
type Config struct {
	Events        int64   // number of clicks; < 0 for no end
	RowsPerSecond float64 // throttle; 0 for as fast as possible
	ClicksPerMs   int64   // event-time density (default 20: 20,000 clicks per second of event time)
	// Parallelism of the generator (0: the job's). One generator writes
	// the clicks in event-time order, as one producer would.
	Parallelism int
}

// Fill generates clicks: click i happens at Start + i/ClicksPerMs ms, up to
// 200 ms out of order, by one of 5,000 users.
func (c Config) Fill(b *rt.Batch, first int64, n int) {
	per := c.ClicksPerMs
	if per <= 0 {
		per = 20
	}
	for i := first; i < first+int64(n); i++ {
		h := rt.HashInt64(uint64(i))
		b.Cols[0].AppendInt(int64(h % 5000))
		page := Pages[(h>>20)%uint64(len(Pages))]
		b.Cols[1].AppendString(page)
		lat := int64(5 + (h>>32)%120)
		if page == "/checkout" {
			lat += 80
		}
		b.Cols[2].AppendInt(lat)
		b.Cols[3].AppendInt(Start + i/per - int64((h>>40)%200))
	}
}

// Build adds the job to env and returns the result stream: page,
// window_start, window_end, views, users, avg_latency_ms, max_latency_ms.
func Build(env *sluice.Env, c Config) *sluice.WindowResult {
	return Aggregate(Generate(env, c))
}

// Generate adds only the generator of Build to env: the clicks, with event
// time and watermarks.
func Generate(env *sluice.Env, c Config) *sluice.Stream {
	var gopts []any
	gopts = append(gopts, sluice.Watermark("ts", 500*time.Millisecond))
	if c.RowsPerSecond > 0 {
		gopts = append(gopts, sluice.RowsPerSecond(c.RowsPerSecond))
	}
	if c.Parallelism > 0 {
		gopts = append(gopts, sluice.SourceParallelism(c.Parallelism))
	}
	return env.FromGenerator("clicks", Schema, c.Events, c.Fill, gopts...)
}

// Aggregate is the dashboard part of Build over any stream of clicks (with
// event time on ts): page, window_start, window_end, views, users,
// avg_latency_ms (a DOUBLE: the mean of the BIGINT latencies cast to
// DOUBLE, since AVG of a BIGINT is a truncated BIGINT), max_latency_ms per
// page and 10-second window.
func Aggregate(clicks *sluice.Stream) *sluice.WindowResult {
	return clicks.
		Filter(expr.Ge(expr.Col("latency_ms"), expr.Int(0))).
		Select(sluice.As(expr.Col("user_id"), "user_id"), sluice.As(expr.Col("page"), "page"),
			sluice.As(expr.Col("latency_ms"), "latency_ms"), sluice.As(expr.Cast(expr.Col("latency_ms"), rt.Double), "latency"),
			sluice.As(expr.Col("ts"), "ts")).
		KeyBy("page").
		Window(window.Tumble(10*time.Second)).
		Aggregate(
			sluice.Count("views"),
			sluice.CountDistinct("user_id", "users"),
			sluice.Avg("latency", "avg_latency_ms"),
			sluice.Max("latency_ms", "max_latency_ms"),
		)
}
