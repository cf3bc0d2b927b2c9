package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Transport returns an http.RoundTripper that serves every request with s
// directly, in the caller's goroutine: the embedded store's fast path. A
// client in the same process (the store connector of a job run with an
// embedded store) talks the same Kinesis API as over the network — the
// same validation, signing and long polls — without a socket, a copy
// through the kernel or a connection pool. The request's URL host is
// ignored. Cancelling the request's context ends a long poll as a closed
// connection would.
func (s *Server) Transport() http.RoundTripper { return inProcess{s} }

type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	if req.Host == "" {
		req.Host = req.URL.Host
	}
	if req.RemoteAddr == "" {
		req.RemoteAddr = "in-process"
	}
	if req.RequestURI == "" {
		req.RequestURI = req.URL.RequestURI()
	}
	if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".SubscribeToShard") {
		return t.stream(req), nil
	}
	w := &responseBuffer{header: http.Header{}}
	t.s.ServeHTTP(w, req)
	_ = req.Body.Close()
	if err := req.Context().Err(); err != nil && w.status == 0 && w.body.Len() == 0 {
		return nil, err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	return inProcessResponse(req, w.status, w.header, io.NopCloser(&w.body), int64(w.body.Len())), nil
}

// inProcessResponse is an HTTP/1.1 answer to req (length -1: unknown).
func inProcessResponse(req *http.Request, status int, h http.Header, body io.ReadCloser, length int64) *http.Response {
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          body,
		ContentLength: length,
		Request:       req,
	}
}

// responseBuffer is the http.ResponseWriter of an in-process request.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseBuffer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// stream serves a request whose answer is a stream (SubscribeToShard) in a
// goroutine of its own, and answers as soon as the handler has written
// its status: the body is a pipe that the handler writes as it goes.
// Closing the body, or cancelling the request's context, cancels the
// handler's context, as a closed connection would.
func (t inProcess) stream(req *http.Request) *http.Response {
	ctx, cancel := context.WithCancel(req.Context())
	req = req.WithContext(ctx)
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, started: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.s.ServeHTTP(w, req)
		_ = req.Body.Close()
		w.WriteHeader(http.StatusOK) // a handler that wrote nothing
		_ = pw.Close()
	}()
	go func() {
		select {
		case <-ctx.Done(): // a handler blocked in a write ends too
			_ = pr.CloseWithError(ctx.Err())
		case <-done:
			cancel()
		}
	}()
	<-w.started
	return inProcessResponse(req, w.status, w.sent, cancelOnClose{pr, cancel}, -1)
}

// pipeWriter is the http.ResponseWriter of an in-process streamed answer.
type pipeWriter struct {
	header  http.Header
	sent    http.Header // header as of WriteHeader
	status  int
	pw      *io.PipeWriter
	once    sync.Once
	started chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status, w.sent = status, w.header.Clone()
		close(w.started)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush does nothing: every Write is already in the reader's hands.
func (w *pipeWriter) Flush() {}

// cancelOnClose is a streamed answer's body: closing it cancels the handler.
type cancelOnClose struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	b.cancel()
	return b.PipeReader.Close()
}
