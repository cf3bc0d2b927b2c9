package main

import (
	"bufio"
	"encoding/base64"
	le "encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// startStoreLogged is startStore with extra flags, keeping what the store
// prints on standard error.
func startStoreLogged(t *testing.T, dir string, flags ...string) (url string, stderr func() string, stop func()) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"store", "--listen", "127.0.0.1:0", "--data", dir}, flags...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	urls := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := regexp.MustCompile(`at (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait(); <-done }) }
	t.Cleanup(stop)
	stderr = func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	select {
	case u := <-urls:
		return u, stderr, stop
	case <-time.After(10 * time.Second):
		t.Fatalf("store did not announce its address:\n%s", stderr())
	}
	return "", nil, nil
}

// `sluice store` names each damaged shard at start (stream, shard, file,
// offset, records lost); a reader gets an error naming the shard, not a
// silent end; --on-corruption skip reads past it.
func TestStoreReportsDamagedShardAtStart(t *testing.T) {
	dir := t.TempDir()
	url, _, stop := startStoreLogged(t, dir)
	if err := call(url, "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		in := map[string]any{"StreamName": "s", "PartitionKey": "k", "Data": base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "r%02d", i))}
		if err := call(url, "PutRecord", in, nil); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	segs, _ := filepath.Glob(filepath.Join(dir, "s", "shardId-000000000000", "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	off := int64(16)
	for range 5 { // frame 5 (record 6)
		off += 8 + int64(le.LittleEndian.Uint32(data[off:]))
	}
	data[off+8+18+1] ^= 0x01
	if err := os.WriteFile(segs[0], data, 0o644); err != nil {
		t.Fatal(err)
	}

	url, stderr, stop := startStoreLogged(t, dir)
	want := fmt.Sprintf("stream s shard shardId-000000000000: .*DAMAGED.*%s at offset %d; 1 record lost", regexp.QuoteMeta(segs[0]), off)
	if !regexp.MustCompile(want).MatchString(stderr()) {
		t.Fatalf("stderr does not report the damaged shard (want /%s/):\n%s", want, stderr())
	}
	var it struct{ ShardIterator string }
	if err := call(url, "GetShardIterator", map[string]any{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records           []struct{ Data []byte }
		NextShardIterator string
	}
	if err := call(url, "GetRecords", map[string]any{"ShardIterator": it.ShardIterator}, &got); err != nil || len(got.Records) != 5 {
		t.Fatalf("GetRecords before the damage: %d records, %v", len(got.Records), err)
	}
	err = call(url, "GetRecords", map[string]any{"ShardIterator": got.NextShardIterator}, &got)
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), "shardId-000000000000") || strings.Contains(err.Error(), dir) {
		t.Fatalf("GetRecords at the damage: %v", err)
	}

	stop()
	url, stderr, _ = startStoreLogged(t, dir, "--on-corruption", "skip")
	if err := call(url, "GetShardIterator", map[string]any{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
		t.Fatal(err)
	}
	got.Records = nil
	if err := call(url, "GetRecords", map[string]any{"ShardIterator": it.ShardIterator}, &got); err != nil || len(got.Records) != 19 {
		t.Fatalf("GetRecords with skip: %d records, %v", len(got.Records), err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr(), "skipped damaged records 6 to 6"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("skip not logged:\n%s", stderr())
		}
	}
}

func TestStoreRejectsUnknownCorruptionPolicy(t *testing.T) {
	out, err := exec.Command(binary, "store", "--data", t.TempDir(), "--on-corruption", "ignore").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--on-corruption") || !strings.Contains(string(out), "ignore") {
		t.Fatalf("got %v: %s", err, out)
	}
}

func TestRunRejectsUnknownStoreCorruptionPolicy(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	if err := os.WriteFile(job, []byte("SELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "run", job, "--store-dir", filepath.Join(dir, "store"), "--store-on-corruption", "ignore").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--store-on-corruption") || !strings.Contains(string(out), "ignore") {
		t.Fatalf("got %v: %s", err, out)
	}
}
