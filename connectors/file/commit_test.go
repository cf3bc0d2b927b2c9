package file

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// ckptSink returns subtask sub of par of a file sink with checkpoints,
// opened.
func ckptSink(t *testing.T, opts map[string]string, sub, par int) *sink {
	t.Helper()
	newSink, _, err := connector(t).NewSink(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	op := newSink().(*sink)
	ctx := rttest.NewContext("file", sub, par)
	ctx.Checkpointing = true
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return op
}

// crash abandons a sink as a killed process would: no Finish, no Close,
// its hidden files left as they are (only the descriptor is released).
func crash(op *sink) {
	for rel, p := range op.open {
		p.f.Close()
		delete(op.open, rel)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func feed(t *testing.T, op *sink, from, to int) {
	t.Helper()
	must(t, op.ProcessBatch(0, rttest.NewBatch(schema, rows(from, to)...), nil))
}

func snapshot(t *testing.T, op *sink, id int64) []byte {
	t.Helper()
	data, err := op.SnapshotState(id)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// published reads back the rows of the published files of dir, sorted.
func published(t *testing.T, dir string) []string {
	t.Helper()
	return mustRead(t, map[string]string{"path": dir}, 1)
}

// hiddenFiles returns the names in dir that start with '.', but for the
// commit records.
func hiddenFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range outputNames(t, dir) {
		if strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out
}

// isRecord reports whether name is a commit record.
func isRecord(name string) bool {
	return strings.HasPrefix(name, ".sluice-commits-") || strings.HasSuffix(name, ".commits")
}

// outputNames returns the names in dir but for the commit records.
func outputNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range names(t, dir) {
		if !isRecord(n) {
			out = append(out, n)
		}
	}
	return out
}

var partNumber = regexp.MustCompile(`^\.?part-(\d+)-(\d+)\.`)

// partNumbers returns the part numbers of subtask sub among names.
func partNumbers(names []string, sub int) []int {
	var out []int
	for _, n := range names {
		if m := partNumber.FindStringSubmatch(n); m != nil && m[1] == strconv.Itoa(sub) {
			k, _ := strconv.Atoi(m[2])
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestSinkCommitsAtCheckpoints: only rows before a checkpoint's barrier
// are published when it completes; rolled files wait for the checkpoint
// too; a crash and a restore drop the failed attempt's files and go on with
// new part numbers.
func TestSinkCommitsAtCheckpoints(t *testing.T) {
	dir := t.TempDir()
	o := map[string]string{"path": dir, "sink.rolling-policy.file-size": "1kb"}
	op := ckptSink(t, o, 0, 1)
	feed(t, op, 0, 30) // rolls several times
	if got := published(t, dir); len(got) != 0 {
		t.Fatalf("%d rows published before any checkpoint", len(got))
	}
	state1 := snapshot(t, op, 1)
	feed(t, op, 30, 60)
	if got := published(t, dir); len(got) != 0 {
		t.Fatalf("%d rows published before checkpoint 1 completed", len(got))
	}
	var st sinkState
	must(t, json.Unmarshal(state1, &st))
	if len(st.Pending) < 2 || st.Next < len(st.Pending) {
		t.Fatalf("state of checkpoint 1: %s; want several pending files (rolled at 1 KiB)", state1)
	}
	for _, p := range st.Pending {
		if p.Checkpoint != 1 || p.Hidden != "."+p.Final+".pending-1" {
			t.Fatalf("pending file %+v", p)
		}
		if _, err := os.Stat(filepath.Join(dir, p.Hidden)); err != nil {
			t.Fatalf("pending file of the state: %v", err)
		}
	}
	must(t, op.NotifyCheckpointComplete(1))
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 30))) {
		t.Fatalf("after checkpoint 1: %d rows published, want the 30 before its barrier", len(got))
	}
	must(t, op.NotifyCheckpointComplete(1)) // again: nothing changes
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 30))) {
		t.Fatalf("after a second notification: %d rows published", len(got))
	}
	before := names(t, dir)
	if len(hiddenFiles(t, dir)) == 0 {
		t.Fatalf("files %v: want the rows after the barrier in hidden files", before)
	}
	usedBefore := partNumbers(before, 0)
	crash(op)

	again := ckptSink(t, o, 0, 1)
	defer again.Close()
	must(t, again.RestoreState(state1))
	if h := hiddenFiles(t, dir); len(h) != 0 {
		t.Fatalf("hidden files of the failed attempt left after the restore: %v", h)
	}
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 30))) {
		t.Fatalf("after the restore: %d rows published, want 30", len(got))
	}
	feed(t, again, 30, 60) // the source replays the rows after the checkpoint
	snapshot(t, again, 2)
	must(t, again.NotifyCheckpointComplete(2))
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 60))) {
		t.Fatalf("after checkpoint 2: %d rows published, want 60 exactly once", len(got))
	}
	// Parts written after the restore are numbered above every part of the
	// failed attempt, published or not.
	var committed []string
	for _, n := range before {
		if !strings.HasPrefix(n, ".") {
			committed = append(committed, n)
		}
	}
	var fresh []int
	for _, k := range partNumbers(names(t, dir), 0) {
		if !slices.Contains(partNumbers(committed, 0), k) {
			fresh = append(fresh, k)
		}
	}
	if len(fresh) == 0 || fresh[0] <= slices.Max(usedBefore) {
		t.Fatalf("parts after the restore %v; the failed attempt used %v", fresh, usedBefore)
	}
}

