package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
)

// runRun runs a SQL job file or a ready-made job by name:
// sluice run FILE.sql [flags] | sluice run JOB [flags].
func runRun(ctx context.Context, args []string) error {
	target, rest, help := splitTarget(args)
	switch {
	case target == "" && help:
		fs, _ := sqlFlags("run")
		printUsage(os.Stdout, fs, command{Use: "run FILE.sql [flags]\n       sluice run JOB [flags]",
			About: runSQLCmd.About + " The flags below are those of a job file.\n\n" +
				"Ready-made jobs (\"sluice run JOB -h\" lists a job's flags):\n" + jobList()})
		return flag.ErrHelp
	case target == "":
		// Mistakes in the flags first (a flag without its value, a
		// misspelled one), then the missing job.
		fs, _ := sqlFlags("run")
		if _, err := parseFlags(fs, runSQLCmd, rest); err != nil {
			return err
		}
		return usagef("name a job file (FILE.sql) or a ready-made job (%s); \"sluice run -h\" lists the flags", appNames())
	case isSQLFile(target):
		return runSQL(ctx, sqlJob{path: target}, rest)
	case target == "clickstream-store":
		return runClickstreamStore(ctx, rest)
	case target == "cpualarm":
		return runCPUAlarm(ctx, rest)
	case target == "clickstream":
		return runApp(ctx, "run "+target, target, rest)
	case sqlApps[target] != nil:
		return runSQL(ctx, sqlJob{app: sqlApps[target]}, rest)
	}
	return unknownJob(target)
}

// unknownJob is the error for a job name that is neither a .sql file nor
// a ready-made job.
func unknownJob(name string) error {
	var names []string
	for n := range apps {
		names = append(names, n)
	}
	hint := suggest.Hint(name, names)
	return usagef("unknown job %q%s; jobs: %s; a job file's name ends in .sql", name, hint, appNames())
}

// jobList lists the ready-made jobs, a line each.
func jobList() string {
	var b strings.Builder
	for _, n := range strings.Split(appNames(), ", ") {
		fmt.Fprintf(&b, "  %-22s %s\n", n, apps[n])
	}
	return b.String()
}

// isBoolFlag tells whether name is a boolean flag of run (of a job file,
// or --print-sql of the ready-made jobs written in SQL): any other flag written "--name value"
// takes the next argument as its value, not as the job.
func isBoolFlag(name string) bool {
	if name == "print-sql" { // of the ready-made jobs written in SQL
		return true
	}
	fs, _ := sqlFlags("run")
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// splitTarget finds the job — a FILE.sql or a ready-made job's name — among
// run's or explain's arguments, wherever it is among the flags, and returns
// it and the other arguments; help tells whether -h, -help or --help came
// before it. An argument after "--" is never a flag.
func splitTarget(args []string) (target string, rest []string, help bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				rest = append(append(rest, args[:i]...), args[i+2:]...)
				return args[i+1], rest, help
			}
			return "", args, help
		case isHelpFlag(a):
			help = true
		case strings.HasPrefix(a, "-") && a != "-":
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && !isBoolFlag(name) {
				i++ // its value
			}
		default:
			rest = append(append(rest, args[:i]...), args[i+1:]...)
			return a, rest, help
		}
	}
	return "", args, help
}
