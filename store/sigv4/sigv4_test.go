package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	otherKey   = "AKIDOTHER"
)

var testNow = time.Date(2026, 11, 25, 19, 10, 33, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Credentials: map[string]string{testKey: testSecret, otherKey: "other-secret"},
		Region:      "us-east-1",
		Service:     "kinesis",
		Now:         func() time.Time { return testNow },
	}
}

// signed builds a request and signs it with aws-sdk-go-v2's signer.
func signed(t testing.TB, method, url string, body []byte, hdr map[string][]string, region string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kinesis", region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func kinesisHeaders(op string) map[string][]string {
	return map[string][]string{
		"X-Amz-Target": {"Kinesis_20131202." + op},
		"Content-Type": {"application/x-amz-json-1.1"},
	}
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want *Error with code %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("got %s (%d) %q, want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
}

func TestVerifySignedBySDK(t *testing.T) {
	body := []byte(`{"StreamName":"orders","Data":"aGVsbG8=","PartitionKey":"k"}`)
	sum := sha256.Sum256(body)
	cases := []struct {
		name   string
		method string
		url    string
		body   []byte
		hdr    map[string][]string
	}{
		{"kinesis post", "POST", "http://127.0.0.1:4567/", body, kinesisHeaders("PutRecord")},
		{"empty body", "POST", "http://localhost:4567/", nil, kinesisHeaders("ListStreams")},
		{"no path", "POST", "http://localhost:4567", body, kinesisHeaders("PutRecord")},
		{"query string", "GET", "http://localhost:4567/?b=2&a=1&a=0&k=a%20b&e=%C3%A9&t=~x*&a-b=3&empty=&flag", nil, nil},
		{"query plus and slash", "GET", "http://localhost:4567/?k=a%2Bb&k=a%2Fb&k=a-b&filter%5B%5D=x", nil, nil},
		{"odd path", "POST", "http://localhost:4567/a%20b/c%2Fd/~e*f", body, nil},
		{"content sha256", "POST", "http://localhost:4567/", body, map[string][]string{
			"X-Amz-Target":         {"Kinesis_20131202.PutRecord"},
			"X-Amz-Content-Sha256": {hex.EncodeToString(sum[:])},
		}},
		{"extra signed headers", "POST", "http://localhost:4567/", body, map[string][]string{
			"X-Amz-Target": {"Kinesis_20131202.PutRecord"},
			"X-Custom":     {"  a   b   c  "},
			"X-Tabbed":     {"\t a  \t  b\t"},
			"X-Multi":      {"one", " two  three "},
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Meta":   {"m"},
		}},
		{"default port", "POST", "http://localhost:80/", body, kinesisHeaders("PutRecord")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := signed(t, c.method, c.url, c.body, c.hdr, "us-east-1", testNow.Add(-time.Minute))
			if err := testVerifier().Verify(r, c.body); err != nil {
				t.Fatalf("Authorization %q: %v", r.Header.Get("Authorization"), err)
			}
		})
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real server, so the
// request is the one net/http parses (Host, Content-Length, header casing).
func TestVerifyOverHTTP(t *testing.T) {
	v := testVerifier()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := v.Verify(r, body); err != nil {
			var e *Error
			errors.As(err, &e)
			w.WriteHeader(e.Status)
			io.WriteString(w, e.Code)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	do := func(r *http.Request) (int, string) {
		t.Helper()
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	body := []byte(`{"StreamName":"orders"}`)
	hdr := kinesisHeaders("DescribeStream")
	r := signed(t, "POST", srv.URL+"/?x=1", body, hdr, "us-east-1", testNow)
	if !strings.Contains(r.Header.Get("Authorization"), "content-length") {
		t.Fatalf("signer did not sign content-length: %s", r.Header.Get("Authorization"))
	}
	if code, msg := do(r); code != 200 {
		t.Fatalf("signed request: %d %s", code, msg)
	}

	r = signed(t, "POST", srv.URL+"/", body, hdr, "us-east-1", testNow)
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	if code, msg := do(r); code != 403 || msg != CodeInvalidSignature {
		t.Fatalf("swapped operation: %d %s", code, msg)
	}

	r, _ = http.NewRequest("POST", srv.URL+"/", bytes.NewReader(body))
	if code, msg := do(r); code != 403 || msg != CodeMissingAuthenticationToken {
		t.Fatalf("unsigned: %d %s", code, msg)
	}
}

func TestVerifyTampering(t *testing.T) {
	body := []byte(`{"StreamName":"orders","Data":"aGVsbG8=","PartitionKey":"k"}`)
	fresh := func() *http.Request {
		return signed(t, "POST", "http://localhost:4567/?a=1", body, kinesisHeaders("PutRecord"), "us-east-1", testNow)
	}
	replaceInAuth := func(r *http.Request, old, new string) {
		t.Helper()
		a := r.Header.Get("Authorization")
		if !strings.Contains(a, old) {
			t.Fatalf("%q not in %q", old, a)
		}
		r.Header.Set("Authorization", strings.Replace(a, old, new, 1))
	}
	cases := []struct {
		name   string
		tamper func(r *http.Request) []byte
		code   string
		status int
		msg    string
	}{
		{"body", func(r *http.Request) []byte {
			return bytes.Replace(body, []byte("orders"), []byte("ordens"), 1)
		}, CodeInvalidSignature, 403, ""},
		{"signed header", func(r *http.Request) []byte {
			r.Header.Set("Content-Type", "application/json")
			return body
		}, CodeInvalidSignature, 403, ""},
		{"query", func(r *http.Request) []byte {
			r.URL.RawQuery = "a=2"
			return body
		}, CodeInvalidSignature, 403, ""},
		{"method", func(r *http.Request) []byte {
			r.Method = "PUT"
			return body
		}, CodeInvalidSignature, 403, ""},
		{"host", func(r *http.Request) []byte {
			r.Host = "evil:4567"
			return body
		}, CodeInvalidSignature, 403, ""},
		{"date same day", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format(amzDateLayout))
			return body
		}, CodeInvalidSignature, 403, ""},
		{"date other day", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", "20261124T235959Z")
			return body
		}, CodeInvalidSignature, 403, "Signature expired"},
		{"scope date", func(r *http.Request) []byte {
			replaceInAuth(r, "/20261125/", "/20261124/")
			return body
		}, CodeInvalidSignature, 403, "Date in Credential scope"},
		{"region", func(r *http.Request) []byte {
			replaceInAuth(r, "/us-east-1/", "/eu-west-1/")
			return body
		}, CodeInvalidSignature, 403, "region"},
		{"service", func(r *http.Request) []byte {
			replaceInAuth(r, "/kinesis/", "/firehose/")
			return body
		}, CodeInvalidSignature, 403, "service"},
		{"terminator", func(r *http.Request) []byte {
			replaceInAuth(r, "/aws4_request", "/aws5_request")
			return body
		}, CodeInvalidSignature, 403, "terminator"},
		{"unknown access key", func(r *http.Request) []byte {
			replaceInAuth(r, "Credential="+testKey, "Credential=AKIDNOBODY")
			return body
		}, CodeUnrecognizedClient, 403, ""},
		{"other known access key", func(r *http.Request) []byte {
			replaceInAuth(r, "Credential="+testKey, "Credential="+otherKey)
			return body
		}, CodeInvalidSignature, 403, ""},
		{"signature", func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			flip := byte('0')
			if last == '0' {
				flip = '1'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(flip))
			return body
		}, CodeInvalidSignature, 403, ""},
		{"unsigned x-amz header added", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Security-Token", "t")
			return body
		}, CodeIncompleteSignature, 400, "SignedHeader"},
		{"content sha256 mismatch", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
			return body
		}, CodeIncompleteSignature, 400, "SignedHeader"},
		{"signed header removed", func(r *http.Request) []byte {
			r.Header.Del("Content-Type")
			return body
		}, CodeInvalidSignature, 403, "not in the request"},
		{"no authorization", func(r *http.Request) []byte {
			r.Header.Del("Authorization")
			return body
		}, CodeMissingAuthenticationToken, 403, ""},
		{"no date", func(r *http.Request) []byte {
			r.Header.Del("X-Amz-Date")
			return body
		}, CodeIncompleteSignature, 400, "X-Amz-Date"},
		{"bad date", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", "2026-11-25T19:10:33Z")
			return body
		}, CodeIncompleteSignature, 400, "ISO 8601"},
		{"two authorization headers", func(r *http.Request) []byte {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return body
		}, CodeIncompleteSignature, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := fresh()
			if err := testVerifier().Verify(r, body); err != nil {
				t.Fatalf("untampered: %v", err)
			}
			b := c.tamper(r)
			err := testVerifier().Verify(r, b)
			wantCode(t, err, c.code, c.status)
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("message %q lacks %q", err, c.msg)
			}
		})
	}
}

