package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/cks3"
)

// fakeS3 serves an in-memory S3-compatible server with the bucket "ckpt"
// and returns its host:port.
func fakeS3(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/ckpt", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestCheckpointsToS3SurviveKill9: the binary checkpoints into
// s3://ckpt/job on a server the test runs, is killed with SIGKILL twice and
// started again; its published output equals an undisturbed run's, and the
// bucket holds its complete checkpoints.
func TestCheckpointsToS3SurviveKill9(t *testing.T) {
	want := undisturbed(t, jobRows)
	endpoint := fakeS3(t)
	out := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "ak")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sk")
	kills := []time.Duration{700 * time.Millisecond, 900 * time.Millisecond}
	runCheckpointedJobIn(t, out, "s3://ckpt/job", []string{"--checkpoint-s3-endpoint", endpoint}, jobRows, kills)
	sameOutput(t, want, committed(t, out), fmt.Sprintf("checkpoints in S3, after kills at %v", kills))
	st, err := cks3.Open(context.Background(), "s3://ckpt/job", cks3.Options{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	c, warnings, err := runtime.LatestCheckpointIn(st)
	if err != nil || c == nil || !c.Finished || len(warnings) != 0 {
		t.Fatalf("latest checkpoint in the bucket: %+v, %q, %v", c, warnings, err)
	}
}

// TestCheckpointDirS3Errors: a bucket that does not exist, an endpoint
// that does not answer, and no endpoint at all are errors at start that
// name the flag.
func TestCheckpointDirS3Errors(t *testing.T) {
	endpoint := fakeS3(t)
	out := t.TempDir()
	job := checkpointJob(t, out, 10)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := strings.TrimPrefix(dead.URL, "http://")
	dead.Close()
	f := func(want string, args ...string) {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"run", job, "--parallelism", "1"}, args...)...)
		cmd.Env = append(cmd.Environ(), "SLUICE_S3_ENDPOINT=")
		got, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(got), want) {
			t.Fatalf("%q: %v\n%s\nwant %q", args, err, got, want)
		}
	}
	f(`--checkpoint-dir: s3://nope/job: bucket "nope" does not exist`, "--checkpoint-dir", "s3://nope/job", "--checkpoint-s3-endpoint", endpoint)
	f("--checkpoint-dir: s3://ckpt/job: cannot reach S3 endpoint "+deadAddr, "--checkpoint-dir", "s3://ckpt/job", "--checkpoint-s3-endpoint", deadAddr)
	f("--checkpoint-dir: s3://ckpt/job: no S3 endpoint", "--checkpoint-dir", "s3://ckpt/job")
	f("--from-savepoint: checkpoint s3://ckpt/job/savepoint-000001", "--checkpoint-dir", "s3://ckpt/job", "--checkpoint-s3-endpoint", endpoint,
		"--from-savepoint", "s3://ckpt/job/savepoint-000001")
	f("--checkpoint-s3-endpoint needs --checkpoint-dir", "--checkpoint-s3-endpoint", endpoint)
}

// TestSIGTERMSavepointToS3Resumes: SIGTERM stops a job checkpointing into
// a bucket with a savepoint there, named as s3://…; a job started with
// --from-savepoint s3://… and checkpoints under another prefix finishes it,
// and the output equals an undisturbed run's.
func TestSIGTERMSavepointToS3Resumes(t *testing.T) {
	want := undisturbed(t, jobRows)
	endpoint := fakeS3(t)
	t.Setenv("SLUICE_S3_ENDPOINT", endpoint)
	out := t.TempDir()
	job := checkpointJob(t, out, jobRows)
	cmd := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", "s3://ckpt/a", "--checkpoint-interval", "1h")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "no complete checkpoint in s3://ckpt/a"); time.Sleep(10 * time.Millisecond) {
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
	m := regexp.MustCompile(`savepoint written to (s3://ckpt/a/savepoint-\d+); resume with --from-savepoint (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil || m[2] != m[1] {
		t.Fatalf("no savepoint in the bucket reported:\n%s", stderr.String())
	}
	if got := committed(t, out); len(got["slow"]) >= len(want["slow"]) {
		t.Fatalf("at the savepoint %d of %d filtered rows are published: want not all", len(got["slow"]), len(want["slow"]))
	}
	run := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", "s3://ckpt/b", "--from-savepoint", m[1])
	if b, err := run.CombinedOutput(); err != nil || !strings.Contains(string(b), "restoring savepoint") {
		t.Fatalf("from the savepoint: %v\n%s", err, b)
	}
	sameOutput(t, want, committed(t, out), "after a savepoint to S3 and a resume from it")
}
