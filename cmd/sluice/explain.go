package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/apps/clickstream"
	"github.com/sluicehq/sluice/apps/cpualarm"
	"github.com/sluicehq/sluice/cluster"
	"github.com/sluicehq/sluice/runtime"
)

var explainCmd = command{Use: "explain FILE.sql|JOB [flags]",
	About: "Prints the physical plan of a SQL job file or of a ready-made job (see sluice run -h):\n" +
		"the job's settings, then every operator with its parallelism, output columns, watermarks, inputs\n" +
		"(forward and chained, or hashed on key columns), expressions and state. Nothing is run.",
	MaxArgs: 1}

// runExplain prints the physical plan of a job file or a ready-made job:
// sluice explain FILE.sql|JOB [flags].
func runExplain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	par := fs.Int("parallelism", 0, "subtasks per operator (0: number of CPUs)")
	stateTTL := fs.String("state-ttl", "", "drop the state of a key not updated for this long, as sluice run --state-ttl (FILE.sql only)")
	catalogDir := fs.String("catalog", "", "the catalog folder of tables defined by earlier jobs, as sluice run --catalog (FILE.sql only)")
	format := fs.String("format", "text", "text, or json: the plan as a JSON object (job, parallelism, settings, operators)")
	clusterMode := fs.String("cluster", "", "kafka: the plan each task of a job shared with sluice run --cluster kafka runs, and its repartition topics (FILE.sql only)")
	pos, err := parseFlags(fs, explainCmd, args)
	if err != nil {
		return err
	}
	if err := checkBounds(fs, parallelismBound()); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	if len(pos) == 0 {
		return usagef("name a job file (FILE.sql) or a ready-made job (%s); \"sluice explain -h\" lists the flags", appNames())
	}
	if *par <= 0 {
		*par = defaultParallelism()
	}
	if *clusterMode != "" && *clusterMode != "kafka" {
		return usagef("--cluster %q: the one way to share a job is kafka", *clusterMode)
	}
	var plan runtime.PhysicalPlan
	var shared []string
	if name := pos[0]; isSQLFile(name) {
		plan, shared, err = explainSQL(ctx, name, *par, *catalogDir, *stateTTL, *clusterMode != "")
	} else {
		if *clusterMode != "" {
			return usagef("--cluster is for job files (FILE.sql)")
		}
		if *stateTTL != "" || *catalogDir != "" {
			return usagef("--state-ttl and --catalog are for job files (FILE.sql), not ready-made jobs")
		}
		plan, err = explainJob(name, *par)
	}
	if err != nil {
		return err
	}
	if *format == "json" {
		plan.Settings = append(plan.Settings, shared...)
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // "<stdin>", "a < b" as written, not \u003c
		return enc.Encode(plan)
	}
	if plan.Job == "" {
		fmt.Println("(no INSERT: nothing to run)")
		return nil
	}
	if len(plan.Settings) > 0 { // as sql.Plan.Explain
		fmt.Print("settings: ", strings.Join(plan.Settings, "; "), "\n")
	}
	for _, line := range shared {
		fmt.Println(line)
	}
	fmt.Print(plan.String())
	return nil
}

// explainSQL plans a job file; a job file without INSERT has a plan
// without Job and operators.
func explainSQL(ctx context.Context, path string, par int, catalogDir, stateTTL string, shared bool) (runtime.PhysicalPlan, []string, error) {
	ttl, err := parseStateTTL(stateTTL)
	if err != nil {
		return runtime.PhysicalPlan{}, nil, err
	}
	src, name, err := readJobFile(ctx, path)
	if err != nil {
		return runtime.PhysicalPlan{}, nil, err
	}
	return explainSource(name, string(src), par, catalogDir, ttl, shared)
}

// explainSource plans the job file path that holds src; shared plans it as
// the tasks of a job shared by several processes run it (sluice run
// --cluster kafka), at one subtask per operator and without asking the
// brokers, and the lines say how the job is shared.
func explainSource(path, src string, par int, catalogDir string, ttl time.Duration, shared bool) (runtime.PhysicalPlan, []string, error) {
	if shared {
		par = 1
	}
	// Planning only: 'store' tables without an endpoint need an embedded
	// store to plan against, not its data.
	closeStore, err := openEmbeddedOrTemp("", "")
	if err != nil {
		return runtime.PhysicalPlan{}, nil, err
	}
	defer closeStore()
	plan, err := compileSource(path, src, par, catalogDir, ttl)
	if err != nil {
		return runtime.PhysicalPlan{}, nil, err
	}
	defer plan.Close(context.Background())
	if plan.Graph == nil {
		return runtime.PhysicalPlan{Parallelism: par, Settings: plan.Settings, Operators: []runtime.PlanOperator{}}, nil, nil
	}
	if !shared {
		p := plan.Graph.Physical(plan.Parallelism)
		p.Settings = plan.Settings
		return p, nil, nil
	}
	j, err := cluster.Split(plan.Graph)
	if err != nil {
		return runtime.PhysicalPlan{}, nil, err
	}
	p := j.Graph.Physical(1)
	p.Settings = plan.Settings
	var lines []string
	for line := range strings.Lines(j.Describe()) {
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	return p, lines, nil
}

// explainJob plans a ready-made job, with its default flags.
func explainJob(name string, par int) (runtime.PhysicalPlan, error) {
	if _, ok := apps[name]; !ok {
		return runtime.PhysicalPlan{}, unknownJob(name)
	}
	if a := sqlApps[name]; a != nil {
		p, _, err := explainSource(name+".sql", a.defaultSQL(), par, "", 0, false)
		return p, err
	}
	if name == "cpualarm" {
		p, _, err := explainSource("cpualarm.sql", cpualarm.SQL(cpualarm.Config{}), par, "", 0, false)
		return p, err
	}
	env := sluice.NewEnv(sluice.WithParallelism(par), sluice.WithName(name))
	if name == "clickstream-store" {
		// The job that reads the clicks back from the store's stream.
		closeStore, err := openEmbeddedOrTemp("", "")
		if err != nil {
			return runtime.PhysicalPlan{}, err
		}
		defer closeStore()
		res, err := clickstream.ReadStore(env, map[string]string{"stream": clickstream.Stream, "stream.create-shards": "4"})
		if err != nil {
			return runtime.PhysicalPlan{}, err
		}
		res.Print()
	} else {
		clickstream.Build(env, clickstream.Config{Events: -1}).Print()
	}
	if err := env.Err(); err != nil {
		return runtime.PhysicalPlan{}, err
	}
	return env.Graph().Physical(env.Parallelism()), nil
}
