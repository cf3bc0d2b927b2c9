package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chzyer/readline"

	_ "github.com/sluicehq/sluice/apps/cpualarm" // 'fleet'
	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/alarm"
	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/dashboard"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	_ "github.com/sluicehq/sluice/connectors/delivery"
	_ "github.com/sluicehq/sluice/connectors/file"
	_ "github.com/sluicehq/sluice/connectors/host"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	_ "github.com/sluicehq/sluice/connectors/nexmark"
	_ "github.com/sluicehq/sluice/connectors/print"
	_ "github.com/sluicehq/sluice/connectors/queue"
	_ "github.com/sluicehq/sluice/connectors/store"
	_ "github.com/sluicehq/sluice/connectors/vehicles"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/cks3"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/sql/catalog"
	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/server"
)

// isSQLFile tells a job file from the name of a ready-made job.
// "-" is a job file read from standard input.
func isSQLFile(arg string) bool { return arg == "-" || strings.HasSuffix(strings.ToLower(arg), ".sql") }

// compileFile reads and plans a job file; a positive stateTTL is the
// state TTL of every query, over the file's SET.
func compileFile(ctx context.Context, path string, par int, catalogDir string, stateTTL time.Duration) (*sql.Plan, error) {
	src, name, err := readJobFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return compileSource(name, string(src), par, catalogDir, stateTTL)
}

// compileSource plans src, the job file path.
func compileSource(path, src string, par int, catalogDir string, stateTTL time.Duration) (*sql.Plan, error) {
	var err error
	cat := catalog.New()
	if catalogDir != "" {
		if err := os.MkdirAll(catalogDir, 0o755); err != nil {
			return nil, fmt.Errorf("--catalog %s: %w", catalogDir, err)
		}
		if cat, err = catalog.Open(catalogDir); err != nil {
			return nil, err
		}
	}
	plan, err := sql.Compile(src, sql.Options{File: path, Parallelism: par, Catalog: cat, Out: os.Stdout, StateTTL: stateTTL})
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(os.Stderr, "sluice:", w)
	}
	return plan, nil
}

// readJobFile reads a job file, or standard input for "-"; name is what
// errors call it. A signal (ctx done) while standard input has not ended
// stops the read with errInterrupted.
func readJobFile(ctx context.Context, path string) (src []byte, name string, err error) {
	if path == "-" {
		if readline.IsTerminal(int(os.Stdin.Fd())) {
			fmt.Fprintln(os.Stderr, "sluice: reading the job from standard input; Ctrl-D ends it")
		}
		type read struct {
			src []byte
			err error
		}
		done := make(chan read, 1)
		go func() { // a read cannot be cancelled: it ends with the process
			src, err := io.ReadAll(os.Stdin)
			done <- read{src, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				return nil, "", fmt.Errorf("reading the job from standard input: %w", r.err)
			}
			return r.src, "<stdin>", nil
		case <-ctx.Done():
			return nil, "", errInterrupted
		}
	}
	src, err = os.ReadFile(path)
	return src, path, err
}

type sqlOpts struct {
	par         *int
	metricsAddr *string
	catalogDir  *string
	storeDir    *string
	storeListen *string
	stateTTL    *string

	checkpointDir      *string
	checkpointInterval *time.Duration
	restartAttempts    *int
	allowNonRestored   *bool
	allowDuplicates    *bool
	fromSavepoint      *string
	checkpointS3       ckS3Flags
	storeOnCorruption  *string

	statusInterval *time.Duration

	cluster          *string
	clusterSession   *time.Duration
	checkpointShared *bool

	ui uiFlags
}

func sqlFlags(name string) (*flag.FlagSet, sqlOpts) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return fs, sqlOpts{
		par:         fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)"),
		metricsAddr: fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249"),
		catalogDir:  fs.String("catalog", "", "keep tables in this folder, for later jobs (default: in memory)"),
		storeDir:    fs.String("store-dir", "", "run an embedded stream store over this folder: 'store' tables without 'endpoint' use it"),
		storeListen: fs.String("store-listen", "", "with --store-dir: also serve the embedded store's Kinesis API at this loopback address, e.g. 127.0.0.1:4567"),
		stateTTL:    fs.String("state-ttl", "", "drop the state of a key not updated for this long (processing time), e.g. '1 h' or 30m: GROUP BY without a window; over the file's SET 'table.exec.state.ttl'"),

		checkpointDir:      fs.String("checkpoint-dir", "", "take checkpoints into this folder (or s3://bucket/prefix), and start from the latest one found there"),
		checkpointInterval: fs.Duration("checkpoint-interval", 10*time.Second, "with --checkpoint-dir: time between checkpoints"),
		restartAttempts:    fs.Int("restart-attempts", 10, "with --checkpoint-dir: restarts from the latest checkpoint when an operator fails, before giving up"),
		allowNonRestored:   fs.Bool("allow-non-restored-state", false, "with --checkpoint-dir: start from a checkpoint whose plan differs: operators that do not match start empty"),
		allowDuplicates: fs.Bool("allow-duplicates", false, "start even when an exactly-once sink has already published output newer than the checkpoint restored "+
			"(or any output, when there is no checkpoint): that output is published again"),
		fromSavepoint: fs.String("from-savepoint", "", "with --checkpoint-dir: start from this savepoint (or checkpoint) folder, or s3://bucket/prefix/savepoint-N"),
		checkpointS3:  addCkS3Flags(fs),

		storeOnCorruption: fs.String("store-on-corruption", "stop", "with --store-dir: at records the store lost to damage on disk, readers get an error (stop) or skip them (skip)"),
		statusInterval:    fs.Duration("status-interval", 30*time.Second, "while the job runs, print a status line when a source's count of skipped bad records changed, at most this often (0: never)"),

		cluster: fs.String("cluster", "", "kafka: share the job with every process that runs it with the same 'properties.group.id': each runs the tasks (input partitions) "+
			"the consumer group gives it; needs --checkpoint-dir on storage they all reach (s3://bucket/prefix, or a folder with --checkpoint-shared)"),
		clusterSession:   fs.Duration("cluster-session-timeout", 10*time.Second, "with --cluster: how long the group waits for a silent process before it moves the process's tasks to the others"),
		checkpointShared: fs.Bool("checkpoint-shared", false, "with --cluster: the --checkpoint-dir folder is on storage every process reaches, at the same path (a network file system)"),

		ui: addUIFlags(fs),
	}
}

