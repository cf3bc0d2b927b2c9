// Package server serves the Kinesis Data Streams JSON 1.1 API over the store's
// per-shard logs (store/log).
//
// # Protocol
//
// Every request is POST / with X-Amz-Target: Kinesis_20131202.<Operation> and
// Content-Type application/x-amz-json-1.1 (application/json is accepted too).
// Bodies are capped at store.MaxRequestBytes with http.MaxBytesReader before
// they are read, and read only once the headers pass every SigV4 check that
// does not need the body and the request has its share of the in-flight byte
// budget (see Limits). Errors are answered with HTTP 400 (403 for failed
// SigV4 checks, 503 LimitExceededException for requests and connections over
// the limits, 408 for too slow bodies) and {"__type": "<Code>", "message": "…"}.
//
// GetRecords may wait for records instead of answering an empty page when
// the request carries LongPollHeader, a Sluice extension; without it every
// operation behaves as Kinesis.
//
// # Sequence numbers
//
// A record's SequenceNumber is, as in Kinesis, a fixed-width decimal string
// (56 digits, see store.SequenceNumber) that encodes the stream's
// generation, the shard's index and the shard log's sequence number, so
// that numbers compare correctly as strings: they grow within a shard,
// across restarts (the log never reuses a sequence number), and from parent
// to child shards (children have higher indexes). GetShardIterator rejects
// a number of another shard or stream, or one not handed out yet, with
// InvalidArgumentException.
//
// # On disk
//
// dir holds a secret key for shard iterators (~iterator.key, so iterators
// survive a restart) and one folder per stream, named after it. A stream folder
// holds stream.json (name, generation, creation time, retention, tags, and the
// shard map including closed shards and their parents), replaced atomically
// (write to a temporary file, fsync, rename, fsync the folder), and one
// store/log folder per shard, named after the shard id. DeleteStream renames a
// stream folder to ~deleted~<name>~<generation> before removing it, so a crash
// never leaves half a stream; New finishes such removals.
//
// # Lifecycle
//
// New opens every stream and shard log and starts a retention goroutine and
// one that returns memory after bursts of requests (see memoryLoop); Close
// stops them and closes every log. The Server owns its logs.
//
// Lock order: stream.mu before Server.mu (DeleteStream holds both; nothing
// takes a stream's lock while holding Server.mu). Appends hold the stream's
// read lock, so SplitShard and MergeShards (write lock) never close a shard
// under a writer.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/ratelog"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/iterator"
	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/sigv4"
)

// keyFile holds the iterator secret; '~' cannot occur in a stream name, so
// no stream folder can collide with it (nor with deleted streams' trash).
const keyFile = "~iterator.key"

// trashPrefix starts the name DeleteStream renames a stream folder to before
// removing it; New removes any it finds.
const trashPrefix = "~deleted~"

// DefaultRetention is the retention of a new stream, as Kinesis.
const DefaultRetention = 24 * time.Hour

// Retention bounds, as Kinesis (24 hours to 365 days).
const (
	MinRetentionHours = 24
	MaxRetentionHours = 8760
)

// Options configure a Server. The zero value serves without authentication,
// with group-commit fsync and 24h retention.
type Options struct {
	// Credentials maps access key IDs to secret keys; nil disables SigV4.
	Credentials map[string]string
	// Region the SigV4 credential scope must name ("" accepts any).
	Region string
	// Fsync says when appends are acknowledged.
	Fsync slog.FsyncMode
	// Retention is the retention of new streams; zero means DefaultRetention.
	Retention time.Duration
	// SegmentBytes is the segment size of shard logs; zero means the log's default.
	SegmentBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnCorruption says whether readers stop (the default) or skip at
	// records a shard log lost to damage.
	OnCorruption slog.CorruptionPolicy
	// Limits bound connections, request bytes, time and shards; zero
	// fields take DefaultLimits.
	Limits Limits
	// Logf receives the store's reports (damage found at start, torn
	// tails cut, refused writes, and rate-limited warnings of refused
	// connections and requests), one line per call; nil writes them to
	// standard error.
	Logf func(format string, args ...any)
	// FanOut times enhanced fan-out consumers and subscriptions.
	FanOut FanOutOptions
}

// Server is the Kinesis API over the streams in one folder. It is an
// http.Handler and is safe for concurrent use.
type Server struct {
	dir    string
	opts   Options
	verify *sigv4.Verifier
	codec  *iterator.Codec

	mu      sync.Mutex
	streams map[string]*stream
	nextGen uint64
	closed  bool

	stop chan struct{}
	wg   sync.WaitGroup
	lock *os.File // the folder's lock (lockFile), held until Close

	conns      atomic.Int64 // open connections of HTTPServer's listeners
	inflight   budget       // request body bytes held (Limits.MaxInflightBytes)
	shardCount atomic.Int64 // shards of all streams (Limits.MaxShards)
	warn       *ratelog.Limiter
	fanOut     fanOutState // consumers DELETING, open subscriptions (efo.go)
}

