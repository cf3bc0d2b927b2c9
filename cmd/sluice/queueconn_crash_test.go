package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// TestQueueJobKilledExactlyOnce runs `sluice run` over a job that copies
// a queue of `sluice store` into a file (exactly-once) with checkpoints:
// the first start is SIGKILLed once checkpoint 3 is durable and before
// anything of it is published or deleted, the second is SIGKILLed at a
// moment of its run, the third runs until the queue is empty. Every
// message's row is in the published output exactly once, and the queue
// ends empty.
func TestQueueJobKilledExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	store, stderr := startUntil(t, "serving the Kinesis API", "store", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	defer store.Process.Kill()
	m := storeURL.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no address in %q", stderr.String())
	}
	ctx := context.Background()
	q := client.New(m[1], http.DefaultClient).SQS()
	url, err := q.CreateQueue(ctx, "jobin", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := 0; i < n; i += 10 {
		var entries []client.SendEntry
		for j := i; j < i+10; j++ {
			entries = append(entries, client.SendEntry{Id: strconv.Itoa(j - i), MessageBody: fmt.Sprintf(`{"id":%d,"name":"n%d"}`, j, j)})
		}
		if out, err := q.SendBatch(ctx, url, entries); err != nil || len(out.Failed) > 0 {
			t.Fatalf("SendBatch: %v %+v", err, out)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	job := filepath.Join(dir, "job.sql")
	src := fmt.Sprintf(`
CREATE TABLE src (id BIGINT, name VARCHAR)
  WITH ('connector' = 'queue', 'queue' = 'jobin', 'endpoint' = '%s', 'scan.visibility-timeout' = '1 s',
        'scan.receive.max-messages' = '5', 'scan.pollers' = '1', 'scan.bounded.mode' = 'empty', 'scan.bounded.idle' = '3 s');
CREATE TABLE dst (id BIGINT, name VARCHAR) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'csv');
INSERT INTO dst SELECT id, name FROM src;
`, m[1], out)
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		bin := binary
		if attempt == 0 {
			bin = faultBinary(t)
		}
		cmd := exec.Command(bin, "run", job, "--parallelism", "2", "--checkpoint-dir", filepath.Join(dir, "ck"), "--checkpoint-interval", "100ms")
		var log bytes.Buffer
		cmd.Stderr, cmd.Stdout = &log, &log
		if attempt == 0 {
			cmd.Env = append(os.Environ(), "SLUICE_FAULT_KILL_BEFORE_COMMIT=3")
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if attempt == 1 {
			time.Sleep(time.Second)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if attempt == 0 {
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the first start was not killed before commit 3: %v\n%s", err, log.String())
				}
				continue
			}
			if err != nil {
				t.Fatalf("attempt %d: %v\n%s", attempt, err, log.String())
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("attempt %d did not finish\n%s", attempt, log.String())
		}
		break
	}
	seen := map[string]int{}
	entries, _ := os.ReadDir(out)
	total := 0
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			seen[sc.Text()]++
			total++
		}
	}
	for i := range n {
		if l := fmt.Sprintf("%d,n%d", i, i); seen[l] != 1 {
			t.Fatalf("row %s published %d times (%d rows in all)", l, seen[l], total)
		}
	}
	if total != n {
		t.Fatalf("%d rows published, want %d", total, n)
	}
	attrs, err := q.Attributes(ctx, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
	if err != nil {
		t.Fatal(err)
	}
	if attrs["ApproximateNumberOfMessages"] != "0" || attrs["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("the queue still holds messages: %v", attrs)
	}
}
