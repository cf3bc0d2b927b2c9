package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/apps/cpualarm"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/store/server"
)

// alarmFlags are the flags of the CPU alarm job.
type alarmFlags struct {
	threshold *float64
	n, m      *int
	webhook   *string
	par       *int
	metrics   *string
	ui        uiFlags
}

func addAlarmFlags(fs *flag.FlagSet) alarmFlags {
	return alarmFlags{
		threshold: fs.Float64("threshold", 90, "alarm when the average CPU % of a period is above this"),
		n:         fs.Int("evaluation-periods", 3, "N: the periods (10 s each) the alarm looks at"),
		m:         fs.Int("datapoints-to-alarm", 2, "M: breaching periods among the N that make ALARM"),
		webhook:   fs.String("webhook", "", "also POST ALARM notifications (SNS envelopes) to this http(s) URL"),
		par:       fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)"),
		metrics:   fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics"),
		ui:        addUIFlags(fs),
	}
}

// check checks the values of the alarm flags.
func (a alarmFlags) check(fs *flag.FlagSet) error {
	if err := checkBounds(fs, bound{"threshold", func(v float64) bool { return v > 0 && v <= 100 }, "above 0, up to 100"},
		atLeast("evaluation-periods", 1), between("datapoints-to-alarm", 1, float64(*a.n)), parallelismBound()); err != nil {
		return err
	}
	if err := checkURL("webhook", *a.webhook, "https://hooks.example.com/alarms"); err != nil {
		return err
	}
	if _, err := a.ui.settings(fs); err != nil {
		return err
	}
	return checkAddr("metrics-addr", *a.metrics)
}

func (a alarmFlags) config() cpualarm.Config {
	return cpualarm.Config{Threshold: *a.threshold, EvaluationPeriods: *a.n, DatapointsToAlarm: *a.m, Webhook: *a.webhook}
}

// runDemo runs the main job on the embedded default: the embedded store,
// this machine's CPU and a simulated fleet written to its 'metrics' stream,
// and the CPU alarm job over the stream, printing notifications as alarms
// change state, with a live status line.
func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	a := addAlarmFlags(fs)
	fs.Lookup("evaluation-periods").Usage = "N: the periods (of --period each) the alarm looks at"
	hosts := fs.Int("hosts", 50, "hosts in the simulated fleet")
	spiking := fs.Int("spiking", 3, "hosts of the fleet whose CPU spikes for a minute every three minutes")
	storeDir := fs.String("store-dir", "", "folder of the embedded store (default: a temporary folder, removed at the end)")
	storeListen := fs.String("store-listen", "", "also serve the embedded store's Kinesis API at this loopback address")
	duration := fs.Duration("duration", 0, "stop after this long (0: at Ctrl-C)")
	period := fs.Duration("period", 10*time.Second, "the alarm's period (whole seconds); the fleet reports ten times per period")
	if _, err := parseFlags(fs, command{Use: "demo [flags]", MaxArgs: 0,
		About: "CPU alarms, live: this machine and a simulated fleet report CPU into the embedded store; a\n" +
			"per-host average per --period (10 s) feeds an M-of-N alarm (2 of 3) whose state changes are\n" +
			"printed (and posted to --webhook). Ctrl-C stops."}, args); err != nil {
		return err
	}
	if err := a.check(fs); err != nil {
		return err
	}
	spikingBound := between("spiking", 0, float64(*hosts))
	spikingBound.want = fmt.Sprintf("from 0 to --hosts (%d)", *hosts)
	if err := checkBounds(fs, atLeast("hosts", 0), spikingBound, notNegative("duration"), positive("period")); err != nil {
		return err
	}
	if err := checkAddr("store-listen", *storeListen); err != nil {
		return err
	}
	if *period < time.Second || *period%time.Second != 0 {
		return usagef("--period %v: want whole seconds", *period)
	}
	ui, err := a.ui.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	closeStore, err := openEmbeddedOrTemp(*storeDir, *storeListen)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg := a.config()
	cfg.Feed, cfg.Hosts, cfg.Spiking, cfg.StartMillis, cfg.Period = true, *hosts, *spiking, time.Now().UnixMilli(), *period
	if _, err := os.Stat("/proc/stat"); err != nil {
		cfg.NoMachine = true
		fmt.Fprintln(os.Stderr, "sluice demo: no /proc/stat here: the fleet reports without this machine")
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	fmt.Fprintf(os.Stderr, "sluice demo: %d simulated hosts (%d spiking) and this machine report CPU every second into stream \"metrics\" of the embedded store;\n"+
		"alarm HighCPU: average CPU above %g%% in %d of the last %d periods of %v. Notifications below; Ctrl-C stops.\n",
		*hosts, *spiking, cfg.Threshold, cfg.DatapointsToAlarm, cfg.EvaluationPeriods, cfg.Period)
	return runAlarmJob(ctx, "demo", cfg, *a.par, *a.metrics, ui)
}

