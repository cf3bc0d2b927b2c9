// Command sluice is Sluice's one binary: it runs jobs, the demo and the
// benchmarks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/internal/suggest"
	sruntime "github.com/sluicehq/sluice/runtime"
)

// subcommand is a command of the binary: sluice NAME [flags] [arguments].
// Its run parses args with parseFlags, so that "sluice NAME -h" (and
// "sluice help NAME") prints its usage and flags.
type subcommand struct {
	name    string
	summary string // one line for the top-level usage
	run     func(ctx context.Context, args []string) error
}

// commands are the binary's commands, in the order the usage lists them.
var commands = []subcommand{
	{"demo", "live CPU alarms over the embedded stream store (Ctrl-C stops)", runDemo},
	{"run", "run a SQL job file (every INSERT INTO … SELECT as one job), or a ready-made job by name", runRun},
	{"sql", "a SQL shell: live SELECT results, DDL, EXPLAIN, background INSERT jobs (or the statements piped in)", runSQLShell},
	{"explain", "print the physical plan of a SQL job file or a ready-made job (--format text|json)", runExplain},
	{"catalog", "list or describe the tables of a catalog folder", runCatalog},
	{"store", "serve the stream store with the Kinesis Data Streams API", runStore},
	{"agent", "tail files (and this machine's CPU and memory) into a stream", runAgent},
	{"stream", "read, write and manage the store's streams (consume, produce, list, create, describe, delete), like kcat", runStream},
	{"queue", "send, receive and manage the store's queues (send, receive, list, create, describe, purge, redrive, delete)", runQueue},
	{"bench", "run the benchmarks against their peers and print the ratios", runBench},
	{"version", "print the version", runVersion},
}

var version = "0.1.0-dev"

// errInterrupted is the error of a command that a signal stopped before it
// had done its work (exit status 130).
var errInterrupted = errors.New("interrupted")

// writeUsage writes the top-level usage: the commands and how to get help.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, "sluice — real-time stream analytics\n\nUsage: sluice COMMAND [flags] [arguments]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help\thelp on a command: sluice help COMMAND\n")
	tw.Flush()
	fmt.Fprint(w, "\n\"sluice help COMMAND\" or \"sluice COMMAND -h\" prints a command's usage and flags.\n")
}

func lookupCommand(name string) (subcommand, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return subcommand{}, false
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one stops the process at once
		// (unless the command still listens for signals itself).
		<-ctx.Done()
		stop()
	}()
	endProfile := startProfile()
	code := dispatch(ctx, os.Args[1:])
	stop()
	endProfile()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole command to the file
// $SLUICE_CPUPROFILE names (for go tool pprof), when it is set.
func startProfile() (end func()) {
	path := os.Getenv("SLUICE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice: SLUICE_CPUPROFILE:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// dispatch runs the command args name and returns the exit status: 0, 1
// when the command failed, 2 for a mistake in the command line, 130 when a
// signal interrupted a command before it had done its work.
func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 {
		writeUsage(os.Stderr)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 0 && args[0] != "help" && !isHelpFlag(args[0]) {
			// sluice help COMMAND [ARGS] = sluice COMMAND [ARGS] -h
			if _, ok := lookupCommand(args[0]); ok {
				return dispatch(ctx, append(append([]string{args[0]}, args[1:]...), "-h"))
			}
			return unknownCommand(args[0])
		}
		writeUsage(os.Stdout)
		return 0
	case "--version":
		name = "version"
	}
	c, ok := lookupCommand(name)
	if !ok {
		return unknownCommand(name)
	}
	err := c.run(ctx, args)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "sluice "+name+":", err)
		return 2
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "sluice:", err)
		return 130
	case errors.Is(err, context.Canceled):
		return 0 // stopped by a signal, cleanly
	}
	fmt.Fprintln(os.Stderr, "sluice:", err)
	return 1
}

// isHelpFlag tells -h, -help and --help.
func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// unknownCommand reports a command that does not exist, with the nearest
// one, and returns exit status 2.
func unknownCommand(name string) int {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	hint := suggest.Hint(name, append(names, "help"))
	if strings.HasPrefix(name, "-") {
		fmt.Fprintf(os.Stderr, "sluice: unknown flag %s: flags come after the command; \"sluice help\" lists the commands\n", name)
		return 2
	}
	fmt.Fprintf(os.Stderr, "sluice: unknown command %q%s; \"sluice help\" lists the commands\n", name, hint)
	return 2
}

// runVersion prints the version: sluice version.
func runVersion(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if _, err := parseFlags(fs, command{Use: "version", About: "Prints the version of this binary.", MaxArgs: 0}, args); err != nil {
		return err
	}
	fmt.Println("sluice", version)
	return nil
}

// exitAtOnce ends the process now, for a second signal sig that came
// while a command still stopped after the first: as sig's default action
// does (what a second signal does to commands that do not listen for it
// themselves), or with exit status 128+sig when sig is ignored.
func exitAtOnce(sig os.Signal) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		os.Exit(1)
	}
	signal.Reset(s)
	syscall.Kill(os.Getpid(), s)
	time.Sleep(100 * time.Millisecond) // the signal is delivered, unless inherited as ignored
	os.Exit(128 + int(s))
}

// defaultParallelism is the number of CPUs, at most the key groups.
func defaultParallelism() int { return min(runtime.GOMAXPROCS(0), sruntime.MaxKeyGroups) }
