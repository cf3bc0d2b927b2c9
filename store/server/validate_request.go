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
// that names no operation the store serves, in AWS's order: a method other
// than POST or a path other than / (403 AccessDeniedException, in XML), an
// empty body (400 SerializationException for a known X-Amz-Target, else
// UnknownOperationException), a content type AWS does not take (403
// AccessDeniedException without an operation name, else 404
// UnknownOperationException, in XML) and an unknown X-Amz-Target (400
// UnknownOperationException). It returns the operation and its handler, or
// a nil handler when it answered. A request without a Content-Type is taken as JSON.
func refuseRequest(w http.ResponseWriter, r *http.Request) (string, handler) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		unread(w, r)
		writeXMLError(w, http.StatusForbidden, "AccessDeniedException", store.MsgAccessDenied)
		return "", nil
	}
	target := requestTarget(r) // the header, or a presigned query's
	service, op, _ := strings.Cut(target, ".")
	h := operations[op]
	known := service+"." == targetPrefix && h != nil
	if r.ContentLength == 0 { // whatever the content type, as AWS
		if known {
			writeError(w, http.StatusBadRequest, errSerialization, "")
		} else {
			writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
		}
		return "", nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !contentTypes[mt] {
			unread(w, r)
			if service == "" || op == "" {
				writeXMLError(w, http.StatusForbidden, "AccessDeniedException", store.MsgAccessDenied)
			} else {
				writeXMLError(w, http.StatusNotFound, "UnknownOperationException", "")
			}
			return "", nil
		}
	}
	if !known {
		unread(w, r)
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
		return "", nil
	}
	return op, h
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