// New opens (or creates) the store in dir and restores every stream in it.
// The caller must Close the Server.
func New(dir string, opts Options) (*Server, error) {
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Limits = opts.Limits.withDefaults()
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create store folder %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened {
			lock.Close()
		}
	}()
	key, err := loadKey(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	codec, err := iterator.New(key, iterator.DefaultTTL, opts.Now)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, opts: opts, codec: codec, streams: map[string]*stream{}, stop: make(chan struct{}),
		warn: ratelog.New(func(msg string) { opts.Logf("%s", msg) }, 10*time.Second)}
	s.inflight.max = opts.Limits.MaxInflightBytes
	if opts.Credentials != nil {
		s.verify = &sigv4.Verifier{Credentials: opts.Credentials, Region: opts.Region, Now: opts.Now}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list store folder %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), trashPrefix) { // a DeleteStream interrupted by a crash
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				s.closeStreams()
				return nil, fmt.Errorf("cannot remove deleted stream %s: %w", e.Name(), err)
			}
			continue
		}
		if !e.IsDir() || store.ValidateStreamName(e.Name()) != nil {
			continue
		}
		st, err := s.openStream(e.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue // a folder left by a create that crashed before its metadata
		}
		if err != nil {
			s.closeStreams()
			return nil, err
		}
		s.streams[st.meta.Name] = st
		s.nextGen = max(s.nextGen, st.meta.Generation)
		s.shardCount.Add(int64(len(st.shards.Shards))) // opened whatever MaxShards says
	}
	s.wg.Add(1)
	go s.retentionLoop()
	s.wg.Add(1)
	go s.memoryLoop()
	s.lock, opened = lock, true
	return s, nil
}

// loadKey reads the iterator secret from path, creating it on first use.
func loadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) >= iterator.MinKeyLen {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read iterator key %s: %w", path, err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, key); err != nil {
		return nil, err
	}
	return key, nil
}

// IsStoreFolder reports whether dir is the folder of a store: one that New
// has opened before (it holds the store's iterator key).
func IsStoreFolder(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	return err == nil && fi.Mode().IsRegular()
}

// Dir is the store folder the Server was opened over.
func (s *Server) Dir() string { return s.dir }

// Close stops the retention goroutine and closes every shard log.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	err := s.closeStreams()
	s.lock.Close()
	return err
}

func (s *Server) closeStreams() error {
	s.mu.Lock()
	list := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	s.mu.Unlock()
	var errs []error
	for _, st := range list {
		st.mu.Lock()
		errs = append(errs, st.close())
		st.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (s *Server) retentionLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.enforceRetention()
		}
	}
}

func (s *Server) enforceRetention() {
	s.mu.Lock()
	list := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	s.mu.Unlock()
	now := s.opts.Now()
	for _, st := range list {
		st.mu.RLock()
		cut := now.Add(-time.Duration(st.meta.RetentionHours) * time.Hour).UnixMilli()
		for _, l := range st.logs {
			_, _ = l.DeleteBefore(cut) // best effort; a read-only log refuses
		}
		st.mu.RUnlock()
	}
}

const targetPrefix = "Kinesis_20131202."

// call is one API request as an operation sees it. body is owned by
// ServeHTTP: an operation must not keep it, nor anything aliasing it, once
// it returns.
type call struct {
	ctx    context.Context
	header http.Header
	body   []byte
}

// handler serves one operation. It answers a value to encode as JSON, or a
// jsonBody already encoded.
type handler func(s *Server, c *call) (any, error)

// bodyOnly adapts an operation that needs only the request body.
func bodyOnly(op func(s *Server, body []byte) (any, error)) handler {
	return func(s *Server, c *call) (any, error) { return op(s, c.body) }
}

var operations = map[string]handler{
	"CreateStream":                  bodyOnly((*Server).createStream),
	"DeleteStream":                  bodyOnly((*Server).deleteStream),
	"DescribeStream":                bodyOnly((*Server).describeStream),
	"DescribeStreamSummary":         bodyOnly((*Server).describeStreamSummary),
	"ListStreams":                   bodyOnly((*Server).listStreams),
	"ListShards":                    bodyOnly((*Server).listShards),
	"PutRecord":                     bodyOnly((*Server).putRecord),
	"PutRecords":                    bodyOnly((*Server).putRecords),
	"GetShardIterator":              bodyOnly((*Server).getShardIterator),
	"GetRecords":                    (*Server).getRecords,
	"IncreaseStreamRetentionPeriod": bodyOnly((*Server).increaseRetention),
	"DecreaseStreamRetentionPeriod": bodyOnly((*Server).decreaseRetention),
	"SplitShard":                    bodyOnly((*Server).splitShard),
	"MergeShards":                   bodyOnly((*Server).mergeShards),
	"AddTagsToStream":               bodyOnly((*Server).addTags),
	"ListTagsForStream":             bodyOnly((*Server).listTags),
	"RemoveTagsFromStream":          bodyOnly((*Server).removeTags),
	"RegisterStreamConsumer":        bodyOnly((*Server).registerStreamConsumer),
	"DescribeStreamConsumer":        bodyOnly((*Server).describeStreamConsumer),
	"ListStreamConsumers":           bodyOnly((*Server).listStreamConsumers),
	"DeregisterStreamConsumer":      bodyOnly((*Server).deregisterStreamConsumer),
	"SubscribeToShard":              (*Server).subscribeToShard,
}

