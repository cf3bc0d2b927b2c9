package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/cluster"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/cks3"
)

// checkClusterFlags checks the flags of a job several processes share
// (--cluster kafka).
func checkClusterFlags(fs *flag.FlagSet, o sqlOpts) error {
	if *o.cluster == "" {
		return nil
	}
	if *o.cluster != "kafka" {
		return usagef("--cluster %q: the one way to share a job is kafka (its consumer group and topics)", *o.cluster)
	}
	switch {
	case *o.checkpointDir == "":
		return usagef("--cluster kafka needs --checkpoint-dir: a task's state moves to its next process through it (s3://bucket/prefix, or a shared folder with --checkpoint-shared)")
	case *o.checkpointShared && cks3.IsURL(*o.checkpointDir):
		return usagef("--checkpoint-shared is for a folder: a bucket (%s) is shared already", *o.checkpointDir)
	case *o.fromSavepoint != "":
		return usagef("--from-savepoint cannot start a job shared with --cluster: each task starts from the checkpoint its last commit to the consumer group names")
	case given(fs, "parallelism"):
		return usagef("--parallelism does not apply with --cluster: a shared job runs one subtask of each operator per task, and a task per input partition")
	case *o.allowNonRestored:
		return usagef("--allow-non-restored-state cannot be used with --cluster: the processes of a shared job must run the same plan")
	case *o.clusterSession <= 0:
		return usagef("--cluster-session-timeout %v: want a positive duration", *o.clusterSession)
	}
	return nil
}

// runCluster runs this process's share of a job that several processes
// run together (--cluster kafka): see package cluster.
func runCluster(ctx context.Context, g *runtime.Graph, o sqlOpts, ui *uiConsole) error {
	j, err := cluster.Split(g)
	if err != nil {
		return err
	}
	if err := j.Resolve(ctx); err != nil {
		return err
	}
	var store runtime.CheckpointStore
	dir := *o.checkpointDir
	if cks3.IsURL(dir) {
		st, err := o.checkpointS3.open(ctx, dir)
		if err != nil {
			return fmt.Errorf("--checkpoint-dir: %w", err)
		}
		store = st
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		store = runtime.DirStore(abs)
	}
	set, unregister := jobMetrics()
	defer unregister()
	for line := range strings.Lines(j.Describe()) {
		logf("%s", strings.TrimSuffix(line, "\n"))
	}
	err = cluster.Run(ctx, j, cluster.Options{
		Store: store, SharedFolder: *o.checkpointShared, Interval: *o.checkpointInterval,
		SessionTimeout: *o.clusterSession, RestartAttempts: *o.restartAttempts, Metrics: set, Log: logf,
		OnTask: func(task int, name string, g *runtime.Graph, set *metrics.Set) func(error) {
			return ui.job(g, 1, set)
		},
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
