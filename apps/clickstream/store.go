package clickstream

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/store" // 'store'
	rt "github.com/sluicehq/sluice/runtime"
)

// Stream is the store stream of the clicks of RunStore.
const Stream = "clicks"

// StoreConfig configures RunStore.
type StoreConfig struct {
	Events        int64   // clicks to generate; < 0 for no end (until ctx ends)
	RowsPerSecond float64 // throttle the generator; 0 for as fast as possible
	Parallelism   int     // subtasks per operator (0: GOMAXPROCS)
	Shards        int     // of the clicks stream, when it is created (default 4)
	// Log receives what the job does and measures (default standard
	// error); the results are printed to standard output.
	Log io.Writer
	// Started, when set, is told of each job as it starts (the loader,
	// then the job; or both in one live job) with its metrics set, and
	// the function it returns of how the job's run ended.
	Started func(g *rt.Graph, set *metrics.Set) (ended func(error))
}

// execute runs env with its metrics in set (nil: a set of its own),
// telling c.Started.
func (c StoreConfig) execute(ctx context.Context, env *sluice.Env, set *metrics.Set) error {
	if set == nil {
		set = metrics.NewSet()
		metrics.RegisterSet(set)
		defer metrics.UnregisterSet(set, true)
	}
	ended := func(error) {}
	if c.Started != nil {
		ended = c.Started(env.Graph(), set)
	}
	err := env.Execute(ctx, sluice.WithMetrics(set))
	ended(err)
	return err
}

// RunStore is the clickstream job over the stream store (the embedded one,
// which the caller opens): one producer writes the generated clicks into
// stream Stream, and the job reads them back from it and prints the
// results. Bounded (Events ≥ 0), it loads the clicks first and then runs
// the job over what the stream holds, reporting both rates; unbounded, the
// generator writes while the job reads, until ctx ends.
func RunStore(ctx context.Context, c StoreConfig) error {
	if c.Shards == 0 {
		c.Shards = 4
	}
	if c.Shards < 1 {
		return fmt.Errorf("shards %d: want at least 1", c.Shards)
	}
	log := c.Log
	if log == nil {
		log = os.Stderr
	}
	// One producer writes the clicks, in event-time order (several
	// independent producers would interleave their clicks in the stream by
	// how fast each runs, and the job's 500 ms watermark bound would make
	// some of them late); its sink sends on several lanes at once.
	cfg := Config{Events: c.Events, RowsPerSecond: c.RowsPerSecond, Parallelism: 1}
	start := time.Now()
	sinkOpts := map[string]string{"stream": Stream, "partition-key": "user_id", "stream.create-shards": fmt.Sprint(c.Shards),
		"sink.requests.max-inflight": "8"}
	// Read what this run writes (a kept store may hold older clicks).
	srcOpts := map[string]string{"stream": Stream, "stream.create-shards": fmt.Sprint(c.Shards),
		"scan.startup.mode": "at-timestamp", "scan.startup.timestamp-millis": fmt.Sprint(start.UnixMilli())}
	read := func(env *sluice.Env, opts map[string]string) error {
		res, err := ReadStore(env, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "sluice clickstream-store: the clickstream job reads stream %q, parallelism %d; results: %s\n", Stream, env.Parallelism(), res.Schema())
		res.Print()
		return nil
	}
	write := func(env *sluice.Env) error {
		newSink, err := storeSink(sinkOpts)
		if err != nil {
			return err
		}
		Generate(env, cfg).To("store", newSink)
		return nil
	}
	if c.Events < 0 {
		// Live: the generator writes and the job reads, at the same time.
		env := sluice.NewEnv(sluice.WithParallelism(c.Parallelism), sluice.WithName("demo"))
		if err := write(env); err != nil {
			return err
		}
		if err := read(env, srcOpts); err != nil {
			return err
		}
		fmt.Fprintf(log, "sluice clickstream-store: generating clicks into stream %q of the embedded store; Ctrl-C stops\n", Stream)
		return c.execute(ctx, env, nil)
	}
	// Bounded: load the clicks, then run the job over what the stream holds.
	env := sluice.NewEnv(sluice.WithParallelism(c.Parallelism), sluice.WithName("demo-load"))
	if err := write(env); err != nil {
		return err
	}
	if err := c.execute(ctx, env, nil); err != nil {
		return err
	}
	loaded := time.Since(start)
	fmt.Fprintf(log, "sluice clickstream-store: %d clicks written to stream %q of the embedded store in %v (%.0fk records/s, acknowledged after fsync)\n",
		c.Events, Stream, loaded.Round(time.Millisecond), float64(c.Events)/loaded.Seconds()/1e3)
	srcOpts["scan.bounded.mode"] = "latest"
	set := metrics.NewSet()
	metrics.RegisterSet(set)
	defer metrics.UnregisterSet(set, true)
	env = sluice.NewEnv(sluice.WithParallelism(c.Parallelism), sluice.WithName("demo"), sluice.WithMetrics(set))
	if err := read(env, srcOpts); err != nil {
		return err
	}
	t := time.Now()
	if err := c.execute(ctx, env, set); err != nil {
		return err
	}
	el := time.Since(t)
	total := rt.Stats(set).Total()
	fmt.Fprintf(log, "sluice clickstream-store: %d clicks read back and aggregated in %v (%.0fk records/s); %d late rows dropped, %d bad records\n",
		c.Events, el.Round(time.Millisecond), float64(c.Events)/el.Seconds()/1e3, total.LateRowsDropped, total.BadRecords)
	return nil
}

// ReadStore adds to env the clickstream job's reading side over the store:
// the clicks of stream Stream (a store table with the WITH options opts),
// aggregated as Aggregate does. It returns the results, to be sunk.
func ReadStore(env *sluice.Env, opts map[string]string) (*sluice.WindowResult, error) {
	newSrc, err := storeSource(opts)
	if err != nil {
		return nil, err
	}
	clicks := env.FromSource("clicks", Schema, newSrc, sluice.Watermark("ts", 500*time.Millisecond), sluice.IdleTimeout(time.Second))
	return Aggregate(clicks), nil
}

func storeTable(opts map[string]string) connectors.Table {
	return connectors.Table{Name: "clicks", Schema: Schema, Options: opts}
}

func storeSource(opts map[string]string) (func() rt.Source, error) {
	f, _ := connectors.Lookup("store")
	newSrc, _, err := f.(connectors.Source).NewSource(storeTable(opts))
	return newSrc, err
}

func storeSink(opts map[string]string) (func() rt.Operator, error) {
	f, _ := connectors.Lookup("store")
	newSink, _, err := f.(connectors.Sink).NewSink(storeTable(opts))
	return newSink, err
}
