package sluice_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/operators/process"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/cks3"
	"github.com/sluicehq/sluice/runtime/state"
)

var idSchema = rt.NewSchema(rt.Field{Name: "k", Type: rt.BigInt}, rt.Field{Name: "id", Type: rt.BigInt}, rt.Field{Name: "ts", Type: rt.Timestamp})

// idJob generates rows id 0 … rows-1 at rate rows/s over two subtasks into
// an exactly-once file sink writing JSON lines under out.
func idJob(t testing.TB, out string, rows int64, rate float64) *sluice.Env {
	env := sluice.NewEnv(sluice.WithParallelism(2), sluice.WithName("ids"))
	fill := func(b *rt.Batch, first int64, n int) {
		for i := first; i < first+int64(n); i++ {
			b.Cols[0].I64 = append(b.Cols[0].I64, i%7)
			b.Cols[1].I64 = append(b.Cols[1].I64, i)
			b.Cols[2].I64 = append(b.Cols[2].I64, i)
		}
	}
	f, _ := connectors.Lookup("file")
	newSink, _, err := f.(connectors.Sink).NewSink(connectors.Table{Name: "ids", Schema: idSchema, TimeColumn: -1,
		Options: map[string]string{"path": filepath.Join(out, "ids"), "format": "json"}})
	if err != nil {
		t.Fatal(err)
	}
	env.FromGenerator("gen", idSchema, rows, fill, sluice.RowsPerSecond(rate), sluice.BatchRows(64)).To("ids", newSink)
	return env
}

// publishedIDs returns the ids in the published files of the job's sink
// (hidden and pending files excluded), sorted.
func publishedIDs(t testing.TB, out string) []int {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(out, "ids"))
	var ids []int
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, "ids", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var k, id, ts int
			if _, err := fmt.Sscanf(sc.Text(), `{"k":%d,"id":%d,"ts":`, &k, &id); err != nil {
				t.Fatalf("%s: line %q: %v", e.Name(), sc.Text(), err)
			}
			_ = ts
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// everyIDOnce fails unless ids is 0 … n-1, each once.
func everyIDOnce(t *testing.T, ids []int, n int, what string) {
	t.Helper()
	seen := make([]int, n)
	extra := 0
	for _, id := range ids {
		if id < 0 || id >= n {
			extra++
			continue
		}
		seen[id]++
	}
	missing, dup := 0, 0
	for _, c := range seen {
		switch {
		case c == 0:
			missing++
		case c > 1:
			dup += c - 1
		}
	}
	if missing+dup+extra > 0 {
		t.Fatalf("%s: %d ids published, want %d: %d missing, %d more than once, %d unknown", what, len(ids), n, missing, dup, extra)
	}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) logf(format string, args ...any) {
	l.mu.Lock()
	l.l = append(l.l, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// TestExecuteWithCheckpointsStopsWithSavepointAndResumes: a Go API job
// with checkpoints stops with a savepoint when asked; executed again over
// the same folder it resumes from it, and every row is published once.
func TestExecuteWithCheckpointsStopsWithSavepointAndResumes(t *testing.T) {
	const rows = 6000
	out := t.TempDir()
	ck := filepath.Join(out, "ck")
	stop := make(chan struct{})
	time.AfterFunc(400*time.Millisecond, func() { close(stop) })
	err := idJob(t, out, rows, 5000).Execute(context.Background(),
		sluice.WithCheckpoints(ck, 100*time.Millisecond, sluice.StopWithSavepoint(stop)))
	var sp *sluice.SavepointError
	if !errors.As(err, &sp) || !errors.Is(err, sluice.ErrStoppedWithSavepoint) {
		t.Fatalf("Execute: %v, want a stop with a savepoint", err)
	}
	if !strings.HasPrefix(sp.Path, ck) {
		t.Fatalf("savepoint at %s, want it in %s", sp.Path, ck)
	}
	if n := len(publishedIDs(t, out)); n == 0 || n >= rows {
		t.Fatalf("%d of %d rows published at the savepoint: want some, not all", n, rows)
	}
	var log lines
	if err := idJob(t, out, rows, 0).Execute(context.Background(),
		sluice.WithCheckpoints(ck, 100*time.Millisecond, sluice.CheckpointLog(log.logf))); err != nil {
		t.Fatalf("resume: %v\n%s", err, &log)
	}
	if !strings.Contains(log.String(), "restoring savepoint") || !strings.Contains(log.String(), sp.Path) {
		t.Fatalf("resume log:\n%s\nwant the savepoint %s restored", &log, sp.Path)
	}
	everyIDOnce(t, publishedIDs(t, out), rows, "after a savepoint and a resume")
}

// TestEnvWithCheckpointsFromSavepoint: WithCheckpoints also works as an
// Env option, and FromSavepoint starts from a savepoint of another folder.
func TestEnvWithCheckpointsFromSavepoint(t *testing.T) {
	const rows = 3000
	out := t.TempDir()
	stop := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(stop) })
	err := idJob(t, out, rows, 5000).Execute(context.Background(),
		sluice.WithCheckpoints(filepath.Join(out, "ck1"), time.Hour, sluice.StopWithSavepoint(stop)))
	var sp *sluice.SavepointError
	if !errors.As(err, &sp) {
		t.Fatalf("Execute: %v, want a stop with a savepoint", err)
	}
	env := idJob(t, out, rows, 0)
	sluice.WithCheckpoints(filepath.Join(out, "ck2"), time.Hour, sluice.FromSavepoint(sp.Path))(env)
	if err := env.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	everyIDOnce(t, publishedIDs(t, out), rows, "resumed from a savepoint of another folder")
}

