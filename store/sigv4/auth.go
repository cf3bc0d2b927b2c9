package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// algorithm is the only signing algorithm accepted (SigV4a is not).
const algorithm = "AWS4-HMAC-SHA256"

// maxAuthorizationLen bounds the header before it is parsed.
const maxAuthorizationLen = 8 << 10

// authorization is a parsed Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
type authorization struct {
	accessKey  string
	date       string // YYYYMMDD of the credential scope
	region     string
	service    string
	terminator string // must be "aws4_request"; checked by Verify

	signedHeaders    []string // lower case, strictly increasing
	signedHeadersRaw string   // as sent, the canonical request's line
	signature        []byte   // 32 bytes

	presigned bool // from the query string: its X-Amz-Signature is not signed
}

// The query parameters of a presigned request.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSignature     = "X-Amz-Signature"
)

// presignedQuery returns r's query when it carries a presigned signature
// (any of X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature).
func presignedQuery(r *http.Request) (url.Values, bool) {
	if !strings.Contains(r.URL.RawQuery, "X-Amz-") {
		return nil, false
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // a malformed pair fails the canonical query later
	for _, k := range []string{qAlgorithm, qCredential, qSignature} {
		if _, ok := q[k]; ok {
			return q, true
		}
	}
	return nil, false
}

// parsePresigned parses a presigned request's query parameters strictly:
// each once; all but X-Amz-Expires required. It returns the authorization,
// the signing time and how long the signature lasts after it.
func parsePresigned(q url.Values) (a authorization, signedAt time.Time, expires time.Duration, err error) {
	a.presigned = true
	get := func(name string, required bool) (string, bool, error) {
		vs, ok := q[name]
		switch {
		case !ok && required:
			return "", false, incomplete("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", name)
		case !ok:
			return "", false, nil
		case len(vs) > 1:
			return "", false, incomplete("Query-string parameter '%s' is given more than once.", name)
		}
		return vs[0], true, nil
	}
	alg, _, err := get(qAlgorithm, true)
	if err != nil {
		return a, signedAt, 0, err
	}
	if alg != algorithm {
		return a, signedAt, 0, incomplete("Unsupported AWS 'algorithm': '%s'; only %s is accepted.", clip(alg), algorithm)
	}
	cred, _, err := get(qCredential, true)
	if err != nil {
		return a, signedAt, 0, err
	}
	if err := a.parseCredential(cred); err != nil {
		return a, signedAt, 0, err
	}
	date, _, err := get(qDate, true)
	if err != nil {
		return a, signedAt, 0, err
	}
	signedAt, perr := time.Parse(amzDateLayout, date)
	if perr != nil || len(date) != len(amzDateLayout) {
		return a, signedAt, 0, incomplete("X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z'), got '%s'.", clip(date))
	}
	expires = DefaultPresignExpiry
	exp, ok, err := get(qExpires, false)
	if err != nil {
		return a, signedAt, 0, err
	}
	if ok {
		n, err := strconv.ParseInt(exp, 10, 64)
		switch {
		case err != nil:
			return a, signedAt, 0, incomplete("X-Amz-Expires should be a number, got '%s'.", clip(exp))
		case n < 1:
			return a, signedAt, 0, incomplete("X-Amz-Expires must be at least 1 second, got %d.", n)
		case n > int64(MaxPresignExpiry/time.Second):
			return a, signedAt, 0, incomplete("X-Amz-Expires must be less than a week (in seconds) that is %d", int64(MaxPresignExpiry/time.Second))
		}
		expires = time.Duration(n) * time.Second
	}
	signed, _, err := get(qSignedHeaders, true)
	if err != nil {
		return a, signedAt, 0, err
	}
	if err := a.parseSignedHeaders(signed); err != nil {
		return a, signedAt, 0, err
	}
	sig, _, err := get(qSignature, true)
	if err != nil {
		return a, signedAt, 0, err
	}
	if err := a.parseSignature(sig); err != nil {
		return a, signedAt, 0, err
	}
	return a, signedAt, expires, nil
}

// parseAuthorization parses h strictly: the algorithm, then exactly the
// three parameters Credential, SignedHeaders and Signature, each once, in
// any order, separated by commas and optional spaces. Any deviation is an
// IncompleteSignatureException.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	if len(h) > maxAuthorizationLen {
		return a, incomplete("Authorization header is longer than %d bytes.", maxAuthorizationLen)
	}
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		return a, incomplete("Unsupported AWS 'algorithm': '%s'; only %s is accepted.", clip(alg), algorithm)
	}
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.Trim(part, " ")
		name, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return a, incomplete("Authorization header parameter '%s' is not of the form Name=Value.", clip(part))
		}
		switch name {
		case "Credential":
			if haveCred {
				return a, incomplete("Authorization header has more than one 'Credential' parameter.")
			}
			haveCred = true
			if err := a.parseCredential(value); err != nil {
				return a, err
			}
		case "SignedHeaders":
			if haveSigned {
				return a, incomplete("Authorization header has more than one 'SignedHeaders' parameter.")
			}
			haveSigned = true
			if err := a.parseSignedHeaders(value); err != nil {
				return a, err
			}
		case "Signature":
			if haveSig {
				return a, incomplete("Authorization header has more than one 'Signature' parameter.")
			}
			haveSig = true
			if err := a.parseSignature(value); err != nil {
				return a, err
			}
		default:
			return a, incomplete("Authorization header has an unknown parameter '%s'.", clip(name))
		}
	}
	switch {
	case !haveCred:
		return a, incomplete("Authorization header requires 'Credential' parameter.")
	case !haveSigned:
		return a, incomplete("Authorization header requires 'SignedHeaders' parameter.")
	case !haveSig:
		return a, incomplete("Authorization header requires 'Signature' parameter.")
	}
	return a, nil
}

func (a *authorization) parseCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 {
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'.", clip(v))
	}
	for _, p := range parts {
		if p == "" || !printable(p) {
			return incomplete("Credential has an empty or non-printable element: '%s'.", clip(v))
		}
	}
	if !isDigits(parts[1], 8) {
		return incomplete("Credential date must be YYYYMMDD, got '%s'.", clip(parts[1]))
	}
	a.accessKey, a.date, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

func (a *authorization) parseSignature(v string) error {
	if len(v) != 64 || strings.ToLower(v) != v {
		return incomplete("Signature must be 64 lower-case hexadecimal digits.")
	}
	sig, err := hex.DecodeString(v)
	if err != nil {
		return incomplete("Signature must be 64 lower-case hexadecimal digits.")
	}
	a.signature = sig
	return nil
}

// parseSignedHeaders parses the signed header names: lower-case tokens (an
// HTTP/2 pseudo-header such as :authority with its colon), sorted.
func (a *authorization) parseSignedHeaders(v string) error {
	names := strings.Split(v, ";")
	for i, n := range names {
		if n == "" || n == ":" || !isLowerToken(strings.TrimPrefix(n, ":")) {
			return incomplete("SignedHeaders must be lower-case header names separated by ';', got '%s'.", clip(v))
		}
		if i > 0 && names[i-1] >= n {
			return incomplete("SignedHeaders must be sorted and without duplicates, got '%s'.", clip(v))
		}
	}
	a.signedHeaders = names
	a.signedHeadersRaw = v
	return nil
}

// isLowerToken reports whether s is an HTTP token (RFC 9110) without
// upper-case letters.
func isLowerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens client input echoed in error messages.
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
