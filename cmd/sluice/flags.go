package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

// command describes a subcommand's usage for its help text: "sluice
// <Use>", then About, then the flags.
type command struct {
	Use   string // e.g. "run FILE.sql [flags]"
	About string // one paragraph or more, printed below the usage line
	// MaxArgs bounds the positional arguments (-1: any number).
	MaxArgs int
}

// parseFlags parses args with fs the way users expect of a command-line
// tool: flags may come before or after the positional arguments ("--"
// ends the flags; "-" is a positional argument, standard input); -h,
// -help and --help print the usage and every flag to standard output and
// return flag.ErrHelp (exit status 0); a flag fs does not define is an
// error that names the nearest defined flag; more positional arguments
// than cmd.MaxArgs is an error. It returns the positional arguments.
func parseFlags(fs *flag.FlagSet, cmd command, args []string) ([]string, error) {
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(os.Stdout, fs, cmd)
			return nil, flag.ErrHelp
		}
		if err != nil {
			return nil, usageError{flagError(fs, cmd, err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// fs.Parse stops at the first non-flag argument, or after "--",
		// which it consumes: all that follows "--" is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if cmd.MaxArgs >= 0 && len(pos) > cmd.MaxArgs {
		extra := pos[cmd.MaxArgs:]
		return nil, usagef("unexpected argument %q (usage: sluice %s; \"sluice %s -h\" lists the flags)",
			strings.Join(extra, " "), cmd.Use, cmdName(cmd))
	}
	return pos, nil
}

// flagError rewrites the flag package's errors: an undefined flag gets
// "did you mean", and flags are written with two dashes.
func flagError(fs *flag.FlagSet, cmd command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if near := suggest.Nearest(name, names); near != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", near)
		}
		return fmt.Errorf("unknown flag --%s%s; \"sluice %s -h\" lists the flags", name, hint, cmdName(cmd))
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("flag %s needs a value", dashed(rest))
	}
	if i := strings.Index(msg, " for flag -"); i > 0 && strings.HasPrefix(msg, "invalid ") {
		// invalid value "x" for flag -parallelism: parse error
		name, rest, _ := strings.Cut(msg[i+len(" for flag -"):], ":")
		return errors.New(msg[:i] + " for flag " + dashed(name) + ":" + rest)
	}
	return err
}

// dashed is how a flag is written: -e for a one-letter flag, --name for
// the others.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// cmdName is the command's name: the leading lower-case words of its
// usage ("stream consume" of "stream consume STREAM [flags]", "run
// cpualarm" of "run cpualarm [flags]", "run" of "run FILE.sql [flags]").
func cmdName(cmd command) string {
	var words []string
	for _, w := range strings.Fields(cmd.Use) {
		if strings.HasPrefix(w, "-") || strings.TrimLeft(w, "abcdefghijklmnopqrstuvwxyz-") != "" {
			break
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// printUsage writes a command's usage and flags, each flag as --name.
func printUsage(w io.Writer, fs *flag.FlagSet, cmd command) {
	fmt.Fprintf(w, "Usage: sluice %s\n", cmd.Use)
	if cmd.About != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.About, "\n"))
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  " + dashed(f.Name)
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// usageError is a mistake in a command line: a flag, a value or an
// argument. The command exits with status 2, as flag.ExitOnError does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// bound is a check of a numeric or duration flag's value.
type bound struct {
	flag string
	ok   func(v float64) bool // v: the value; a duration in nanoseconds
	want string               // what ok accepts, e.g. "1 or more"
}

// atLeast accepts numbers of at least n.
func atLeast(flag string, n float64) bound {
	return bound{flag, func(v float64) bool { return v >= n }, fmt.Sprintf("%v or more", n)}
}

// between accepts numbers from lo to hi.
func between(flag string, lo, hi float64) bound {
	return bound{flag, func(v float64) bool { return v >= lo && v <= hi }, fmt.Sprintf("from %v to %v", lo, hi)}
}

// parallelismBound accepts --parallelism from 0 (the number of CPUs) to
// runtime.MaxKeyGroups: keyed state is split into that many key groups,
// so more subtasks would hold none (and each one costs memory).
func parallelismBound() bound {
	return bound{"parallelism", func(v float64) bool { return v >= 0 && v <= runtime.MaxKeyGroups },
		fmt.Sprintf("0 or more, up to %d (the key groups keyed state is split into)", runtime.MaxKeyGroups)}
}

// positive accepts durations above zero.
func positive(flag string) bound {
	return bound{flag, func(v float64) bool { return v > 0 }, "a positive duration"}
}

// notNegative accepts durations of zero or more.
func notNegative(flag string) bound {
	return bound{flag, func(v float64) bool { return v >= 0 }, "0s or more"}
}

// or also accepts the number special, which means what.
func (b bound) or(special float64, what string) bound {
	ok := b.ok
	b.ok = func(v float64) bool { return v == special || ok(v) }
	b.want += fmt.Sprintf(", or %v (%s)", special, what)
	return b
}

// checkBounds checks the flags' values against bounds; the error names the
// first flag out of range, its value and what it accepts.
func checkBounds(fs *flag.FlagSet, bounds ...bound) error {
	for _, b := range bounds {
		f := fs.Lookup(b.flag)
		if f == nil {
			panic("checkBounds: no flag --" + b.flag)
		}
		var v float64
		switch x := f.Value.(flag.Getter).Get().(type) {
		case int:
			v = float64(x)
		case int64:
			v = float64(x)
		case float64:
			v = x
		case time.Duration:
			v = float64(x)
		default:
			panic(fmt.Sprintf("checkBounds: --%s is not a number", b.flag))
		}
		if !b.ok(v) || math.IsNaN(v) {
			return usagef("--%s %s: want %s", b.flag, f.Value, b.want)
		}
	}
	return nil
}

// given reports whether flag name was on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// needs checks that the flags names, which only matter with flag with,
// are not given without it (inEffect: whether with is in effect); such a
// flag would be silently ignored.
func needs(fs *flag.FlagSet, with string, inEffect bool, names ...string) error {
	if inEffect {
		return nil
	}
	for _, name := range names {
		if given(fs, name) {
			return usagef("--%s needs --%s", name, with)
		}
	}
	return nil
}

// checkURL checks that the value of flag, when given, is an http or
// https URL with a host; example is one for the error.
func checkURL(flag, value, example string) error {
	if value == "" {
		return nil
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--%s %q: want an http(s) URL, e.g. %s", flag, value, example)
	}
	return nil
}

// checkAddr checks that the value of flag, when given, is a HOST:PORT
// address with a port from 0 to 65535.
func checkAddr(flag, addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--%s %q: want HOST:PORT, e.g. 127.0.0.1:4567", flag, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("--%s %q: the port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}
