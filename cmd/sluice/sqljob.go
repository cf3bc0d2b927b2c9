package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	_ "github.com/sluicehq/sluice/connectors/file"
	_ "github.com/sluicehq/sluice/connectors/print"
	_ "github.com/sluicehq/sluice/connectors/store"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/sql/catalog"
)

// isSQLFile tells a job file from the name of a ready-made job.
func isSQLFile(arg string) bool { return strings.HasSuffix(strings.ToLower(arg), ".sql") }

// compileFile reads and plans a job file.
func compileFile(path string, par int, catalogDir string) (*sql.Plan, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cat := catalog.New()
	if catalogDir != "" {
		if err := os.MkdirAll(catalogDir, 0o755); err != nil {
			return nil, fmt.Errorf("--catalog %s: %w", catalogDir, err)
		}
		if cat, err = catalog.Open(catalogDir); err != nil {
			return nil, err
		}
	}
	return sql.Compile(string(src), sql.Options{File: path, Parallelism: par, Catalog: cat, Out: os.Stdout})
}

type sqlOpts struct {
	par         *int
	metricsAddr *string
	catalogDir  *string
	storeDir    *string
	storeListen *string
}

func sqlFlags(name string) (*flag.FlagSet, sqlOpts) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return fs, sqlOpts{
		par:         fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)"),
		metricsAddr: fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9249"),
		catalogDir:  fs.String("catalog", "", "keep tables in this folder, for later jobs (default: in memory)"),
		storeDir:    fs.String("store-dir", "", "run an embedded stream store over this folder: 'store' tables without 'endpoint' use it"),
		storeListen: fs.String("store-listen", "", "with --store-dir: also serve the embedded store's Kinesis API at this loopback address, e.g. 127.0.0.1:4567"),
	}
}

// runSQL runs every INSERT of a job file as one job: sluice run FILE.sql.
func runSQL(ctx context.Context, path string, args []string) error {
	fs, o := sqlFlags("run " + path)
	if err := fs.Parse(args); err != nil {
		return err
	}
	par, metricsAddr, catalogDir := o.par, o.metricsAddr, o.catalogDir
	if *par <= 0 {
		*par = defaultParallelism()
	}
	if *o.storeListen != "" && *o.storeDir == "" {
		return errors.New("--store-listen needs --store-dir")
	}
	if *o.storeDir != "" {
		closeStore, err := openEmbedded(*o.storeDir, *o.storeListen)
		if err != nil {
			return err
		}
		defer closeStore()
	}
	plan, err := compileFile(path, *par, *catalogDir)
	if err != nil {
		return err
	}
	if plan.Graph == nil {
		return nil // DDL only
	}
	stop, err := serveMetrics(ctx, *metricsAddr)
	if err != nil {
		return err
	}
	defer stop()
	return runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: *par})
}

// explainSQL prints the physical plan of a job file.
func explainSQL(path string, args []string) error {
	fs, o := sqlFlags("explain " + path)
	if err := fs.Parse(args); err != nil {
		return err
	}
	par, catalogDir := o.par, o.catalogDir
	if *o.storeDir != "" {
		closeStore, err := openEmbedded(*o.storeDir, "")
		if err != nil {
			return err
		}
		defer closeStore()
	}
	if *par <= 0 {
		*par = defaultParallelism()
	}
	plan, err := compileFile(path, *par, *catalogDir)
	if err != nil {
		return err
	}
	if plan.Graph == nil {
		fmt.Println("(no INSERT: nothing to run)")
		return nil
	}
	fmt.Print(plan.Explain())
	return nil
}
