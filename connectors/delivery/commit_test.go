package delivery

import (
	"context"
	"io"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/sluicehq/sluice/runtime"
)

// fakeS3 serves an in-memory S3-compatible bucket "lake" on a local port and
// returns the sink options that reach it and a client to look inside.
func fakeS3(t *testing.T) (map[string]string, *minio.Client) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	cl, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("ak", "sk", ""), BucketLookup: minio.BucketLookupPath})
	must(t, err)
	must(t, cl.MakeBucket(context.Background(), "lake", minio.MakeBucketOptions{}))
	return map[string]string{"destination": "s3://lake/firehose", "s3.endpoint": endpoint,
		"s3.access-key": "ak", "s3.secret-key": "sk"}, cl
}

// bucket returns the objects under prefix in the bucket: key → body.
func bucket(t *testing.T, cl *minio.Client, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for o := range cl.ListObjects(ctx, "lake", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		must(t, o.Err)
		obj, err := cl.GetObject(ctx, "lake", o.Key, minio.GetObjectOptions{})
		must(t, err)
		data, err := io.ReadAll(obj)
		must(t, err)
		obj.Close()
		out[o.Key] = data
	}
	return out
}

// visibleRows returns the JSON lines of the objects of m not under a
// staging folder, sorted.
func visibleRows(t *testing.T, m map[string][]byte) []string {
	t.Helper()
	var out []string
	for k, data := range m {
		if strings.Contains(k, stagingDir+"/") {
			continue
		}
		out = append(out, lines(data)...)
	}
	slices.Sort(out)
	return out
}

func idsOf(rs []string) []string {
	var out []string
	for _, r := range rs {
		i := strings.Index(r, `"id":`)
		j := strings.IndexByte(r[i:], ',')
		out = append(out, r[i+5:i+j])
	}
	slices.Sort(out)
	return out
}

func numbers(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, itoa(i))
	}
	slices.Sort(out)
	return out
}

func itoa(i int) string { return runtime.IntValue(int64(i)).String() }

// TestS3Delivery: without checkpoints objects reach the bucket as soon as a
// buffer is delivered, under the destination's prefix.
func TestS3Delivery(t *testing.T) {
	opts, cl := fakeS3(t)
	opts["compression"] = "gzip"
	op := newSink(t, opts, false)
	feed(t, op, rows(0, 5))
	must(t, op.Finish(nil))
	got := bucket(t, cl, "firehose/")
	var all []string
	for k, data := range got {
		if !strings.HasPrefix(k, "firehose/2") || !strings.HasSuffix(k, ".json.gz") {
			t.Errorf("key %s", k)
		}
		all = append(all, lines(gunzip(t, data))...)
	}
	if ids := idsOf(all); !slices.Equal(ids, numbers(0, 5)) {
		t.Fatalf("ids %v", ids)
	}
}

