package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// streamTool runs "sluice stream ARGS" with stdin and returns its
// output, error output and exit error.
func streamTool(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return runTool(t, stdin, append([]string{"stream"}, args...)...)
}

// runTool runs "sluice ARGS" with stdin and returns its output, error
// output and exit error; it fails the test when the command runs for a
// minute.
func runTool(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errOut.String(), err
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sluice %q did not end within a minute; stderr:\n%s", args, errOut.String())
	}
	return "", "", nil
}

// mustTool is streamTool that fails the test when the command fails.
func mustTool(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := streamTool(t, stdin, args...)
	if err != nil {
		t.Fatalf("sluice stream %q: %v\n%s", args, err, errOut)
	}
	return out
}

// keyedLines makes n JSON lines over keys k0…k(keys-1), numbered from
// first: {"k":"k3","n":17}.
func keyedLines(first, n, keys int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"k":"k%d","n":%d}`, (first+i)%keys, first+i)
	}
	return lines
}

type keyedLine struct {
	K string
	N int
}

// perKey groups consumed lines' numbers by key, in the order read.
func perKey(t *testing.T, lines []string) map[string][]int {
	t.Helper()
	m := map[string][]int{}
	for _, l := range lines {
		var kl keyedLine
		if err := json.Unmarshal([]byte(l), &kl); err != nil {
			t.Fatalf("consumed line %q: %v", l, err)
		}
		m[kl.K] = append(m[kl.K], kl.N)
	}
	return m
}

// checkInOrderPerKey fails unless every number from 0 to n-1 was read
// exactly once and each key's in increasing order.
func checkInOrderPerKey(t *testing.T, lines []string, n int) {
	t.Helper()
	if len(lines) != n {
		t.Fatalf("read %d records, want %d", len(lines), n)
	}
	var all []int
	for k, nums := range perKey(t, lines) {
		if !sort.IntsAreSorted(nums) {
			t.Fatalf("key %s read out of order: %v", k, nums)
		}
		all = append(all, nums...)
	}
	sort.Ints(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("records read: number %d missing or doubled (at %d: %d)", i, i, v)
		}
	}
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestStreamProduceThenConsumeGivesEveryLineInOrderPerKey(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "clicks", "--shards", "4", ep)
	lines := keyedLines(0, 10000, 50)
	_, summary, err := streamTool(t, strings.Join(lines, "\n")+"\n", "produce", "clicks", "--key-field", "k", ep)
	if err != nil || !strings.Contains(summary, "produced 10000 records") {
		t.Fatalf("produce: %v\n%s", err, summary)
	}
	got := splitLines(mustTool(t, "", "consume", "clicks", "-e", "--format", "raw", ep))
	if a, b := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(lines)); !slices.Equal(a, b) {
		t.Fatalf("consume -e gave %d lines, not the %d produced", len(a), len(b))
	}
	checkInOrderPerKey(t, got, 10000)
	// -n stops early; --format json wraps each record.
	js := splitLines(mustTool(t, "", "consume", "clicks", "-e", "-n", "3", "--format", "json", ep))
	if len(js) != 3 {
		t.Fatalf("-n 3 printed %d lines", len(js))
	}
	var rec struct {
		Stream, Shard, SequenceNumber, PartitionKey, Arrival string
		Data                                                 keyedLine
	}
	if err := json.Unmarshal([]byte(js[0]), &rec); err != nil {
		t.Fatalf("--format json line %q: %v", js[0], err)
	}
	if _, err := time.Parse(time.RFC3339, rec.Arrival); err != nil || rec.Stream != "clicks" || rec.PartitionKey != rec.Data.K ||
		!strings.HasPrefix(rec.Shard, "shardId-") || rec.SequenceNumber == "" {
		t.Fatalf("--format json line %q: %+v", js[0], rec)
	}
	if out := mustTool(t, "", "list", ep); out != "clicks\n" {
		t.Fatalf("list = %q", out)
	}
	mustTool(t, "", "delete", "clicks", ep)
	if out := mustTool(t, "", "list", ep); out != "" {
		t.Fatalf("list after delete = %q", out)
	}
}

func TestStreamConsumeFromLatestSeesOnlyLaterRecords(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "s", "--shards", "2", ep)
	mustTool(t, strings.Join(keyedLines(0, 100, 7), "\n"), "produce", "s", "--key-field", "k", ep)

	cmd := exec.Command(binary, "stream", "consume", "s", "--from", "latest", ep)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "reading 2 shard(s)"); {
		if time.Now().After(deadline) {
			t.Fatalf("consume did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustTool(t, strings.Join(keyedLines(100, 50, 7), "\n"), "produce", "s", "--key-field", "k", ep)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	for len(got) < 50 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("consume ended after %d lines: %s", len(got), stderr.String())
			}
			got = append(got, l)
		case <-time.After(20 * time.Second):
			t.Fatalf("consume --from latest printed %d of 50 later records", len(got))
		}
	}
	for k, nums := range perKey(t, got) {
		if nums[0] < 100 || !sort.IntsAreSorted(nums) {
			t.Fatalf("key %s: %v; want only the records put after the start, in order", k, nums)
		}
	}
	// Ctrl-C ends a following consume with status 0.
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consume after SIGINT: %v\n%s", err, stderr.String())
	}
}

func TestStreamConsumeFollowsASplitInOrderPerKey(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "s", "--shards", "1", ep)

	// A following consumer runs across the split.
	follow := exec.Command(binary, "stream", "consume", "s", ep)
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill(); follow.Wait() })
	lines := make(chan string, 10000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	mustTool(t, strings.Join(keyedLines(0, 2000, 20), "\n"), "produce", "s", "--key-field", "k", ep)
	c := client.New(url, nil)
	if err := c.SplitShard(context.Background(), "s", "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	mustTool(t, strings.Join(keyedLines(2000, 2000, 20), "\n"), "produce", "s", "--key-field", "k", ep)

	var followed []string
	for len(followed) < 4000 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("following consume ended after %d lines", len(followed))
			}
			followed = append(followed, l)
		case <-time.After(30 * time.Second):
			t.Fatalf("following consume printed %d of 4000 records", len(followed))
		}
	}
	checkInOrderPerKey(t, followed, 4000)

	// Read afresh with -e: the same, the parent before its children.
	checkInOrderPerKey(t, splitLines(mustTool(t, "", "consume", "s", "-e", ep)), 4000)

	desc := mustTool(t, "", "describe", "s", ep)
	for _, want := range []string{
		"shards     2 open, 1 closed",
		"shardId-000000000000  closed  -  ",
		"shardId-000000000001  open    shardId-000000000000  0 - 170141183460469231731687303715884105727",
		"shardId-000000000002  open    shardId-000000000000  170141183460469231731687303715884105728 - 340282366920938463463374607431768211455",
		"retention  24h",
	} {
		if !strings.Contains(desc, want) {
			t.Fatalf("describe lacks %q:\n%s", want, desc)
		}
	}
	var d struct {
		StreamName string
		Shards     []client.Shard
	}
	if err := json.Unmarshal([]byte(mustTool(t, "", "describe", "s", "--json", ep)), &d); err != nil {
		t.Fatal(err)
	}
	if d.StreamName != "s" || len(d.Shards) != 3 || d.Shards[2].ParentShardId != "shardId-000000000000" || d.Shards[0].Open() {
		t.Fatalf("describe --json = %+v", d)
	}
}

func TestStreamToolsOpenAStoreDirInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // create makes it
	sd := "--store-dir=" + dir
	mustTool(t, "", "create", "s", "--shards", "3", "--retention", "48h", sd)
	mustTool(t, strings.Join(keyedLines(0, 1000, 9), "\n")+"\n", "produce", "s", "--key-field", "k", sd)
	checkInOrderPerKey(t, splitLines(mustTool(t, "", "consume", "s", "-e", sd)), 1000)
	if desc := mustTool(t, "", "describe", "s", sd); !strings.Contains(desc, "retention  48h (2 days)") || !strings.Contains(desc, "3 open, 0 closed") {
		t.Fatalf("describe:\n%s", desc)
	}
	// What the in-process store wrote, a served one reads; while it has the
	// folder open, --store-dir is refused, saying what to do.
	url, _ := startStore(t, dir)
	checkInOrderPerKey(t, splitLines(mustTool(t, "", "consume", "s", "-e", "--endpoint", url)), 1000)
	_, errOut, err := streamTool(t, "", "list", sd)
	if err == nil || !strings.Contains(errOut, "is in use by another process (pid") || !strings.Contains(errOut, "--endpoint") {
		t.Fatalf("--store-dir of a folder a store serves: %v\n%s", err, errOut)
	}
}

func TestStreamToolErrorsSayWhatToDo(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "s", "--shards", "1", ep)
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	long := strings.Repeat("x", 1<<20+1)
	notAStore := t.TempDir() // a folder, but not a store's: left as it is
	os.WriteFile(filepath.Join(notAStore, "notes.txt"), []byte("mine\n"), 0o644)
	for _, tc := range []struct {
		stdin string
		args  []string
		want  []string
	}{
		{"", []string{"consume", "nope", "-e", ep}, []string{`stream "nope" does not exist`, `sluice stream create nope --shards 1`}},
		{"", []string{"describe", "nope", ep}, []string{`stream "nope" does not exist`}},
		{"", []string{"describe", "t", ep}, []string{`stream "t" does not exist`, `(did you mean "s"?)`}},
		{"", []string{"create", "s", "--shards", "1", ep}, []string{`stream "s" already exists`}},
		{"", []string{"consume", "s", "--from", "lastest", ep}, []string{`--from "lastest"`, `did you mean "latest"?`}},
		{"", []string{"consume", "s", "--from", "at-timestamp", "yesterday", ep}, []string{`--from at-timestamp "yesterday"`, "RFC 3339"}},
		{"", []string{"consume", "s", "--format", "jsn", ep}, []string{`--format "jsn"`, `did you mean "json"?`}},
		{"{\"k\":1}\n{\"k\":2}\nnot json\n", []string{"produce", "s", "--key-field", "k", ep}, []string{"stdin line 3: not a JSON object"}},
		{"{\"k\":1}\n{\"j\":2}\n", []string{"produce", "s", "--key-field", "k", ep}, []string{`stdin line 2: no field "k"`}},
		{"a\n" + long + "\n", []string{"produce", "s", ep}, []string{"stdin line 2: longer than 1048576 bytes"}},
		{"", []string{"list", "--endpoint", dead}, []string{"no store answers at " + dead, "sluice store"}},
		{"", []string{"create", "t", ep}, []string{"--shards 0: give the number of shards"}},
		{"", []string{"consme", "s"}, []string{`unknown command "consme"`, `did you mean "consume"?`}},
		{"", []string{"list", "--store-dir", filepath.Join(t.TempDir(), "missing")}, []string{"--store-dir", "not a folder of a store"}},
		{"", []string{"list", "--store-dir", notAStore}, []string{"--store-dir", "not a folder of a store"}},
	} {
		_, errOut, err := streamTool(t, tc.stdin, tc.args...)
		if err == nil {
			t.Errorf("sluice stream %q succeeded", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("sluice stream %q: error output lacks %q:\n%s", tc.args, w, errOut)
			}
		}
		if strings.Contains(errOut, "panic") {
			t.Errorf("sluice stream %q panicked:\n%s", tc.args, errOut)
		}
	}
	if entries, _ := os.ReadDir(notAStore); len(entries) != 1 {
		t.Errorf("--store-dir of a folder that is not a store's wrote into it: %d entries", len(entries))
	}
	// Deleting a stream that does not exist is not told to create it.
	if _, errOut, err := streamTool(t, "", "delete", "t", ep); err == nil || !strings.Contains(errOut, `stream "t" does not exist`) ||
		strings.Contains(errOut, "create it") {
		t.Errorf("delete of a missing stream: %v\n%s", err, errOut)
	}
	// The lines before a bad one were written.
	if got := splitLines(mustTool(t, "", "consume", "s", "-e", ep)); len(got) != 4 || got[0] != `{"k":1}` {
		t.Fatalf("records after the failed produces = %q; want the 4 lines before the bad ones", got)
	}
}

// throttlingProxy forwards the Kinesis API to url, but refuses every other
// record of the first calls PutRecords calls with
// ProvisionedThroughputExceededException, as Kinesis does to records over a
// shard's write limit (the store has no such limit to hit). It counts the
// records it refused.
func throttlingProxy(t *testing.T, url string, calls int) (string, *atomic.Int64) {
	t.Helper()
	var refused atomic.Int64
	var seen atomic.Int64
	forward := func(r *http.Request, body []byte) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			StreamName string
			Records    []json.RawMessage
		}
		throttle := strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutRecords") && seen.Add(1) <= int64(calls) &&
			json.Unmarshal(body, &in) == nil && len(in.Records) > 1
		if !throttle {
			resp, b, err := forward(r, body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			w.Write(b)
			return
		}
		var kept []json.RawMessage
		for i, rec := range in.Records {
			if i%2 == 1 {
				kept = append(kept, rec)
			}
		}
		fwd, _ := json.Marshal(map[string]any{"StreamName": in.StreamName, "Records": kept})
		resp, b, err := forward(r, fwd)
		var out struct {
			FailedRecordCount int
			Records           []json.RawMessage
		}
		if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || len(out.Records) != len(kept) {
			t.Errorf("throttling proxy: forwarded PutRecords: %v %s", err, b)
			http.Error(w, "proxy", http.StatusBadGateway)
			return
		}
		results := make([]json.RawMessage, len(in.Records))
		for i := range results {
			if i%2 == 1 {
				results[i] = out.Records[i/2]
				continue
			}
			results[i] = json.RawMessage(`{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard"}`)
			out.FailedRecordCount++
			refused.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"FailedRecordCount": out.FailedRecordCount, "Records": results})
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &refused
}