// runCPUAlarm runs the CPU alarm job over a store stream: sluice run
// cpualarm [--endpoint URL | --store-dir DIR] [flags].
func runCPUAlarm(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run cpualarm", flag.ContinueOnError)
	a := addAlarmFlags(fs)
	stream := fs.String("stream", "metrics", "the store stream of (host, cpu, ts) JSON records")
	endpoint := fs.String("endpoint", "", "the store's URL (default: the embedded store of --store-dir)")
	storeDir := fs.String("store-dir", "", "run an embedded store over this folder")
	storeListen := fs.String("store-listen", "", "with --store-dir: also serve its Kinesis API at this loopback address")
	if _, err := parseFlags(fs, command{Use: "run cpualarm [flags]", MaxArgs: 0,
		About: "The demo's alarm: " + apps["cpualarm"] + "."}, args); err != nil {
		return err
	}
	if err := a.check(fs); err != nil {
		return err
	}
	if err := checkAddr("store-listen", *storeListen); err != nil {
		return err
	}
	if err := checkURL("endpoint", *endpoint, defaultStoreEndpoint); err != nil {
		return err
	}
	if err := needs(fs, "store-dir", *storeDir != "", "store-listen"); err != nil {
		return err
	}
	if (*endpoint == "") == (*storeDir == "") {
		return usagef("give the store: --endpoint URL, or --store-dir DIR for an embedded one")
	}
	ui, err := a.ui.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	if *storeDir != "" {
		closeStore, err := openEmbedded(*storeDir, *storeListen)
		if errors.Is(err, server.ErrFolderInUse) {
			return fmt.Errorf("--store-dir: %w (give --endpoint URL instead of --store-dir)", err)
		}
		if err != nil {
			return err
		}
		defer closeStore()
	}
	cfg := a.config()
	cfg.Stream, cfg.StoreEndpoint = *stream, *endpoint
	return runAlarmJob(ctx, "cpualarm", cfg, *a.par, *a.metrics, ui)
}

// runAlarmJob runs an alarm job (see cpualarm.Run) until ctx ends, with a
// status line on standard error, and delivers the notifications still
// queued.
func runAlarmJob(ctx context.Context, name string, cfg cpualarm.Config, par int, metricsAddr string, ui *uiConsole) error {
	if par <= 0 {
		par = defaultParallelism()
	}
	stop, err := serveMetrics(ctx, metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	st, _ := os.Stderr.Stat()
	tty := st != nil && st.Mode()&os.ModeCharDevice != 0
	return cpualarm.Run(ctx, cfg, cpualarm.RunOptions{Name: name, Parallelism: par, Out: os.Stdout, Status: os.Stderr, Terminal: tty,
		Started: func(g *runtime.Graph, set *metrics.Set) func(error) { return ui.job(g, par, set) }})
}