func TestVerifyWrongSecretAndRegion(t *testing.T) {
	body := []byte(`{}`)
	r := signed(t, "POST", "http://localhost/", body, kinesisHeaders("ListStreams"), "eu-west-1", testNow)
	wantCode(t, testVerifier().Verify(r, body), CodeInvalidSignature, 403)

	// A verifier accepting any region still binds the region into the key.
	v := testVerifier()
	v.Region = ""
	if err := v.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	v.Credentials = map[string]string{testKey: "not-the-secret"}
	wantCode(t, v.Verify(r, body), CodeInvalidSignature, 403)

	v = testVerifier()
	v.Credentials = nil
	v.Lookup = func(k string) (string, bool) { return testSecret, k == testKey }
	v.Region = "eu-west-1"
	if err := v.Verify(r, body); err != nil {
		t.Fatalf("lookup: %v", err)
	}
}

func TestVerifyPayloadHashHeader(t *testing.T) {
	body := []byte(`{"StreamName":"orders"}`)
	f := func(value string) {
		t.Helper()
		hdr := kinesisHeaders("DescribeStream")
		hdr["X-Amz-Content-Sha256"] = []string{value}
		r := signed(t, "POST", "http://localhost/", body, hdr, "us-east-1", testNow)
		err := testVerifier().Verify(r, body)
		wantCode(t, err, CodeInvalidSignature, 403)
		if !strings.Contains(err.Error(), "x-amz-content-sha256") {
			t.Fatalf("%q: %v", value, err)
		}
	}
	f(strings.Repeat("0", 64))
	f("UNSIGNED-PAYLOAD")
	f("STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
}

// TestVerifyBotocoreWhitespace checks the fallback for signers that collapse
// tabs inside header values too (botocore).
func TestVerifyBotocoreWhitespace(t *testing.T) {
	body := []byte(`{}`)
	r, _ := http.NewRequest("POST", "http://localhost:4567/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Date", testNow.Format(amzDateLayout))
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	r.Header.Set("X-Odd", "a \t\t b")
	a := authorization{accessKey: testKey, date: "20261125", region: "us-east-1", service: "kinesis", terminator: "aws4_request",
		signedHeaders: []string{"host", "x-amz-date", "x-amz-target", "x-odd"}, signedHeadersRaw: "host;x-amz-date;x-amz-target;x-odd"}
	sum := sha256.Sum256(body)
	creq, other, err := canonicalRequest(r, a, hex.EncodeToString(sum[:]), true)
	if err != nil || !other || !strings.Contains(creq, "x-odd:a b\n") {
		t.Fatalf("canonical request %q, %v, %v", creq, other, err)
	}
	sig := signature(testSecret, a, testNow.Format(amzDateLayout), creq)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKey+"/20261125/us-east-1/kinesis/aws4_request, SignedHeaders="+a.signedHeadersRaw+", Signature="+hex.EncodeToString(sig))
	if err := testVerifier().Verify(r, body); err != nil {
		t.Fatal(err)
	}
}