// crashAfterPreCommit leaves dir as a process killed after checkpoint 2's
// pre-commit and before its commit: checkpoint 1 published, checkpoint 2's
// files pending, later rows in progress.
func crashAfterPreCommit(t *testing.T, dir string) (state1, state2 []byte) {
	t.Helper()
	op := ckptSink(t, map[string]string{"path": dir}, 1, 2)
	feed(t, op, 0, 10)
	state1 = snapshot(t, op, 1)
	must(t, op.NotifyCheckpointComplete(1))
	feed(t, op, 10, 20)
	state2 = snapshot(t, op, 2)
	feed(t, op, 20, 25)
	crash(op)
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("before the crash: %d rows published, want 10", len(got))
	}
	if h := hiddenFiles(t, dir); !slices.Equal(h, []string{".part-1-1.json.pending-2", ".part-1-2.json.inprogress"}) {
		t.Fatalf("hidden files at the crash: %v", h)
	}
	return state1, state2
}

// TestSinkCrashBetweenPreCommitAndCommit: restored from checkpoint 2 (its
// notification never came), the sink publishes its pending files exactly
// once; restored from checkpoint 1 instead (2 never completed), it drops
// them.
func TestSinkCrashBetweenPreCommitAndCommit(t *testing.T) {
	t.Run("restore from 2", func(t *testing.T) {
		dir := t.TempDir()
		_, state2 := crashAfterPreCommit(t, dir)
		for attempt := range 2 { // a restore that itself crashes is restored again
			op := ckptSink(t, map[string]string{"path": dir}, 1, 2)
			must(t, op.RestoreState(state2))
			if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 20))) {
				t.Fatalf("attempt %d: %d rows published, want the 20 of checkpoint 2 exactly once", attempt, len(got))
			}
			if h := hiddenFiles(t, dir); len(h) != 0 {
				t.Fatalf("attempt %d: hidden files %v", attempt, h)
			}
			crash(op)
		}
		if got := outputNames(t, dir); !slices.Equal(got, []string{"part-1-0.json", "part-1-1.json"}) {
			t.Fatalf("files %v", got)
		}
	})
	t.Run("restore from 1", func(t *testing.T) {
		dir := t.TempDir()
		state1, _ := crashAfterPreCommit(t, dir)
		op := ckptSink(t, map[string]string{"path": dir}, 1, 2)
		defer op.Close()
		must(t, op.RestoreState(state1))
		if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 10))) {
			t.Fatalf("%d rows published, want only the 10 of checkpoint 1", len(got))
		}
		if got := outputNames(t, dir); !slices.Equal(got, []string{"part-1-0.json"}) {
			t.Fatalf("files %v: want checkpoint 2's pending file gone", got)
		}
		feed(t, op, 10, 25)
		snapshot(t, op, 2)
		must(t, op.NotifyCheckpointComplete(2))
		if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 25))) {
			t.Fatalf("%d rows published, want 25", len(got))
		}
		if got := outputNames(t, dir); !slices.Equal(got, []string{"part-1-0.json", "part-1-3.json"}) {
			t.Fatalf("files %v: want the new part numbered after the failed attempt's", got)
		}
	})
}

