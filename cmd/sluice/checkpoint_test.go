package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkpointJob is a job with throttled datagen sources, a windowed
// aggregate, an interval join and a stateless filter, each into a file
// sink, checkpointed into out/ck.
func checkpointJob(t *testing.T, out string, rows int) string {
	t.Helper()
	job := filepath.Join(out, "job.sql")
	src := `
CREATE TABLE clicks (user_id BIGINT, page BIGINT, ms BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '%[2]d', 'rows-per-second' = '16000', 'seed' = '1',
      'fields.user_id.min' = '0', 'fields.user_id.max' = '99', 'fields.page.min' = '0', 'fields.page.max' = '9',
      'fields.ms.min' = '1', 'fields.ms.max' = '500', 'fields.ts.kind' = 'sequence', 'fields.ts.max-past' = '300ms');
CREATE TABLE views (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'number-of-rows' = '%[2]d', 'rows-per-second' = '16000', 'seed' = '2',
      'fields.user_id.min' = '0', 'fields.user_id.max' = '99', 'fields.ts.kind' = 'sequence', 'fields.ts.max-past' = '300ms');
CREATE TABLE windows WITH ('connector' = 'file', 'path' = '%[1]s/windows', 'format' = 'json');
CREATE TABLE joined WITH ('connector' = 'file', 'path' = '%[1]s/joined', 'format' = 'json');
CREATE TABLE slow WITH ('connector' = 'file', 'path' = '%[1]s/slow', 'format' = 'json');
INSERT INTO windows SELECT page, TUMBLE_END(ts, INTERVAL '1' SECOND) AS window_end, COUNT(*) AS n, SUM(ms) AS total_ms
  FROM clicks GROUP BY page, TUMBLE(ts, INTERVAL '1' SECOND);
INSERT INTO joined SELECT c.user_id, c.ts AS click_ts, v.ts AS view_ts FROM clicks c JOIN views v
  ON c.user_id = v.user_id AND v.ts BETWEEN c.ts AND c.ts + INTERVAL '50' MILLISECOND;
INSERT INTO slow SELECT user_id, page, ms, ts FROM clicks WHERE ms > 450;
`
	if err := os.WriteFile(job, []byte(fmt.Sprintf(src, out, rows)), 0o644); err != nil {
		t.Fatal(err)
	}
	return job
}

// committed returns, per output folder, the lines of its published part
// files (hidden files — in progress or pending — excluded), sorted.
func committed(t *testing.T, out string) map[string][]string {
	t.Helper()
	res := map[string][]string{}
	for _, name := range []string{"windows", "joined", "slow"} {
		entries, _ := os.ReadDir(filepath.Join(out, name))
		var lines []string
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(out, name, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
		}
		slices.Sort(lines)
		res[name] = lines
	}
	return res
}

// runCheckpointed runs the job in out until it exits by itself, killing it
// with SIGKILL after each of the given delays and starting it again over
// the same checkpoint folder. env adds variables to the first start.
func runCheckpointedJob(t *testing.T, out string, rows int, kills []time.Duration, env ...string) {
	t.Helper()
	job := checkpointJob(t, out, rows)
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(binary, "run", job, "--parallelism", "2",
			"--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "150ms")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		if attempt == 0 {
			cmd.Env = append(os.Environ(), env...)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if attempt < len(kills) {
			time.Sleep(kills[attempt])
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if len(env) > 0 && attempt == 0 && errors.As(err, &ee) {
				continue // the fault injection killed it
			}
			if err != nil {
				t.Fatalf("attempt %d: %v\n%s", attempt, err, stderr.String())
			}
			return
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("attempt %d did not finish\n%s", attempt, stderr.String())
		}
	}
}

// sameOutput compares what two runs published, folder by folder, as
// multisets of lines.
func sameOutput(t *testing.T, want, got map[string][]string, what string) {
	t.Helper()
	for name, w := range want {
		g := got[name]
		if len(w) == 0 {
			t.Fatalf("the undisturbed run wrote nothing to %s", name)
		}
		if !slices.Equal(w, g) {
			seen := map[string]int{}
			for _, l := range g {
				seen[l]++
			}
			missing, extra := 0, 0
			for _, l := range w {
				if seen[l] == 0 {
					missing++
				} else {
					seen[l]--
				}
			}
			for _, n := range seen {
				extra += n
			}
			t.Fatalf("%s: %s has %d lines, the undisturbed run %d: %d missing, %d extra (duplicated or wrong)", what, name, len(g), len(w), missing, extra)
		}
	}
}

