package server

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/store"
)

// Every answer carries a fresh request id in X-Amzn-RequestId (a UUID, as
// Kinesis sends) and, as Kinesis, an extended id in X-Amz-Id-2 (base64 of
// 72 random bytes) — except the answer to a CORS preflight, which Kinesis
// sends without it.
const (
	headerRequestID  = "X-Amzn-Requestid"
	headerExtendedID = "X-Amz-Id-2"
	extendedIDBytes  = 72
)

// CORS, as Kinesis answers browsers: any origin ("*"; requests carry their
// credentials in signed headers, not cookies), the requested method and
// headers allowed for two days, and the headers the SDKs read exposed.
const (
	corsMaxAge        = "172800"
	corsExposeHeaders = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"
)

// answerHeaders sets the headers every answer to r carries: its request ids
// and, for a request with an Origin, CORS. It answers a CORS preflight
// (OPTIONS with an Origin) itself, 200 without a body and without
// authentication, and then reports true: the request is served.
func answerHeaders(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set(headerRequestID, newRequestID())
	origin := r.Header.Get("Origin")
	if origin == "" {
		h.Set(headerExtendedID, newExtendedID())
		return false
	}
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodOptions {
		h.Set(headerExtendedID, newExtendedID())
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	if v := r.Header.Values("Access-Control-Request-Headers"); len(v) > 0 {
		h["Access-Control-Allow-Headers"] = v
	}
	if v := r.Header.Values("Access-Control-Request-Method"); len(v) > 0 {
		h["Access-Control-Allow-Methods"] = v
	}
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Set("Content-Length", "0")
	unread(w, r)
	w.WriteHeader(http.StatusOK)
	return true
}

// requestID is the request id of the answer w is writing, for log lines.
func requestID(w http.ResponseWriter) string { return w.Header().Get(headerRequestID) }

// newRequestID returns a random (version 4) UUID.
func newRequestID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return store.FormatUUID(u)
}

func newExtendedID() string {
	var b [extendedIDBytes]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// closeAfter marks the answer to r as the last of its connection. Over
// HTTP/2 it does nothing: a stream ends alone (net/http resets what the
// client still sends on it), while Connection: close would send a GOAWAY,
// ending the connection for the client's other requests.
func closeAfter(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
}

// requestTarget is r's X-Amz-Target: its header or, as presigners move the
// X-Amz-* headers into the query string (where the signature covers
// them), its query parameter.
func requestTarget(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" || !strings.Contains(r.URL.RawQuery, "X-Amz-Target") {
		return t
	}
	return r.URL.Query().Get("X-Amz-Target")
}

// cutOff names what cutting off r does, for log lines: over HTTP/1 net/http
// closes the connection; over HTTP/2 only r's stream ends.
func cutOff(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "resetting the HTTP/2 stream of"
	}
	return "closing the connection of"
}
