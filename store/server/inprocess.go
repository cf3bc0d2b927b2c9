package server

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
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
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
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