func TestVerifySkew(t *testing.T) {
	body := []byte(`{}`)
	f := func(offset time.Duration, skew time.Duration, wantMsg string) {
		t.Helper()
		r := signed(t, "POST", "http://localhost/", body, kinesisHeaders("ListStreams"), "us-east-1", testNow.Add(offset))
		v := testVerifier()
		v.MaxSkew = skew
		err := v.Verify(r, body)
		if wantMsg == "" {
			if err != nil {
				t.Fatalf("offset %v: %v", offset, err)
			}
			return
		}
		wantCode(t, err, CodeInvalidSignature, 403)
		if !strings.Contains(err.Error(), wantMsg) {
			t.Fatalf("offset %v: %q lacks %q", offset, err, wantMsg)
		}
	}
	f(-4*time.Minute, 0, "")
	f(4*time.Minute, 0, "")
	f(-5*time.Minute, 0, "")
	f(-5*time.Minute-time.Second, 0, "Signature expired: 20261125T190532Z is now earlier than 20261125T190533Z (20261125T191033Z - 5 min.)")
	f(5*time.Minute+time.Second, 0, "Signature not yet current")
	f(-2*time.Minute, time.Minute, "Signature expired")
	if !errors.Is(&Error{Code: CodeInvalidSignature, Message: "x"}, ErrInvalidSignature) {
		t.Fatal("errors.Is does not match on code")
	}
}

