package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/host"
	"github.com/sluicehq/sluice/store/agent"
	"github.com/sluicehq/sluice/store/client"
)

// agentShutdownTimeout is the default of --stop-timeout: how long the agent
// goes on sending what it has read once it is told to stop.
const agentShutdownTimeout = 30 * time.Second

// runAgent tails files into a stream:
// sluice agent --endpoint URL --stream S [--partition-key-field F] FILE….
func runAgent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:4567", "URL of the Kinesis API (sluice store)")
	stream := fs.String("stream", "", "stream to send the lines to")
	keyField := fs.String("partition-key-field", "", "JSON field of each line whose value is its partition key (default: round-robin keys)")
	fromStart := fs.Bool("from-start", false, "also send the lines already in the files (default: start at their end)")
	accessKey := fs.String("access-key", "", "access key ID to sign requests with (default $AWS_ACCESS_KEY_ID)")
	secretKey := fs.String("secret-key", "", "secret key of --access-key (default $AWS_SECRET_ACCESS_KEY)")
	region := fs.String("region", "", "region named in signed requests (default $AWS_REGION or $AWS_DEFAULT_REGION)")
	progress := fs.Duration("progress", 5*time.Second, "interval of the progress line on stderr")
	flush := fs.Duration("flush", 100*time.Millisecond, "longest wait of a read line before it is sent")
	hostMetrics := fs.Duration("host-metrics", 0, "also send this machine's CPU and memory every interval, e.g. 1s, as JSON (host, core, cpu, mem_used_pct, ts) — like the CloudWatch agent")
	perCore := fs.Bool("per-core", false, "with --host-metrics: a record per core too")
	stopTimeout := fs.Duration("stop-timeout", agentShutdownTimeout, "at Ctrl-C or SIGTERM, how long to go on sending the lines already read; lines still unsent then make the exit status 1")
	files, err := parseFlags(fs, command{Use: "agent --stream S [flags] FILE...\n       sluice agent --stream S --host-metrics D [flags] [FILE...]", MaxArgs: -1,
		About: "Tails FILEs (following rotation) and sends each new line as a record with PutRecords,\n" +
			"retrying failed records until they are written (Ctrl-C or SIGTERM stops). With --host-metrics\n" +
			"it also sends this machine's CPU and memory, and needs no FILE."}, args)
	if err != nil {
		return err
	}
	if err := checkBounds(fs, positive("progress"), positive("flush"), notNegative("host-metrics"), positive("stop-timeout")); err != nil {
		return err
	}
	if *stream == "" {
		return usagef("--stream is required")
	}
	if len(files) == 0 && *hostMetrics <= 0 {
		return usagef("name at least one FILE to tail, or --host-metrics")
	}
	if *endpoint == "" {
		return usagef("--endpoint is empty: want an http(s) URL, e.g. %s", defaultStoreEndpoint)
	}
	if err := checkURL("endpoint", *endpoint, defaultStoreEndpoint); err != nil {
		return err
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			return usagef("%s is a folder: name the files to tail", f)
		}
	}
	if err := needs(fs, "host-metrics", *hostMetrics > 0, "per-core"); err != nil {
		return err
	}
	creds, err := signingCredentials(*accessKey, *secretKey, *region)
	if err != nil {
		return err
	}
	c := client.New(*endpoint, nil)
	if creds != nil {
		c = c.WithCredentials(*creds)
	}
	a, err := agent.New(agent.Config{
		Client:            c,
		Stream:            *stream,
		Files:             files,
		PartitionKeyField: *keyField,
		FromStart:         *fromStart,
		FlushInterval:     *flush,
		Progress:          os.Stderr,
		ProgressInterval:  *progress,
		Producers:         hostProducers(*hostMetrics, *perCore),
		ShutdownTimeout:   *stopTimeout,
		Started: func() {
			what := fmt.Sprintf("tailing %d file(s)", len(files))
			switch {
			case *hostMetrics > 0 && len(files) == 0:
				what = fmt.Sprintf("sending this machine's CPU and memory every %v", *hostMetrics)
			case *hostMetrics > 0:
				what += fmt.Sprintf(" and this machine's CPU and memory (every %v)", *hostMetrics)
			}
			fmt.Fprintf(os.Stderr, "sluice agent: %s into stream %s at %s\n", what, *stream, *endpoint)
		},
	})
	if err != nil {
		return err
	}
	// At a signal, the lines read and not yet sent are sent (and retried)
	// before the agent stops: say so, since that may take a while.
	defer context.AfterFunc(ctx, func() {
		if n := a.Stats.LinesRead.Load() - a.Stats.RecordsSent.Load() - a.Stats.Failed.Load(); n > 0 {
			fmt.Fprintf(os.Stderr, "sluice agent: stopping: sending the %d line(s) read and not yet sent, for up to %v (again to stop at once)\n",
				n, *stopTimeout)
		}
	})()
	if err := a.Run(ctx); errors.Is(err, agent.ErrRefused) {
		return fmt.Errorf("agent: %w: give --access-key and --secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) "+
			"that the store at %s accepts", err, *endpoint)
	} else if errors.Is(err, agent.ErrStreamNotFound) {
		return fmt.Errorf("agent: stream %q does not exist on the store at %s: create it with "+
			"`sluice stream create %s --shards 1 --endpoint %s` "+
			"or `aws kinesis create-stream --stream-name %s --shard-count 1 --endpoint-url %s`, then start the agent again",
			*stream, *endpoint, *stream, *endpoint, *stream, *endpoint)
	} else if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if n := a.Stats.Failed.Load(); n > 0 {
		return fmt.Errorf("agent: %d line(s) read were not sent (the lines above say why)", n)
	}
	return nil
}

// hostProducers samples this machine every interval (none when it is 0).
func hostProducers(interval time.Duration, perCore bool) []func(context.Context, func([]byte) bool) {
	if interval <= 0 {
		return nil
	}
	return []func(context.Context, func([]byte) bool){func(ctx context.Context, emit func([]byte) bool) {
		pace := connectors.Pacer{Interval: interval}
		sampler := host.Sampler{PerCore: perCore}
		for ctx.Err() == nil {
			now, due, _ := pace.Due(ctx)
			if !due {
				continue
			}
			readings, err := sampler.Sample(now)
			if err != nil {
				fmt.Fprintln(os.Stderr, "sluice agent: host metrics:", err)
				return
			}
			for _, r := range readings {
				line, _ := json.Marshal(r)
				if !emit(line) {
					return
				}
			}
		}
	}}
}