func TestStreamProduceRetriesThrottledRecords(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	mustTool(t, "", "create", "s", "--shards", "2", "--endpoint", url)
	proxy, refused := throttlingProxy(t, url, 3)
	lines := keyedLines(0, 2000, 13)
	_, summary, err := streamTool(t, strings.Join(lines, "\n"), "produce", "s", "--key-field", "k", "--endpoint", proxy)
	if err != nil || !strings.Contains(summary, "produced 2000 records") {
		t.Fatalf("produce through a throttling proxy: %v\n%s", err, summary)
	}
	if refused.Load() < 400 {
		t.Fatalf("the proxy refused %d records; the test needs it to refuse some", refused.Load())
	}
	got := splitLines(mustTool(t, "", "consume", "s", "-e", "--endpoint", url))
	if a, b := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(lines)); !slices.Equal(a, b) {
		t.Fatalf("after retries the stream holds %d records, not each of the %d lines once", len(a), len(b))
	}
}

func TestStreamConsumeAtTimestampStartsThere(t *testing.T) {
	dir := t.TempDir()
	sd := "--store-dir=" + dir
	mustTool(t, "", "create", "s", "--shards", "2", sd)
	mustTool(t, strings.Join(keyedLines(0, 100, 5), "\n"), "produce", "s", "--key-field", "k", sd)
	at := time.Now().Add(2 * time.Millisecond).Truncate(time.Millisecond)
	for time.Now().Before(at.Add(2 * time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	mustTool(t, strings.Join(keyedLines(100, 100, 5), "\n"), "produce", "s", "--key-field", "k", sd)
	for _, from := range [][]string{
		{"--from", "at-timestamp", at.UTC().Format(time.RFC3339Nano)},
		{"--from", "at-timestamp", fmt.Sprint(at.UnixMilli())},
		{"--from=at-timestamp=" + fmt.Sprint(at.UnixMilli())},
	} {
		got := splitLines(mustTool(t, "", append([]string{"consume", "s", "-e", sd}, from...)...))
		if len(from) == 3 { // the time may also come before the stream
			got2 := splitLines(mustTool(t, "", "consume", "-e", sd, from[0], from[1], from[2], "s"))
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(got2))) {
				t.Fatalf("consume %q s read %d records, consume s %q %d", from, len(got2), from, len(got))
			}
		}
		if len(got) != 100 {
			t.Fatalf("consume %q read %d records, want the 100 put after the time", from, len(got))
		}
		for k, nums := range perKey(t, got) {
			if nums[0] < 100 || !sort.IntsAreSorted(nums) {
				t.Fatalf("consume %q: key %s read %v", from, k, nums)
			}
		}
	}
}

