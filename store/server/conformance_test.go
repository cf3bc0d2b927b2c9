package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Conformance tests: each case sends one raw request and wants AWS's exact
// answer (status, __type and message, or the exact body).

// rawRequest is one request as a client may send it, malformed or not.
type rawRequest struct {
	method, path, target, contentType, body string
}

// send sends r to url and returns the status, the Content-Type and the body.
func send(t *testing.T, url string, r rawRequest) (int, string, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/"
	}
	req, err := http.NewRequest(r.method, url+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.target != "" {
		req.Header.Set("X-Amz-Target", r.target)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const (
	amzJSON      = "application/x-amz-json-1.1"
	accessDenied = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
)

// jsonAnswer is an error answer as the store writes it.
func jsonAnswer(typ, msgKey, msg string) string {
	if msgKey == "" {
		return `{"__type":"` + typ + `"}` + "\n"
	}
	return `{"__type":"` + typ + `","` + msgKey + `":"` + msg + `"}` + "\n"
}

func TestRequestLevelAnswersAsAWS(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{})
	list := "Kinesis_20131202.ListStreams"
	for _, tc := range []struct {
		name   string
		req    rawRequest
		status int
		ctype  string
		body   string
	}{
		{"GET", rawRequest{method: "GET", target: list}, 403, "", accessDenied},
		{"PUT", rawRequest{method: "PUT", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDenied},
		{"DELETE", rawRequest{method: "DELETE"}, 403, "", accessDenied},
		{"another path", rawRequest{path: "/streams", target: list, contentType: amzJSON, body: "{}"}, 403, "", accessDenied},
		{"unknown content type, no target", rawRequest{contentType: "text/plain", body: "{}"}, 403, "", accessDenied},
		{"unknown content type, no operation", rawRequest{target: "Kinesis_20131202", contentType: "text/plain", body: "{}"}, 403, "", accessDenied},
		{"unknown content type", rawRequest{target: list, contentType: "application/x-amz-json-1.0", body: "{}"}, 404, "", "<UnknownOperationException/>\n"},
		{"no target", rawRequest{contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"unknown operation", rawRequest{target: "Kinesis_20131202.Whatever", contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"unknown service", rawRequest{target: "whatever.ListStreams", contentType: amzJSON, body: "{}"}, 400, amzJSON, jsonAnswer("UnknownOperationException", "", "")},
		{"empty body", rawRequest{target: list, contentType: amzJSON}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"blank body", rawRequest{target: list, contentType: amzJSON, body: "  \n"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"not JSON", rawRequest{target: list, contentType: amzJSON, body: "hello"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"JSON not an object", rawRequest{target: list, contentType: amzJSON, body: "true"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"null", rawRequest{target: list, contentType: amzJSON, body: "null"}, 400, amzJSON, jsonAnswer("SerializationException", "", "")},
		{"ok", rawRequest{target: list, contentType: amzJSON, body: "{}"}, 200, amzJSON, `{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}` + "\n"},
		{"ok without content type", rawRequest{target: list, body: "{}"}, 200, amzJSON, `{"HasMoreStreams":false,"StreamNames":[],"StreamSummaries":[]}` + "\n"},
	} {
		status, ctype, body := send(t, c.url, tc.req)
		if status != tc.status || ctype != tc.ctype || body != tc.body {
			t.Errorf("%s: got %d %q %q, want %d %q %q", tc.name, status, ctype, body, tc.status, tc.ctype, tc.body)
		}
	}
}

func TestAuthErrorsAreStatus400BeforeTheBody(t *testing.T) {
	_, c := startServer(t, t.TempDir(), Options{Credentials: map[string]string{"AKID": "secret"}})
	list := "Kinesis_20131202.ListStreams"
	for _, tc := range []struct {
		name   string
		req    rawRequest
		status int
		body   string
	}{
		// The target and an empty body are checked before authentication, as AWS does.
		{"unknown operation", rawRequest{target: "Kinesis_20131202.Whatever", contentType: amzJSON, body: "{}"}, 400, jsonAnswer("UnknownOperationException", "", "")},
		{"empty body", rawRequest{target: list, contentType: amzJSON}, 400, jsonAnswer("SerializationException", "", "")},
		{"unsigned", rawRequest{target: list, contentType: amzJSON, body: "{}"}, 400, jsonAnswer("MissingAuthenticationTokenException", "message", "Missing Authentication Token")},
	} {
		status, _, body := send(t, c.url, tc.req)
		if status != tc.status || body != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, status, body, tc.status, tc.body)
		}
	}
}
