package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/store"
)

// Limits bound what clients can make the server hold: connections, request
// bodies in memory, time, and shard logs (open files). A zero field takes
// its value from DefaultLimits; a negative one removes that limit (a
// negative BodyGrace gives no grace).
//
// MaxInflightBytes, BodyGrace/MinBodyRate and MaxShards apply to every
// request ServeHTTP serves; MaxConns, HeaderTimeout and IdleTimeout to the
// http.Server and listener made by HTTPServer.
type Limits struct {
	// MaxConns bounds the open connections of HTTPServer's listener; one
	// more is answered 503 LimitExceededException and closed at once (an
	// HTTP/2 client, which reads no HTTP/1.1 answer, sees the connection
	// closed). An HTTP/2 connection counts once and carries at most 100
	// requests at once.
	MaxConns int
	// MaxInflightBytes bounds the request bodies held at once. A request
	// counts the buffer its body is read into (its Content-Length rounded
	// up to a power of two; store.MaxRequestBytes when it has none) from
	// before its body is read until its answer is written; one that does
	// not fit is answered 503 LimitExceededException unread. After a
	// burst of 32 MiB or more, once no request has been in flight for two
	// seconds, the memory is handed back to the operating system.
	MaxInflightBytes int64
	// HeaderTimeout bounds reading a request's headers over HTTP/1.1. (An
	// HTTP/2 connection without a request under way is closed after
	// IdleTimeout, whatever it has sent of its next request's headers.)
	HeaderTimeout time.Duration
	// BodyGrace and MinBodyRate bound reading a body: by BodyGrace after
	// its headers plus one second per MinBodyRate bytes received, the
	// next bytes must have come, so a body of n bytes takes at most
	// BodyGrace + n/MinBodyRate. A slower one is answered 408
	// RequestTimeoutException and its connection closed (over HTTP/2, only
	// its stream ends). Answers of 64 KiB or more must be read as fast, or
	// their connection is closed (over HTTP/2, their stream is reset, and
	// a connection that takes no bytes at all for BodyGrace, at least a
	// second, is closed).
	BodyGrace   time.Duration
	MinBodyRate int64 // bytes per second
	// IdleTimeout closes a keep-alive connection without a request for that
	// long (an HTTP/2 one gets a GOAWAY then, and is closed a second later
	// unless its client closes it first).
	IdleTimeout time.Duration
	// MaxShards bounds the shards of all streams together, closed ones
	// included: each keeps its segment files open. CreateStream,
	// SplitShard and MergeShards beyond it get LimitExceededException.
	// Streams already on disk are opened whatever their number.
	MaxShards int
}

// DefaultLimits are the limits of a Server whose Options leave them zero,
// and the defaults of `sluice store`'s flags.
func DefaultLimits() Limits {
	return Limits{
		MaxConns:         1024,
		MaxInflightBytes: 256 << 20, // about 33 PutRecords bodies of the largest size
		HeaderTimeout:    10 * time.Second,
		BodyGrace:        10 * time.Second,
		MinBodyRate:      64 << 10, // a largest body (store.MaxRequestBytes) within ~2 minutes
		IdleTimeout:      90 * time.Second,
		MaxShards:        10000,
	}
}

// maxStreamsPerConn bounds the requests an HTTP/2 connection carries at
// once; MaxConns counts the connection once, whatever its streams.
const maxStreamsPerConn = 100

// maxHeaderBytes bounds a request's headers (a SigV4 Authorization header is
// at most 8 KiB), so that connections cannot hold much memory before their
// request is authenticated.
const maxHeaderBytes = 64 << 10

// withDefaults fills l's zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	setDefault(&l.MaxConns, d.MaxConns)
	setDefault(&l.MaxInflightBytes, d.MaxInflightBytes)
	setDefault(&l.HeaderTimeout, d.HeaderTimeout)
	setDefault(&l.BodyGrace, d.BodyGrace)
	setDefault(&l.MinBodyRate, d.MinBodyRate)
	setDefault(&l.IdleTimeout, d.IdleTimeout)
	setDefault(&l.MaxShards, d.MaxShards)
	return l
}

