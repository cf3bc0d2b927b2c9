package server

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/store"
)

// Content types a request may name: AWS's JSON 1.1 and CBOR, and
// application/json (which AWS answers in an older format; see README).
var contentTypes = map[string]bool{
	"application/x-amz-json-1.1": true,
	"application/x-amz-cbor-1.1": true,
	"application/json":           true,
}

// refuseRequest answers, as AWS does and from the headers alone, a request
// that names no operation the store serves: a method other than POST or a
// path other than / (403 AccessDeniedException, in XML), a content type
// AWS does not take (403 AccessDeniedException without an operation name,
// else 404 UnknownOperationException, in XML), an unknown X-Amz-Target
// (400 UnknownOperationException) and, for a known one, an empty body (400
// SerializationException). It returns the operation's handler, or nil when
// it answered. A request without a Content-Type is taken as JSON.
func refuseRequest(w http.ResponseWriter, r *http.Request) handler {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		unread(w, r)
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", store.MsgAccessDenied)
		return nil
	}
	target := r.Header.Get("X-Amz-Target")
	service, op, _ := strings.Cut(target, ".")
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !contentTypes[mt] {
			unread(w, r)
			if service == "" || op == "" {
				writeXMLError(w, http.StatusForbidden, "AccessDeniedException", store.MsgAccessDenied)
			} else {
				writeXMLError(w, http.StatusNotFound, "UnknownOperationException", "")
			}
			return nil
		}
	}
	h := operations[op]
	if service+"." != targetPrefix || h == nil {
		unread(w, r)
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
		return nil
	}
	if r.ContentLength == 0 {
		writeError(w, http.StatusBadRequest, errSerialization, "")
		return nil
	}
	return h
}

// writeXMLError answers as AWS does where it cannot tell the protocol: an
// XML document named after the error, with the message (if any), and no
// Content-Type.
func writeXMLError(w http.ResponseWriter, status int, code, msg string) {
	body := "<" + code + "/>\n"
	if msg != "" {
		body = "<" + code + ">\n  <Message>" + msg + "</Message>\n</" + code + ">\n"
	}
	w.Header()["Content-Type"] = nil // net/http would sniff one
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