// childEnv makes the test binary run apiChild instead of the tests.
const childEnv = "SLUICE_TEST_API_CHILD"

// apiChild is a Go program using the API: it runs the id job with
// checkpoints into $SLUICE_TEST_API_CHILD/ck until it ends.
func apiChild() {
	out := os.Getenv(childEnv)
	err := idJob(childTB{}, out, 20000, 8000).Execute(context.Background(),
		sluice.WithCheckpoints(filepath.Join(out, "ck"), 100*time.Millisecond,
			sluice.CheckpointLog(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// childTB is the testing.TB of apiChild: a failure ends the process.
type childTB struct{ testing.TB }

func (childTB) Fatal(args ...any) { fmt.Fprintln(os.Stderr, args...); os.Exit(2) }
func (childTB) Helper()           {}

// TestGoProgramWithCheckpointsSurvivesKill9: a Go program using the API
// with checkpoints is killed with SIGKILL once a checkpoint is complete;
// started again, it resumes from it and every row is published once.
func TestGoProgramWithCheckpointsSurvivesKill9(t *testing.T) {
	out := t.TempDir()
	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	cmd, stderr := start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(out, "ck", "chk-*", "_manifest.json")); len(m) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no checkpoint completed in 30 s\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	if err := cmd.Wait(); err == nil {
		t.Fatalf("the job ended before it was killed\n%s", stderr)
	}
	cmd, stderr = start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after the kill: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "restoring checkpoint") {
		t.Fatalf("the second start did not restore a checkpoint:\n%s", stderr)
	}
	everyIDOnce(t, publishedIDs(t, out), 20000, "after a kill -9")
}

// TestExecuteRefusesDuplicatesUnlessAllowed: over output that a
// checkpointed run has published, a run from no checkpoint is refused;
// AllowDuplicates lets it publish the rows again.
func TestExecuteRefusesDuplicatesUnlessAllowed(t *testing.T) {
	out := t.TempDir()
	if err := idJob(t, out, 500, 0).Execute(context.Background(), sluice.WithCheckpoints(filepath.Join(out, "ck1"), time.Hour)); err != nil {
		t.Fatal(err)
	}
	err := idJob(t, out, 500, 0).Execute(context.Background(), sluice.WithCheckpoints(filepath.Join(out, "ck2"), time.Hour))
	var re *rt.RestoreError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "would publish those rows again") ||
		!strings.Contains(err.Error(), "sluice.AllowDuplicates()") || !strings.Contains(err.Error(), "sluice.FromSavepoint") {
		t.Fatalf("over published output: %v, want a refusal", err)
	}
	if n := len(publishedIDs(t, out)); n != 500 {
		t.Fatalf("%d rows published after the refusal, want 500", n)
	}
	if err := idJob(t, out, 500, 0).Execute(context.Background(),
		sluice.WithCheckpoints(filepath.Join(out, "ck3"), time.Hour, sluice.AllowDuplicates())); err != nil {
		t.Fatal(err)
	}
	if n := len(publishedIDs(t, out)); n != 1000 {
		t.Fatalf("%d rows published with duplicates allowed, want 1000", n)
	}
}

// TestExecuteRefusesAChangedJobNamingTheGoOption: a job restored from the
// checkpoint of a job with other operators is refused with an error that
// names the option of the Go API that overrides it, which then does.
func TestExecuteRefusesAChangedJobNamingTheGoOption(t *testing.T) {
	ck := filepath.Join(t.TempDir(), "ck")
	job := func(print bool) *sluice.Env {
		env := sluice.NewEnv(sluice.WithParallelism(1), sluice.WithOutput(io.Discard))
		s := env.FromGenerator("gen", idSchema, 100, func(b *rt.Batch, first int64, n int) {
			for i := first; i < first+int64(n); i++ {
				b.Cols[0].I64 = append(b.Cols[0].I64, i)
				b.Cols[1].I64 = append(b.Cols[1].I64, i)
				b.Cols[2].I64 = append(b.Cols[2].I64, i)
			}
		})
		if print {
			s.Print()
		} else {
			s.Discard(nil)
		}
		return env
	}
	if err := job(false).Execute(context.Background(), sluice.WithCheckpoints(ck, time.Hour)); err != nil {
		t.Fatal(err)
	}
	err := job(true).Execute(context.Background(), sluice.WithCheckpoints(ck, time.Hour))
	if err == nil || !strings.Contains(err.Error(), `operator "print" is new`) || !strings.Contains(err.Error(), "sluice.AllowNonRestoredState()") {
		t.Fatalf("a changed job over the checkpoint: %v, want a refusal naming sluice.AllowNonRestoredState()", err)
	}
	if err := job(true).Execute(context.Background(), sluice.WithCheckpoints(ck, time.Hour, sluice.AllowNonRestoredState())); err != nil {
		t.Fatalf("with AllowNonRestoredState: %v", err)
	}
}

// TestFromRowsResumesAfterTheRowsItHadEmitted: a FromRows job stopped
// with a savepoint midway and executed again goes on after the rows it had
// emitted: the window counts each row once.
func TestFromRowsResumesAfterTheRowsItHadEmitted(t *testing.T) {
	const total = 200_000
	ck := filepath.Join(t.TempDir(), "ck")
	schema := rt.NewSchema(rt.Field{Name: "k", Type: rt.BigInt}, rt.Field{Name: "ts", Type: rt.Timestamp})
	rows := make([][]rt.Value, total)
	for i := range rows {
		rows[i] = []rt.Value{rt.IntValue(0), rt.TimeValue(int64(i))}
	}
	stop := make(chan struct{})
	var once sync.Once
	job := func() (*sluice.Env, *sluice.Collected) {
		env := sluice.NewEnv(sluice.WithParallelism(1), sluice.WithBufferRows(64))
		seen := 0
		counts := env.FromRows("rows", schema, rows, sluice.BatchRows(1), sluice.Watermark("ts", 0)).
			KeyBy("k").Process(schema, "ts", func() process.Func {
			return passFunc(func() {
				if seen++; seen == 1000 {
					once.Do(func() { close(stop) })
				}
			})
		}, state.Options{}).
			KeyBy("k").Window(window.Tumble(time.Hour)).Aggregate(sluice.Count("n")).Collect()
		return env, counts
	}
	env, first := job()
	err := env.Execute(context.Background(), sluice.WithCheckpoints(ck, time.Hour, sluice.StopWithSavepoint(stop)))
	var sp *sluice.SavepointError
	if !errors.As(err, &sp) {
		t.Fatalf("first run: %v, want a stop with a savepoint midway", err)
	}
	if got := first.Strings(); len(got) != 0 {
		t.Fatalf("the first run fired %v before its end", got)
	}
	env, counts := job()
	if err := env.Execute(context.Background(), sluice.WithCheckpoints(ck, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := counts.Strings(), fmt.Sprintf("0,1970-01-01 00:00:00.000,1970-01-01 01:00:00.000,%d", total); len(got) != 1 || got[0] != want {
		t.Fatalf("after a savepoint and a resume the window counts %v, want [%s]", got, want)
	}
}

// passFunc is a keyed process function that passes every row on, calling
// itself first.
type passFunc func()

func (f passFunc) ProcessRow(_ *process.Ctx, b *rt.Batch, r int, out *process.Emitter) error {
	f()
	return out.AppendRow(b, r)
}

func (passFunc) OnTimer(*process.Ctx, int64, bool, *process.Emitter) error { return nil }

// TestExecuteWithCheckpointsInABucket: a Go API job keeps its checkpoints
// in an S3-compatible bucket (CheckpointsIn), stops with a savepoint
// there, resumes from the bucket, and publishes every row once; then a job
// with checkpoints under another prefix starts from that savepoint by the
// path SavepointError gave.
func TestExecuteWithCheckpointsInABucket(t *testing.T) {
	const rows = 6000
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/ckpt", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	open := func(u string) rt.CheckpointStore {
		st, err := cks3.Open(context.Background(), u, cks3.Options{Endpoint: strings.TrimPrefix(srv.URL, "http://")})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	out := t.TempDir()
	stop := make(chan struct{})
	time.AfterFunc(400*time.Millisecond, func() { close(stop) })
	err = idJob(t, out, rows, 5000).Execute(context.Background(),
		sluice.WithCheckpoints("", 100*time.Millisecond, sluice.CheckpointsIn(open("s3://ckpt/ids")), sluice.StopWithSavepoint(stop)))
	var sp *sluice.SavepointError
	if !errors.As(err, &sp) || !strings.HasPrefix(sp.Path, "s3://ckpt/ids/savepoint-") {
		t.Fatalf("Execute: %v, want a stop with a savepoint in the bucket", err)
	}
	var log lines
	if err := idJob(t, out, rows, 0).Execute(context.Background(),
		sluice.WithCheckpoints("", 100*time.Millisecond, sluice.CheckpointsIn(open("s3://ckpt/ids")), sluice.CheckpointLog(log.logf))); err != nil {
		t.Fatalf("resume: %v\n%s", err, &log)
	}
	if !strings.Contains(log.String(), "restoring savepoint") || !strings.Contains(log.String(), sp.Path) {
		t.Fatalf("resume log:\n%s\nwant the savepoint %s restored", &log, sp.Path)
	}
	everyIDOnce(t, publishedIDs(t, out), rows, "after a savepoint to a bucket and a resume")

	out2 := t.TempDir()
	err = idJob(t, out2, rows, 0).Execute(context.Background(),
		sluice.WithCheckpoints("", time.Hour, sluice.CheckpointsIn(open("s3://ckpt/ids")), sluice.FromSavepoint(sp.Path)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(publishedIDs(t, out2)); n == 0 || n >= rows {
		t.Fatalf("from the savepoint %d of %d rows published: want those after it", n, rows)
	}
}
