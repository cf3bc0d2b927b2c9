package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// deliveryJob writes a throttled datagen table to two delivery sinks, a
// folder (JSON, gzip) and an S3 bucket (JSON) of a server the test runs.
func deliveryJob(t *testing.T, out, s3 string) string {
	t.Helper()
	job := filepath.Join(out, "job.sql")
	src := fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, v BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'datagen', 'number-of-rows' = '30000', 'rows-per-second' = '12000', 'seed' = '3',
      'fields.id.kind' = 'sequence', 'fields.v.min' = '0', 'fields.v.max' = '999', 'fields.ts.kind' = 'sequence');
CREATE TABLE lake_files WITH ('connector' = 'delivery', 'destination' = 'file://%[1]s/files', 'format' = 'json',
  'compression' = 'gzip', 'prefix' = 'events/!{timestamp:yyyy}/');
CREATE TABLE lake_s3 WITH ('connector' = 'delivery', 'destination' = 's3://lake/events', 'format' = 'json',
  's3.endpoint' = '%[2]s', 's3.access-key' = 'ak', 's3.secret-key' = 'sk');
INSERT INTO lake_files SELECT id, v, ts FROM gen;
INSERT INTO lake_s3 SELECT id, v, ts FROM gen WHERE v < 500;
`, out, s3)
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return job
}

func startS3(t *testing.T) (string, *minio.Client) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	cl, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("ak", "sk", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MakeBucket(context.Background(), "lake", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return endpoint, cl
}

// delivered returns the lines published in the folder and the bucket
// (staged objects excluded), sorted.
func delivered(t *testing.T, out string, cl *minio.Client) (files, objects []string) {
	t.Helper()
	readLines := func(name string, data []byte) []string {
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		var ls []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			ls = append(ls, sc.Text())
		}
		return ls
	}
	root := filepath.Join(out, "files")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		data, _ := os.ReadFile(p)
		files = append(files, readLines(p, data)...)
		return nil
	})
	ctx := context.Background()
	for o := range cl.ListObjects(ctx, "lake", minio.ListObjectsOptions{Prefix: "events/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.Contains(o.Key, ".staging/") {
			continue
		}
		obj, err := cl.GetObject(ctx, "lake", o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(obj)
		obj.Close()
		objects = append(objects, readLines(o.Key, data)...)
	}
	slices.Sort(files)
	slices.Sort(objects)
	return files, objects
}

// runDelivery runs the delivery job until it finishes, SIGKILLing it after
// each of kills and starting it again from its checkpoint folder.
func runDelivery(t *testing.T, out, s3 string, kills []time.Duration) {
	t.Helper()
	job := deliveryJob(t, out, s3)
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(binary, "run", job, "--parallelism", "2", "--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "150ms")
		var stderr bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stderr
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

// TestDeliverySurvivesKill9: with checkpoints, what the delivery sinks have
// published to a folder and to S3 after three SIGKILLs at random moments
// equals an undisturbed run's: every row once.
func TestDeliverySurvivesKill9(t *testing.T) {
	endpoint, cl := startS3(t)
	ref := t.TempDir()
	runDelivery(t, ref, endpoint, nil)
	wantFiles, wantObjects := delivered(t, ref, cl)
	if len(wantFiles) != 30000 || len(wantObjects) == 0 {
		t.Fatalf("the undisturbed run delivered %d rows to files and %d to S3", len(wantFiles), len(wantObjects))
	}
	// The killed run writes to the same bucket under another prefix: a
	// second S3 server keeps them apart.
	endpoint2, cl2 := startS3(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	var kills []time.Duration
	for range 3 {
		kills = append(kills, time.Duration(300+rng.IntN(1200))*time.Millisecond)
	}
	out := t.TempDir()
	runDelivery(t, out, endpoint2, kills)
	gotFiles, gotObjects := delivered(t, out, cl2)
	if !slices.Equal(gotFiles, wantFiles) {
		t.Fatalf("after kills at %v: %d rows in files, want %d", kills, len(gotFiles), len(wantFiles))
	}
	if !slices.Equal(gotObjects, wantObjects) {
		t.Fatalf("after kills at %v: %d rows in S3, want %d", kills, len(gotObjects), len(wantObjects))
	}
}

// TestDeliveryRefusesToPublishAgain: after the delivery job has finished,
// its checkpoint folder is deleted; starting again would deliver every row
// a second time to the folder and the bucket, so the job refuses, naming
// the sink and its commit record, and nothing more is published.
func TestDeliveryRefusesToPublishAgain(t *testing.T) {
	endpoint, cl := startS3(t)
	out := t.TempDir()
	runDelivery(t, out, endpoint, nil)
	files, objects := delivered(t, out, cl)
	os.RemoveAll(filepath.Join(out, "ck"))
	b, err := exec.Command(binary, "run", deliveryJob(t, out, endpoint), "--parallelism", "2",
		"--checkpoint-dir", filepath.Join(out, "ck"), "--checkpoint-interval", "150ms").CombinedOutput()
	m := regexp.MustCompile(`operator "sink (lake_\w+)" \(subtask \d\): its output already holds what the end of the job published \(recorded in (\S+)\)`).FindSubmatch(b)
	if err == nil || m == nil || !strings.Contains(string(b), "--allow-duplicates") {
		t.Fatalf("%v, want a refusal naming the sink and its record:\n%s", err, b)
	}
	want := map[string]string{"lake_files": filepath.Join(out, "files", ".staging", "lake_files", "commits-"), "lake_s3": "s3://lake/events/.staging/lake_s3/commits-"}[string(m[1])]
	if !strings.HasPrefix(string(m[2]), want) {
		t.Fatalf("record %s, want %s…", m[2], want)
	}
	gotFiles, gotObjects := delivered(t, out, cl)
	if !slices.Equal(gotFiles, files) || !slices.Equal(gotObjects, objects) {
		t.Fatalf("the refused run delivered: %d rows in files (%d before), %d in S3 (%d before)", len(gotFiles), len(files), len(gotObjects), len(objects))
	}

	// Without --checkpoint-dir: the same.
	b, err = exec.Command(binary, "run", deliveryJob(t, out, endpoint), "--parallelism", "2").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "starting without a checkpoint would publish those rows again") {
		t.Fatalf("without --checkpoint-dir: %v, want a refusal:\n%s", err, b)
	}
	gotFiles, gotObjects = delivered(t, out, cl)
	if !slices.Equal(gotFiles, files) || !slices.Equal(gotObjects, objects) {
		t.Fatalf("the refused run without checkpoints delivered: %d rows in files (%d before), %d in S3 (%d before)", len(gotFiles), len(files), len(gotObjects), len(objects))
	}
}