// ttl reads --state-ttl: Flink's duration forms ('1 h', '10 min', '30 s',
// '3600000 ms', '1 d') or Go's (1h30m); empty means not given.
func (o sqlOpts) ttl() (time.Duration, error) { return parseStateTTL(*o.stateTTL) }

// parseStateTTL reads the value of --state-ttl ("": not given).
func parseStateTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := connectors.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("want a positive duration")
	}
	if err != nil {
		return 0, usagef("--state-ttl %q: %v", s, err)
	}
	return d, nil
}

// runSQLCmd is the usage of sluice run FILE.sql.
var runSQLCmd = command{Use: "run FILE.sql [flags]",
	About:   "Runs every INSERT INTO … SELECT of a SQL job file as one job, until its sources end (or Ctrl-C/SIGTERM), and its function triggers until Ctrl-C/SIGTERM.",
	MaxArgs: 0}

// checkSQLFlags checks the values of the flags of a SQL job.
func checkSQLFlags(fs *flag.FlagSet, o sqlOpts) error {
	if err := checkBounds(fs, parallelismBound(), positive("checkpoint-interval"),
		atLeast("restart-attempts", 0), notNegative("status-interval")); err != nil {
		return err
	}
	if err := checkAddr("metrics-addr", *o.metricsAddr); err != nil {
		return err
	}
	if err := checkAddr("store-listen", *o.storeListen); err != nil {
		return err
	}
	if _, err := o.ui.settings(fs); err != nil {
		return err
	}
	if _, err := slog.ParseCorruptionPolicy(*o.storeOnCorruption); err != nil {
		return usagef("--store-on-corruption: %v", err)
	}
	// Flags that only matter with another one are errors without it.
	if *o.fromSavepoint != "" && *o.checkpointDir == "" {
		return usagef("--from-savepoint needs --checkpoint-dir (where the job's next checkpoints go)")
	}
	if err := needs(fs, "checkpoint-dir", *o.checkpointDir != "",
		"checkpoint-interval", "restart-attempts", "allow-non-restored-state",
		"checkpoint-s3-endpoint", "checkpoint-s3-region", "checkpoint-s3-secure"); err != nil {
		return err
	}
	if err := needs(fs, "cluster", *o.cluster != "", "cluster-session-timeout", "checkpoint-shared"); err != nil {
		return err
	}
	if err := checkClusterFlags(fs, o); err != nil {
		return err
	}
	return needs(fs, "store-dir", *o.storeDir != "", "store-listen", "store-on-corruption")
}

