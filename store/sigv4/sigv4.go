// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// as the store's Kinesis API does for every request when credentials are
// configured (DESIGN.md invariant 9).
//
// Two forms of AWS4-HMAC-SHA256 are accepted: the Authorization header, and
// presigned requests carrying the signature in the query string
// (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature, and X-Amz-Security-Token when the
// signer has one). SigV4a, chunked (streaming) payloads and UNSIGNED-PAYLOAD
// are refused: the payload hash is the body's, presigned requests included,
// as AWS computes it for services other than S3. Besides the signature
// itself, Verify enforces:
//
//   - the signing time: X-Amz-Date in ISO 8601 basic format (20261125T191033Z)
//     or, in the header form without X-Amz-Date, the Date header (an HTTP
//     date, RFC 1123: Wed, 25 Nov 2026 19:10:33 GMT); on the credential
//     scope's date; within MaxSkew of the server's clock in the header form;
//     in the presigned form not later than MaxSkew ahead and not older than
//     X-Amz-Expires seconds (1 to 604800, a week; 900 when absent);
//   - the credential scope's service (and region, when Verifier.Region is set)
//     and the aws4_request terminator;
//   - host (or the HTTP/2 pseudo-header :authority, which the JavaScript SDK
//     v3 signs instead over HTTP/2), the date header used (x-amz-date or
//     date; none in the presigned form) and every x-amz-* header present in
//     the request (X-Amz-Target included, so an operation cannot be swapped
//     under a captured signature) are among the signed headers;
//   - X-Amz-Content-Sha256, when sent, equals the hash of the body.
//
// Failures are *Error values carrying AWS's error name and HTTP status:
// MissingAuthenticationTokenException (403), UnrecognizedClientException
// (403), InvalidSignatureException (403, also for "Signature expired") and
// IncompleteSignatureException (400, as AWS's common-errors reference
// documents for IncompleteSignature).
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxSkew is the clock skew AWS tolerates between X-Amz-Date and
// the server's clock.
const DefaultMaxSkew = 5 * time.Minute

// DefaultService is the signing name of Kinesis Data Streams.
const DefaultService = "kinesis"

// amzDateLayout is X-Amz-Date's ISO 8601 basic format.
const amzDateLayout = "20060102T150405Z"

// Presigned requests: X-Amz-Expires is at most a week, and 15 minutes when
// absent.
const (
	MaxPresignExpiry     = 7 * 24 * time.Hour
	DefaultPresignExpiry = 15 * time.Minute
)

// Verifier checks SigV4 signatures. Its fields are read, never written, by
// Verify, so one Verifier may serve concurrent requests as long as nobody
// mutates Credentials meanwhile (use Lookup for credentials that change).
type Verifier struct {
	// Credentials maps access key IDs to secret access keys.
	Credentials map[string]string
	// Lookup, when set, is used instead of Credentials.
	Lookup func(accessKey string) (secret string, ok bool)
	// Region the credential scope must name; "" accepts any region (the
	// region still enters the signing key, so it cannot be altered).
	Region string
	// Service the credential scope must name; "" means DefaultService.
	Service string
	// Now is the server's clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the tolerated distance between X-Amz-Date and Now; zero
	// means DefaultMaxSkew.
	MaxSkew time.Duration
}

// Verify checks that r, whose body the caller has already read (with a size
// cap) into body, carries a valid SigV4 signature by a known access key.
// It returns nil or an *Error. On success it does not modify r.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	_, err := v.verify(r, body)
	return err
}

// VerifyAccessKey is Verify that also returns the verified access key ID,
// for logging and authorization decisions.
func (v *Verifier) VerifyAccessKey(r *http.Request, body []byte) (string, error) {
	return v.verify(r, body)
}

// Headers is a request whose headers CheckHeaders accepted: what its
// signature check needs once the body is read.
type Headers struct {
	a       authorization
	amzDate string // the signing time in ISO 8601 basic format
	secret  string
}

