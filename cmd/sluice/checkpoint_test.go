package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
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
	runCheckpointedJobIn(t, out, filepath.Join(out, "ck"), nil, rows, kills, env...)
}

// runCheckpointedJobIn is runCheckpointedJob with its checkpoints in ck (a
// folder or s3://…) and more flags for every start.
func runCheckpointedJobIn(t *testing.T, out, ck string, flags []string, rows int, kills []time.Duration, env ...string) {
	t.Helper()
	job := checkpointJob(t, out, rows)
	for attempt := 0; ; attempt++ {
		bin := binary
		if len(env) > 0 {
			bin = faultBinary(t)
		}
		cmd := exec.Command(bin, append([]string{"run", job, "--parallelism", "2",
			"--checkpoint-dir", ck, "--checkpoint-interval", "150ms"}, flags...)...)
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
			missing, extra := lineDiff(w, g)
			t.Fatalf("%s: %s has %d lines, the undisturbed run %d: %d missing, %d extra (duplicated or wrong)", what, name, len(g), len(w), len(missing), len(extra))
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

// TestDefaultBinaryIgnoresFaultInjection: the hook that kills the process
// before a commit is built into test binaries only (-tags
// sluice_faultinject); the binary users get runs the same job to its end.
func TestDefaultBinaryIgnoresFaultInjection(t *testing.T) {
	if b, err := os.ReadFile(binary); err != nil || bytes.Contains(b, []byte("SLUICE_FAULT_KILL_BEFORE_COMMIT")) {
		t.Fatalf("the default binary (%v) holds the name of the fault-injection variable", err)
	}
	for _, c := range []struct {
		bin    string
		killed bool
	}{{faultBinary(t), true}, {binary, false}} {
		out := t.TempDir()
		job := checkpointJob(t, out, 8000)
		cmd := exec.Command(c.bin, "run", job, "--parallelism", "2",
			"--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "100ms")
		cmd.Env = append(os.Environ(), "SLUICE_FAULT_KILL_BEFORE_COMMIT=2")
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if killed != c.killed {
			t.Fatalf("%s with SLUICE_FAULT_KILL_BEFORE_COMMIT=2: killed %v, want %v (%v)\n%s", c.bin, killed, c.killed, err, b)
		}
		if !c.killed && (err != nil || len(committed(t, out)["slow"]) == 0) {
			t.Fatalf("the default binary: %v, %d rows published\n%s", err, len(committed(t, out)["slow"]), b)
		}
	}
}

// TestSIGTERMTakesASavepoint: SIGTERM stops a checkpointed job with a
// savepoint; the same command finishes it from there; the output equals an
// undisturbed run's. Then the plan check: a changed job file is refused
// from that folder, naming the operator, unless --allow-non-restored-state.
func TestSIGTERMTakesASavepoint(t *testing.T) {
	want := undisturbed(t, jobRows)
	out := t.TempDir()
	job := checkpointJob(t, out, jobRows)
	ck := filepath.Join(out, "ck")
	cmd := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", ck, "--checkpoint-interval", "1h")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The job starts (and its savepoint handler is in place) when it says
	// it has no checkpoint to restore; 800 ms later it is into its 2.5 s.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "no complete checkpoint"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the job did not start within 10 s:\n%s", stderr.String())
		}
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
	// The same command goes on from the savepoint, the newest state in the
	// folder (--from-savepoint is for one elsewhere, or an older one).
	run := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", ck)
	if b, err := run.CombinedOutput(); err != nil || !strings.Contains(string(b), "restoring savepoint") {
		t.Fatalf("the same command after the savepoint: %v\n%s", err, b)
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
	// The sinks have published the end of the job: starting again from the
	// savepoint would publish rows again.
	b, err = exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", t.TempDir(), "--from-savepoint", m[1], "--allow-non-restored-state").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "what the end of the job published") {
		t.Fatalf("with --allow-non-restored-state, over published output: %v\n%s", err, b)
	}
	b, err = exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", t.TempDir(), "--from-savepoint", m[1], "--allow-non-restored-state", "--allow-duplicates").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "starts without state") {
		t.Fatalf("with --allow-non-restored-state: %v\n%s", err, b)
	}
}

// newestPublished returns the newest checkpoint any file sink of the job in
// out has published, from their commit records.
func newestPublished(t *testing.T, out string) int64 {
	t.Helper()
	var newest int64
	for _, name := range []string{"windows", "joined", "slow"} {
		records, _ := filepath.Glob(filepath.Join(out, name, ".sluice-commits-*"))
		for _, r := range records {
			if strings.HasSuffix(r, ".tmp") {
				continue // being written
			}
			data, err := os.ReadFile(r)
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`"last":(\d+)`).FindSubmatch(data)
			if m == nil {
				t.Fatalf("%s: %s", r, data)
			}
			id, _ := strconv.ParseInt(string(m[1]), 10, 64)
			newest = max(newest, id)
		}
	}
	return newest
}