// setDefault sets *v to def when *v is its type's zero value.
func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// HTTPServer returns an http.Server serving s under s's Limits, and ln
// wrapped to refuse connections beyond MaxConns. It speaks HTTP/1.1 and
// HTTP/2: without TLS with prior knowledge (h2c, as the JavaScript SDK v3
// does on http:// endpoints), over TLS as ALPN chooses. Serve (or
// ServeTLS) the returned listener; Shutdown the http.Server before closing s. Shutdown
// answers the long polls under way at once (with what they have), so that
// it does not wait out their time. Behind TLS a refused connection is just
// closed (its 503 is not a TLS record).
func (s *Server) HTTPServer(ln net.Listener) (*http.Server, net.Listener) {
	lim := s.opts.Limits
	base, endLongPolls := context.WithCancel(context.Background())
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)            // over TLS, chosen by ALPN
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as the JavaScript SDK v3 speaks on http://
	h2 := &http.HTTP2Config{MaxConcurrentStreams: maxStreamsPerConn}
	if lim.MinBodyRate > 0 {
		// A connection whose client reads nothing at all while answers wait.
		h2.WriteByteTimeout = max(lim.BodyGrace, time.Second)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: positive(lim.HeaderTimeout),
		IdleTimeout:       positive(lim.IdleTimeout),
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base }, // requests' contexts: only long polls heed them
		Protocols:         protocols,
		HTTP2:             h2,
	}
	hs.RegisterOnShutdown(endLongPolls)
	if lim.MaxConns > 0 {
		ln = &limitListener{Listener: ln, max: int64(lim.MaxConns), s: s}
	}
	return hs, ln
}

func positive(d time.Duration) time.Duration { return max(d, 0) }

// OpenConns is the number of connections HTTPServer's listeners hold open.
func (s *Server) OpenConns() int { return int(s.conns.Load()) }

// limitListener accepts at most max connections at once; it answers the
// ones beyond with a 503 and closes them without handing them on.
type limitListener struct {
	net.Listener
	max int64
	s   *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.s.conns.Add(1); n > l.max {
			l.s.conns.Add(-1)
			l.s.warn.Printf("refusing connections from %s and others: %d open, the limit (--max-conns)", c.RemoteAddr(), l.max)
			refuseConn(c)
			continue
		}
		return &limitConn{Conn: c, open: &l.s.conns}, nil
	}
}

