// Command sluice is Sluice's one binary: it runs jobs, the demo and the
// benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

const usage = `sluice — real-time stream analytics

Usage:
  sluice demo  [flags]      the main job: live CPU alarms over the embedded stream store (Ctrl-C stops)
  sluice run FILE.sql [--parallelism N] [--metrics-addr ADDR] [--catalog DIR] [--store-dir DIR [--store-listen ADDR]]
                  [--state-ttl D] [--status-interval 30s]
                  [--checkpoint-dir DIR [--checkpoint-interval 10s] [--restart-attempts 10] [--from-savepoint PATH]
                   [--allow-non-restored-state] [--allow-duplicates]]
                            run every INSERT INTO … SELECT of a SQL job file as one job ("sluice run -h": every flag);
                            FILE "-" reads the job from standard input
  sluice run JOB [flags]    run a ready-made job by name (clickstream, clickstream-store, cpualarm)
  sluice sql [--catalog DIR] [--store-dir DIR]   a SQL shell: live SELECT results, DDL, EXPLAIN, background INSERT jobs
                            (or runs the statements piped in: sluice sql < job.sql)
  sluice explain FILE.sql|JOB [--parallelism N] [--state-ttl D]   print the physical plan of a job
  sluice catalog [--catalog DIR] list | describe NAME
  sluice store --listen 127.0.0.1:4567 --data DIR [--access-key K --secret-key S] [--fsync group|always|never]
               [--on-corruption stop|skip] [--max-conns N] [--max-shards N]
                            serve the stream store with the Kinesis Data Streams API
  sluice agent --endpoint URL --stream S [--partition-key-field F] FILE...   tail files into a stream
  sluice bench [flags]      run the benchmarks against their peers and print the ratios
  sluice version

Run "sluice COMMAND -h" for the flags of a command.
`

var version = "0.1.0-dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "demo":
		err = runDemo(ctx, os.Args[2:])
	case "run":
		err = runRun(ctx, os.Args[2:])
	case "store":
		err = runStore(ctx, os.Args[2:])
	case "catalog":
		err = runCatalog(ctx, os.Args[2:])
	case "explain":
		err = runExplain(ctx, os.Args[2:])
	case "agent":
		err = runAgent(ctx, os.Args[2:])
	case "bench":
		err = runBench(ctx, os.Args[2:])
	case "sql":
		err = runSQLShell(ctx, os.Args[2:])
	case "version", "--version":
		fmt.Println("sluice", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "sluice: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

func defaultParallelism() int { return runtime.GOMAXPROCS(0) }
