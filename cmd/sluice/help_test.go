package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/help")

// helpPages are the commands whose help has a golden file, by file name.
var helpPages = map[string][]string{
	"sluice":                    {"help"},
	"demo":                      {"demo"},
	"run":                       {"run"},
	"run-clickstream":           {"run", "clickstream"},
	"run-clickstream-store":     {"run", "clickstream-store"},
	"run-cpualarm":              {"run", "cpualarm"},
	"run-clickstream-dashboard": {"run", "clickstream-dashboard"},
	"run-location-dashboard":    {"run", "location-dashboard"},
	"explain":                   {"explain"},
	"catalog":                   {"catalog"},
	"store":                     {"store"},
	"agent":                     {"agent"},
	"sql":                       {"sql"},
	"stream":                    {"stream"},
	"stream-consume":            {"stream", "consume"},
	"stream-produce":            {"stream", "produce"},
	"stream-list":               {"stream", "list"},
	"stream-create":             {"stream", "create"},
	"stream-describe":           {"stream", "describe"},
	"stream-delete":             {"stream", "delete"},
	"queue":                     {"queue"},
	"queue-send":                {"queue", "send"},
	"queue-receive":             {"queue", "receive"},
	"queue-list":                {"queue", "list"},
	"queue-create":              {"queue", "create"},
	"queue-describe":            {"queue", "describe"},
	"queue-purge":               {"queue", "purge"},
	"queue-redrive":             {"queue", "redrive"},
	"queue-delete":              {"queue", "delete"},
	"bench":                     {"bench"},
	"bench-nexmark":             {"bench", "nexmark"},
	"version":                   {"version"},
}

// sluiceExit runs the binary and returns its stdout, stderr and exit status.
func sluiceExit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// TestHelpMatchesGoldenFiles: each command's help ("sluice COMMAND -h")
// goes to stdout with exit status 0 and matches testdata/help/COMMAND.txt
// (go test ./cmd/sluice -run HelpMatchesGolden -update rewrites them), and
// "sluice help COMMAND" prints the same.
func TestHelpMatchesGoldenFiles(t *testing.T) {
	for name, args := range helpPages {
		t.Run(name, func(t *testing.T) {
			dash := args
			if name != "sluice" {
				dash = append(append([]string{}, args...), "-h")
			}
			out, errOut, code := sluiceExit(t, dash...)
			if code != 0 || errOut != "" {
				t.Fatalf("sluice %v: exit %d, stderr %q", dash, code, errOut)
			}
			golden := filepath.Join("testdata", "help", name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run HelpMatchesGolden -update writes it)", err)
			}
			if out != string(want) {
				t.Fatalf("sluice %v differs from %s (-update rewrites it):\n%s", dash, golden, out)
			}
			if name == "sluice" {
				return
			}
			viaHelp, _, code := sluiceExit(t, append([]string{"help"}, args...)...)
			if code != 0 || viaHelp != out {
				t.Fatalf("sluice help %v: exit %d, output differs from sluice %v:\n%s", args, code, dash, viaHelp)
			}
		})
	}
}

// TestEveryCommandHasAGoldenHelpPage: a command added to the table gets
// a golden help page too.
func TestEveryCommandHasAGoldenHelpPage(t *testing.T) {
	for _, c := range commands {
		if _, ok := helpPages[c.name]; !ok {
			t.Errorf("command %q has no golden help page: add it to helpPages and run -update", c.name)
		}
	}
}