// ServeHTTP serves one Kinesis API request. In order, before the body is
// read: the method and path, Content-Length against store.MaxRequestBytes,
// every SigV4 check that needs only the headers (sigv4's CheckHeaders: a
// known access key, a current date, the scope), and a share of
// MaxInflightBytes; then the body is read at MinBodyRate or better, and the
// signature over it verified.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		unread(w, r)
		writeError(w, http.StatusNotFound, "UnknownOperationException", "only POST / is served")
		return
	}
	tooBig := fmt.Sprintf("request body exceeds %d bytes", store.MaxRequestBytes)
	if r.ContentLength > store.MaxRequestBytes { // refuse without reading a byte
		unread(w, r)
		writeError(w, http.StatusBadRequest, store.ErrValidation, tooBig)
		return
	}
	var signed *sigv4.Headers
	if s.verify != nil {
		var err error
		if signed, err = s.verify.CheckHeaders(r); err != nil {
			unread(w, r)
			writeAuthError(w, err)
			return
		}
	}
	size := r.ContentLength + 1 // as readBody allocates
	if r.ContentLength < 0 {
		size = store.MaxRequestBytes
	}
	took, ok := s.inflight.take(int64(bufCap(int(size))))
	if !ok {
		s.warn.Printf("refusing requests from %s and others: %d request bytes in flight, the limit (--max-inflight-bytes)", r.RemoteAddr, s.inflight.max)
		unread(w, r)
		writeError(w, http.StatusServiceUnavailable, store.ErrLimitExceeded, "too many request bytes in flight on the store; try again later")
		return
	}
	defer func() { s.inflight.give(took) }()
	var in io.Reader = r.Body
	pace := newPaceReader(w, r.Body, s.opts.Limits.BodyGrace, s.opts.Limits.MinBodyRate)
	if pace != nil {
		in = pace
	}
	body, err := readBody(http.MaxBytesReader(w, io.NopCloser(in), store.MaxRequestBytes), r.ContentLength)
	if pace != nil {
		pace.done()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			writeError(w, http.StatusBadRequest, store.ErrValidation, tooBig)
		case errors.Is(err, errBodyTooSlow):
			s.warn.Printf("closing the connection of %s: %v", r.RemoteAddr, err)
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, "RequestTimeoutException", err.Error())
		default:
			writeError(w, http.StatusBadRequest, "SerializationException", "cannot read request body: "+err.Error())
		}
		return
	}
	defer putBuf(body)
	if signed != nil {
		if err := signed.Verify(r, body); err != nil {
			writeAuthError(w, err)
			return
		}
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	h := operations[op]
	if !ok || h == nil {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target))
		return
	}
	c := &call{ctx: r.Context(), header: r.Header, body: body}
	if len(bytes.TrimSpace(body)) == 0 {
		c.body = []byte("{}")
	}
	out, err := h(s, c)
	if err != nil {
		var ae *store.Error
		if errors.As(err, &ae) {
			writeError(w, http.StatusBadRequest, ae.Code, ae.Message)
			return
		}
		status, code, msg := s.failure(err)
		writeError(w, status, code, msg)
		return
	}
	if answer, ok := out.(answerLater); ok { // a long answer: the body's bytes are no longer held
		s.inflight.give(took)
		took = 0
		answer(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if b, ok := out.(jsonBody); ok {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		s.writePaced(w, r, b)
		putBuf(b)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// unread marks the answer to r, whose body is left unread, as the last on
// its connection: otherwise net/http would read up to 256 KiB of the body
// before answering, without a deadline, for a client that need not send it.
func unread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

func writeAuthError(w http.ResponseWriter, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Code, se.Message)
		return
	}
	writeError(w, http.StatusForbidden, sigv4.CodeInvalidSignature, err.Error())
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func apiErr(code, format string, args ...any) *store.Error {
	return &store.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// decode parses a request body strictly enough to report bad JSON as AWS does.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return apiErr("SerializationException", "cannot parse request: %v", err)
	}
	return nil
}
