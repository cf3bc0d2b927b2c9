package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// AWS's SigV4 test suite of 2011 signs with a Date header (RFC 1123)
// instead of X-Amz-Date: the header is signed as sent, and the string to
// sign carries the time in ISO 8601 basic format. This is its request with
// a query (foo=Zoo&foo=aha) and its published signature.
func TestDateHeaderKnownAnswer(t *testing.T) {
	v := &Verifier{
		Credentials: map[string]string{"AKIDEXAMPLE": testSecret},
		Region:      "us-east-1",
		Service:     "host",
		Now:         func() time.Time { return time.Date(2011, 9, 9, 23, 38, 0, 0, time.UTC) },
	}
	r, err := http.NewRequest("GET", "http://host.foo.com/?foo=Zoo&foo=aha", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", "Mon, 09 Sep 2011 23:36:00 GMT")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, "+
		"SignedHeaders=date;host, Signature=be7148d34ebccdc6423b19085378aa0bee970bdc61d144bd1a8c48c33079ab09")
	if err := v.Verify(r, nil); err != nil {
		t.Fatalf("AWS's Date-header vector: %v", err)
	}

	for _, tc := range []struct {
		name   string
		tamper func(r *http.Request)
		code   string
		status int
		msg    string
	}{
		{"date moved", func(r *http.Request) { r.Header.Set("Date", "Mon, 09 Sep 2011 23:36:01 GMT") }, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"date not signed", func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "date;host", "host", 1))
		}, CodeIncompleteSignature, ErrIncompleteSignature.Status, "'Date' must be a 'SignedHeader'"},
		{"date not an HTTP date", func(r *http.Request) { r.Header.Set("Date", "2011-09-09T23:36:00Z") }, CodeIncompleteSignature, ErrIncompleteSignature.Status, "HTTP date"},
		{"no date at all", func(r *http.Request) { r.Header.Del("Date") }, CodeIncompleteSignature, ErrIncompleteSignature.Status, "either a 'X-Amz-Date' or a 'Date' header"},
		{"x-amz-date wins", func(r *http.Request) { r.Header.Set("X-Amz-Date", "20110909T233600Z") }, CodeIncompleteSignature, ErrIncompleteSignature.Status, "'X-Amz-Date' must be a 'SignedHeader'"},
		{"query", func(r *http.Request) { r.URL.RawQuery = "foo=Zoo" }, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
	} {
		r := r.Clone(context.Background())
		r.Header = r.Header.Clone()
		tc.tamper(r)
		err := v.Verify(r, nil)
		wantCode(t, err, tc.code, tc.status)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("%s: message %q lacks %q", tc.name, err, tc.msg)
		}
	}

	late := *v
	late.Now = func() time.Time { return time.Date(2011, 9, 9, 23, 42, 0, 0, time.UTC) }
	err = late.Verify(r, nil)
	wantCode(t, err, CodeInvalidSignature, ErrInvalidSignature.Status)
	if want := "Signature expired: 20110909T233600Z is now earlier than 20110909T233700Z (20110909T234200Z - 5 min.)"; !strings.Contains(err.Error(), want) {
		t.Fatalf("late Date: %v, want %q", err, want)
	}
}

// presigned builds a request presigned by aws-sdk-go-v2's signer, with
// X-Amz-Expires as given ("" for none) and the body's hash as payload hash.
func presigned(t testing.TB, url string, body []byte, hdr map[string][]string, expires string, token string, at time.Time) *http.Request {
	t.Helper()
	if expires != "" {
		url += "?X-Amz-Expires=" + expires
	}
	r, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: token}
	uri, signedHdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequest("POST", uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range signedHdr {
		if !strings.EqualFold(k, "Host") {
			out.Header[k] = vs
		}
	}
	if out.Header.Get("Authorization") != "" || out.URL.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("not presigned: %s %v", uri, signedHdr)
	}
	return out
}