// CheckHeaders verifies everything about r that does not need its body:
// the form of the Authorization header (or of the presigned query), the
// signing time and the clock skew or expiry, the credential scope, the
// signed headers and that the access key is known.
// A server calls it before reading a large body, so that a client without a
// known access key and a current date cannot make it hold one; the
// returned Headers' Verify must still check the signature once the body is
// read. The error is nil or an *Error.
func (v *Verifier) CheckHeaders(r *http.Request) (*Headers, error) {
	a, amzDate, secret, err := v.checkHeaders(r)
	if err != nil {
		return nil, err
	}
	return &Headers{a: a, amzDate: amzDate, secret: secret}, nil
}

// AccessKey is the access key ID the request is signed with.
func (h *Headers) AccessKey() string { return h.a.accessKey }

// Verify checks the signature of r, whose headers CheckHeaders accepted as
// h, over body. It returns nil or an *Error.
func (h *Headers) Verify(r *http.Request, body []byte) error {
	_, err := h.verify(r, body)
	return err
}

func (v *Verifier) verify(r *http.Request, body []byte) (string, error) {
	h, err := v.CheckHeaders(r)
	if err != nil {
		return "", err
	}
	return h.verify(r, body)
}

// verify checks the signature over body and returns the access key.
func (h *Headers) verify(r *http.Request, body []byte) (string, error) {
	a, amzDate, secret := h.a, h.amzDate, h.secret

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if hs := r.Header.Values("X-Amz-Content-Sha256"); len(hs) > 0 {
		if len(hs) > 1 {
			return "", incomplete("Request has more than one X-Amz-Content-Sha256 header.")
		}
		if hs[0] != payloadHash {
			return "", invalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed (unsigned and streaming payloads are not accepted).")
		}
	}

	// Signers disagree on whitespace other than spaces inside header values:
	// AWS's documentation and the Go SDK collapse runs of spaces only, while
	// botocore (the AWS CLI) collapses every run of whitespace. Both are
	// tried when, and only when, a signed value contains such whitespace.
	for _, allWhitespace := range []bool{false, true} {
		creq, otherWhitespace, err := canonicalRequest(r, a, payloadHash, allWhitespace)
		if err != nil {
			return "", err
		}
		if hmac.Equal(signature(secret, a, amzDate, creq), a.signature) {
			return a.accessKey, nil
		}
		if !otherWhitespace {
			break
		}
	}
	return "", fresh(ErrInvalidSignature)
}

