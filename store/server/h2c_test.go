package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluicehq/sluice/store"
	slog "github.com/sluicehq/sluice/store/log"
)

// h2cTransport speaks HTTP/2 without TLS with prior knowledge, as the
// JavaScript SDK v3's default handler does on http:// endpoints.
func h2cTransport() *http.Transport {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: p}
}

// dialCounting is h2cTransport counting the connections it opens.
func dialCounting() (*http.Transport, *atomic.Int32) {
	tr := h2cTransport()
	var n atomic.Int32
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	return tr, &n
}

// protoClient is an HTTP client for the AWS SDK that records the protocol
// and request id of every answer.
type protoClient struct {
	c      *http.Client
	mu     sync.Mutex
	protos []string
	ids    []string
}

func (p *protoClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := p.c.Do(r)
	if err == nil {
		p.mu.Lock()
		p.protos = append(p.protos, resp.Proto)
		p.ids = append(p.ids, resp.Header.Get("X-Amzn-RequestId"))
		p.mu.Unlock()
	}
	return resp, err
}

// The AWS SDK for Go v2 over h2c runs a stream's life against HTTPServer's
// plain listener: every answer is HTTP/2, all on one connection, each with
// its own request id.
func TestH2CServesTheSDK(t *testing.T) {
	s, addr := serveLimited(t, Options{Credentials: map[string]string{"AKIDH2": "h2-secret"}, Region: "us-east-1"})
	pc := &protoClient{c: &http.Client{Transport: h2cTransport()}}
	kc := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + addr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDH2", SecretAccessKey: "h2-secret"}, nil
		}),
		Retryer:    aws.NopRetryer{},
		HTTPClient: pc,
	})
	ctx := context.Background()
	name := aws.String("h2c")
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if err := kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: name}, 5*time.Second); err != nil {
		t.Fatalf("StreamExists waiter: %v", err)
	}
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	pr, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), ExplicitHashKey: aws.String("0"), Data: blob})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: name, ShardId: pr.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(got.Records) != 1 || !bytes.Equal(got.Records[0].Data, blob) {
		t.Fatalf("GetRecords: %+v %v", got, err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("nope")}); !errors.As(err, &notFound) {
		t.Fatalf("DescribeStream of a missing stream: %v", err)
	}
	if _, err := kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: name}); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	seen := map[string]bool{}
	for i, p := range pc.protos {
		if p != "HTTP/2.0" {
			t.Errorf("answer %d over %s, want HTTP/2.0", i, p)
		}
		if id := pc.ids[i]; !uuidShape(id) || seen[id] {
			t.Errorf("answer %d: request id %q not a fresh UUID", i, id)
		}
		seen[pc.ids[i]] = true
	}
	if len(pc.protos) < 6 {
		t.Fatalf("only %d answers recorded", len(pc.protos))
	}
	if n := s.OpenConns(); n != 1 {
		t.Fatalf("%d connections open, want the one HTTP/2 connection", n)
	}
}