// Requests presigned by the AWS SDK's signer verify: with and without
// X-Amz-Expires, with a session token, with the operation's headers signed.
func TestVerifyPresignedBySDK(t *testing.T) {
	body := []byte(`{"StreamName":"orders"}`)
	for _, tc := range []struct {
		name, expires, token string
		age                  time.Duration
	}{
		{"expires 300", "300", "", time.Minute},
		{"one second", "1", "", 0},
		{"a week, nearly over", "604800", "", 7*24*time.Hour - time.Second},
		{"no expires: 15 minutes", "", "", 14 * time.Minute},
		{"session token", "60", "FwoGZXIvYXdzEXAMPLE/token+with=chars", 30 * time.Second},
	} {
		r := presigned(t, "http://localhost:4567/", body, kinesisHeaders("DescribeStream"), tc.expires, tc.token, testNow.Add(-tc.age))
		// The signer moves the X-Amz-* headers into the query.
		if got := r.URL.Query().Get("X-Amz-Target"); got != "Kinesis_20131202.DescribeStream" || r.Header.Get("X-Amz-Target") != "" {
			t.Fatalf("%s: X-Amz-Target %q in the query, %q in the headers", tc.name, got, r.Header.Get("X-Amz-Target"))
		}
		if tc.token != "" && r.URL.Query().Get("X-Amz-Security-Token") != tc.token {
			t.Fatalf("%s: no token in %s", tc.name, r.URL)
		}
		if err := testVerifier().Verify(r, body); err != nil {
			t.Fatalf("%s: %s: %v", tc.name, r.URL, err)
		}
	}
}