// TestSinkFinishWithCheckpoints: at the end of input the rest is
// pre-committed for the final checkpoint, published when it completes (also
// after Close), or by a restore from it.
func TestSinkFinishWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	op := ckptSink(t, map[string]string{"path": dir}, 0, 1)
	feed(t, op, 0, 10)
	must(t, op.Finish(nil))
	final := snapshot(t, op, runtime.EndCheckpoint)
	must(t, op.Close())
	if got := names(t, dir); !slices.Equal(got, []string{".part-0-0.json.pending-end"}) {
		t.Fatalf("files after Finish: %v", got)
	}
	must(t, op.NotifyCheckpointComplete(runtime.EndCheckpoint))
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("%d rows published, want 10", len(got))
	}
	// Restored from the final checkpoint (as if the notification had been
	// lost): nothing more, nothing less.
	again := ckptSink(t, map[string]string{"path": dir}, 0, 1)
	must(t, again.RestoreState(final))
	must(t, again.Close())
	if got := outputNames(t, dir); !slices.Equal(got, []string{"part-0-0.json"}) {
		t.Fatalf("files %v", got)
	}

	// Without the notification: a restore publishes.
	dir2 := t.TempDir()
	op = ckptSink(t, map[string]string{"path": dir2}, 0, 1)
	feed(t, op, 0, 10)
	must(t, op.Finish(nil))
	final = snapshot(t, op, runtime.EndCheckpoint)
	must(t, op.Close())
	again = ckptSink(t, map[string]string{"path": dir2}, 0, 1)
	must(t, again.RestoreState(final))
	must(t, again.Close())
	if got := published(t, dir2); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("%d rows published by the restore, want 10", len(got))
	}
}

// TestSinkCloseWithCheckpoints: a job that stops without finishing
// publishes nothing no checkpoint covers, and leaves no file in progress.
func TestSinkCloseWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	op := ckptSink(t, map[string]string{"path": dir, "sink.rolling-policy.file-size": "1kb"}, 0, 1)
	feed(t, op, 0, 10)
	snapshot(t, op, 1)
	feed(t, op, 10, 40)
	must(t, op.Close())
	if got := published(t, dir); len(got) != 0 {
		t.Fatalf("%d rows published by Close", len(got))
	}
	if h := hiddenFiles(t, dir); !slices.Equal(h, []string{".part-0-0.json.pending-1"}) {
		t.Fatalf("hidden files after Close: %v, want only checkpoint 1's pending file", h)
	}
	must(t, op.NotifyCheckpointComplete(1))
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("%d rows published, want 10", len(got))
	}
}

// TestSinkOneFileWithCheckpoints: a sink writing one file keeps it in
// progress across checkpoints; a restore truncates it to its length at the
// checkpoint and appends; it is published at the end.
func TestSinkOneFileWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	o := map[string]string{"path": path, "format": "csv", "csv.header": "true"}
	op := ckptSink(t, o, 0, 1)
	feed(t, op, 0, 5)
	state1 := snapshot(t, op, 1)
	must(t, op.NotifyCheckpointComplete(1))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the file is published before the end: %v", err)
	}
	feed(t, op, 5, 9)
	must(t, op.flush(op.open[""]))
	crash(op)

	again := ckptSink(t, o, 0, 1)
	must(t, again.RestoreState(state1))
	feed(t, again, 5, 12)
	must(t, again.Finish(nil))
	snapshot(t, again, runtime.EndCheckpoint)
	must(t, again.Close())
	must(t, again.NotifyCheckpointComplete(runtime.EndCheckpoint))
	if got := outputNames(t, dir); !slices.Equal(got, []string{"out.csv"}) {
		t.Fatalf("files %v", got)
	}
	data, err := os.ReadFile(path)
	must(t, err)
	if n := strings.Count(string(data), "id,name,score,ok,ts\n"); n != 1 {
		t.Fatalf("%d headers in %q", n, data)
	}
	got := mustRead(t, map[string]string{"path": path, "format": "csv", "csv.ignore-first-line": "true"}, 1)
	if !slices.Equal(got, formatted(rows(0, 12))) {
		t.Fatalf("%d rows in the file, want 12 exactly once", len(got))
	}
}

