package runtime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/sluicehq/sluice/runtime/cks3"
)

// fakeBucket serves an in-memory S3 bucket "ckpt" and returns the store of
// s3://ckpt/<prefix> in it.
func fakeBucket(t testing.TB, prefix string) (*cks3.Store, func(string) *cks3.Store) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	open := func(u string) *cks3.Store {
		s, err := cks3.Open(context.Background(), u, cks3.Options{Endpoint: endpoint, AccessKey: "ak", SecretKey: "sk"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s, err := cks3.Open(context.Background(), "s3://ckpt/"+prefix, cks3.Options{Endpoint: endpoint, AccessKey: "ak", SecretKey: "sk"})
	if err == nil || !strings.Contains(err.Error(), `bucket "ckpt" does not exist`) {
		t.Fatalf("Open before the bucket exists: %v, %v", s, err)
	}
	makeBucket(t, endpoint, "ckpt")
	return open("s3://ckpt/" + prefix), open
}

// folders returns the checkpoint folders in s: name → complete.
func folders(t testing.TB, s CheckpointStore) ckListing {
	t.Helper()
	l, err := listStore(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestCheckpointsInS3RestoreAfterFailure: a job checkpointing into a bucket
// fails part-way and is restarted from its latest checkpoint there; the
// output is exactly that of a run without failure.
func TestCheckpointsInS3RestoreAfterFailure(t *testing.T) {
	s, _ := fakeBucket(t, "jobs/ck")
	j := newCkJob(12000, 2, 4000)
	var logs logLines
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Store: s, Interval: 10 * time.Millisecond, Retain: 2, RestartAttempts: 3, Log: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	if j.armed.Load() {
		t.Fatal("the failure was never injected")
	}
	if !logs.has("restoring checkpoint") {
		t.Fatalf("log %q: want a restart from a checkpoint in the bucket", logs.lines)
	}
	j.check(t)
	// Retention: at most Retain complete checkpoints are left, and
	// nothing partial.
	l := folders(t, s)
	var complete int
	for f, ok := range l {
		if !ok {
			t.Errorf("%s is left without a manifest", f)
		}
		complete++
	}
	if complete == 0 || complete > 2 {
		t.Fatalf("bucket holds %v, want 1..2 complete checkpoints", l)
	}
	c, _, err := LatestCheckpointIn(s)
	if err != nil || c == nil || !c.Finished {
		t.Fatalf("latest: %+v, %v: want the checkpoint of the end of the job", c, err)
	}
}

// TestCheckpointInS3WithoutManifestIsIgnored: state put without its
// manifest (a job that died between the two PUTs) is not a checkpoint: the
// latest is the one before, with a warning, and the next run removes it.
func TestCheckpointInS3WithoutManifestIsIgnored(t *testing.T) {
	s, _ := fakeBucket(t, "p")
	j := newCkJob(3000, 2, -1)
	stop := make(chan struct{})
	close(stop)
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2}, SupervisorOptions{Store: s, Interval: time.Hour, StopWithSavepoint: stop})
	var se *SavepointError
	if !errors.As(err, &se) {
		t.Fatalf("Supervise: %v, want a stop with a savepoint", err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "chk-000099/"+stateName, []byte("half a checkpoint")); err != nil {
		t.Fatal(err)
	}
	c, warnings, err := LatestCheckpointIn(s)
	if err != nil || c == nil || !c.Savepoint {
		t.Fatalf("latest: %+v, %v: want the savepoint", c, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "s3://ckpt/p/chk-000099 is not complete") {
		t.Fatalf("warnings %q", warnings)
	}
	if _, err := LoadCheckpointFrom(s, "chk-000100"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing checkpoint: %v", err)
	}
	j2 := newCkJob(3000, 2, -1)
	if err := Supervise(ctx, j2.g, Options{Parallelism: 2}, SupervisorOptions{Store: s, Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if l := folders(t, s); slices.Contains(slices.Collect(mapKeys(l)), "chk-000099") {
		t.Fatalf("the partial checkpoint is still there: %v", l)
	}
}

func mapKeys(l ckListing) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range l {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSavepointInS3Resumes: a job stopped with a savepoint into a bucket
// resumes from it in another prefix with exactly the output of a run
// without a stop.
func TestSavepointInS3Resumes(t *testing.T) {
	s, open := fakeBucket(t, "a")
	j := newCkJob(6000, 2, -1)
	stop := make(chan struct{})
	go func() {
		for j.completed.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		close(stop)
	}()
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Store: s, Interval: 5 * time.Millisecond, StopWithSavepoint: stop})
	var se *SavepointError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Path, "s3://ckpt/a/savepoint-") {
		t.Fatalf("Supervise: %v, want a stop with a savepoint in the bucket", err)
	}
	sp, err := LoadCheckpointFrom(open("s3://ckpt/a"), strings.TrimPrefix(se.Path, "s3://ckpt/a/"))
	if err != nil {
		t.Fatal(err)
	}
	var logs logLines
	if err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Store: open("s3://ckpt/b"), Interval: time.Hour, Restore: sp, Log: logs.logf}); err != nil {
		t.Fatal(err)
	}
	if !logs.has("restoring savepoint") {
		t.Fatalf("log %q", logs.lines)
	}
	j.check(t)
}

// TestDirStoreIsTheFolderLayout: a checkpoint written to a folder reads
// back through DirStore, and one written through DirStore as a Store is a
// folder checkpoint that LoadCheckpoint reads, with the same state.
func TestDirStoreIsTheFolderLayout(t *testing.T) {
	dir := t.TempDir()
	j := newCkJob(3000, 2, -1)
	if err := Supervise(context.Background(), j.g, Options{Parallelism: 2}, SupervisorOptions{Dir: dir, Interval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	viaDir, _, err := LatestCheckpoint(dir)
	if err != nil || viaDir == nil {
		t.Fatal(viaDir, err)
	}
	viaStore, _, err := LatestCheckpointIn(DirStore(dir))
	if err != nil || viaStore == nil || viaStore.Path != viaDir.Path || len(viaStore.blobs) != len(viaDir.blobs) {
		t.Fatalf("through DirStore: %+v, %v; want %+v", viaStore, err, viaDir)
	}
	other := t.TempDir()
	w, err := newCheckpointWriter(&CheckpointOptions{Store: DirStore(other)}, 7, false, "ck", j.g)
	if err != nil {
		t.Fatal(err)
	}
	for k, data := range viaDir.blobs {
		if err := w.add(NodeID(k[0]), k[1], data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.commit(true); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(filepath.Join(other, "chk-000007"))
	if err != nil {
		t.Fatal(err)
	}
	for k, data := range viaDir.blobs {
		if string(c.blobs[k]) != string(data) {
			t.Fatalf("state of %v differs", k)
		}
	}
}

func makeBucket(t testing.TB, endpoint, bucket string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+endpoint+"/"+bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("make bucket %s: %s", bucket, resp.Status)
	}
}