func TestCanonicalQuery(t *testing.T) {
	f := func(raw, want string) {
		t.Helper()
		got, err := canonicalQuery(raw, false)
		if err != nil || got != want {
			t.Fatalf("canonicalQuery(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	f("", "")
	f("b=2&a=1", "a=1&b=2")
	f("a-b=3&a=1", "a=1&a-b=3")
	f("k=a-b&k=a%2Fb", "k=a%2Fb&k=a-b")
	f("k=a+b", "k=a%20b")
	f("k=%2B&flag&&e=", "e=&flag=&k=%2B")
	f("t=~x*", "t=~x%2A")
	if _, err := canonicalQuery("a=%zz", false); err == nil {
		t.Fatal("bad escape accepted")
	}
}

// TestDocumentedExample checks the derivation against the worked example in
// AWS's SigV4 documentation (IAM ListUsers, 20150830T123600Z).
func TestDocumentedExample(t *testing.T) {
	r, _ := http.NewRequest("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
	v := &Verifier{
		Credentials: map[string]string{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		Region:      "us-east-1",
		Service:     "iam",
		Now:         func() time.Time { return time.Date(2015, 8, 30, 12, 38, 0, 0, time.UTC) },
	}
	if err := v.Verify(r, nil); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"StreamName":"orders","Data":"aGVsbG8=","PartitionKey":"k"}`)
	r := signed(b, "POST", "http://127.0.0.1:4567/", body, kinesisHeaders("PutRecord"), "us-east-1", testNow)
	v := testVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
}

// CheckHeaders decides from the headers alone: an unknown access key, a
// stale date or a missing header is refused before any body is read, while
// a request whose headers are right passes, whatever its body (the
// signature over the body is Verify's to check).
func TestCheckHeadersRefusesBeforeTheBody(t *testing.T) {
	v := testVerifier()
	body := []byte(`{"StreamName":"s"}`)
	good := signed(t, "POST", "http://localhost:4567/", body, kinesisHeaders("PutRecord"), "us-east-1", testNow)
	h, err := v.CheckHeaders(good)
	if err != nil {
		t.Fatalf("CheckHeaders of a well-signed request: %v", err)
	}
	if err := h.Verify(good, body); err != nil {
		t.Fatalf("the signature over the signed body: %v", err)
	}
	// The same headers over another body pass CheckHeaders but not Verify.
	if err := h.Verify(good, []byte(`{"StreamName":"other"}`)); err == nil {
		t.Fatal("Verify accepted a body that was not signed")
	}
	if err := v.Verify(good, []byte(`{"StreamName":"other"}`)); err == nil {
		t.Fatal("Verify accepted a body that was not signed")
	}
	headersErr := func(v *Verifier, r *http.Request) error {
		_, err := v.CheckHeaders(r)
		return err
	}

	unknown := testVerifier()
	delete(unknown.Credentials, testKey)
	wantCode(t, headersErr(unknown, good), CodeUnrecognizedClient, 403)

	stale := signed(t, "POST", "http://localhost:4567/", body, kinesisHeaders("PutRecord"), "us-east-1", testNow.Add(-time.Hour))
	wantCode(t, headersErr(v, stale), CodeInvalidSignature, 403)

	bare, _ := http.NewRequest("POST", "http://localhost:4567/", bytes.NewReader(body))
	wantCode(t, headersErr(v, bare), CodeMissingAuthenticationToken, 403)
}