// TestSinkRestoreRefusesForeignNames: a state naming files outside the
// subtask's own is refused.
func TestSinkRestoreRefusesForeignNames(t *testing.T) {
	dir := t.TempDir()
	for _, st := range []sinkState{
		{Subtask: 0, Pending: []pendingFile{{Hidden: "../x", Final: "part-0-0.json", Checkpoint: 1}}},
		{Subtask: 0, Pending: []pendingFile{{Hidden: ".part-0-0.json.pending-1", Final: "../../etc/x", Checkpoint: 1}}},
		{Subtask: 0, Pending: []pendingFile{{Hidden: ".part-1-0.json.pending-1", Final: "part-1-0.json", Checkpoint: 1}}},
		{Subtask: 1},
	} {
		data, _ := json.Marshal(st)
		op := ckptSink(t, map[string]string{"path": dir}, 0, 2)
		if err := op.RestoreState(data); err == nil || !strings.Contains(err.Error(), "table t:") {
			t.Fatalf("RestoreState(%s): %v", data, err)
		}
		op.Close()
	}
	op := ckptSink(t, map[string]string{"path": dir}, 0, 2)
	if err := op.RestoreState([]byte("{")); err == nil {
		t.Fatal("a broken state was taken")
	}
	op.Close()
}

// TestSinkJobWithCheckpoints runs a job that checkpoints every few
// milliseconds while its sink rolls: every row is published once, nothing
// stays hidden.
func TestSinkJobWithCheckpoints(t *testing.T) {
	dir := t.TempDir()
	newSink, _, err := connector(t).NewSink(table(map[string]string{"path": dir, "sink.rolling-policy.file-size": "4kb"}))
	must(t, err)
	const n = 3000
	g := runtime.NewGraph("write")
	src := g.AddSource("rows", schema, 2, rttest.Source(schema, rttest.Deal(rows(0, n), 50, 2)), runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("file", schema, 2, 1, newSink), runtime.Rebalance)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, runtime.Run(ctx, g, runtime.Options{Parallelism: 2, Metrics: metrics.NewSet(),
		Checkpoints: &runtime.CheckpointOptions{Dir: t.TempDir(), Interval: 2 * time.Millisecond}}))
	if h := hiddenFiles(t, dir); len(h) != 0 {
		t.Fatalf("hidden files after the job: %v", h)
	}
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, n))) {
		t.Fatalf("%d rows published, want %d exactly once", len(got), n)
	}
}

// TestCommitRecordOutlivesCheckpoints: what a subtask published is in its
// commit record, which a later sink reads back; a record that cannot be
// read is an error naming it, and nothing is published over it.
func TestCommitRecordOutlivesCheckpoints(t *testing.T) {
	dir := t.TempDir()
	op := ckptSink(t, map[string]string{"path": dir}, 1, 2)
	feed(t, op, 0, 10)
	snapshot(t, op, 3)
	must(t, op.NotifyCheckpointComplete(3))
	feed(t, op, 10, 20)
	snapshot(t, op, 4) // pre-committed, never published
	crash(op)

	again := ckptSink(t, map[string]string{"path": dir}, 1, 2)
	last, record, err := again.LastPublished()
	if err != nil || last != 3 || record != filepath.Join(dir, ".sluice-commits-1") {
		t.Fatalf("LastPublished: %d %s %v, want checkpoint 3 in %s/.sluice-commits-1", last, record, err, dir)
	}
	if last, _, _ := ckptSink(t, map[string]string{"path": dir}, 0, 2).LastPublished(); last != 0 {
		t.Fatalf("subtask 0 published nothing, its record says %d", last)
	}
	must(t, again.ForgetPublished(1))
	if last, _, _ := ckptSink(t, map[string]string{"path": dir}, 1, 2).LastPublished(); last != 1 {
		t.Fatalf("after ForgetPublished(1): %d", last)
	}

	os.WriteFile(record, []byte(`{"subtask":1,"last":`), 0o644)
	broken := ckptSink(t, map[string]string{"path": dir}, 1, 2)
	if _, _, err := broken.LastPublished(); err == nil || !strings.Contains(err.Error(), record) {
		t.Fatalf("unreadable record: %v, want an error naming %s", err, record)
	}
	feed(t, broken, 20, 30)
	snapshot(t, broken, 5)
	if err := broken.NotifyCheckpointComplete(5); err == nil {
		t.Fatal("published over an unreadable commit record")
	}
	if got := published(t, dir); !slices.Equal(got, formatted(rows(0, 10))) {
		t.Fatalf("%d rows published, want the 10 of checkpoint 3", len(got))
	}
}
