package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startStore starts `sluice store` on a free loopback port over dir, with
// extra flags, and returns its URL and the process.
func startStore(t *testing.T, dir string, extra ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"store", "--listen", "127.0.0.1:0", "--data", dir}, extra...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`at (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				url <- m[1]
			}
		}
	}()
	select {
	case u := <-url:
		return u, cmd
	case <-time.After(10 * time.Second):
		t.Fatal("store did not announce its address")
	}
	return "", nil
}

// call makes one Kinesis API call and decodes the answer into out.
func call(url, op string, in any, out any) error {
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", op, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	if op == "CreateStream" {
		return waitActive(url, in)
	}
	return nil
}

// waitActive waits until the stream a request named is ACTIVE: a new
// stream is CREATING for a moment, and refuses records until then.
func waitActive(url string, in any) error {
	b, _ := json.Marshal(in)
	var ref struct{ StreamName string }
	_ = json.Unmarshal(b, &ref)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var out struct{ StreamDescriptionSummary struct{ StreamStatus string } }
		err := call(url, "DescribeStreamSummary", map[string]any{"StreamName": ref.StreamName}, &out)
		if err != nil || out.StreamDescriptionSummary.StreamStatus == "ACTIVE" {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s stays %s", ref.StreamName, out.StreamDescriptionSummary.StreamStatus)
		}
	}
}

func TestStoreKeepsAcknowledgedRecordsAcrossKill9(t *testing.T) {
	dir := t.TempDir()
	url, cmd := startStore(t, dir)
	if err := call(url, "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 1}, nil); err != nil {
		t.Fatal(err)
	}
	// A writer puts records one by one and remembers each acknowledged one;
	// the store is killed with SIGKILL while it writes.
	acked := make(chan string, 100000)
	go func() {
		defer close(acked)
		for i := 0; ; i++ {
			v := fmt.Sprintf("record-%06d", i)
			err := call(url, "PutRecord", map[string]any{"StreamName": "s", "PartitionKey": "k",
				"Data": base64.StdEncoding.EncodeToString([]byte(v))}, nil)
			if err != nil {
				return
			}
			acked <- v
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); len(acked) < 200 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var want []string
	for v := range acked {
		want = append(want, v)
	}
	if len(want) < 200 {
		t.Fatalf("only %d records acknowledged before the kill", len(want))
	}
	url, _ = startStore(t, dir)
	var it struct{ ShardIterator string }
	if err := call(url, "GetShardIterator", map[string]any{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}, &it); err != nil {
		t.Fatal(err)
	}
	var got []string
	for iter := it.ShardIterator; iter != "" && len(got) < len(want)+10; {
		var r struct {
			Records           []struct{ Data string }
			NextShardIterator string
		}
		if err := call(url, "GetRecords", map[string]any{"ShardIterator": iter, "Limit": 10000}, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Records) == 0 {
			break
		}
		for _, rec := range r.Records {
			b, _ := base64.StdEncoding.DecodeString(rec.Data)
			got = append(got, string(b))
		}
		iter = r.NextShardIterator
	}
	// Every acknowledged record is there, in order; at most the one record
	// in flight at the kill may follow them.
	if len(got) < len(want) || len(got) > len(want)+1 || strings.Join(got[:len(want)], ",") != strings.Join(want, ",") {
		t.Fatalf("after kill -9: %d records read back, %d acknowledged; first difference near %v", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %s vs %s", i, a[i], b[i])
		}
	}
	return "the end"
}

func TestStoreRefusesNonLoopbackWithoutCredentials(t *testing.T) {
	out, err := exec.Command(binary, "store", "--listen", "0.0.0.0:0", "--data", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "without credentials") {
		t.Fatalf("got %v: %s", err, out)
	}
}

// The limit flags reach the store: connections beyond --max-conns are
// answered 503 LimitExceededException, shards beyond --max-shards refused.
func TestStoreLimitFlags(t *testing.T) {
	url, _ := startStore(t, t.TempDir(), "--max-conns", "2", "--max-shards", "3")
	err := call(url, "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 4}, nil)
	if err == nil || !strings.Contains(err.Error(), "LimitExceededException") || !strings.Contains(err.Error(), "--max-shards") {
		t.Fatalf("CreateStream of 4 shards with --max-shards 3: %v", err)
	}
	if err := call(url, "CreateStream", map[string]any{"StreamName": "s", "ShardCount": 3}, nil); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections() // the store may take a moment to see it closed
	addr := strings.TrimPrefix(url, "http://")
	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	// The store answers a refused connection at once; held ones say nothing.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		b, err := io.ReadAll(c)
		if err == nil || len(b) > 0 {
			if !bytes.Contains(b, []byte("503")) || !bytes.Contains(b, []byte("LimitExceededException")) {
				t.Fatalf("connection %d: %q", len(conns), b)
			}
			if len(conns) == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection %d refused with --max-conns 2", len(conns))
			}
			closeAll() // the client's keep-alive connection was still counted: again
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if len(conns) >= 3 {
			t.Fatalf("connection %d accepted with --max-conns 2", len(conns))
		}
	}
}

// A store folder is held by one process at a time: a second `sluice
// store`, `sluice run --store-dir` and `sluice stream --store-dir` over it
// are refused, naming the folder once and the process that holds it; once
// that process is killed with SIGKILL, its lock does not block the next.
func TestStoreFolderLockNamesItsHolderAndDiesWithIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, holder := startStore(t, dir)
	job := filepath.Join(t.TempDir(), "job.sql")
	os.WriteFile(job, []byte(`
CREATE TABLE events (k BIGINT) WITH ('connector' = 'store', 'stream' = 'events', 'stream.create-shards' = '1', 'scan.bounded.mode' = 'latest');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT k FROM events;
`), 0o644)
	pid := fmt.Sprintf("in use by another process (pid %d)", holder.Process.Pid)
	for _, args := range [][]string{
		{"store", "--listen", "127.0.0.1:0", "--data", dir},
		{"run", job, "--store-dir", dir},
		{"stream", "list", "--store-dir", dir},
	} {
		cmd := exec.Command(binary, args...)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("sluice %q over a held folder did not end", args)
		}
		msg := errOut.String()
		if err == nil || !strings.Contains(msg, pid) || strings.Count(msg, dir) != 1 {
			t.Errorf("sluice %q over a held folder: %v; want an error naming the folder once and the holder (%s):\n%s", args, err, pid, msg)
		}
		if args[0] == "stream" && !strings.Contains(msg, "--endpoint") {
			t.Errorf("sluice stream --store-dir over a held folder does not point to --endpoint:\n%s", msg)
		}
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if out, err := exec.Command(binary, "stream", "create", "after", "--shards", "1", "--store-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("after the holder was killed: %v\n%s", err, out)
	}
}

