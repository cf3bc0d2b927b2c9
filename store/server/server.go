// Package server serves the Kinesis Data Streams JSON 1.1 API over the store's
// per-shard logs (store/log).
//
// # Protocol
//
// Every request is POST / with X-Amz-Target: Kinesis_20131202.<Operation> and
// Content-Type application/x-amz-json-1.1 (application/json is accepted too),
// or application/x-amz-cbor-1.1, the AWS SDK for Java's default, answered in
// CBOR (errors too; see cbor.go).
// Bodies are capped at store.MaxRequestBytes with http.MaxBytesReader before
// they are read, and read only once the headers pass every SigV4 check that
// does not need the body and the request has its share of the in-flight byte
// budget (see Limits). Errors are answered as AWS answers them (the texts
// are store's message table, store/messages.go): HTTP 400 and
// {"__type": "<Code>", "message": "…"} (503 LimitExceededException for
// requests and connections over the limits, 408 for too slow bodies), and
// XML with 403 or 404 for requests that name no operation (see
// refuseRequest).
//
// GetRecords may wait for records instead of answering an empty page when
// the request carries LongPollHeader, a Sluice extension; without it every
// operation behaves as Kinesis.
//
// HTTPServer speaks HTTP/1.1 and HTTP/2 (h2c on plain listeners, ALPN over
// TLS). Every answer carries a fresh X-Amzn-RequestId and an X-Amz-Id-2;
// CORS preflights (OPTIONS with an Origin) are answered 200 without
// authentication, and answers to requests with an Origin carry CORS headers
// (answerHeaders). A presigned request may name its operation in the
// query's X-Amz-Target, where presigners move it.
//
// The same listener serves the Amazon SQS API (AWS JSON 1.0, X-Amz-Target:
// AmazonSQS.<Operation>, signed for the service "sqs") over the queues of
// store/queue, kept in the folder's ~queues; see sqs.go.
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
// holds stream.json (name, generation, creation time, retention, tags, resource
// policy, and the shard map including closed shards and their parents), replaced atomically
// (write to a temporary file, fsync, rename, fsync the folder), and one
// store/log folder per shard, named after the shard id. DeleteStream renames a
// stream folder to ~deleted~<name>~<generation> before removing it, so a crash
// never leaves half a stream; New finishes such removals. The keys streams
// are encrypted with at rest are in a keyring file (~keyring.json unless
// Options.Keyring names another; see crypt.go and keyring.go).
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
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/internal/ratelog"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/iterator"
	slog "github.com/sluicehq/sluice/store/log"
	"github.com/sluicehq/sluice/store/queue"
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
	// Keyring is the file of the keys streams are encrypted with at rest
	// (see StartStreamEncryption); "" means KeyringFile in the store folder.
	Keyring string
	// Logf receives the store's reports (damage found at start, torn
	// tails cut, refused writes, and rate-limited warnings of refused
	// connections and requests), one line per call; nil writes them to
	// standard error.
	Logf func(format string, args ...any)
	// FanOut times enhanced fan-out consumers and subscriptions.
	FanOut FanOutOptions
	// StateDelay is how long a stream stays CREATING, UPDATING or DELETING
	// after the operation that starts the state is done; zero means
	// DefaultStateDelay, a negative value no such states.
	StateDelay time.Duration
	// OnDemand sets how ON_DEMAND streams scale; zero fields take DefaultOnDemand.
	OnDemand OnDemand
	// QueueLimits bound the messages in flight of each queue of the SQS
	// API; zero fields take SQS's (120,000; FIFO queues 20,000).
	QueueLimits queue.Limits
}

