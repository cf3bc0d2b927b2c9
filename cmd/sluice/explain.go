package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
)

// runExplain prints the physical plan of a ready-made job:
// sluice explain JOB [--parallelism N].
func runExplain(_ context.Context, args []string) error {
	var name string
	if len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
		name, args = args[0], args[1:]
	}
	if isSQLFile(name) {
		return explainSQL(name, args)
	}
	if name == "" && isHelp(args) {
		return sqlHelp("explain", "print the physical plan of a SQL job file (its settings, operators, state)")
	}
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("usage: sluice explain FILE.sql|JOB [--parallelism N]; jobs: %s", appNames())
	}
	if _, ok := apps[name]; !ok {
		return fmt.Errorf("unknown job %q; jobs: %s", name, appNames())
	}
	env := sluice.NewEnv(sluice.WithParallelism(*par), sluice.WithName(name))
	clickstream.Build(env, clickstream.Config{Events: -1}).Print()
	if err := env.Err(); err != nil {
		return err
	}
	fmt.Print(env.Graph().Explain(env.Parallelism()))
	return nil
}