// refusal is the whole answer to a connection beyond the limit.
func refusal() []byte {
	const body = `{"__type":"LimitExceededException","message":"too many connections to the store; try again later"}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n" +
		"X-Amzn-ErrorType: LimitExceededException\r\nX-Amzn-RequestId: " + newRequestID() + "\r\n" +
		"X-Amz-Id-2: " + newExtendedID() + "\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// refuseConn answers c with refusal, without reading from it, and closes it.
// A fresh socket's send buffer takes the few bytes at once; the deadline
// keeps a refusal from ever holding up Accept.
func refuseConn(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(refusal())
	_ = c.Close()
}

// limitConn gives its place back once, when closed.
type limitConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite passes net/http's half-close (sent before closing a
// connection whose client may still be sending) on to the TCP connection.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// budget is a count of bytes that requests take before reading their body
// and give back when answered; a request that finds too few goes away.
type budget struct {
	max  int64 // ≤ 0: unlimited
	used atomic.Int64
	peak atomic.Int64 // the most used since memoryLoop last looked
}

// take takes n bytes (at most max, so that one request always fits alone)
// and reports how many it took, or false when they are not available.
func (b *budget) take(n int64) (int64, bool) {
	if b.max > 0 {
		n = min(n, b.max)
	}
	for {
		u := b.used.Load()
		if b.max > 0 && u+n > b.max {
			return 0, false
		}
		if b.used.CompareAndSwap(u, u+n) {
			for p := b.peak.Load(); u+n > p && !b.peak.CompareAndSwap(p, u+n); p = b.peak.Load() {
			}
			return n, true
		}
	}
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// InflightBytes is the number of request bytes held now, as counted
// against MaxInflightBytes.
func (s *Server) InflightBytes() int64 { return s.inflight.used.Load() }

// After a burst of at least trimAfter request bytes held at once, once no
// request has held any for trimQuiet, memoryLoop returns the memory to the
// operating system; at most once per trimEvery.
const (
	trimAfter = 32 << 20
	trimQuiet = 2 * time.Second
	trimEvery = 10 * time.Second
)

// memoryLoop gives the memory of a burst of large requests back to the
// operating system once the burst is over. Without it the body buffers
// would wait in their pools, and the freed pages in the Go runtime, for
// minutes (the runtime collects an idle heap every two minutes, and pools
// empty over two collections).
func (s *Server) memoryLoop() {
	defer s.wg.Done()
	t := time.NewTicker(trimQuiet / 4)
	defer t.Stop()
	var quiet time.Time // since when no request bytes are held
	var last time.Time  // the last trim
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if s.inflight.used.Load() > 0 {
				quiet = time.Time{}
				continue
			}
			if quiet.IsZero() {
				quiet = now
			}
			if now.Sub(quiet) < trimQuiet || now.Sub(last) < trimEvery || s.inflight.peak.Load() < trimAfter {
				continue
			}
			s.inflight.peak.Store(0)
			last = now
			// A collection moves the buffers left in other Ps' private
			// slots to the pools' victim caches, where Get finds them;
			// FreeOSMemory collects the dropped buffers and returns the
			// free pages.
			dropPooledBufs()
			runtime.GC()
			dropPooledBufs()
			debug.FreeOSMemory()
		}
	}
}

// errBodyTooSlow is the error of a body read that fell below MinBodyRate.
var errBodyTooSlow = errors.New("request body arrives too slowly")

// paceReader reads a request body under a read deadline that moves ahead
// as bytes arrive: BodyGrace after the start, plus 1/rate seconds per byte
// received (see Limits.MinBodyRate). It needs a connection that supports
// read deadlines (http.ResponseController); in-process requests have none.
type paceReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64     // bytes read
	set   time.Time // the deadline last set
}

// newPaceReader starts the pace of r's body, or returns nil when the rate
// is unlimited or the connection has no deadlines.
func newPaceReader(w http.ResponseWriter, body io.Reader, grace time.Duration, rate int64) *paceReader {
	if rate <= 0 {
		return nil
	}
	p := &paceReader{r: body, rc: http.NewResponseController(w), start: time.Now(), grace: max(grace, 0), rate: rate}
	p.set = p.start.Add(p.grace)
	if p.rc.SetReadDeadline(p.set) != nil {
		return nil
	}
	return p
}

func (p *paceReader) Read(b []byte) (int, error) {
	m, err := p.r.Read(b)
	p.n += int64(m)
	if d := p.start.Add(p.grace + time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second))); d.Sub(p.set) >= 100*time.Millisecond {
		p.set = d // moved ahead enough to be worth resetting the timer
		_ = p.rc.SetReadDeadline(d)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: %d bytes in %v, less than %d bytes/s after %v (--min-body-rate, --body-grace)",
			errBodyTooSlow, p.n, time.Since(p.start).Round(time.Millisecond), p.rate, p.grace)
	}
	return m, err
}

// done lifts the read deadline, so that a long poll's wait for the client's
// next bytes (which tells a closed connection) does not time out.
func (p *paceReader) done() { _ = p.rc.SetReadDeadline(time.Time{}) }

// pacedWriteMin is the answer size from which writes get a deadline;
// smaller answers fit in the sockets' buffers.
const pacedWriteMin = 64 << 10

// writePaced writes an answer under a write deadline of BodyGrace plus one
// second per MinBodyRate bytes, so that a client that does not read its
// answers cannot hold them (and their buffers) for ever: past the
// deadline, net/http closes the connection. The deadline is lifted after,
// as net/http does not reset it between requests.
func (s *Server) writePaced(w http.ResponseWriter, r *http.Request, b []byte) {
	lim := s.opts.Limits
	if len(b) < pacedWriteMin || lim.MinBodyRate <= 0 {
		_, _ = w.Write(b)
		return
	}
	rc := http.NewResponseController(w)
	d := max(lim.BodyGrace, 0) + time.Duration(float64(len(b))/float64(lim.MinBodyRate)*float64(time.Second))
	if rc.SetWriteDeadline(time.Now().Add(d)) != nil { // in-process: no socket to wait on
		_, _ = w.Write(b)
		return
	}
	_, err := w.Write(b)
	if err == nil {
		err = rc.Flush()
	}
	cut := cutOff(r)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.warn.Printf("%s %s (request %s): an answer of %d bytes not read within %v: %v", cut, r.RemoteAddr, requestID(w), len(b), d.Round(time.Millisecond), err)
		return
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET), r.Context().Err() != nil:
		return // the client hung up or reset its stream (a reader that has what it wanted): nothing wrong with the store
	default:
		s.warn.Printf("%s %s (request %s): writing an answer of %d bytes: %v", cut, r.RemoteAddr, requestID(w), len(b), err)
		return
	}
	_ = rc.SetWriteDeadline(time.Time{})
}

// takeShards counts n more shards against MaxShards, or refuses them with
// LimitExceededException; giveShards gives them back.
func (s *Server) takeShards(n int) error {
	if n <= 0 {
		return nil
	}
	lim := int64(s.opts.Limits.MaxShards)
	for {
		u := s.shardCount.Load()
		if lim > 0 && u+int64(n) > lim {
			return apiErr(store.ErrLimitExceeded, store.MsgStoreShardLimit, u, n, lim)
		}
		if s.shardCount.CompareAndSwap(u, u+int64(n)) {
			return nil
		}
	}
}

func (s *Server) giveShards(n int) { s.shardCount.Add(-int64(n)) }