// TestTopLevelUsage: asked for, the usage goes to stdout (exit 0); without
// a command it goes to stderr (exit 2); an unknown command gets "did you
// mean".
func TestTopLevelUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "help"}} {
		out, errOut, code := sluiceExit(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: sluice COMMAND") {
			t.Fatalf("sluice %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	out, errOut, code := sluiceExit(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage: sluice COMMAND") {
		t.Fatalf("sluice: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = sluiceExit(t, "explian")
	if code != 2 || !strings.Contains(errOut, `unknown command "explian" (did you mean "explain"?)`) {
		t.Fatalf("sluice explian: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = sluiceExit(t, "help", "rn")
	if code != 2 || !strings.Contains(errOut, `unknown command "rn" (did you mean "run"?)`) {
		t.Fatalf("sluice help rn: exit %d, stderr %q", code, errOut)
	}
}

// TestCommandLineMistakesExitTwoNamingTheFlag: out-of-range values, extra
// arguments and misspelled flags of every command are errors (exit status
// 2) that name the flag or argument.
func TestCommandLineMistakesExitTwoNamingTheFlag(t *testing.T) {
	job := filepath.Join(t.TempDir(), "job.sql")
	os.WriteFile(job, []byte("CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen');\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", job, "extra.sql"}, `unexpected argument "extra.sql"`},
		{[]string{"run", job, "--parallelism", "-1"}, "--parallelism -1: want 0 or more"},
		{[]string{"run", "--parallelism", "-1", job}, "--parallelism -1: want 0 or more"},
		{[]string{"run", job, "--checkpoint-interval", "0"}, "--checkpoint-interval 0s: want a positive duration"},
		{[]string{"run", job, "--restart-attempts", "-2"}, "--restart-attempts -2: want 0 or more"},
		{[]string{"run", job, "--status-interval", "-1s"}, "--status-interval -1s: want 0s or more"},
		{[]string{"run", job, "--metrics-addr", "127.0.0.1:70000"}, `--metrics-addr "127.0.0.1:70000": the port must be a number from 0 to 65535`},
		{[]string{"run", job, "--store-listen", "nowhere"}, `--store-listen "nowhere": want HOST:PORT`},
		{[]string{"run", job, "--state-ttl", "-5m"}, `--state-ttl "-5m"`},
		{[]string{"run", job, "--paralelism", "2"}, "unknown flag --paralelism (did you mean --parallelism?)"},
		{[]string{"run"}, "name a job file (FILE.sql) or a ready-made job"},
		{[]string{"run", "--parallelism"}, "flag --parallelism needs a value"},
		{[]string{"run", "--paralelism", "2"}, "unknown flag --paralelism (did you mean --parallelism?)"},
		{[]string{"run", "clickstream", "--events", "0"}, "--events 0: want 1 or more, or -1 (no end)"},
		{[]string{"run", "clickstream", "--rows-per-second", "-1"}, "--rows-per-second -1: want 0 or more"},
		{[]string{"run", "clickstream", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "clickstream-store", "--shards", "0"}, "--shards 0: want 1 or more"},
		{[]string{"run", "cpualarm", "--store-dir", "x", "--datapoints-to-alarm", "4"}, "--datapoints-to-alarm 4: want from 1 to 3"},
		{[]string{"demo", "--threshold", "101"}, "--threshold 101: want above 0, up to 100"},
		{[]string{"demo", "--evaluation-periods", "0"}, "--evaluation-periods 0: want 1 or more"},
		{[]string{"demo", "--hosts", "-1"}, "--hosts -1: want 0 or more"},
		{[]string{"demo", "--spiking", "60"}, "--spiking 60: want from 0 to --hosts (50)"},
		{[]string{"demo", "--duration", "-1s"}, "--duration -1s: want 0s or more"},
		{[]string{"demo", "--period", "1500ms"}, "--period 1.5s: want whole seconds"},
		{[]string{"explain", job, "--parallelism", "-3"}, "--parallelism -3: want 0 or more"},
		{[]string{"explain", job, "--format", "yaml"}, `--format "yaml": want text or json`},
		{[]string{"explain", job, "other.sql"}, `unexpected argument "other.sql"`},
		{[]string{"explain"}, "name a job file (FILE.sql) or a ready-made job"},
		{[]string{"catalog", "lsit"}, `unknown request "lsit" (did you mean "list"?)`},
		{[]string{"catalog", "describe"}, "describe needs a table's NAME"},
		{[]string{"store", "--listen", "127.0.0.1:65536"}, `--listen "127.0.0.1:65536": the port must be a number from 0 to 65535`},
		{[]string{"store", "--max-conns", "0"}, "--max-conns 0: want 1 or more, or -1 (no limit)"},
		{[]string{"store", "--header-timeout", "0s"}, "--header-timeout 0s: want a positive duration"},
		{[]string{"store", "--retention", "-1h"}, "--retention -1h0m0s: want a positive duration"},
		{[]string{"store", "extra"}, `unexpected argument "extra"`},
		{[]string{"agent", "--stream", "s", "--flush", "0s", "f.log"}, "--flush 0s: want a positive duration"},
		{[]string{"agent", "--stream", "s", "--host-metrics", "-1s"}, "--host-metrics -1s: want 0s or more"},
		{[]string{"agent", "f.log"}, "--stream is required"},
		{[]string{"bench", "--runs", "0"}, "--runs 0: want 1 or more"},
		{[]string{"bench", "--events", "-5"}, "--events -5: want 1 or more"},
		{[]string{"bench", "--keys", "0"}, "--keys 0: want 1 or more"},
		{[]string{"bench", "--parallelism", "-1"}, "--parallelism -1: want 0 or more"},
		{[]string{"bench", "--state-keys", "-1"}, "--state-keys -1: want 0 or more"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		out, errOut, code := sluiceExit(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "panic") {
			t.Errorf("sluice %v: exit %d, stdout %q, stderr %q; want exit 2 saying %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestRunFlagsBeforeOrAfterTheFile: sluice run takes its flags on either
// side of the job file.
func TestRunFlagsBeforeOrAfterTheFile(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE src (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '40',
  'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '40');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT k FROM src WHERE k <= 3;
`), 0o644)
	for _, args := range [][]string{
		{"run", job, "--parallelism", "1"},
		{"run", "--parallelism", "1", job},
		{"run", "--parallelism=1", "--", job},
	} {
		rows := resultRows(t, exec.Command(binary, args...))
		if strings.Join(rows, " ") != "1 2 3" {
			t.Fatalf("sluice %v: rows %q", args, rows)
		}
	}
}

// TestExplainFormatJSON: --format json prints the physical plan as JSON:
// operators with id, name, kind, parallelism, inputs (edge kind, chaining,
// keys) and state, and the job's settings.
func TestExplainFormatJSON(t *testing.T) {
	job := filepath.Join(t.TempDir(), "job.sql")
	os.WriteFile(job, []byte(`SET 'table.exec.state.ttl' = '1 h';
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
  WITH ('connector' = 'datagen');
CREATE TABLE out WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k, TUMBLE_END(ts, INTERVAL '10' SECOND) AS we, SUM(v) AS s FROM src WHERE v > 0
  GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND);
`), 0o644)
	out, errOut, code := sluiceExit(t, "explain", job, "--format", "json", "--parallelism", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var plan struct {
		Job         string   `json:"job"`
		Parallelism int      `json:"parallelism"`
		Settings    []string `json:"settings"`
		Operators   []struct {
			ID          int    `json:"id"`
			Name        string `json:"name"`
			Kind        string `json:"kind"`
			Parallelism int    `json:"parallelism"`
			Output      []struct{ Name, Type string }
			Watermark   *struct {
				Column              string `json:"column"`
				MaxOutOfOrdernessMs int64  `json:"max_out_of_orderness_ms"`
			} `json:"watermark"`
			Inputs []struct {
				From       int      `json:"from"`
				Edge       string   `json:"edge"`
				Chained    bool     `json:"chained"`
				KeyColumns []string `json:"key_columns"`
				KeyGroups  int      `json:"key_groups"`
			} `json:"inputs"`
			State   string   `json:"state"`
			Details []string `json:"details"`
		} `json:"operators"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if plan.Job != "job" || plan.Parallelism != 3 || len(plan.Settings) != 1 || !strings.Contains(plan.Settings[0], "table.exec.state.ttl") {
		t.Fatalf("job %q, parallelism %d, settings %q", plan.Job, plan.Parallelism, plan.Settings)
	}
	byKind := map[string]int{}
	var sawHash, sawChained, sawState bool
	for i, op := range plan.Operators {
		byKind[op.Kind]++
		if op.ID < 0 || op.Name == "" || op.Parallelism != 3 || len(op.Output) == 0 {
			t.Errorf("operator %d: %+v", i, op)
		}
		if op.Kind == "source" && (op.Watermark == nil || op.Watermark.Column != "ts" || op.Watermark.MaxOutOfOrdernessMs != 2000) {
			t.Errorf("source %q: watermark %+v", op.Name, op.Watermark)
		}
		for _, in := range op.Inputs {
			if in.Edge == "HASH" && strings.Join(in.KeyColumns, ",") == "k" && in.KeyGroups == 128 {
				sawHash = true
			}
			sawChained = sawChained || (in.Edge == "FORWARD" && in.Chained)
		}
		sawState = sawState || strings.Contains(op.State, "pane")
	}
	if byKind["source"] != 1 || byKind["operator"] < 3 || !sawHash || !sawChained || !sawState {
		t.Fatalf("kinds %v, hash edge on k %v, chained forward edge %v, window state %v:\n%s", byKind, sawHash, sawChained, sawState, out)
	}
	// The text format is the same plan.
	text, _, code := sluiceExit(t, "explain", job, "--parallelism", "3")
	if code != 0 || !strings.HasPrefix(text, "settings: 'table.exec.state.ttl'") || !strings.Contains(text, "HASH(k) over 128 key groups") {
		t.Fatalf("text plan:\n%s", text)
	}
}

// TestREADMECommandLineMatchesHelp: every flag the README's "Command line"
// section names for a command is one its help lists, and every command
// is there.
func TestREADMECommandLineMatchesHelp(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Command line\n")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, _ := strings.Cut(section, "```\n")
	block, _, _ = strings.Cut(block, "```")
	flagRe := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	page, seen := "", map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		words := strings.Fields(line)
		switch {
		case len(words) >= 2 && words[0] == "sluice":
			page = words[1]
			if page == "run" && len(words) > 2 && words[2] == "JOB" {
				page = ""
			}
			if page == "bench" && len(words) > 2 && words[2] == "nexmark" {
				page = "bench-nexmark"
			}
			seen[words[1]] = true
		case len(words) > 0 && strings.HasPrefix(line, "             ") && apps[words[0]] != "":
			page = "run-" + words[0]
		}
		if page == "" || page == "help" {
			continue
		}
		help, err := os.ReadFile(filepath.Join("testdata", "help", page+".txt"))
		if err != nil {
			t.Fatalf("README line %q: %v", line, err)
		}
		for _, m := range flagRe.FindAllStringSubmatch(line, -1) {
			if !strings.Contains(string(help), "\n  --"+m[1]+" ") && !strings.Contains(string(help), "\n  --"+m[1]+"\n") {
				t.Errorf("README: %q names --%s, which sluice %s -h does not list", line, m[1], strings.Replace(page, "-", " ", 1))
			}
		}
	}
	for _, c := range commands {
		if !seen[c.name] {
			t.Errorf("README's Command line section lacks sluice %s", c.name)
		}
	}
}

// TestExplainEachReadyMadeJob: explain JOB prints that job's plan, not
// another's.
func TestExplainEachReadyMadeJob(t *testing.T) {
	for job, want := range map[string]string{
		"clickstream":           `job "clickstream"`,
		"clickstream-store":     "watermark: ts - 500ms per partition, minimum over partitions, idle after 1s",
		"cpualarm":              `source "cpu"`,
		"clickstream-dashboard": `operator "sink top_pages"`,
		"location-dashboard":    `operator "sink geofence_entries"`,
	} {
		out, errOut, code := sluiceExit(t, "explain", job)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("sluice explain %s: exit %d, want %q in\n%s%s", job, code, want, out, errOut)
		}
	}
}

// TestExplainJSONKeepsTextAsWritten: the JSON plan shows names and
// expressions as written ("<stdin>", "a < b"), not HTML-escaped.
func TestExplainJSONKeepsTextAsWritten(t *testing.T) {
	cmd := exec.Command(binary, "explain", "-", "--format", "json")
	cmd.Stdin = strings.NewReader(`CREATE TABLE src (a BIGINT, b BIGINT) WITH ('connector' = 'datagen');
CREATE TABLE out WITH ('connector' = 'blackhole');
INSERT INTO out SELECT a FROM src WHERE a < b;
`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, `"job": "<stdin>"`) || !strings.Contains(out, "a < b") || strings.Contains(out, `\u003c`) {
		t.Fatalf("plan not as written:\n%s", out)
	}
}
