package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagChoicesAndCombinationsAreCommandLineMistakes: a bad choice
// (--fsync, --on-corruption, --store-on-corruption), a URL that is none, a
// flag that only matters with another one given without it (and so
// silently ignored), half of a pair (keys, TLS files), and the misuse of
// sluice stream's commands are mistakes in the command line like any
// other: exit status 2, the command named in the prefix, the flag in the
// message, nothing on standard output.
func TestFlagChoicesAndCombinationsAreCommandLineMistakes(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte("CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen');\n"), 0o644)
	storeDir := filepath.Join(dir, "store") // an empty store
	os.MkdirAll(storeDir, 0o755)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", job, "--store-listen", "127.0.0.1:0"}, "sluice run: --store-listen needs --store-dir"},
		{[]string{"run", job, "--store-on-corruption", "skip"}, "sluice run: --store-on-corruption needs --store-dir"},
		{[]string{"run", job, "--store-dir", storeDir, "--store-on-corruption", "ignore"}, `sluice run: --store-on-corruption: invalid corruption policy "ignore"`},
		{[]string{"run", job, "--checkpoint-interval", "1s"}, "sluice run: --checkpoint-interval needs --checkpoint-dir"},
		{[]string{"run", job, "--restart-attempts", "3"}, "sluice run: --restart-attempts needs --checkpoint-dir"},
		{[]string{"run", job, "--allow-non-restored-state"}, "sluice run: --allow-non-restored-state needs --checkpoint-dir"},
		{[]string{"run", job, "--from-savepoint", dir}, "sluice run: --from-savepoint needs --checkpoint-dir"},
		{[]string{"run", "cpualarm", "--endpoint", "127.0.0.1:4567"}, `sluice run: --endpoint "127.0.0.1:4567": want an http(s) URL`},
		{[]string{"run", "cpualarm", "--endpoint", "http://127.0.0.1:1", "--store-listen", "127.0.0.1:0"}, "sluice run: --store-listen needs --store-dir"},
		{[]string{"demo", "--webhook", "notaurl"}, `sluice demo: --webhook "notaurl": want an http(s) URL`},
		{[]string{"demo", "--hosts", "0"}, "sluice demo: --spiking 3: want from 0 to --hosts (0)"},
		{[]string{"sql", "--parallelism", "-2"}, "sluice sql: --parallelism -2: want 0 or more"},
		{[]string{"sql", "--store-listen", "nowhere"}, `sluice sql: --store-listen "nowhere": want HOST:PORT`},
		{[]string{"store", "--data", storeDir, "--fsync", "sometimes"}, `sluice store: --fsync: invalid fsync mode "sometimes"`},
		{[]string{"store", "--data", storeDir, "--on-corruption", "x"}, `sluice store: --on-corruption: invalid corruption policy "x"`},
		{[]string{"store", "--data", storeDir, "--access-key", "a"}, "sluice store: --access-key and --secret-key go together"},
		{[]string{"store", "--data", storeDir, "--tls-cert", "c.pem"}, "sluice store: --tls-cert and --tls-key go together"},
		{[]string{"agent", "--stream", "s", "--per-core", "f.log"}, "sluice agent: --per-core needs --host-metrics"},
		{[]string{"agent", "--stream", "s", "--endpoint", "localhost:4567", "f.log"}, `sluice agent: --endpoint "localhost:4567": want an http(s) URL, e.g. http://127.0.0.1:4567`},
		{[]string{"agent", "--stream", "s", "--access-key", "a", "f.log"}, "sluice agent: --access-key and --secret-key go together"},
		{[]string{"stream"}, "sluice stream: name a command"},
		{[]string{"stream", "consme"}, `sluice stream: unknown command "consme" (did you mean "consume"?)`},
		{[]string{"stream", "consume", "--store-dir", storeDir}, "sluice stream: name the stream"},
		{[]string{"stream", "consume", "s", "--endpoint", "nowhere"}, `sluice stream: --endpoint "nowhere": want an http(s) URL, e.g. http://127.0.0.1:4567`},
		{[]string{"stream", "list", "--endpoint", "http://127.0.0.1:1", "--store-dir", storeDir}, "sluice stream: give --endpoint or --store-dir, not both"},
		{[]string{"stream", "list", "--endpoint", "http://127.0.0.1:1", "--access-key", "a"}, "sluice stream: --access-key and --secret-key go together"},
		{[]string{"stream", "create", "s", "--store-dir", storeDir}, "sluice stream: --shards 0: give the number of shards"},
		{[]string{"stream", "create", "s", "--store-dir", storeDir, "--shards", "1", "--retention", "1h"}, "sluice stream: --retention 1h0m0s: want whole hours from 24h"},
		{[]string{"stream", "consume", "s", "--store-dir", storeDir, "--format", "jsn"}, `sluice stream: --format "jsn": want raw or json (did you mean "json"?)`},
		{[]string{"stream", "consume", "s", "--store-dir", storeDir, "-n", "-1"}, "sluice stream: -n -1: want 0 (no limit) or more"},
		{[]string{"stream", "consume", "s", "--store-dir", storeDir, "--from", "lastest"}, `sluice stream: --from "lastest"`},
		{[]string{"stream", "consume", "s", "--store-dir", storeDir, "--from", "at-timestamp"}, "sluice stream: --from at-timestamp needs a time"},
		{[]string{"stream", "consume", "s", "extra", "--store-dir", storeDir}, `sluice stream: unexpected argument "extra"`},
	} {
		out, errOut, code := sluiceExit(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "panic") {
			t.Errorf("sluice %v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestHelpDashHPrintsTheUsage: "sluice help -h" (or --help) is a request
// for help like "sluice help", not an unknown flag.
func TestHelpDashHPrintsTheUsage(t *testing.T) {
	for _, args := range [][]string{{"help", "-h"}, {"help", "--help"}, {"help", "-help"}} {
		out, errOut, code := sluiceExit(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: sluice COMMAND") {
			t.Errorf("sluice %v: exit %d, stdout %q, stderr %q; want the usage on stdout, exit 0", args, code, out, errOut)
		}
	}
}

// TestUnknownFlagPointsToTheHelpThatListsIt: the help an unknown flag's
// error points to is that of the command that has the flags — "sluice
// stream consume -h", not "sluice stream -h", which lists commands.
func TestUnknownFlagPointsToTheHelpThatListsIt(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stream", "consume", "s", "--fromm", "latest"}, `(did you mean --from?); "sluice stream consume -h" lists the flags`},
		{[]string{"stream", "create", "s", "--shard", "2"}, `(did you mean --shards?); "sluice stream create -h" lists the flags`},
		{[]string{"stream", "list", "extra"}, `"sluice stream list -h" lists the flags`},
		{[]string{"run", "cpualarm", "--thresold", "5"}, `(did you mean --threshold?); "sluice run cpualarm -h" lists the flags`},
		{[]string{"run", "x.sql", "--paralelism", "2"}, `(did you mean --parallelism?); "sluice run -h" lists the flags`},
	} {
		_, errOut, code := sluiceExit(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("sluice %v: exit %d, stderr %q; want exit 2 saying %q", c.args, code, errOut, c.want)
		}
	}
}

// TestParallelismIsAtMostTheKeyGroups: --parallelism above the 128 key
// groups keyed state is split into is refused by every command that takes
// it (such subtasks would hold no keys, and a large number used to eat the
// machine's memory), as is SET 'parallelism' in the shell.
func TestParallelismIsAtMostTheKeyGroups(t *testing.T) {
	job := filepath.Join(t.TempDir(), "job.sql")
	os.WriteFile(job, []byte("CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen');\n"), 0o644)
	const want = "--parallelism 100000: want 0 or more, up to 128 (the key groups keyed state is split into)"
	for _, args := range [][]string{
		{"run", job}, {"explain", job}, {"sql"}, {"bench"}, {"demo"},
		{"run", "clickstream"}, {"run", "clickstream-store"}, {"run", "cpualarm", "--store-dir", "x"},
	} {
		args = append(args, "--parallelism", "100000")
		out, errOut, code := sluiceExit(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("sluice %v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", args, code, out, errOut, want)
		}
	}
	if _, _, code := sluiceExit(t, "explain", job, "--parallelism", "128"); code != 0 {
		t.Errorf("sluice explain --parallelism 128: exit %d, want 0", code)
	}
	code, _, stderr := sqlShell(t, "SET 'parallelism' = '129';\n")
	if code != 1 || !strings.Contains(stderr, `SET 'parallelism': "129" is not a number of subtasks from 1 to 128 (the key groups)`) {
		t.Errorf("SET 'parallelism' = '129': exit %d, stderr %q", code, stderr)
	}
}

// TestStreamHelpCommandPrintsThatCommandsHelp: "sluice stream help
// consume" is "sluice stream consume -h", as "sluice help run" is "sluice
// run -h".
func TestStreamHelpCommandPrintsThatCommandsHelp(t *testing.T) {
	out, errOut, code := sluiceExit(t, "stream", "help", "consume")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: sluice stream consume STREAM") || !strings.Contains(out, "--from") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want consume's usage and flags", code, out, errOut)
	}
}

// TestJobFileWithoutInsertSaysSo: a job file of DDL only ends at once, as
// before, but says that there was nothing to run instead of ending in
// silence.
func TestJobFileWithoutInsertSaysSo(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "ddl.sql")
	if err := os.WriteFile(job, []byte("CREATE TABLE g (id BIGINT) WITH ('connector'='datagen','number-of-rows'='5');\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := sluiceExit(t, "run", job, "--catalog", filepath.Join(dir, "cat"))
	if code != 0 || out != "" || !strings.Contains(errOut, "ddl.sql has no INSERT INTO … SELECT: nothing to run") ||
		!strings.Contains(errOut, "kept in the catalog") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