// rerun starts the job in out again over its checkpoint folder, with extra
// flags, and returns its output and exit error.
func rerun(t *testing.T, out string, rows int, flags ...string) (string, error) {
	t.Helper()
	args := append([]string{"run", checkpointJob(t, out, rows), "--parallelism", "2",
		"--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "150ms"}, flags...)
	cmd := exec.Command(binary, args...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return b.String(), err
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not finish\n%s", args, b.String())
		return "", nil
	}
}

// refusedRerun runs the job in out again and wants it refused because its
// sinks have published more than it would start from, with the output
// untouched.
func refusedRerun(t *testing.T, out string, rows int, what string) string {
	t.Helper()
	before := committed(t, out)
	text, err := rerun(t, out, rows)
	m := regexp.MustCompile(`operator "sink \w+" \(subtask \d\): its output already holds what (checkpoint \d+|the end of the job) published \(recorded in (\S+)/\.sluice-commits-\d\); `).FindStringSubmatch(text)
	if err == nil || m == nil || !strings.Contains(text, "--allow-duplicates") || !strings.HasPrefix(m[2], out) {
		t.Fatalf("%s: %v, want a refusal naming the sink, its folder and what it published:\n%s", what, err, text)
	}
	if strings.Count(text, "cannot be restored")+strings.Count(text, "cannot start without a checkpoint") != 1 {
		t.Fatalf("%s: want the reason once, not a restart loop:\n%s", what, text)
	}
	sameOutput(t, before, committed(t, out), what+": the refused run changed the output")
	return text
}

// TestFallingBackPastPublishedOutputIsRefused: the job is killed mid-way,
// then every checkpoint from the newest one its sinks have published on is
// damaged; starting again would fall back to an older checkpoint (or none)
// and publish rows again, so the job refuses to start, with a warning per
// skipped checkpoint and the reason — unless --allow-duplicates.
func TestFallingBackPastPublishedOutputIsRefused(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(binary, "run", checkpointJob(t, out, jobRows), "--parallelism", "2",
		"--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "150ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Killed mid-way, once a few checkpoints are published.
	for deadline := time.Now().Add(30 * time.Second); newestPublished(t, out) < 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint published in 30 s")
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	published := newestPublished(t, out)
	if published == math.MaxInt64 {
		t.Fatal("the job finished before the kill")
	}
	ids, _ := filepath.Glob(filepath.Join(out, "ck", "chk-*"))
	damaged := 0
	for _, dir := range ids {
		id, _ := strconv.ParseInt(strings.TrimPrefix(filepath.Base(dir), "chk-"), 10, 64)
		if id >= published {
			state := filepath.Join(dir, "state.bin")
			st, err := os.Stat(state)
			if err != nil {
				t.Fatal(err)
			}
			os.Truncate(state, st.Size()/2)
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatalf("no checkpoint at or after %d in %v", published, ids)
	}
	text := refusedRerun(t, out, jobRows, "after a fallback")
	if strings.Count(text, "warning: skipping checkpoint") != damaged {
		t.Fatalf("want a warning for each of the %d damaged checkpoints:\n%s", damaged, text)
	}
	text, err := rerun(t, out, jobRows, "--allow-duplicates")
	if err != nil || !strings.Contains(text, "publishes those rows again (--allow-duplicates)") {
		t.Fatalf("with --allow-duplicates: %v\n%s", err, text)
	}
}

// TestLostCheckpointsAreNotAFreshStart: after a job has finished, its last
// checkpoint damaged and the one before marked finished by hand (the
// manifest's checksum no longer matches) are skipped with warnings, and
// the older one would publish again: refused. With every checkpoint
// unreadable, or the checkpoint folder deleted, starting from scratch would
// publish everything again: refused, unless --allow-duplicates.
func TestLostCheckpointsAreNotAFreshStart(t *testing.T) {
	const rows = 8000
	out := t.TempDir()
	runCheckpointedJob(t, out, rows, nil)
	ids, _ := filepath.Glob(filepath.Join(out, "ck", "chk-*"))
	if len(ids) != 3 {
		t.Fatalf("checkpoints %v", ids)
	}
	os.Truncate(filepath.Join(ids[2], "state.bin"), 3)
	manifest := filepath.Join(ids[1], "_manifest.json")
	data, _ := os.ReadFile(manifest)
	edited := strings.Replace(string(data), `"version": 2,`, `"version": 2, "finished": true,`, 1)
	if edited == string(data) {
		t.Fatalf("manifest:\n%s", data)
	}
	os.WriteFile(manifest, []byte(edited), 0o644)
	text := refusedRerun(t, out, rows, "after a finished run")
	if !strings.Contains(text, "manifest is corrupt") || !strings.Contains(text, "what the end of the job published") || strings.Count(text, "warning: skipping checkpoint") != 2 {
		t.Fatalf("want two skipped checkpoints, one with a corrupt manifest, and a refusal:\n%s", text)
	}

	// Every checkpoint unreadable: the same as none.
	os.Truncate(filepath.Join(ids[0], "state.bin"), 3)
	text = refusedRerun(t, out, rows, "with every checkpoint unreadable")
	if !strings.Contains(text, "cannot start without a checkpoint") || strings.Count(text, "warning: skipping checkpoint") != 3 {
		t.Fatalf("want three skipped checkpoints and the reason:\n%s", text)
	}

	os.RemoveAll(filepath.Join(out, "ck"))
	text = refusedRerun(t, out, rows, "without checkpoints")
	if !strings.Contains(text, "cannot start without a checkpoint") {
		t.Fatalf("want the reason:\n%s", text)
	}
	want := committed(t, out)
	text, err := rerun(t, out, rows, "--allow-duplicates")
	if err != nil || !strings.Contains(text, "publishes those rows again (--allow-duplicates)") {
		t.Fatalf("with --allow-duplicates: %v\n%s", err, text)
	}
	if got := committed(t, out); len(got["slow"]) != 2*len(want["slow"]) {
		t.Fatalf("with --allow-duplicates: %d filtered rows, want each of the %d twice", len(got["slow"]), len(want["slow"]))
	}
}

// TestRunWithoutCheckpointsDoesNotRepublish: a job that finished with
// checkpoints is run again into the same folders without --checkpoint-dir.
// It would start from the beginning and publish everything again beside
// what its sinks' commit records say is published: refused, the output
// untouched, unless --allow-duplicates (then with a warning per sink
// subtask, and the records still guard the checkpointed run's output).
func TestRunWithoutCheckpointsDoesNotRepublish(t *testing.T) {
	const rows = 8000
	out := t.TempDir()
	runCheckpointedJob(t, out, rows, nil)
	want := committed(t, out)
	run := func(flags ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"run", checkpointJob(t, out, rows), "--parallelism", "2"}, flags...)...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	text, err := run()
	m := regexp.MustCompile(`operator "sink \w+" \(subtask \d\): its output already holds what the end of the job published \(recorded in (\S+)/\.sluice-commits-\d\); starting without a checkpoint would publish those rows again`).FindStringSubmatch(text)
	if err == nil || m == nil || !strings.HasPrefix(m[1], out) || !strings.Contains(text, "--allow-duplicates") {
		t.Fatalf("without --checkpoint-dir: %v, want a refusal naming the sink and its record:\n%s", err, text)
	}
	sameOutput(t, want, committed(t, out), "the refused run changed the output")

	text, err = run("--allow-duplicates")
	if err != nil || strings.Count(text, "publishes those rows again (--allow-duplicates)") != 6 {
		t.Fatalf("with --allow-duplicates: %v, want a warning per sink subtask:\n%s", err, text)
	}
	if got := committed(t, out); len(got["slow"]) != 2*len(want["slow"]) {
		t.Fatalf("with --allow-duplicates: %d filtered rows, want each of the %d twice", len(got["slow"]), len(want["slow"]))
	}
	if text, err := run(); err == nil {
		t.Fatalf("a second run without --checkpoint-dir was not refused:\n%s", text)
	}
}
