package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"time"
)

// Credentials sign requests with AWS Signature Version 4, as a store run
// with --access-key and --secret-key requires.
type Credentials struct {
	AccessKey string
	SecretKey string
	Region    string // of the credential scope; "" means us-east-1
}

// EnvRegion is the region of the AWS environment: AWS_REGION, else the
// AWS CLI's AWS_DEFAULT_REGION ("" when neither is set).
func EnvRegion() string {
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}

// WithCredentials returns a copy of c that signs every request with cr.
func (c *Client) WithCredentials(cr Credentials) *Client {
	out := *c
	if cr.Region == "" {
		cr.Region = "us-east-1"
	}
	out.creds = &cr
	return &out
}

const (
	signAlgorithm = "AWS4-HMAC-SHA256"
	amzDateLayout = "20060102T150405Z"
)

// sign adds X-Amz-Date and an Authorization header to req, whose body is
// body, signing host, content-type, x-amz-date and x-amz-target (every
// x-amz-* header must be signed).
func (cr *Credentials) sign(req *http.Request, service string, body []byte, now time.Time) {
	amzDate := now.UTC().Format(amzDateLayout)
	date := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if req.URL.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	headers := [][2]string{ // sorted by name
		{"content-type", strings.TrimSpace(req.Header.Get("Content-Type"))},
		{"host", host},
		{"x-amz-date", amzDate},
		{"x-amz-target", strings.TrimSpace(req.Header.Get("X-Amz-Target"))},
	}
	var signed []string
	var b strings.Builder
	b.WriteString(req.Method + "\n")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(uriEncode(path) + "\n")
	b.WriteString("\n") // no query
	for _, h := range headers {
		b.WriteString(h[0] + ":" + h[1] + "\n")
		signed = append(signed, h[0])
	}
	signedHeaders := strings.Join(signed, ";")
	b.WriteString("\n" + signedHeaders + "\n")
	payload := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(payload[:]))

	creq := sha256.Sum256([]byte(b.String()))
	scope := date + "/" + cr.Region + "/" + service + "/aws4_request"
	toSign := signAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	k := hmacSum([]byte("AWS4"+cr.SecretKey), date)
	k = hmacSum(k, cr.Region)
	k = hmacSum(k, service)
	k = hmacSum(k, "aws4_request")
	sig := hex.EncodeToString(hmacSum(k, toSign))
	req.Header.Set("Authorization", signAlgorithm+" Credential="+cr.AccessKey+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+sig)
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// uriEncode percent-encodes every byte of an escaped path but A-Z a-z 0-9
// - _ . ~ and '/', with upper-case hex, as AWS's canonical URI requires.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