// uuidShape reports whether id looks like 8-4-4-4-12 lower-case hex.
func uuidShape(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// h2cPost sends a ListStreams request with body over c and returns the
// status, the AWS error type and the protocol of the answer.
func h2cPost(c *http.Client, addr string, body io.Reader, length int64, hdr map[string]string) (int, string, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", body)
	if err != nil {
		return 0, "", "", err
	}
	req.ContentLength = length
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var out struct {
		Type string `json:"__type"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out.Type, resp.Proto, nil
}

// An HTTP/2 body slower than MinBodyRate gets its 408 on its own stream:
// the connection's other requests are served meanwhile and after, and the
// connection stays open.
func TestH2CSlowBodyIsCutOffAlone(t *testing.T) {
	s, addr := serveLimited(t, Options{Limits: Limits{BodyGrace: 300 * time.Millisecond, MinBodyRate: 64 << 10}})
	tr, dials := dialCounting()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	if status, _, proto, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 || proto != "HTTP/2.0" {
		t.Fatalf("first request: %d %s %v", status, proto, err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { // ~10 KiB/s, far below the rate
		chunk := bytes.Repeat([]byte(" "), 1<<10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	type answer struct {
		status int
		typ    string
		err    error
	}
	slow := make(chan answer, 1)
	start := time.Now()
	go func() {
		status, typ, _, err := h2cPost(c, addr, pr, 1<<20, nil)
		slow <- answer{status, typ, err}
	}()
	served := 0
	for {
		select {
		case a := <-slow:
			if a.err != nil || a.status != http.StatusRequestTimeout || a.typ != "RequestTimeoutException" {
				t.Fatalf("slow body: got %d %s %v, want 408 RequestTimeoutException", a.status, a.typ, a.err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("slow body answered after %v", d)
			}
			if served == 0 {
				t.Fatal("no request served on the connection while the slow body came in")
			}
			if status, _, proto, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 || proto != "HTTP/2.0" {
				t.Fatalf("request after the 408: %d %s %v", status, proto, err)
			}
			if n := s.OpenConns(); n != 1 || dials.Load() != 1 {
				t.Fatalf("%d connections open, %d opened; want the one the 408 left open", n, dials.Load())
			}
			waitFor(t, 2*time.Second, "the slow body's bytes given back", func() bool { return s.InflightBytes() == 0 })
			return
		default:
		}
		if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
			t.Fatalf("request beside the slow body: %d %v", status, err)
		}
		served++
		time.Sleep(20 * time.Millisecond)
	}
}

// endless is a body that never ends, counting what is read of it.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// Over HTTP/2, a body declared too big and one without a known access key
// are refused before being read: the client gets to send at most the flow
// control windows of the stream, and the connection serves on.
func TestH2CBigBodyIsRefusedUnread(t *testing.T) {
	s, addr := serveLimited(t, Options{Credentials: map[string]string{"AKID": "secret"}})
	tr, dials := dialCounting()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		name   string
		length int64
		status int
		code   string
	}{
		{"too big", store.MaxRequestBytes + 1, http.StatusBadRequest, store.ErrValidation},
		{"unauthenticated", 5 << 20, 0, "MissingAuthenticationTokenException"}, // 0: any 4xx
	} {
		body := &endless{}
		status, typ, proto, err := h2cPost(c, addr, io.LimitReader(body, tc.length), tc.length, nil)
		if tc.status == 0 && status/100 == 4 {
			tc.status = status
		}
		if err != nil || status != tc.status || typ != tc.code || proto != "HTTP/2.0" {
			t.Fatalf("%s: got %d %s %s %v, want %d %s over HTTP/2", tc.name, status, typ, proto, err, tc.status, tc.code)
		}
		t.Logf("%s: the client sent %d bytes of its %d-byte body", tc.name, body.n.Load(), tc.length)
		if sent := body.n.Load(); sent > 4<<20 {
			t.Fatalf("%s: the client sent %d bytes of a refused body", tc.name, sent)
		}
		if n := s.InflightBytes(); n != 0 {
			t.Fatalf("%s: %d bytes in flight for a refused request", tc.name, n)
		}
	}
	if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status/100 != 4 {
		t.Fatalf("a request after the refusals: %d %v", status, err)
	}
	if n := s.OpenConns(); n != 1 || dials.Load() != 1 {
		t.Fatalf("%d connections open, %d opened; want 1", n, dials.Load())
	}
}

// Connections beyond MaxConns are refused over h2c as over HTTP/1.1: an
// HTTP/2 connection counts once, however many requests it carries.
func TestH2CConnectionsBeyondTheCapAreRefused(t *testing.T) {
	const most = 2
	s, addr := serveLimited(t, Options{Limits: Limits{MaxConns: most}})
	var clients []*http.Client
	for range most {
		c := &http.Client{Transport: h2cTransport(), Timeout: 3 * time.Second}
		defer c.CloseIdleConnections()
		if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
			t.Fatalf("first request: %d %v", status, err)
		}
		var wg sync.WaitGroup
		for range 5 { // several streams at once, one connection
			wg.Add(1)
			go func() {
				defer wg.Done()
				if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
					t.Errorf("request: %d %v", status, err)
				}
			}()
		}
		wg.Wait()
		clients = append(clients, c)
	}
	if n := s.OpenConns(); n != most {
		t.Fatalf("%d connections open, want %d", n, most)
	}
	extra := &http.Client{Transport: h2cTransport(), Timeout: 3 * time.Second}
	defer extra.CloseIdleConnections()
	if status, _, _, err := h2cPost(extra, addr, strings.NewReader("{}"), 2, nil); err == nil {
		t.Fatalf("a connection over the cap was served: %d", status)
	}
	if n := s.OpenConns(); n != most {
		t.Fatalf("%d connections open after the refusal, want %d", n, most)
	}
	for i, c := range clients {
		if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
			t.Fatalf("connection %d after the refusal: %d %v", i, status, err)
		}
	}
	clients[0].CloseIdleConnections()
	waitFor(t, 3*time.Second, "a place freed", func() bool { return s.OpenConns() == most-1 })
	if status, _, _, err := h2cPost(extra, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
		t.Fatalf("connection after one closed: %d %v", status, err)
	}
}

// The server announces its bound on concurrent streams per HTTP/2
// connection in its first SETTINGS frame.
func TestH2CStreamsPerConnectionAreBounded(t *testing.T) {
	_, addr := serveLimited(t, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The client preface, then an empty SETTINGS frame.
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var head [9]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatalf("no SETTINGS frame: %v", err)
	}
	length := int(head[0])<<16 | int(head[1])<<8 | int(head[2])
	if head[3] != 4 || length%6 != 0 {
		t.Fatalf("first frame of type %d, length %d; want SETTINGS", head[3], length)
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < length; i += 6 {
		if binary.BigEndian.Uint16(payload[i:]) == 3 { // SETTINGS_MAX_CONCURRENT_STREAMS
			if v := binary.BigEndian.Uint32(payload[i+2:]); v != maxStreamsPerConn {
				t.Fatalf("MAX_CONCURRENT_STREAMS %d, want %d", v, maxStreamsPerConn)
			}
			return
		}
	}
	t.Fatalf("SETTINGS without MAX_CONCURRENT_STREAMS: % x", payload)
}

// Served over TLS, HTTPServer speaks HTTP/2 to clients that offer it.
func TestHTTP2OverTLS(t *testing.T) {
	certs := httptest.NewUnstartedServer(nil)
	certs.EnableHTTP2 = true
	certs.StartTLS()
	cert := certs.TLS.Certificates[0]
	c := certs.Client()
	certs.Close()

	s, err := New(t.TempDir(), Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, lln := s.HTTPServer(ln)
	hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.ServeTLS(lln, "", "")
	}()
	defer func() {
		c.CloseIdleConnections()
		_ = hs.Shutdown(context.Background())
		<-done
		_ = s.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, "https://"+ln.Addr().String()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("got %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
}

// requireTool skips a test whose outside tool is missing, loudly, or fails
// it when SLUICE_REQUIRE_TOOLS=1 (as in CI).
func requireTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
	}
	t.Skipf("SKIPPED, NOT TESTED: %s", msg)
}

// The AWS SDK for JavaScript v3, with its default request handler (HTTP/2,
// h2c on http://), runs a stream's life against the store with SigV4:
// binary records come back byte-exact.
func TestJavaScriptSDKDefaultHandlerOverH2C(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireTool(t, "node is not installed: the JavaScript SDK test needs it")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "jsclient"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-kinesis")); err != nil {
		requireTool(t, "the JavaScript SDK is not installed: run npm ci --prefix store/server/testdata/jsclient")
	}
	_, addr := serveLimited(t, Options{Credentials: map[string]string{"AKIDJS": "js-secret"}, Region: "us-east-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "kinesis.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_ENDPOINT=http://"+addr, "SLUICE_KEY=AKIDJS", "SLUICE_SECRET=js-secret")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node kinesis.mjs: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	want := []string{
		"ok handler NodeHttp2Handler",
		"ok create ACTIVE",
		"ok put shardId-000000000000 failed=0",
		"ok listshards shardId-000000000000",
		"ok iterator got",
		"ok getrecords records=5 exact=5",
		"ok split done",
		"ok describe shards=3",
		"ok delete done",
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Fatalf("the script printed:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// HTTP/2 frames, written and read by hand where the test needs a client
// that does what Go's own will not (here: never open a stream's window).
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RSTStream    = 0x3
	h2Settings     = 0x4
	h2GoAway       = 0x7
	h2WindowUpdate = 0x8

	h2EndStream  = 0x1
	h2EndHeaders = 0x4
	h2Ack        = 0x1
)

func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	f := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(f[5:], stream)
	return append(f, payload...)
}

// hpackInt appends n with an HPACK integer's 7-bit prefix (RFC 7541, 5.1).
func hpackInt(b []byte, n int) []byte {
	if n < 127 {
		return append(b, byte(n))
	}
	b = append(b, 127)
	for n -= 127; n >= 128; n >>= 7 {
		b = append(b, byte(n%128+128))
	}
	return append(b, byte(n))
}

// h2Request is the HEADERS and DATA frames of a POST of body to op on
// stream id, its header fields literal and unindexed.
func h2Request(id uint32, addr, op string, body []byte) []byte {
	var block []byte
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/"}, {":authority", addr},
		{"content-type", "application/x-amz-json-1.1"}, {"x-amz-target", "Kinesis_20131202." + op},
		{"content-length", strconv.Itoa(len(body))},
	} {
		block = append(block, 0)
		block = append(hpackInt(block, len(f[0])), f[0]...)
		block = append(hpackInt(block, len(f[1])), f[1]...)
	}
	return append(h2Frame(h2Headers, h2EndHeaders, id, block), h2Frame(h2Data, h2EndStream, id, body)...)
}

type h2Read struct {
	typ, flags byte
	stream     uint32
	payload    []byte
}

func readH2Frame(c net.Conn) (h2Read, error) {
	var head [9]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return h2Read{}, err
	}
	f := h2Read{typ: head[3], flags: head[4], stream: binary.BigEndian.Uint32(head[5:]) & (1<<31 - 1)}
	f.payload = make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	_, err := io.ReadFull(c, f.payload)
	return f, err
}

// h2cUnreadGetRecords serves a store holding a 200 KiB record and sends a
// GetRecords for it over a raw h2c connection whose streams' windows are
// closed (SETTINGS_INITIAL_WINDOW_SIZE 0: the server may send no DATA until
// the client opens them). It returns the store, the connection and the
// store's log lines.
func h2cUnreadGetRecords(t *testing.T) (*Server, string, net.Conn, func() []string) {
	var logged lines
	s, addr := serveLimited(t, Options{Fsync: slog.FsyncNever, Limits: Limits{BodyGrace: 300 * time.Millisecond, MinBodyRate: 16 << 20},
		Logf: logged.logf})
	call := okCaller(t, s)
	call("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	call("PutRecord", obj{"StreamName": "s", "PartitionKey": "k", "Data": b64(strings.Repeat("x", 200<<10))})
	it := call("GetShardIterator", obj{"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"].(string)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	preface := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2Frame(h2Settings, 0, 0, []byte{0, 4, 0, 0, 0, 0})...)
	preface = append(preface, h2Request(1, addr, "GetRecords", fmt.Appendf(nil, `{"ShardIterator":%q}`, it))...)
	if _, err := c.Write(preface); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return s, addr, c, logged.all
}

// A client that never opens an HTTP/2 stream's window for a large answer
// cannot hold it: past BodyGrace plus its size at MinBodyRate the stream is
// reset, while the connection and its other streams are served on.
func TestH2CUnreadAnswerIsCutOffAlone(t *testing.T) {
	s, addr, c, logged := h2cUnreadGetRecords(t)
	start := time.Now()
	var reset, served bool
	for !served {
		f, err := readH2Frame(c)
		if err != nil {
			t.Fatalf("reading frames (reset %v): %v", reset, err)
		}
		switch {
		case f.typ == h2Settings && f.flags&h2Ack == 0:
			if _, err := c.Write(h2Frame(h2Settings, h2Ack, 0, nil)); err != nil {
				t.Fatal(err)
			}
		case f.typ == h2GoAway:
			t.Fatalf("the connection was ended: GOAWAY % x", f.payload)
		case f.typ == h2RSTStream && f.stream == 1:
			reset = true
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("stream reset after %v", d)
			}
			if n := s.OpenConns(); n != 1 {
				t.Fatalf("%d connections open after the reset, want 1", n)
			}
			// Another request on the same connection, its window open.
			req := h2Request(3, addr, "ListStreams", []byte("{}"))
			req = append(req, h2Frame(h2WindowUpdate, 0, 3, []byte{0, 1, 0, 0})...)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
		case f.typ == h2Data && f.stream == 1:
			t.Fatalf("DATA on a stream whose window is closed")
		case f.typ == h2Data && f.stream == 3:
			if !reset || !bytes.Contains(f.payload, []byte("StreamNames")) {
				t.Fatalf("stream 3: %q (reset %v)", f.payload, reset)
			}
			served = f.flags&h2EndStream != 0
		}
	}
	// The line is written after the reset reaches the client.
	waitFor(t, 5*time.Second, "the cut-off answer reported", func() bool {
		return slices.ContainsFunc(logged(), func(l string) bool {
			return strings.Contains(l, "resetting the HTTP/2 stream of") && strings.Contains(l, "not read within")
		})
	})
}

// A client that resets its HTTP/2 stream before reading a large answer (a
// consumer that has what it wanted) is not reported as too slow to read it.
func TestH2CStreamResetByClientIsNotReportedAsSlow(t *testing.T) {
	s, _, c, logged := h2cUnreadGetRecords(t)
	for {
		f, err := readH2Frame(c)
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		if f.typ == h2Settings && f.flags&h2Ack == 0 {
			if _, err := c.Write(h2Frame(h2Settings, h2Ack, 0, nil)); err != nil {
				t.Fatal(err)
			}
		}
		if f.typ == h2Headers && f.stream == 1 { // the answer has begun
			break
		}
	}
	if _, err := c.Write(h2Frame(h2RSTStream, 0, 1, []byte{0, 0, 0, 8})); err != nil { // CANCEL
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the answer's buffers given back", func() bool { return s.InflightBytes() == 0 })
	time.Sleep(500 * time.Millisecond) // past the write deadline the answer would have had
	for _, l := range logged() {
		if strings.Contains(l, "answer") {
			t.Errorf("a client that reset its stream was logged as a failure: %q", l)
		}
	}
}

// Over h2c a long poll ends when its client resets the stream, and when
// the server shuts down, as over HTTP/1.1.
func TestH2CLongPollEndsOnResetAndShutdown(t *testing.T) {
	s, err := New(t.TempDir(), Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
	c := &client{t, "http://" + ln.Addr().String()}
	c.do("CreateStream", obj{"StreamName": "s", "ShardCount": 1})
	it := c.iterator("s", "shardId-000000000000", "LATEST", nil)
	h2 := &http.Client{Transport: h2cTransport()}
	defer h2.CloseIdleConnections()
	poll := func(ctx context.Context) <-chan error {
		ch := make(chan error, 1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", strings.NewReader(fmt.Sprintf(`{"ShardIterator":%q}`, it)))
			req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
			req.Header.Set(LongPollHeader, "10000")
			resp, err := h2.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
					err = fmt.Errorf("answered %d over %s", resp.StatusCode, resp.Proto)
				}
			}
			ch <- err
		}()
		return ch
	}

	ctx, cancel := context.WithCancel(context.Background())
	pending := poll(ctx)
	waitFor(t, 3*time.Second, "the long poll under way", func() bool { return s.InflightBytes() > 0 })
	cancel()
	<-pending
	waitFor(t, 3*time.Second, "the long poll of a reset stream ended", func() bool { return s.InflightBytes() == 0 })

	pending = poll(context.Background())
	waitFor(t, 3*time.Second, "the long poll under way", func() bool { return s.InflightBytes() > 0 })
	start := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v with a long poll under way", d)
	}
	if err := <-pending; err != nil {
		t.Fatalf("long poll at Shutdown: %v", err)
	}
	<-done
}

// An h2c connection without requests is closed after IdleTimeout, and so
// is one whose request headers never finish arriving.
func TestH2CIdleConnectionsAreClosed(t *testing.T) {
	s, addr := serveLimited(t, Options{Limits: Limits{IdleTimeout: 300 * time.Millisecond, HeaderTimeout: 300 * time.Millisecond}})
	var conns []net.Conn
	var names []string
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"nothing after the preface", nil},
		{"half a HEADERS frame", h2Request(1, addr, "ListStreams", []byte("{}"))[:20]},
		{"HEADERS without END_HEADERS", h2Frame(h2Headers, 0, 1, []byte{0, 7, ':', 'm', 'e', 't', 'h', 'o', 'd', 4, 'P', 'O', 'S', 'T'})},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2Frame(h2Settings, 0, 0, nil)...)
		if _, err := c.Write(append(msg, tc.send...)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		names = append(names, tc.name)
	}
	// The server sends GOAWAY at IdleTimeout and closes a second later
	// unless the client has.
	start := time.Now()
	for i, c := range conns {
		_ = c.SetReadDeadline(start.Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil { // until the server closes
			t.Fatalf("%s: the connection stayed open: %v", names[i], err)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Fatalf("%s: closed after %v", names[i], d)
		}
	}
	waitFor(t, 3*time.Second, "every connection closed", func() bool { return s.OpenConns() == 0 })
}

// BenchmarkPutRecordProtocols compares PutRecord calls of 100 bytes, 16 at
// once, over HTTP/1.1 (a keep-alive pool) and over h2c (one connection),
// through HTTPServer with fsync off: the protocols' own cost.
func BenchmarkPutRecordProtocols(b *testing.B) {
	for _, proto := range []string{"HTTP/1.1", "h2c"} {
		b.Run(proto, func(b *testing.B) {
			s, err := New(b.TempDir(), Options{Fsync: slog.FsyncNever, Logf: func(string, ...any) {}})
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs, lln := s.HTTPServer(ln)
			go func() { _ = hs.Serve(lln) }()
			defer func() { _ = hs.Shutdown(context.Background()); _ = s.Close() }()
			tr := &http.Transport{MaxIdleConnsPerHost: 16}
			if proto == "h2c" {
				tr = h2cTransport()
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			url := "http://" + ln.Addr().String() + "/"
			post := func(op, body string) error {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				resp, err := c.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("%s: %d", op, resp.StatusCode)
				}
				return nil
			}
			if err := post("CreateStream", `{"StreamName":"b","ShardCount":4}`); err != nil {
				b.Fatal(err)
			}
			body := fmt.Sprintf(`{"StreamName":"b","PartitionKey":"k","Data":%q}`, b64(strings.Repeat("x", 100)))
			b.SetParallelism(16 / max(1, runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := post("PutRecord", body); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// Over h2c the in-flight byte budget refuses a request on its own stream
// (503 unread) while the connection goes on serving.
func TestH2CInflightBudgetRefusesAStreamAlone(t *testing.T) {
	s, addr := serveLimited(t, Options{Limits: Limits{MaxInflightBytes: 1 << 20}})
	tr, dials := dialCounting()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
		t.Fatalf("first request: %d %v", status, err)
	}
	pr, pw := io.Pipe()
	held := make(chan error, 1)
	go func() { // declares a large body and holds the whole budget
		_, _, _, err := h2cPost(c, addr, pr, 900<<10, nil)
		held <- err
	}()
	if _, err := pw.Write([]byte("{")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "the budget taken", func() bool { return s.InflightBytes() > 0 })
	status, typ, proto, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil)
	if err != nil || status != http.StatusServiceUnavailable || typ != store.ErrLimitExceeded || proto != "HTTP/2.0" {
		t.Fatalf("request beyond the budget: %d %s %s %v, want 503 LimitExceededException", status, typ, proto, err)
	}
	pw.CloseWithError(errors.New("client gives up"))
	<-held
	waitFor(t, 3*time.Second, "the budget given back", func() bool { return s.InflightBytes() == 0 })
	if status, _, _, err := h2cPost(c, addr, strings.NewReader("{}"), 2, nil); err != nil || status != 200 {
		t.Fatalf("request after the budget came back: %d %v", status, err)
	}
	if n := s.OpenConns(); n != 1 || dials.Load() != 1 {
		t.Fatalf("%d connections open, %d opened; want the one", n, dials.Load())
	}
}