// checkHeaders is CheckHeaders; it also returns the parsed authorization,
// the signing time in ISO 8601 basic format and the access key's secret for
// the signature check.
func (v *Verifier) checkHeaders(r *http.Request) (a authorization, amzDate, secret string, err error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	var dateHeader string // the signed header that carries the time; none when presigned
	query, presigned := presignedQuery(r)
	auths := r.Header.Values("Authorization")
	switch {
	case presigned && len(auths) > 0:
		return a, "", "", incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case presigned:
		var signedAt time.Time
		var expires time.Duration
		if a, signedAt, expires, err = parsePresigned(query); err != nil {
			return a, "", "", err
		}
		amzDate = signedAt.Format(amzDateLayout)
		if signedAt.After(t.Add(skew)) {
			return a, "", "", invalidSignature("Signature not yet current: %s is still later than %s (%s + %s.)",
				amzDate, t.Add(skew).Format(amzDateLayout), t.Format(amzDateLayout), skewText(skew))
		}
		if signedAt.Before(t.Add(-expires)) {
			return a, "", "", invalidSignature("Signature expired: %s is now earlier than %s (%s - %s.)",
				amzDate, t.Add(-expires).Format(amzDateLayout), t.Format(amzDateLayout), skewText(expires))
		}
	default:
		switch len(auths) {
		case 0:
			return a, "", "", fresh(ErrMissingAuthenticationToken)
		case 1:
		default:
			return a, "", "", incomplete("Request has more than one Authorization header.")
		}
		if a, err = parseAuthorization(auths[0]); err != nil {
			return a, "", "", err
		}
		var signedAt time.Time
		if dateHeader, signedAt, err = signingTime(r); err != nil {
			return a, "", "", err
		}
		amzDate = signedAt.Format(amzDateLayout)
		if signedAt.Before(t.Add(-skew)) {
			return a, "", "", invalidSignature("Signature expired: %s is now earlier than %s (%s - %s.)",
				amzDate, t.Add(-skew).Format(amzDateLayout), t.Format(amzDateLayout), skewText(skew))
		}
		if signedAt.After(t.Add(skew)) {
			return a, "", "", invalidSignature("Signature not yet current: %s is still later than %s (%s + %s.)",
				amzDate, t.Add(skew).Format(amzDateLayout), t.Format(amzDateLayout), skewText(skew))
		}
	}
	if a.date != amzDate[:8] {
		return a, "", "", invalidSignature("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, amzDate[:8], amzDate)
	}
	if v.Region != "" && a.region != v.Region {
		return a, "", "", invalidSignature("Credential should be scoped to a valid region, not '%s'.", clip(a.region))
	}
	service := v.Service
	if service == "" {
		service = DefaultService
	}
	if a.service != service {
		return a, "", "", invalidSignature("Credential should be scoped to correct service: '%s'.", service)
	}
	if a.terminator != "aws4_request" {
		return a, "", "", invalidSignature("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", clip(a.terminator))
	}
	if err := checkSignedHeaders(r, a.signedHeaders, dateHeader); err != nil {
		return a, "", "", err
	}

	secret, ok := v.secret(a.accessKey)
	if !ok {
		return a, "", "", fresh(ErrUnrecognizedClient)
	}
	return a, amzDate, secret, nil
}

func (v *Verifier) secret(accessKey string) (string, bool) {
	if v.Lookup != nil {
		return v.Lookup(accessKey)
	}
	s, ok := v.Credentials[accessKey]
	return s, ok
}

func skewText(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return d.String()
}

// signingTime is the time a request signed in the header form was signed
// at, and the header that carries it: X-Amz-Date, or else Date.
func signingTime(r *http.Request) (header string, at time.Time, err error) {
	if dates := r.Header.Values("X-Amz-Date"); len(dates) > 0 {
		if len(dates) > 1 {
			return "", at, incomplete("Request has more than one X-Amz-Date header.")
		}
		at, err := time.Parse(amzDateLayout, dates[0])
		if err != nil || len(dates[0]) != len(amzDateLayout) {
			return "", at, incomplete("X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z'), got '%s'.", clip(dates[0]))
		}
		return "x-amz-date", at, nil
	}
	dates := r.Header.Values("Date")
	switch len(dates) {
	case 0:
		return "", at, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	case 1:
	default:
		return "", at, incomplete("Request has more than one Date header.")
	}
	at, err = http.ParseTime(dates[0])
	if err != nil {
		return "", at, incomplete("Date must be an HTTP date (RFC 1123, e.g. Wed, 25 Nov 2026 19:10:33 GMT), got '%s'.", clip(dates[0]))
	}
	return "date", at.UTC(), nil
}

// checkSignedHeaders requires host (or :authority), dateHeader (unless
// "") and every x-amz-* header of r to be signed.
func checkSignedHeaders(r *http.Request, signed []string, dateHeader string) error {
	has := func(name string) bool {
		_, found := slices.BinarySearch(signed, name)
		return found
	}
	if !has("host") && !has(":authority") {
		return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	switch {
	case dateHeader == "x-amz-date" && !has("x-amz-date"):
		return incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	case dateHeader == "date" && !has("date"):
		return incomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	for name := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-") && !has(l) {
			return incomplete("Header '%s' must be a 'SignedHeader' in the AWS Authorization.", clip(name))
		}
	}
	return nil
}

// canonicalRequest builds the canonical request:
//
//	Method\nCanonicalURI\nCanonicalQuery\nCanonicalHeaders\nSignedHeaders\nPayloadHash
//
// allWhitespace selects how header values are trimmed (see headerValue);
// otherWhitespace reports whether a signed value holds whitespace other than
// spaces, where the choice matters.
func canonicalRequest(r *http.Request, a authorization, payloadHash string, allWhitespace bool) (creq string, otherWhitespace bool, err error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	q, err := canonicalQuery(r.URL.RawQuery, a.presigned)
	if err != nil {
		return "", false, err
	}
	b.WriteString(q)
	b.WriteByte('\n')
	for _, name := range a.signedHeaders {
		value, other, ok := headerValue(r, name, allWhitespace)
		if !ok {
			return "", false, invalidSignature("Signed header '%s' is not in the request.", clip(name))
		}
		otherWhitespace = otherWhitespace || other
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(value)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(a.signedHeadersRaw)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String(), otherWhitespace, nil
}

// signature computes the expected signature of canonical request creq.
func signature(secret string, a authorization, amzDate, creq string) []byte {
	h := sha256.Sum256([]byte(creq))
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	sts := algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])

	k := hmacSHA256([]byte("AWS4"+secret), a.date)
	k = hmacSHA256(k, a.region)
	k = hmacSHA256(k, a.service)
	k = hmacSHA256(k, "aws4_request")
	return hmacSHA256(k, sts)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI is the URI-encoded form of the already-escaped path: every
// path segment is thus encoded twice, as AWS requires for all services but
// S3. An empty path is "/".
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery decodes the raw query and re-encodes each name and value
// with AWS's encoding, sorted by encoded name, then encoded value. A
// presigned request's X-Amz-Signature is left out.
func canonicalQuery(raw string, presigned bool) (string, error) {
	if raw == "" {
		return "", nil
	}
	var pairs []string
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", invalidSignature("Query string cannot be decoded: %s.", clip(kv))
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", invalidSignature("Query string cannot be decoded: %s.", clip(kv))
		}
		if presigned && dk == qSignature {
			continue
		}
		pairs = append(pairs, uriEncode(dk, true)+"="+uriEncode(dv, true))
	}
	// Sort on (name, value), not on the joined "name=value": '=' sorts
	// after '%', '-', '.' and the digits, so "a-b=1" would precede "a=1".
	slices.SortFunc(pairs, func(x, y string) int {
		xk, xv, _ := strings.Cut(x, "=")
		yk, yv, _ := strings.Cut(y, "=")
		if c := strings.Compare(xk, yk); c != 0 {
			return c
		}
		return strings.Compare(xv, yv)
	})
	return strings.Join(pairs, "&"), nil
}