// exactlyOnce runs the two-phase-commit scenario against a destination:
// rows before checkpoint 1 appear only once it completes; rows after it,
// staged by an attempt that then fails, are discarded by the restore, which
// also publishes what checkpoint 2 — complete, never notified — lists.
func exactlyOnce(t *testing.T, opts map[string]string, visible func() map[string][]byte, stagedCount func() int) {
	opts["buffer.size"] = "1"
	op := newSink(t, opts, true)
	name := op.cfg.table
	feed(t, op, rows(0, 10))
	must(t, op.OnBarrier(runtime.Barrier{ID: 1}, nil))
	_, err := op.SnapshotState(1)
	must(t, err)
	feed(t, op, rows(10, 20))
	must(t, op.OnProcessingTime(1<<62, nil)) // the interval expires: staged, not visible
	if got := visibleRows(t, visible()); len(got) != 0 {
		t.Fatalf("%d rows visible before checkpoint 1 completed", len(got))
	}
	if n := stagedCount(); n != 2 {
		t.Fatalf("%d staged objects, want 2", n)
	}
	must(t, op.NotifyCheckpointComplete(1))
	if ids := idsOf(visibleRows(t, visible())); !slices.Equal(ids, numbers(0, 10)) {
		t.Fatalf("after checkpoint 1: ids %v, want 0–9", ids)
	}
	must(t, op.NotifyCheckpointComplete(1)) // again: nothing changes
	// The commit record says so to a later run.
	if last, record, err := openSink(t, name, opts, true).LastPublished(); err != nil || last != 1 || !strings.HasSuffix(record, "/.staging/"+name+"/commits-0") {
		t.Fatalf("LastPublished: %d %s %v, want checkpoint 1 in .staging/%s/commits-0", last, record, err, name)
	}
	state2, err := op.SnapshotState(2)
	must(t, err)
	feed(t, op, rows(20, 30))
	must(t, op.Finish(nil)) // staged by the attempt that fails
	if n := stagedCount(); n != 2 {
		t.Fatalf("%d staged objects before the crash, want 2", n)
	}
	// Crash: no Close, no notification of checkpoint 2. A new attempt
	// restores checkpoint 2.
	op2 := openSink(t, name, opts, true)
	must(t, op2.RestoreState(state2))
	if ids := idsOf(visibleRows(t, visible())); !slices.Equal(ids, numbers(0, 20)) {
		t.Fatalf("after restore: ids %v, want 0–19", ids)
	}
	if n := stagedCount(); n != 0 {
		t.Fatalf("%d staged objects left after the restore", n)
	}
	// The sources replay 20–29; the job ends.
	feed(t, op2, rows(20, 30))
	must(t, op2.Finish(nil))
	_, err = op2.SnapshotState(runtime.EndCheckpoint)
	must(t, err)
	must(t, op2.NotifyCheckpointComplete(runtime.EndCheckpoint))
	if ids := idsOf(visibleRows(t, visible())); !slices.Equal(ids, numbers(0, 30)) {
		t.Fatalf("at the end: ids %v, want 0–29 once each", ids)
	}
	must(t, op2.Close())
}

// TestS3ExactlyOnce: staged under .staging/, published by a server-side
// copy at the checkpoint's completion, discarded on restore.
func TestS3ExactlyOnce(t *testing.T) {
	opts, cl := fakeS3(t)
	exactlyOnce(t, opts, func() map[string][]byte { return bucket(t, cl, "firehose/") },
		func() int {
			n := 0
			for k := range bucket(t, cl, "firehose/"+stagingDir+"/") {
				if !isRecord(k) {
					n++
				}
			}
			return n
		})
}

// TestFileExactlyOnce: the same with files, renamed into place.
func TestFileExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	exactlyOnce(t, map[string]string{"destination": "file://" + dir}, func() map[string][]byte { return objects(t, dir) },
		func() int { return staged(t, dir) })
}

// TestCloseDiscardsUncovered: a job that stops deletes what it staged after
// its last checkpoint and keeps what a checkpoint pre-committed.
func TestCloseDiscardsUncovered(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir}, true)
	feed(t, op, rows(0, 2))
	_, err := op.SnapshotState(1)
	must(t, err)
	feed(t, op, rows(2, 4))
	must(t, op.OnBarrier(runtime.Barrier{ID: 2}, nil))
	if n := staged(t, dir); n != 2 {
		t.Fatalf("%d staged, want 2", n)
	}
	must(t, op.Close())
	if n := staged(t, dir); n != 1 {
		t.Fatalf("%d staged after Close, want 1 (checkpoint 1's)", n)
	}
	must(t, op.NotifyCheckpointComplete(1))
	if ids := idsOf(visibleRows(t, objects(t, dir))); !slices.Equal(ids, numbers(0, 2)) {
		t.Fatalf("ids %v", ids)
	}
}

// isRecord reports whether key is a commit record (kept under .staging).
func isRecord(key string) bool { return strings.Contains(path.Base(key), "commits-") }

// TestHTTPHasNoCommitRecord: an HTTP destination, at-least-once even with
// checkpoints, keeps no commit record and never refuses a restore.
func TestHTTPHasNoCommitRecord(t *testing.T) {
	op := newSink(t, map[string]string{"destination": "http://127.0.0.1:9/ingest"}, true)
	defer op.Close()
	if last, _, err := op.LastPublished(); last != 0 || err != nil {
		t.Fatalf("LastPublished: %d %v", last, err)
	}
	must(t, op.ForgetPublished(3))
}
