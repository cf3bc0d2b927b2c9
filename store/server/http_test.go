package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// send makes one request to addr and returns the answer with its body read.
func send(t *testing.T, method, addr, target string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Every answer, errors and refusals before authentication included, has
// a fresh X-Amzn-RequestId (a UUID) and an X-Amz-Id-2 as Kinesis sends.
func TestEveryAnswerHasARequestID(t *testing.T) {
	_, open := serveLimited(t, Options{})
	_, authed := serveLimited(t, Options{Credentials: map[string]string{"AKID": "secret"}})
	seen := map[string]bool{}
	for _, tc := range []struct {
		name, method, addr, target string
		status                     int
	}{
		{"success", http.MethodPost, open, "ListStreams", 200},
		{"unknown operation", http.MethodPost, open, "Nope", 400},
		{"API error", http.MethodPost, open, "DescribeStream", 400},
		{"wrong method", http.MethodGet, open, "", 0},
		{"unsigned", http.MethodPost, authed, "ListStreams", 0},
	} {
		body := "{}"
		if tc.method == http.MethodGet {
			body = ""
		}
		resp, _ := send(t, tc.method, tc.addr, tc.target, nil, body)
		if tc.status != 0 && resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		id := resp.Header.Get("X-Amzn-RequestId")
		if !uuidShape(id) || seen[id] {
			t.Fatalf("%s: request id %q, want a fresh UUID", tc.name, id)
		}
		seen[id] = true
		ext, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Amz-Id-2"))
		if err != nil || len(ext) != extendedIDBytes {
			t.Fatalf("%s: X-Amz-Id-2 %q, want base64 of %d bytes", tc.name, resp.Header.Get("X-Amz-Id-2"), extendedIDBytes)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s: CORS headers on a request without an Origin", tc.name)
		}
	}

	// The refusal of a connection beyond MaxConns, written before anything
	// is read, has one too.
	s, capped := serveLimited(t, Options{Limits: Limits{MaxConns: 1}})
	held, err := net.Dial("tcp", capped)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waitFor(t, 3*time.Second, "the first connection accepted", func() bool { return s.OpenConns() == 1 })
	for range 2 {
		c, err := net.Dial("tcp", capped)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("connection over the cap: %v %v", resp, err)
		}
		if id := resp.Header.Get("X-Amzn-RequestId"); !uuidShape(id) || seen[id] || resp.Header.Get("X-Amz-Id-2") == "" {
			t.Fatalf("refusal with request id %q, X-Amz-Id-2 %q", id, resp.Header.Get("X-Amz-Id-2"))
		}
		seen[resp.Header.Get("X-Amzn-RequestId")] = true
	}
}

// A browser's preflight is answered 200 without authentication, allowing
// any origin, the method and headers asked for, for two days.
func TestCORSPreflightNeedsNoAuth(t *testing.T) {
	s, addr := serveLimited(t, Options{Credentials: map[string]string{"AKID": "secret"}})
	asked := "authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent"
	resp, body := send(t, http.MethodOptions, addr, "", map[string]string{
		"Origin":                         "http://app.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": asked,
	}, "")
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("preflight: %d %q, want 200 without a body", resp.StatusCode, body)
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "POST",
		"Access-Control-Allow-Headers": asked,
		"Access-Control-Max-Age":       "172800",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !uuidShape(resp.Header.Get("X-Amzn-RequestId")) {
		t.Errorf("preflight without a request id: %v", resp.Header)
	}
	if v := resp.Header.Get("X-Amz-Id-2"); v != "" {
		t.Errorf("preflight with X-Amz-Id-2 %q; Kinesis sends none", v)
	}
	if n := s.InflightBytes(); n != 0 {
		t.Errorf("%d bytes in flight after a preflight", n)
	}

	// Without an Origin, OPTIONS is no preflight.
	resp, _ = send(t, http.MethodOptions, addr, "", nil, "")
	if resp.StatusCode == http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("OPTIONS without an Origin: %d %v", resp.StatusCode, resp.Header)
	}
}

// Every answer to a request with an Origin, errors included, lets the page
// read it and the headers the SDKs look at.
func TestCORSHeadersOnAnswers(t *testing.T) {
	_, open := serveLimited(t, Options{})
	_, authed := serveLimited(t, Options{Credentials: map[string]string{"AKID": "secret"}})
	for _, tc := range []struct {
		name, addr, target string
		status             int
	}{
		{"success", open, "ListStreams", 200},
		{"API error", open, "DescribeStream", 400},
		{"unsigned", authed, "ListStreams", 0}, // refused, whatever its status
	} {
		resp, _ := send(t, http.MethodPost, tc.addr, tc.target, map[string]string{"Origin": "http://app.example"}, "{}")
		if tc.status != 0 && resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Fatalf("%s: Access-Control-Allow-Origin %q, want *", tc.name, got)
		}
		expose := resp.Header.Get("Access-Control-Expose-Headers")
		for _, h := range []string{"x-amzn-RequestId", "x-amzn-ErrorType", "x-amz-id-2", "x-amzn-ErrorMessage", "Date"} {
			if !strings.Contains(","+expose+",", ","+h+",") {
				t.Fatalf("%s: Access-Control-Expose-Headers %q lacks %s", tc.name, expose, h)
			}
		}
	}
}

// A request presigned by the AWS SDK's signer (the signature, and the
// operation, in the query string) is served.
func TestPresignedRequestIsServed(t *testing.T) {
	_, addr := serveLimited(t, Options{Credentials: map[string]string{"AKIDPRE": "pre-secret"}, Region: "us-east-1"})
	body := []byte("{}")
	r, err := http.NewRequest(http.MethodPost, "http://"+addr+"/?X-Amz-Expires=60", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(body)
	uri, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDPRE", SecretAccessKey: "pre-secret"},
		r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, uri string
		status    int
	}{
		{"presigned", uri, 200},
		{"operation swapped", strings.Replace(uri, "ListStreams", "DeleteStream", 1), 0},
	} {
		req, _ := http.NewRequest(http.MethodPost, tc.uri, bytes.NewReader(body))
		for k, v := range hdr {
			if k != "Host" {
				req.Header[k] = v
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case tc.status == 200 && (resp.StatusCode != 200 || !strings.Contains(string(b), "StreamNames")):
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, b)
		case tc.status == 0 && (resp.StatusCode == 200 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException"):
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
}
