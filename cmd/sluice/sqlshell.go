package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/internal/shell"
	"github.com/sluicehq/sluice/sql/catalog"
)

// runSQLShell is sluice sql: the SQL shell over a catalog and an embedded
// store.
func runSQLShell(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	par := fs.Int("parallelism", 0, "`N` subtasks per operator (0: the number of CPUs)")
	catalogDir := fs.String("catalog", "", "keep tables in folder `DIR`, for later sessions and jobs (default: in memory)")
	storeDir := fs.String("store-dir", "", "run an embedded stream store over folder `DIR`: 'store' tables without 'endpoint' use it (default: a temporary folder, removed at exit)")
	storeListen := fs.String("store-listen", "", "also serve the embedded store's Kinesis API at loopback address `ADDR`, e.g. 127.0.0.1:4567")
	stateTTL := fs.String("state-ttl", "", "drop the state of a key not updated for `D` (processing time), e.g. '1 h' or 30m, over SET 'table.exec.state.ttl'")
	uiF := addUIFlags(fs)
	if _, err := parseFlags(fs, command{Use: "sql [flags]", About: shell.About, MaxArgs: 0}, args); err != nil {
		return err
	}
	if err := checkBounds(fs, parallelismBound()); err != nil {
		return err
	}
	if err := checkAddr("store-listen", *storeListen); err != nil {
		return err
	}
	if _, err := uiF.settings(fs); err != nil {
		return err
	}
	if *par == 0 {
		*par = defaultParallelism()
	}
	ttl, err := sqlOpts{stateTTL: stateTTL}.ttl()
	if err != nil {
		return err
	}
	cat := catalog.New()
	if *catalogDir != "" {
		if err := os.MkdirAll(*catalogDir, 0o755); err != nil {
			return fmt.Errorf("--catalog %s: %w", *catalogDir, err)
		}
		if cat, err = catalog.Open(*catalogDir); err != nil {
			return err
		}
	}
	ui, err := uiF.start(fs)
	if err != nil {
		return err
	}
	defer ui.close()
	closeStore, err := openEmbeddedOrTemp(*storeDir, *storeListen)
	if err != nil {
		return err
	}
	defer closeStore()
	return shell.Run(ctx, shell.Options{Parallelism: *par, Catalog: cat, StateTTL: ttl, Log: logf, AtOnce: exitAtOnce,
		Started: ui.job,
		Banner:  fmt.Sprintf("sluice %s SQL shell: statements end with ';'; HELP; lists the shell's statements, Ctrl-D leaves.", version)})
}