// Server is the Kinesis API over the streams in one folder. It is an
// http.Handler and is safe for concurrent use.
type Server struct {
	dir    string
	opts   Options
	verify *sigv4.Verifier
	codec  *iterator.Codec
	keys   *keyring

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
	policies   atomic.Int64 // streams with a resource policy (authorizeCall)
	metrics    *metrics.Set // enhanced monitoring's shard metrics, registered globally while open
	accountMu  sync.Mutex   // accountFile (account.go)
	warn       *ratelog.Limiter
	fanOut     fanOutState     // consumers DELETING, open subscriptions (efo.go)
	scale      scaling         // stream states and scaling (scaling.go)
	queues     *queue.Store    // the SQS API's queues (sqs.go)
	sqsVerify  *sigv4.Verifier // SigV4 for the service "sqs"
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
	if opts.StateDelay == 0 {
		opts.StateDelay = unsetStateDelay
	}
	opts.OnDemand = opts.OnDemand.withDefaults()
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
		warn: ratelog.New(func(msg string) { opts.Logf("%s", msg) }, 10*time.Second), metrics: metrics.NewSet()}
	if s.keys, err = openKeyring(keyringPath(dir, opts.Keyring), opts.Logf); err != nil {
		return nil, err
	}
	s.inflight.max = opts.Limits.MaxInflightBytes
	if opts.Credentials != nil {
		s.verify = &sigv4.Verifier{Credentials: opts.Credentials, Region: opts.Region, Now: opts.Now}
		s.sqsVerify = &sigv4.Verifier{Credentials: opts.Credentials, Region: opts.Region, Now: opts.Now, Service: sqsSigningName}
	}
	if s.queues, err = queue.Open(filepath.Join(dir, queueDir), queue.Options{NoSync: opts.Fsync == slog.FsyncNever, Now: opts.Now, Logf: opts.Logf,
		Limits: opts.QueueLimits}); err != nil {
		return nil, err
	}
	defer func() {
		if !opened {
			s.queues.Close()
		}
	}()
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
		if st.policy.Load() != nil {
			s.policies.Add(1)
		}
	}
	s.wg.Add(1)
	go s.retentionLoop()
	s.wg.Add(1)
	go s.memoryLoop()
	s.wg.Add(1)
	go s.scaleLoop()
	s.resumeScaling()
	s.lock, opened = lock, true
	s.metrics.RegisterMetricsWriter(s.writeQueueMetrics)
	metrics.RegisterSet(s.metrics)
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
	if err := writeFileAtomic(path, key, 0o600); err != nil {
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
	err := errors.Join(s.closeStreams(), s.queues.Close())
	metrics.UnregisterSet(s.metrics, true)
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
	// principal is the access key the request is signed with; "" when
	// the store has no credentials (see policy.go).
	principal string
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
	"StartStreamEncryption":         bodyOnly((*Server).startStreamEncryption),
	"StopStreamEncryption":          bodyOnly((*Server).stopStreamEncryption),
	"UpdateShardCount":              bodyOnly((*Server).updateShardCount),
	"UpdateStreamMode":              bodyOnly((*Server).updateStreamMode),
	"DescribeLimits":                bodyOnly((*Server).describeLimits),
	"TagResource":                   bodyOnly((*Server).tagResource),
	"UntagResource":                 bodyOnly((*Server).untagResource),
	"ListTagsForResource":           bodyOnly((*Server).listTagsForResource),
	"PutResourcePolicy":             bodyOnly((*Server).putResourcePolicy),
	"GetResourcePolicy":             bodyOnly((*Server).getResourcePolicy),
	"DeleteResourcePolicy":          bodyOnly((*Server).deleteResourcePolicy),
	"EnableEnhancedMonitoring":      bodyOnly((*Server).enableMonitoring),
	"DisableEnhancedMonitoring":     bodyOnly((*Server).disableMonitoring),
	"DescribeAccountSettings":       bodyOnly((*Server).describeAccountSettings),
	"UpdateAccountSettings":         bodyOnly((*Server).updateAccountSettings),
}

// ServeHTTP serves one Kinesis API request. In order, before the body is
// read: the method, path, Content-Type, X-Amz-Target and an empty body
// (refuseRequest), Content-Length against store.MaxRequestBytes,
// every SigV4 check that needs only the headers (sigv4's CheckHeaders: a
// known access key, a current date, the scope), and a share of
// MaxInflightBytes; then the body is read at MinBodyRate or better, and the
// signature over it verified; then the resource policies of the streams the
// request names are checked (authorizeCall).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if answerHeaders(w, r) { // request ids, CORS; a preflight is answered
		return
	}
	if isSQS(r) || isSQSQuery(r) {
		s.serveSQS(w, r)
		return
	}
	cborReq := isCBOR(r)
	if cborReq { // answered in CBOR, errors too (see cbor.go)
		w.Header().Set("Content-Type", CBORContentType)
	}
	op, h := refuseRequest(w, r)
	if h == nil {
		return
	}
	rr, ok := s.readRequest(w, r, s.verify, func(why refusedFor, err error) {
		switch why {
		case refusedTooBig:
			writeError(w, http.StatusBadRequest, store.ErrValidation, fmt.Sprintf(store.MsgBodyTooLarge, store.MaxRequestBytes))
		case refusedAuth:
			writeAuthError(w, err)
		case refusedInflight:
			writeError(w, http.StatusServiceUnavailable, store.ErrLimitExceeded, store.MsgInflight)
		case refusedSlow:
			writeError(w, http.StatusRequestTimeout, "RequestTimeoutException", err.Error())
		default:
			writeError(w, http.StatusBadRequest, errSerialization, "")
		}
	})
	if !ok {
		return
	}
	defer rr.release()
	body := rr.body
	release := func() {} // the JSON of a CBOR request
	if cborReq {
		if body, release = s.cborRequest(w, r, body, rr.took); release == nil {
			return
		}
		defer func() { release() }()
	}
	c := &call{ctx: r.Context(), header: r.Header, body: body}
	if rr.signed != nil {
		c.principal = rr.signed.AccessKey()
	}
	err := s.authorizeCall(c, op) // resource policies
	var out any
	if err == nil {
		out, err = h(s, c)
	}
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
		rr.giveShare()
		release()
		release = func() {}
		answer(w, r)
		return
	}
	if cborReq {
		s.writeCBOR(w, r, out)
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
		closeAfter(w, r)
	}
}

func writeAuthError(w http.ResponseWriter, err error) {
	var se *sigv4.Error
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Code, se.Message)
		return
	}
	writeError(w, http.StatusBadRequest, sigv4.CodeInvalidSignature, err.Error())
}

// writeError answers {"__type": code, "message": msg} as AWS does: without
// a message when msg is empty, and with "Message" for a
// SerializationException.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	if answersCBOR(w) {
		writeCBORError(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	out := map[string]string{"__type": code}
	if key := messageKey(code, msg); key != "" {
		out[key] = msg
	}
	_ = json.NewEncoder(w).Encode(out)
}

// messageKey is the member an error answer carries msg in, as AWS's: none
// for an empty msg, "Message" for a SerializationException, else "message".
func messageKey(code, msg string) string {
	switch {
	case msg == "":
		return ""
	case code == errSerialization:
		return "Message"
	}
	return "message"
}

func apiErr(code, format string, args ...any) *store.Error {
	return &store.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