// headerValue returns the canonical value of signed header name: each
// value trimmed of surrounding whitespace with inner runs of spaces (of all
// whitespace, if allWhitespace) collapsed to one space, several values joined
// with commas. other reports whether a value holds whitespace other than
// spaces.
func headerValue(r *http.Request, name string, allWhitespace bool) (value string, other, ok bool) {
	switch name {
	case "host", ":authority":
		return host(r), false, true
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength >= 0 && r.Body != nil {
			return strconv.FormatInt(r.ContentLength, 10), false, true
		}
	}
	vals, ok := r.Header[http.CanonicalHeaderKey(name)]
	if !ok {
		return "", false, false
	}
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if strings.ContainsAny(v, "\t\n\v\f\r") {
			other = true
		}
		if allWhitespace {
			b.WriteString(strings.Join(strings.Fields(v), " "))
			continue
		}
		v = strings.TrimSpace(v)
		space := false
		for i := 0; i < len(v); i++ {
			if v[i] == ' ' {
				if !space {
					b.WriteByte(' ')
				}
				space = true
				continue
			}
			space = false
			b.WriteByte(v[i])
		}
	}
	return b.String(), other, true
}

// host is the request's Host, without the scheme's default port (AWS
// signers sign the host without it).
func host(r *http.Request) string {
	h := r.Host
	if h == "" {
		h = r.URL.Host
	}
	if r.TLS != nil {
		return strings.TrimSuffix(h, ":443")
	}
	return strings.TrimSuffix(h, ":80")
}

// uriEncode percent-encodes every byte of s except A-Z a-z 0-9 - _ . ~ (and
// '/' unless encodeSlash), with upper-case hex, as AWS's UriEncode.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