// jobRows is the size of each source of the job in the normal suite:
// 2.5 s of work at its throttled rate.
const jobRows = 40000

var references = map[int]map[string][]string{}

// undisturbed runs the job of rows rows once without faults (once per test
// binary and size).
func undisturbed(t *testing.T, rows int) map[string][]string {
	t.Helper()
	if references[rows] == nil {
		out := t.TempDir()
		runCheckpointedJob(t, out, rows, nil)
		references[rows] = committed(t, out)
	}
	return references[rows]
}

// TestCheckpointedJobSurvivesKill9: the job is killed with SIGKILL at
// random moments and started again from its checkpoint folder; what it has
// published at the end equals an undisturbed run's output — nothing lost,
// nothing duplicated.
func TestCheckpointedJobSurvivesKill9(t *testing.T) {
	killRounds(t, 3, jobRows)
}

func killRounds(t *testing.T, rounds, rows int) {
	want := undisturbed(t, rows)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (SLUICE_KILL_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	var kills []time.Duration
	for range rounds {
		kills = append(kills, time.Duration(200+rng.IntN(1300))*time.Millisecond)
	}
	out := t.TempDir()
	runCheckpointedJob(t, out, rows, kills)
	sameOutput(t, want, committed(t, out), fmt.Sprintf("after %d kills at %v", rounds, kills))
}

// TestCrashBetweenPreCommitAndCommit: the process dies right after
// checkpoint 3 is durable, before its files are published; the restarted
// job publishes them (once) and goes on.
func TestCrashBetweenPreCommitAndCommit(t *testing.T) {
	want := undisturbed(t, jobRows)
	out := t.TempDir()
	runCheckpointedJob(t, out, jobRows, nil, "SLUICE_FAULT_KILL_BEFORE_COMMIT=3")
	sameOutput(t, want, committed(t, out), "after a crash before commit")
}

// TestSIGTERMTakesASavepoint: SIGTERM stops a checkpointed job with a
// savepoint; --from-savepoint finishes it; the output equals an
// undisturbed run's. Then the plan check: a changed job file is refused
// from that folder, naming the operator, unless --allow-non-restored-state.
func TestSIGTERMTakesASavepoint(t *testing.T) {
	want := undisturbed(t, jobRows)
	out := t.TempDir()
	job := checkpointJob(t, out, jobRows)
	ck := filepath.Join(out, "ck")
	cmd := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", ck, "--checkpoint-interval", "1h")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
	}
	m := regexp.MustCompile(`savepoint written to (\S+);`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no savepoint reported:\n%s", stderr.String())
	}
	if got := committed(t, out); len(got["slow"]) == 0 || len(got["slow"]) >= len(want["slow"]) {
		t.Fatalf("at the savepoint %d of %d filtered rows are published: want some, not all", len(got["slow"]), len(want["slow"]))
	}
	run := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", ck, "--from-savepoint", m[1])
	if b, err := run.CombinedOutput(); err != nil || !strings.Contains(string(b), "restoring savepoint") {
		t.Fatalf("from the savepoint: %v\n%s", err, b)
	}
	sameOutput(t, want, committed(t, out), "after a savepoint and a resume")

	// The job changed: the filter's operator is now another one.
	src, _ := os.ReadFile(job)
	changed := strings.Replace(string(src), "WHERE ms > 450", "WHERE ms > 450 AND page > 0", 1)
	changed = strings.Replace(changed, "INSERT INTO windows", "INSERT INTO slow SELECT user_id, page, ms, ts FROM clicks WHERE ms < 2;\nINSERT INTO windows", 1)
	os.WriteFile(job, []byte(changed), 0o644)
	b, err := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", ck, "--from-savepoint", m[1]).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "does not match the job: operator") || !strings.Contains(string(b), "--allow-non-restored-state") {
		t.Fatalf("changed plan: %v\n%s", err, b)
	}
	b, err = exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", t.TempDir(), "--from-savepoint", m[1], "--allow-non-restored-state").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "starts without state") {
		t.Fatalf("with --allow-non-restored-state: %v\n%s", err, b)
	}
}