func TestStreamProduceSendsLinesWhileItsInputWaits(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "s", "--shards", "2", ep)
	cmd := exec.Command(binary, "stream", "produce", "s", ep)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	io.WriteString(stdin, "one\ntwo\nthree\n") // and no end of input yet
	for deadline := time.Now().Add(20 * time.Second); ; {
		got := splitLines(mustTool(t, "", "consume", "s", "-e", ep))
		if slices.Equal(slices.Sorted(slices.Values(got)), []string{"one", "three", "two"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines typed into a waiting produce were not sent: stream holds %q\n%s", got, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !strings.Contains(stderr.String(), "produced 3 records") {
		t.Fatalf("produce at the end of its input: %v\n%s", err, stderr.String())
	}
}

func TestStreamConsumeReadsAMergeAfterBothParents(t *testing.T) {
	url, _ := startStore(t, t.TempDir())
	ep := "--endpoint=" + url
	mustTool(t, "", "create", "s", "--shards", "2", ep)
	mustTool(t, strings.Join(keyedLines(0, 1000, 31), "\n"), "produce", "s", "--key-field", "k", ep)
	if err := client.New(url, nil).MergeShards(context.Background(), "s", "shardId-000000000000", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	mustTool(t, strings.Join(keyedLines(1000, 1000, 31), "\n"), "produce", "s", "--key-field", "k", ep)
	checkInOrderPerKey(t, splitLines(mustTool(t, "", "consume", "s", "-e", ep)), 2000)
	desc := mustTool(t, "", "describe", "s", ep)
	if !strings.Contains(desc, "shardId-000000000002  open    shardId-000000000000,shardId-000000000001  0 - 340282366920938463463374607431768211455") {
		t.Fatalf("describe does not show the merge child with both parents:\n%s", desc)
	}
}

// A mistake in a stream command's line is found before any store is
// asked (none runs here), exits with status 2 as with every command, and
// points to the subcommand's own help.
func TestStreamCommandLineMistakesExitWithStatus2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"consume", "s", "--format", "jsn"}, []string{`sluice stream: --format "jsn"`, `did you mean "json"?`}},
		{[]string{"consume", "s", "--from", "lastest"}, []string{`--from "lastest"`}},
		{[]string{"consume", "s", "-n", "-1"}, []string{"-n -1: want 0 (no limit) or more"}},
		{[]string{"consume", "s", "-n"}, []string{"flag -n needs a value"}},
		{[]string{"consume", "s", "--frm", "latest"}, []string{"unknown flag --frm (did you mean --from?)", `"sluice stream consume -h" lists the flags`}},
		{[]string{"consume"}, []string{"name the stream"}},
		{[]string{"create", "s"}, []string{"--shards 0: give the number of shards"}},
		{[]string{"create", "s", "--shards", "1", "--retention", "1h"}, []string{"want whole hours from 24h"}},
		{[]string{"list", "extra"}, []string{`unexpected argument "extra"`, `"sluice stream list -h" lists the flags`}},
		{[]string{"consme", "s"}, []string{`sluice stream: unknown command "consme"`}},
		{nil, []string{"sluice stream: name a command"}},
	} {
		_, errOut, err := streamTool(t, "", tc.args...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("sluice stream %q: %v, want exit status 2\n%s", tc.args, err, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("sluice stream %q: error output lacks %q:\n%s", tc.args, w, errOut)
			}
		}
		if strings.Contains(errOut, "no store answers") {
			t.Errorf("sluice stream %q asked a store before checking its command line:\n%s", tc.args, errOut)
		}
	}
	// One-letter flags are shown as they are typed.
	help := mustTool(t, "", "consume", "-h")
	if !strings.Contains(help, "\n  -e\n") || !strings.Contains(help, "\n  -n int\n") {
		t.Errorf("consume -h does not list -e and -n:\n%s", help)
	}
}

