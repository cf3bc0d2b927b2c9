package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
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