// SIGINT stops `sluice store` at once even while readers wait in long
// polls (a following `sluice stream consume` holds one up to 5 s): the
// polls are answered, not waited out.
func TestStoreStopsAtOnceWhileReadersWait(t *testing.T) {
	url, store := startStore(t, t.TempDir())
	mustTool(t, "", "create", "s", "--shards", "4", "--endpoint", url)
	consume := exec.Command(binary, "stream", "consume", "s", "--endpoint", url)
	if err := consume.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { consume.Process.Kill(); consume.Wait() })
	time.Sleep(time.Second) // the consumer's long polls are under way
	t0 := time.Now()
	store.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- store.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("store after SIGINT: %v", err)
		}
		if el := time.Since(t0); el > 1500*time.Millisecond {
			t.Fatalf("the store took %v to stop with readers waiting", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not stop on SIGINT")
	}
}

// TestStoreDirInUseSaysHowToReachTheStore: a job or cpualarm given the
// folder of a running store is told how to reach that store instead, in its
// own terms (a table's 'endpoint' option; --endpoint).
func TestStoreDirInUseSaysHowToReachTheStore(t *testing.T) {
	dir := t.TempDir()
	startStore(t, dir)
	job := filepath.Join(t.TempDir(), "job.sql")
	if err := os.WriteFile(job, []byte("CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '1');\n"+
		"CREATE TABLE o WITH ('connector' = 'blackhole');\nINSERT INTO o SELECT a FROM s;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", job, "--store-dir", dir}, "give its store tables 'endpoint' = 'URL'"},
		{[]string{"run", "cpualarm", "--store-dir", dir}, "give --endpoint URL instead of --store-dir"},
	} {
		_, errOut, code := sluiceExit(t, c.args...)
		if code == 0 || !strings.Contains(errOut, "is in use by another process") || !strings.Contains(errOut, c.want) {
			t.Errorf("sluice %v: exit %d, stderr %q: want %q", c.args, code, errOut, c.want)
		}
	}
}

// --state-delay sets how long a new stream is CREATING; 0s gives none.
func TestStoreStateDelayFlag(t *testing.T) {
	status := func(url string) string {
		var out struct{ StreamDescriptionSummary struct{ StreamStatus string } }
		if err := call(url, "DescribeStreamSummary", map[string]any{"StreamName": "s"}, &out); err != nil {
			t.Fatal(err)
		}
		return out.StreamDescriptionSummary.StreamStatus
	}
	create := func(url string) {
		body, _ := json.Marshal(map[string]any{"StreamName": "s", "ShardCount": 1})
		req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.CreateStream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CreateStream: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	url, _ := startStore(t, t.TempDir(), "--state-delay", "1h")
	create(url)
	if s := status(url); s != "CREATING" {
		t.Fatalf("with --state-delay 1h: %s", s)
	}
	url, _ = startStore(t, t.TempDir(), "--state-delay", "0s")
	create(url)
	if s := status(url); s != "ACTIVE" {
		t.Fatalf("with --state-delay 0s: %s", s)
	}
}
