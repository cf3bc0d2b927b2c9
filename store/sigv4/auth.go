package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"
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
		if part == "" && strings.Trim(rest, " ") == "" {
			break // no parameters: AWS names each missing one below
		}
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
			if len(value) != 64 || strings.ToLower(value) != value {
				return a, incomplete("Signature must be 64 lower-case hexadecimal digits.")
			}
			sig, err := hex.DecodeString(value)
			if err != nil {
				return a, incomplete("Signature must be 64 lower-case hexadecimal digits.")
			}
			a.signature = sig
		default:
			return a, incomplete("Authorization header has an unknown parameter '%s'.", clip(name))
		}
	}
	// As AWS: every missing parameter, in its order, then the header.
	var missing strings.Builder
	for _, p := range []struct {
		have bool
		name string
	}{{haveCred, "Credential"}, {haveSig, "Signature"}, {haveSigned, "SignedHeaders"}} {
		if !p.have {
			fmt.Fprintf(&missing, msgRequiresParameter, p.name)
		}
	}
	if missing.Len() > 0 {
		return a, incomplete("%sAuthorization=%s", missing.String(), clip(h))
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

func (a *authorization) parseSignedHeaders(v string) error {
	names := strings.Split(v, ";")
	for i, n := range names {
		if n == "" || !isLowerToken(n) {
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
