package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/sigv4"
)

// refusedFor is why the store refuses a request before its operation runs;
// each API (Kinesis, SQS) answers it in its own words.
type refusedFor int

const (
	refusedTooBig   refusedFor = iota // larger than store.MaxRequestBytes
	refusedAuth                       // a SigV4 check failed: the error says which
	refusedInflight                   // MaxInflightBytes are in flight
	refusedSlow                       // the body came slower than MinBodyRate: the error
	refusedRead                       // the body could not be read
)

// readRequest makes the checks every API of the store makes before an
// operation, in order: Content-Length against store.MaxRequestBytes, the
// SigV4 checks that need only the headers (with verify, when not nil), and
// a share of MaxInflightBytes; then it reads the body at MinBodyRate or
// better and verifies the signature over it. A request refused is answered
// by refuse and ok is false.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, verify *sigv4.Verifier,
	refuse func(why refusedFor, err error)) (req requestBody, ok bool) {
	if r.ContentLength > store.MaxRequestBytes { // refuse without reading a byte
		unread(w, r)
		refuse(refusedTooBig, nil)
		return req, false
	}
	var signed *sigv4.Headers
	if verify != nil {
		var err error
		if signed, err = verify.CheckHeaders(r); err != nil {
			unread(w, r)
			refuse(refusedAuth, err)
			return req, false
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
		refuse(refusedInflight, nil)
		return req, false
	}
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
		s.inflight.give(took)
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			refuse(refusedTooBig, nil)
		case errors.Is(err, errBodyTooSlow):
			s.warn.Printf("%s %s (request %s): %v", cutOff(r), r.RemoteAddr, requestID(w), err)
			closeAfter(w, r)
			refuse(refusedSlow, err)
		default:
			refuse(refusedRead, err)
		}
		return req, false
	}
	req = requestBody{s: s, body: body, took: took, signed: signed}
	if signed != nil {
		if err := signed.Verify(r, body); err != nil {
			req.release()
			refuse(refusedAuth, err)
			return requestBody{}, false
		}
	}
	return req, true
}

// requestBody is a request's body as Server.readRequest read it.
type requestBody struct {
	s      *Server
	body   []byte
	took   int64          // the share of MaxInflightBytes held
	signed *sigv4.Headers // nil: the store takes unsigned requests
}

// giveShare gives back the request's share of MaxInflightBytes (early,
// for an answer that outlasts the body's use).
func (r *requestBody) giveShare() {
	r.s.inflight.give(r.took)
	r.took = 0
}

// release gives back the share and the body's buffer once the request is
// answered.
func (r *requestBody) release() {
	putBuf(r.body)
	r.giveShare()
}
