package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// serveLimited serves a new Server over dir on a loopback port through
// HTTPServer, as `sluice store` does, and returns it with its address.
func serveLimited(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, lln := s.HTTPServer(ln)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(lln)
	}()
	t.Cleanup(func() {
		// Shutdown, unlike Close, waits for the connections' goroutines
		// (net/http lingers up to 500 ms on one it closes after an answer).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			_ = hs.Close()
		}
		<-done
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// header is the head of a ListStreams request with a declared body length.
func header(addr string, length int64, extra string) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n"+
		"Content-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n%s\r\n", addr, length, extra)
}

// readAnswer reads one HTTP answer from c within d and returns its status
// and AWS error type ("" when it has none).
func readAnswer(c net.Conn, d time.Duration) (int, string, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		Type string `json:"__type"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Type, nil
}

// heapInUse is the live heap after collecting garbage (sync.Pools empty
// after two collections).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// rss is the resident set size of the process, or 0 where /proc is absent.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// A body that trickles in slower than MinBodyRate is answered 408 and its
// connection closed, instead of holding its buffer forever.
func TestSlowBodyIsCutOff(t *testing.T) {
	s, addr := serveLimited(t, Options{Limits: Limits{BodyGrace: 300 * time.Millisecond, MinBodyRate: 64 << 10}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, header(addr, 1<<20, "")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, stop) // ~10 KiB/s
	start := time.Now()
	status, typ, err := readAnswer(c, 5*time.Second)
	if err != nil {
		t.Fatalf("no answer to a slow body within 5s: %v", err)
	}
	if status != http.StatusRequestTimeout || typ != "RequestTimeoutException" {
		t.Fatalf("slow body: got %d %s, want 408 RequestTimeoutException", status, typ)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("slow body cut off after %v", took)
	}
	waitFor(t, 3*time.Second, "the slow connection closed", func() bool { return s.OpenConns() == 0 })
	if n := s.InflightBytes(); n != 0 {
		t.Fatalf("%d request bytes still counted in flight", n)
	}
}

// trickle writes 1 KiB every 100 ms to c until stop or a write fails.
func trickle(c net.Conn, stop chan struct{}) {
	chunk := bytes.Repeat([]byte(" "), 1<<10)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
}

// Many slow clients declaring large bodies: the bodies held at once stay
// within MaxInflightBytes (the others are refused 503 LimitExceededException
// unread), all are cut off within seconds, and the memory comes back after.
func TestSlowClientsHoldBoundedMemory(t *testing.T) {
	const (
		conns  = 50
		length = 7 << 20 // each body declares 7 MiB (read into 8 MiB buffers); 350 MiB in all
		budget = 64 << 20
	)
	s, addr := serveLimited(t, Options{Limits: Limits{
		MaxInflightBytes: budget, BodyGrace: 500 * time.Millisecond, MinBodyRate: 64 << 10}})
	before, rssBefore := heapInUse(), rss()

	type answer struct {
		status int
		typ    string
		err    error
	}
	answers := make(chan answer, conns)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, header(addr, length, "")); err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { defer wg.Done(); trickle(c, stop) }()
		go func() {
			defer wg.Done()
			status, typ, err := readAnswer(c, 10*time.Second)
			answers <- answer{status, typ, err}
			c.Close()
		}()
	}
	// While the slow bodies are held: the heap grows by the budget at most.
	var peak uint64
	waitFor(t, 5*time.Second, "the budget taken by slow bodies", func() bool { return s.InflightBytes() > 0 })
	for range 5 {
		peak = max(peak, heapInUse())
		time.Sleep(50 * time.Millisecond)
	}
	rssDuring := rss()
	count := map[int]int{}
	for range conns {
		a := <-answers
		if a.err != nil {
			t.Fatalf("a slow client got no answer: %v", a.err)
		}
		switch {
		case a.status == http.StatusRequestTimeout && a.typ == "RequestTimeoutException":
		case a.status == http.StatusServiceUnavailable && a.typ == store.ErrLimitExceeded:
		default:
			t.Fatalf("slow client: got %d %s, want 408 or 503 LimitExceededException", a.status, a.typ)
		}
		count[a.status]++
	}
	close(stop)
	wg.Wait()
	if count[http.StatusServiceUnavailable] == 0 || count[http.StatusRequestTimeout] == 0 {
		t.Fatalf("answers %v: want some bodies refused for the budget and some cut off for their pace", count)
	}
	if grew := int64(peak) - int64(before); grew > budget+16<<20 {
		t.Fatalf("heap grew by %d MiB with %d slow 7 MiB bodies, budget %d MiB", grew>>20, conns, budget>>20)
	}
	waitFor(t, 5*time.Second, "every slow connection closed", func() bool { return s.OpenConns() == 0 })
	if n := s.InflightBytes(); n != 0 {
		t.Fatalf("%d request bytes still counted in flight", n)
	}
	after := heapInUse()
	debug.FreeOSMemory()
	rssAfter := rss()
	t.Logf("%d slow clients, 7 MiB each: answers %v; heap %d → peak %d → %d MiB; RSS %d → %d → %d MiB",
		conns, count, before>>20, peak>>20, after>>20, rssBefore>>20, rssDuring>>20, rssAfter>>20)
	if int64(after)-int64(before) > 8<<20 {
		t.Fatalf("heap %d MiB after the slow clients left, %d MiB before", after>>20, before>>20)
	}
	if rssBefore > 0 && !raceEnabled && int64(rssAfter)-int64(rssBefore) > 32<<20 {
		t.Fatalf("RSS %d MiB after the slow clients left, %d MiB before", rssAfter>>20, rssBefore>>20)
	}
}

// Without a known access key and a current date, a request is refused from
// its headers: the server neither waits for nor reads its body, and takes
// none of the in-flight budget.
func TestUnauthenticatedBodyIsNotRead(t *testing.T) {
	s, addr := serveLimited(t, Options{Credentials: map[string]string{"AKID": "secret"}})
	now := time.Now().UTC()
	for _, tc := range []struct {
		name, extra, code string
		length            int64
	}{
		{"no Authorization", "", "MissingAuthenticationTokenException", 5 << 20},
		// net/http itself reads up to 256 KiB of an unread body before answering.
		{"no Authorization, small body", "", "MissingAuthenticationTokenException", 100 << 10},
		{"unknown access key", fmt.Sprintf("X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=NOBODY/%s/us-east-1/kinesis/aws4_request, "+
			"SignedHeaders=host;x-amz-date;x-amz-target, Signature=%s\r\n", now.Format("20060102T150405Z"), now.Format("20060102"), strings.Repeat("0", 64)),
			"UnrecognizedClientException", 5 << 20},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// Declares a body and sends none of it.
		if _, err := io.WriteString(c, header(addr, tc.length, tc.extra)); err != nil {
			t.Fatal(err)
		}
		status, typ, err := readAnswer(c, 3*time.Second)
		c.Close()
		if err != nil {
			t.Fatalf("%s: no answer before the body: %v", tc.name, err)
		}
		if status != http.StatusBadRequest || typ != tc.code {
			t.Fatalf("%s: got %d %s, want 400 %s", tc.name, status, typ, tc.code)
		}
		if n := s.InflightBytes(); n != 0 {
			t.Fatalf("%s: %d bytes in flight for a refused request", tc.name, n)
		}
	}
}

// Connections beyond MaxConns are answered 503 LimitExceededException and
// closed; once one closes, a new one is served.
func TestConnectionsBeyondTheCapAreRefused(t *testing.T) {
	const most = 4
	s, addr := serveLimited(t, Options{Limits: Limits{MaxConns: most}})
	var held []net.Conn
	for range most {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitFor(t, 3*time.Second, "the connections accepted", func() bool { return s.OpenConns() == most })
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	status, typ, err := readAnswer(extra, 3*time.Second)
	if err != nil || status != http.StatusServiceUnavailable || typ != store.ErrLimitExceeded {
		t.Fatalf("connection over the cap: got %d %s %v, want 503 LimitExceededException", status, typ, err)
	}
	if n := s.OpenConns(); n != most {
		t.Fatalf("%d connections open, cap %d", n, most)
	}
	held[0].Close()
	waitFor(t, 3*time.Second, "a place freed", func() bool { return s.OpenConns() == most-1 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, header(addr, 2, "")+"{}"); err != nil {
		t.Fatal(err)
	}
	if status, typ, err := readAnswer(c, 3*time.Second); err != nil || status != http.StatusOK {
		t.Fatalf("connection after one closed: got %d %s %v, want 200", status, typ, err)
	}
}

// A keep-alive connection without a request for IdleTimeout is closed, and
// so is one that never sends its headers (HeaderTimeout).
func TestIdleConnectionsAreClosed(t *testing.T) {
	s, addr := serveLimited(t, Options{Limits: Limits{IdleTimeout: 300 * time.Millisecond, HeaderTimeout: 300 * time.Millisecond}})
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	r := bufio.NewReader(idle)
	if _, err := io.WriteString(idle, header(addr, 2, "")+"{}"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	for name, c := range map[string]net.Conn{"idle keep-alive": idle, "silent": silent} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var rd io.Reader = c
		if c == idle {
			rd = r
		}
		if _, err := io.ReadAll(rd); err != nil { // the server's close ends it with EOF
			t.Fatalf("%s connection: not closed by the server within 5s: %v", name, err)
		}
	}
	waitFor(t, 3*time.Second, "no connection open", func() bool { return s.OpenConns() == 0 })
}

// The shards of all streams together stay within MaxShards: CreateStream,
// SplitShard and MergeShards beyond get LimitExceededException, deleted
// streams give theirs back, and a restart counts the streams on disk.
func TestShardLimitAcrossStreams(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{Limits: Limits{MaxShards: 10}, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	call := func(op string, in obj) (int, map[string]any) { return callInProcess(t, s, op, in) }
	ok := func(op string, in obj) {
		t.Helper()
		if status, out := call(op, in); status != http.StatusOK {
			t.Fatalf("%s %v: %d %v", op, in, status, out)
		}
	}
	limited := func(op string, in obj) {
		t.Helper()
		status, out := call(op, in)
		if status != http.StatusBadRequest || out["__type"] != store.ErrLimitExceeded {
			t.Fatalf("%s %v: got %d %v, want LimitExceededException", op, in, status, out)
		}
		if msg, _ := out["message"].(string); !strings.Contains(msg, "limit is 10") {
			t.Fatalf("%s: message %q does not name the limit", op, msg)
		}
	}
	ok("CreateStream", obj{"StreamName": "a", "ShardCount": 6})
	limited("CreateStream", obj{"StreamName": "b", "ShardCount": 5})
	ok("CreateStream", obj{"StreamName": "b", "ShardCount": 3})
	// b's first shard splits into two children: 11 shards.
	limited("SplitShard", obj{"StreamName": "b", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"})
	ok("CreateStream", obj{"StreamName": "c", "ShardCount": 1})
	limited("MergeShards", obj{"StreamName": "b", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000001"})
	ok("DeleteStream", obj{"StreamName": "c"})
	ok("MergeShards", obj{"StreamName": "b", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000001"})
	// 6 + 4 (b: three, and the merged child) = 10: nothing more fits,
	// also after a restart.
	limited("CreateStream", obj{"StreamName": "d", "ShardCount": 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(dir, Options{Limits: Limits{MaxShards: 10}, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	limited("CreateStream", obj{"StreamName": "d", "ShardCount": 1})
	ok("DeleteStream", obj{"StreamName": "a"})
	ok("CreateStream", obj{"StreamName": "d", "ShardCount": 6})
}

// A client that does not read a large answer (a full GetRecords page)
// cannot hold it for ever: past BodyGrace plus its size at MinBodyRate, its
// connection is closed.
func TestUnreadAnswerIsCutOff(t *testing.T) {
	s, addr := serveLimited(t, Options{Fsync: slog.FsyncNever, Limits: Limits{BodyGrace: 300 * time.Millisecond, MinBodyRate: 16 << 20}})
	call := okCaller(t, s)
	call("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	data := b64(strings.Repeat("x", 900<<10))
	for range 12 { // a 10 MiB page: about 13 MiB of JSON
		call("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": data})
	}
	it := call("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"].(string)

	// A small receive buffer, set before connecting, keeps the kernel from
	// taking the answer in the client's place.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := fmt.Sprintf(`{"ShardIterator":%q}`, it)
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.GetRecords\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the server took the connection", func() bool { return s.OpenConns() == 1 })
	waitFor(t, 5*time.Second, "the connection of a client not reading its answer closed", func() bool { return s.OpenConns() == 0 })
}

// After a burst of large bodies, the memory that held them goes back to the
// operating system within seconds, without anything forcing a collection.
func TestMemoryIsReturnedAfterABurst(t *testing.T) {
	if rss() == 0 || raceEnabled {
		t.Skip("no /proc/self/statm, or the race detector's shadow memory")
	}
	const (
		conns  = 24
		length = 3<<20 + 512<<10 // read into 4 MiB buffers: 16 fit the budget
		budget = 64 << 20
	)
	_, addr := serveLimited(t, Options{Limits: Limits{MaxInflightBytes: budget}})
	body := bytes.Repeat([]byte(" "), length) // an empty request, as far as JSON goes
	body[0], body[length-1] = '{', '}'
	// Start without the pooled buffers of earlier tests.
	dropPooledBufs()
	runtime.GC()
	dropPooledBufs()
	debug.FreeOSMemory()
	before := rss()
	var wg sync.WaitGroup
	statuses := make(chan int, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				statuses <- 0
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, header(addr, length, ""))
			_, _ = c.Write(body)
			status, _, _ := readAnswer(c, 10*time.Second)
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusOK] == 0 || count[http.StatusOK]+count[http.StatusServiceUnavailable] != conns {
		t.Fatalf("answers %v: want 200s, and 503s for bodies over the budget", count)
	}
	during := rss()
	if during < before+budget/2 {
		t.Logf("the burst raised RSS only from %d to %d MiB", before>>20, during>>20)
	}
	deadline := time.Now().Add(15 * time.Second)
	for rss() > before+24<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("RSS %d MiB 15s after a burst of %d bodies of %d MiB (before: %d MiB, during: %d MiB)",
				rss()>>20, conns, length>>20, before>>20, during>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("answers %v; RSS %d MiB before, %d MiB after the burst, %d MiB %v later",
		count, before>>20, during>>20, rss()>>20, time.Until(deadline.Add(-15*time.Second)).Abs().Round(100*time.Millisecond))
}

// callInProcess calls op with in through s's in-process transport and
// returns the status and the decoded answer.
func callInProcess(t *testing.T, s *Server, op string, in obj) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, "http://store/", bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// A client that hangs up before reading a large answer (a consumer that got
// the records it wanted) is not reported as one too slow to read it.
func TestClientHangingUpIsNotReportedAsSlow(t *testing.T) {
	var logged lines
	s, addr := serveLimited(t, Options{Fsync: slog.FsyncNever, Limits: Limits{BodyGrace: 10 * time.Second, MinBodyRate: 64 << 10},
		Logf: logged.logf})
	call := okCaller(t, s)
	call("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	data := b64(strings.Repeat("x", 900<<10))
	for range 12 {
		call("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": data})
	}
	it := call("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"].(string)

	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"ShardIterator":%q}`, it)
	req := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.GetRecords\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the server took the connection", func() bool { return s.OpenConns() == 1 })
	// Wait for the first bytes of the answer, then hang up without reading
	// the rest (a reset, as a process that exits with unread data sends).
	buf := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_ = c.(*net.TCPConn).SetLinger(0)
	_ = c.Close()
	waitFor(t, 5*time.Second, "the connection of the client that hung up closed", func() bool { return s.OpenConns() == 0 })
	// The handler notices the reset after the connection is counted closed:
	// give a warning time to come (without the fix it comes within ms).
	time.Sleep(time.Second)
	for _, l := range logged.all() {
		if strings.Contains(l, "closing the connection") {
			t.Errorf("a client that hung up was logged as a failure: %q", l)
		}
	}
}