// runSQL runs every INSERT of a job file as one job: sluice run FILE.sql;
// or a ready-made job written in SQL (see sqlJob): sluice run JOB.
func runSQL(ctx context.Context, job sqlJob, args []string) (err error) {
	fs, o := sqlFlags("run")
	prepare := job.addFlags(fs)
	if _, err := parseFlags(fs, job.command(), args); err != nil {
		return err
	}
	done, cleanup, err := prepare(o)
	defer cleanup()
	if done || err != nil {
		return err
	}
	if err := checkSQLFlags(fs, o); err != nil {
		return err
	}
	par, metricsAddr, catalogDir := o.par, o.metricsAddr, o.catalogDir
	if *par <= 0 {
		*par = defaultParallelism()
	}
	ui, err := o.ui.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	if *o.storeDir != "" {
		policy, _ := slog.ParseCorruptionPolicy(*o.storeOnCorruption) // checked
		closeStore, err := openEmbeddedWith(*o.storeDir, *o.storeListen, policy)
		if errors.Is(err, server.ErrFolderInUse) {
			return fmt.Errorf("--store-dir: %w (for a job: leave out --store-dir and give its store tables 'endpoint' = 'URL')", err)
		}
		if err != nil {
			return err
		}
		defer closeStore()
	}
	ttl, err := o.ttl()
	if err != nil {
		return err
	}
	plan, err := job.compile(ctx, *par, *catalogDir, ttl)
	if err != nil {
		return err
	}
	defer func() {
		// Deliver what the job's topics still hold (bounded jobs end with
		// their notifications sent), for at most a minute; a signal now
		// cuts that short (what is left goes to the dead letters), and
		// another one stops at once.
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		closed := make(chan struct{})
		defer close(closed)
		go func() {
			select {
			case <-sigs:
				cancel()
			case <-closed:
				return
			}
			select {
			case sig := <-sigs:
				exitAtOnce(sig)
			case <-closed:
			}
		}()
		if err := plan.Close(dctx); err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
		}
	}()
	if len(plan.Triggers) > 0 {
		// err is runSQL's result here (no :=): the triggers' errors join it.
		var stopMetrics func()
		if stopMetrics, err = serveMetrics(ctx, *metricsAddr); err != nil {
			return err
		}
		defer stopMetrics()
		*metricsAddr = "" // served
		var trs *jobTriggers
		if trs, err = startTriggers(ctx, plan.Triggers, ui); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, trs.stop()) }()
		if plan.Graph == nil {
			// Triggers only: they run until Ctrl-C/SIGTERM.
			trs.wait(ctx)
			return nil
		}
		defer func() {
			if err == nil && ctx.Err() == nil {
				logf("the job ended; its function triggers go on until Ctrl-C")
				trs.wait(ctx)
			}
		}()
	}
	if plan.Graph == nil {
		// DDL only: say so, rather than end in silence.
		kept := "they last as long as this run"
		if *catalogDir != "" {
			kept = "kept in the catalog " + *catalogDir
		}
		name := job.path
		if job.path == "-" {
			name = "the job on standard input"
		}
		logf("%s has no INSERT INTO … SELECT: nothing to run (its tables and topics are defined; %s)", name, kept)
		return nil
	}
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	// Bad records: a status line while the job runs, the summary when it ends.
	endStatus := startStatus(os.Stderr, *o.statusInterval)
	defer endStatus()
	if *o.cluster != "" {
		return runCluster(ctx, plan.Graph, o, ui)
	}
	set, unregister := jobMetrics()
	defer unregister()
	ended := ui.job(plan.Graph, *par, set)
	if *o.checkpointDir == "" {
		err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: *par, AllowDuplicates: *o.allowDuplicates,
			Log: logf, Metrics: set})
		ended(err)
		return err
	}
	err = runCheckpointed(ctx, plan.Graph, *par, o, set, ended)
	ended(err) // when it failed before the job ran
	return err
}

// logf writes a line of a job's log to stderr.
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "sluice: "+format+"\n", args...) }

// runCheckpointed runs a job with checkpoints (see runtime.Supervise): it
// starts from --from-savepoint or the latest complete checkpoint in
// --checkpoint-dir, restarts in-process from the latest checkpoint when an
// operator fails, and answers the first SIGINT/SIGTERM with a savepoint (a
// second one stops at once).
func runCheckpointed(ctx context.Context, g *runtime.Graph, par int, o sqlOpts, set *metrics.Set, ended func(error)) error {
	if *o.checkpointInterval <= 0 {
		return fmt.Errorf("--checkpoint-interval %v: want a positive duration", *o.checkpointInterval)
	}
	sup := runtime.SupervisorOptions{Dir: *o.checkpointDir, Interval: *o.checkpointInterval,
		RestartAttempts: *o.restartAttempts, AllowNonRestoredState: *o.allowNonRestored, AllowDuplicates: *o.allowDuplicates,
		Log: logf}
	if err := injectFaults(&sup); err != nil {
		return err
	}
	if cks3.IsURL(sup.Dir) {
		st, err := o.checkpointS3.open(ctx, sup.Dir)
		if err != nil {
			return fmt.Errorf("--checkpoint-dir: %w", err)
		}
		sup.Store = st
	}
	if *o.fromSavepoint != "" {
		sp, err := o.checkpointS3.load(ctx, *o.fromSavepoint)
		if err != nil {
			return fmt.Errorf("--from-savepoint: %w", err)
		}
		sup.Restore = sp
	}
	// Signals: the first asks for a savepoint, a second stops at once. ctx
	// ends at the first, so the job runs under a context of its own.
	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	savepoint := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		select {
		case <-sigs:
		case <-watchDone:
			return
		}
		logf("stopping with a savepoint (again to stop at once)")
		close(savepoint)
		select {
		case sig := <-sigs:
			exitAtOnce(sig)
		case <-watchDone:
		}
	}()
	sup.StopWithSavepoint = savepoint
	err := runtime.Supervise(jobCtx, g, runtime.Options{Parallelism: par, Metrics: set}, sup)
	ended(err)
	var se *runtime.SavepointError
	if errors.As(err, &se) {
		logf("savepoint written to %s; resume with --from-savepoint %s", se.Path, se.Path)
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