// A store killed with SIGKILL in the middle of a produce and restarted
// loses nothing: produce says the store stopped answering, retries, and
// ends with status 0 once every line is acknowledged. A batch whose answer
// was lost at the kill is sent again, so its records may be stored twice;
// the summary counts them, and no more than that are doubled.
func TestStreamProduceLosesNothingWhenTheStoreIsKilledMidway(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	start := func() *exec.Cmd { return startStoreAt(t, addr, dir) }
	store := start()
	ep := "--endpoint=http://" + addr
	mustTool(t, "", "create", "s", "--shards", "4", ep)

	const n = 200000
	produce := exec.Command(binary, "stream", "produce", "s", "--key-field", "k", ep)
	stdin, err := produce.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	produce.Stderr = &errOut
	if err := produce.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { produce.Process.Kill() })
	lines := keyedLines(0, n, 97)
	writeLines := func(ls []string) {
		if _, err := io.WriteString(stdin, strings.Join(ls, "\n")+"\n"); err != nil {
			t.Error(err)
		}
	}
	// The kill comes while the lines are being written.
	written := make(chan struct{})
	go func() { defer close(written); writeLines(lines); stdin.Close() }()
	time.Sleep(300 * time.Millisecond)
	store.Process.Signal(syscall.SIGKILL)
	store.Wait()
	select {
	case <-written:
		t.Fatal("all lines were read before the kill")
	default:
	}
	time.Sleep(time.Second)
	start()
	<-written
	done := make(chan error, 1)
	go func() { done <- produce.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("produce across a store restart: %v\n%s", err, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("produce did not end after the store came back:\n%s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "no answer from the store at http://"+addr) ||
		!strings.Contains(errOut.String(), "answers again") {
		t.Errorf("produce did not say that the store went away and came back:\n%s", errOut.String())
	}
	m := regexp.MustCompile(`produced (\d+) records [^\n]*?(?:; (\d+) of them sent again[^\n]*)?\n`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no summary:\n%s", errOut.String())
	}
	resent, _ := strconv.Atoi(m[2])

	got := splitLines(mustTool(t, "", "consume", "s", "-e", ep))
	seen := make([]int, n)
	for _, l := range got {
		var kl keyedLine
		if err := json.Unmarshal([]byte(l), &kl); err != nil || kl.N < 0 || kl.N >= n {
			t.Fatalf("consumed %q", l)
		}
		seen[kl.N]++
	}
	doubled := 0
	for i, c := range seen {
		if c == 0 {
			t.Fatalf("line %d was acknowledged but is not in the stream", i)
		}
		doubled += c - 1
	}
	if doubled > resent {
		t.Fatalf("%d records stored twice, but the summary counts %d sent again:\n%s", doubled, resent, errOut.String())
	}
	t.Logf("%d records stored twice, %d sent again; produce said:\n%s", doubled, resent, errOut.String())
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startStoreAt starts `sluice store` at addr over dir and waits until it
// listens.
func startStoreAt(t *testing.T, addr, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "store", "--listen", addr, "--data", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("the store did not start listening")
		}
	}
}

// A following consume outlives a restart of the store: it says the store
// went away, waits for it, and goes on where each shard was — no record
// missed or repeated.
func TestStreamConsumeFollowsAcrossAStoreRestart(t *testing.T) {
	addr, dir := freeAddr(t), t.TempDir()
	store := startStoreAt(t, addr, dir)
	ep := "--endpoint=http://" + addr
	mustTool(t, "", "create", "s", "--shards", "2", ep)
	mustTool(t, strings.Join(keyedLines(0, 10, 5), "\n")+"\n", "produce", "s", "--key-field", "k", ep)

	consume := exec.Command(binary, "stream", "consume", "s", ep)
	var errOut syncBuffer
	consume.Stderr = &errOut
	stdout, err := consume.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := consume.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { consume.Process.Kill(); consume.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	read := func(n int) {
		t.Helper()
		for len(got) < n {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("consume ended after %d lines:\n%s", len(got), errOut.String())
				}
				got = append(got, l)
			case <-time.After(20 * time.Second):
				t.Fatalf("consume read %d lines, want %d:\n%s", len(got), n, errOut.String())
			}
		}
	}
	read(10)
	store.Process.Signal(syscall.SIGKILL)
	store.Wait()
	// The consumer finds the store gone (at its next poll: on a busy
	// machine, not within a set time).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(errOut.String(), "the store does not answer"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("consume did not say the store went away within 20 s:\n%s", errOut.String())
		}
	}
	startStoreAt(t, addr, dir)
	mustTool(t, strings.Join(keyedLines(10, 10, 5), "\n")+"\n", "produce", "s", "--key-field", "k", ep)
	read(20)
	consume.Process.Signal(syscall.SIGINT)
	if err := consume.Wait(); err != nil {
		t.Fatalf("consume after SIGINT: %v\n%s", err, errOut.String())
	}
	checkInOrderPerKey(t, got, 20)
	if e := errOut.String(); !strings.Contains(e, "the store does not answer") || !strings.Contains(e, "the store answers again") {
		t.Errorf("consume did not say the store went away and came back:\n%s", e)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