func TestVerifyPresignedTampering(t *testing.T) {
	body := []byte(`{"StreamName":"orders"}`)
	fresh := func() *http.Request {
		return presigned(t, "http://localhost:4567/", body, kinesisHeaders("DescribeStream"), "300", "", testNow)
	}
	setQuery := func(r *http.Request, name, value string) {
		q := r.URL.Query()
		if value == "" {
			q.Del(name)
		} else {
			q.Set(name, value)
		}
		r.URL.RawQuery = q.Encode()
	}
	for _, tc := range []struct {
		name   string
		tamper func(r *http.Request) []byte
		now    time.Time
		code   string
		status int
		msg    string
	}{
		{"body", func(r *http.Request) []byte { return []byte(`{"StreamName":"ordens"}`) }, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"operation", func(r *http.Request) []byte {
			setQuery(r, "X-Amz-Target", "Kinesis_20131202.DeleteStream")
			return body
		}, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"operation as an unsigned header", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
			return body
		}, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "Header 'X-Amz-Target' must be a 'SignedHeader'"},
		{"query added", func(r *http.Request) []byte { setQuery(r, "a", "1"); return body }, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"expiry lengthened", func(r *http.Request) []byte { setQuery(r, "X-Amz-Expires", "3000"); return body }, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"signature", func(r *http.Request) []byte {
			setQuery(r, "X-Amz-Signature", strings.Repeat("0", 64))
			return body
		}, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"host", func(r *http.Request) []byte { r.Host = "evil:4567"; return body }, testNow, CodeInvalidSignature, ErrInvalidSignature.Status, "does not match"},
		{"expired", func(r *http.Request) []byte { return body }, testNow.Add(301 * time.Second), CodeInvalidSignature, ErrInvalidSignature.Status,
			"Signature expired: 20261125T191033Z is now earlier than 20261125T191034Z (20261125T191534Z - 5 min.)"},
		{"not yet current", func(r *http.Request) []byte { return body }, testNow.Add(-6 * time.Minute), CodeInvalidSignature, ErrInvalidSignature.Status, "Signature not yet current"},
		{"expires over a week", func(r *http.Request) []byte { setQuery(r, "X-Amz-Expires", "604801"); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status,
			"X-Amz-Expires must be less than a week (in seconds) that is 604800"},
		{"expires zero", func(r *http.Request) []byte { setQuery(r, "X-Amz-Expires", "0"); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "at least 1 second"},
		{"expires not a number", func(r *http.Request) []byte { setQuery(r, "X-Amz-Expires", "1h"); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "number"},
		{"no credential", func(r *http.Request) []byte { setQuery(r, "X-Amz-Credential", ""); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status,
			"AWS query-string parameters must include 'X-Amz-Credential'."},
		{"no date", func(r *http.Request) []byte { setQuery(r, "X-Amz-Date", ""); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "'X-Amz-Date'"},
		{"no signed headers", func(r *http.Request) []byte { setQuery(r, "X-Amz-SignedHeaders", ""); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "'X-Amz-SignedHeaders'"},
		{"no signature", func(r *http.Request) []byte { setQuery(r, "X-Amz-Signature", ""); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "'X-Amz-Signature'"},
		{"two signatures", func(r *http.Request) []byte {
			r.URL.RawQuery += "&X-Amz-Signature=" + strings.Repeat("0", 64)
			return body
		}, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "more than once"},
		{"other algorithm", func(r *http.Request) []byte { setQuery(r, "X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"); return body }, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "algorithm"},
		{"also an Authorization header", func(r *http.Request) []byte {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
			return body
		}, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "Only one auth mechanism"},
		{"unsigned x-amz header added", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Security-Token", "t")
			return body
		}, testNow, CodeIncompleteSignature, ErrIncompleteSignature.Status, "SignedHeader"},
	} {
		r := fresh()
		if err := testVerifier().Verify(r, body); err != nil {
			t.Fatalf("untampered: %v", err)
		}
		b := tc.tamper(r)
		v := testVerifier()
		now := tc.now
		v.Now = func() time.Time { return now }
		err := v.Verify(r, b)
		if err == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		wantCode(t, err, tc.code, tc.status)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Fatalf("%s: message %q lacks %q", tc.name, err, tc.msg)
		}
	}
}

// The JavaScript SDK v3 signs the HTTP/2 pseudo-header :authority instead
// of host; it names the request's host.
func TestAuthorityPseudoHeaderStandsForHost(t *testing.T) {
	var a authorization
	if err := a.parseSignedHeaders(":authority;content-type;x-amz-date;x-amz-target"); err != nil {
		t.Fatalf(":authority refused: %v", err)
	}
	for _, bad := range []string{":;host", "::authority;host", ":Authority;host", "host;:authority"} {
		if err := a.parseSignedHeaders(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	r, _ := http.NewRequest("POST", "http://127.0.0.1:4567/", nil)
	r.Header.Set("X-Amz-Date", testNow.Format(amzDateLayout))
	if err := checkSignedHeaders(r, []string{":authority", "x-amz-date"}, "x-amz-date"); err != nil {
		t.Fatalf("signed :authority not taken for host: %v", err)
	}
	if v, _, ok := headerValue(r, ":authority", false); !ok || v != "127.0.0.1:4567" {
		t.Fatalf(":authority = %q %v", v, ok)
	}
}

// FuzzVerifyPresigned checks that no query string panics the verifier,
// that every failure is an *Error with AWS's statuses, and that only the
// query the SDK signed verifies. Its seeds run in every go test.
func FuzzVerifyPresigned(f *testing.F) {
	body := []byte(`{}`)
	good := presigned(f, "http://localhost:4567/", body, kinesisHeaders("ListStreams"), "300", "tok", testNow)
	f.Add(good.URL.RawQuery)
	for _, cut := range []string{"X-Amz-Signature=", "X-Amz-Credential=", "X-Amz-Date=", "X-Amz-Expires=", "X-Amz-SignedHeaders="} {
		f.Add(strings.Replace(good.URL.RawQuery, cut, "X-Amz-Other=", 1))
	}
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256")
	f.Add("X-Amz-Signature=00&X-Amz-Signature=11")
	f.Add("X-Amz-Credential=%zz")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A/20261125/us-east-1/kinesis/aws4_request&X-Amz-Date=20261125T191033Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("a", 64))
	f.Fuzz(func(t *testing.T, q string) {
		r := good.Clone(context.Background())
		u := *good.URL
		u.RawQuery = q
		r.URL = &u
		err := testVerifier().Verify(r, body)
		if err == nil {
			// Only another spelling of the signed query may verify.
			want, _ := canonicalQuery(good.URL.RawQuery, true)
			if got, _ := canonicalQuery(q, true); got != want || !strings.Contains(q, "X-Amz-Signature="+good.URL.Query().Get("X-Amz-Signature")) {
				t.Fatalf("query %q verified", q)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 403) {
			t.Fatalf("error %v for %q", err, q)
		}
	})
}
