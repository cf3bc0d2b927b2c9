package sigv4

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzParseAuthorization checks that no header panics the parser, that every
// failure is an IncompleteSignatureException, and that what it accepts is
// well formed. Its seeds run in every go test.
func FuzzParseAuthorization(f *testing.F) {
	seeds := []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7,SignedHeaders=host;x-amz-date,Credential=A/20261125/r/s/aws4_request",
		"AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, Credential=A/20261125/r/s/aws4_request",
		"AWS4-HMAC-SHA256 Credential=A/2026112/r/s/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=A//r/s/aws4_request, SignedHeaders=x-amz-date;host, Signature=",
		"AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=Host;;x, Signature=ZZ",
		"AWS4-HMAC-SHA256 ,,,",
		"AWS4-HMAC-SHA256",
		"AWS4-ECDSA-P256-SHA256 Credential=A/20261125/s/aws4_request",
		"Bearer abc",
		"",
		"AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host;x-amz-date, Signature=5D672D79C15B13162D9279B0855CFBA6789A8EDB4C82C400E06B5924A6F2B5D7",
		"AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7, Extra=1",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIncompleteSignature || e.Status != 400 {
				t.Fatalf("parse error %v is not an IncompleteSignatureException", err)
			}
			return
		}
		if len(a.signature) != 32 {
			t.Fatalf("signature of %d bytes accepted", len(a.signature))
		}
		if len(a.signedHeaders) == 0 || !slices.IsSorted(a.signedHeaders) || strings.Join(a.signedHeaders, ";") != a.signedHeadersRaw {
			t.Fatalf("signed headers %q accepted", a.signedHeadersRaw)
		}
		for _, p := range []string{a.accessKey, a.date, a.region, a.service, a.terminator} {
			if p == "" || strings.ContainsAny(p, "/ ,") {
				t.Fatalf("credential element %q accepted from %q", p, h)
			}
		}

		// The same header through Verify never panics and never passes:
		// nobody but the secret's holder can produce a valid signature.
		r, _ := http.NewRequest("POST", "http://localhost/", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", testNow.Format(amzDateLayout))
		if err := testVerifier().Verify(r, nil); err == nil {
			t.Fatalf("random header %q verified", h)
		}
	})
}
