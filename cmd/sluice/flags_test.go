package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func testFlags() (*flag.FlagSet, *int, *bool) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	par := fs.Int("parallelism", 0, "subtasks")
	v := fs.Bool("verbose", false, "say more")
	return fs, par, v
}

var testCmd = command{Use: "run FILE.sql [flags]", MaxArgs: 1}

func TestFlagsMayComeBeforeOrAfterTheFile(t *testing.T) {
	for _, args := range [][]string{
		{"job.sql", "--parallelism", "3", "--verbose"},
		{"--parallelism=3", "job.sql", "--verbose"},
		{"--verbose", "--parallelism", "3", "job.sql"},
	} {
		fs, par, v := testFlags()
		pos, err := parseFlags(fs, testCmd, args)
		if err != nil || len(pos) != 1 || pos[0] != "job.sql" || *par != 3 || !*v {
			t.Errorf("%q: pos %q par %d verbose %v err %v", args, pos, *par, *v, err)
		}
	}
}

func TestDashIsAnArgumentAndDoubleDashEndsFlags(t *testing.T) {
	fs, _, v := testFlags()
	pos, err := parseFlags(fs, command{Use: "x", MaxArgs: -1}, []string{"-", "--", "--verbose"})
	if err != nil || strings.Join(pos, " ") != "- --verbose" || *v {
		t.Fatalf("pos %q verbose %v err %v", pos, *v, err)
	}
}

func TestMisspelledFlagSaysDidYouMean(t *testing.T) {
	fs, _, _ := testFlags()
	_, err := parseFlags(fs, testCmd, []string{"job.sql", "--paralelism", "2"})
	if err == nil || !strings.Contains(err.Error(), `unknown flag --paralelism (did you mean --parallelism?)`) ||
		!strings.Contains(err.Error(), `"sluice run -h"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestExtraArgumentsAreAnError(t *testing.T) {
	fs, _, _ := testFlags()
	_, err := parseFlags(fs, testCmd, []string{"job.sql", "extra.sql"})
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "extra.sql"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestBadFlagValueNamesTheFlag(t *testing.T) {
	fs, _, _ := testFlags()
	_, err := parseFlags(fs, testCmd, []string{"--parallelism", "many"})
	if err == nil || !strings.Contains(err.Error(), "--parallelism") {
		t.Fatalf("err = %v", err)
	}
	fs, _, _ = testFlags()
	_, err = parseFlags(fs, testCmd, []string{"--parallelism"})
	if err == nil || err.Error() != "flag --parallelism needs a value" {
		t.Fatalf("err = %v", err)
	}
}

func TestHelpIsErrHelp(t *testing.T) {
	fs, _, _ := testFlags()
	if _, err := parseFlags(fs, testCmd, []string{"job.sql", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	var b strings.Builder
	fs, _, _ = testFlags()
	printUsage(&b, fs, testCmd)
	if !strings.Contains(b.String(), "Usage: sluice run FILE.sql [flags]") || !strings.Contains(b.String(), "--parallelism int") {
		t.Fatalf("usage:\n%s", b.String())
	}
}

func TestSplitTargetFindsTheJobAmongFlags(t *testing.T) {
	for _, c := range []struct {
		args         []string
		target, rest string
		help         bool
	}{
		{[]string{"job.sql", "--parallelism", "2"}, "job.sql", "--parallelism 2", false},
		{[]string{"--parallelism", "2", "job.sql"}, "job.sql", "--parallelism 2", false},
		{[]string{"--catalog", "clickstream", "job.sql"}, "job.sql", "--catalog clickstream", false},
		{[]string{"--allow-duplicates", "job.sql", "-h"}, "job.sql", "--allow-duplicates -h", false},
		{[]string{"--parallelism=2", "clickstream"}, "clickstream", "--parallelism=2", false},
		{[]string{"-h"}, "", "-h", true},
		{[]string{"--", "job.sql"}, "job.sql", "", false},
		{[]string{"--parallelism"}, "", "--parallelism", false},
	} {
		target, rest, help := splitTarget(c.args)
		if target != c.target || strings.Join(rest, " ") != c.rest || help != c.help {
			t.Errorf("%q: target %q, rest %q, help %v", c.args, target, rest, help)
		}
	}
}

func TestCheckBoundsNamesTheFlagAndWhatItTakes(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("max-conns", 0, "")
	fs.Duration("idle", -time.Second, "")
	fs.Float64("threshold", 50, "")
	if err := checkBounds(fs, between("threshold", 0, 100)); err != nil {
		t.Fatal(err)
	}
	err := checkBounds(fs, atLeast("max-conns", 1).or(-1, "no limit"))
	if err == nil || err.Error() != "--max-conns 0: want 1 or more, or -1 (no limit)" {
		t.Fatalf("err = %v", err)
	}
	err = checkBounds(fs, notNegative("idle"))
	if err == nil || err.Error() != "--idle -1s: want 0s or more" {
		t.Fatalf("err = %v", err)
	}
	if err := checkAddr("listen", "localhost:http"); err == nil {
		t.Fatal("a named port was accepted")
	}
}
