package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/store/server"
	"github.com/sluicehq/sluice/store/sigv4"
)

func TestSigned(t *testing.T) {
	ctx := context.Background()
	plain := startWith(t, server.Options{Credentials: map[string]string{"AKID": "secret"}, Region: "eu-west-1"})
	f := func(c *Client, code string) {
		t.Helper()
		_, err := c.ListShards(ctx, "s")
		if code == "" {
			if err != nil {
				t.Fatalf("ListShards: %v", err)
			}
			return
		}
		var e *store.Error
		if !errors.As(err, &e) || e.Code != code {
			t.Fatalf("error = %v, want code %s", err, code)
		}
	}
	good := plain.WithCredentials(Credentials{AccessKey: "AKID", SecretKey: "secret", Region: "eu-west-1"})
	if err := good.CreateStream(ctx, "s", 2); err != nil {
		t.Fatal(err)
	}
	f(good, "")
	f(plain, sigv4.CodeMissingAuthenticationToken)
	f(plain.WithCredentials(Credentials{AccessKey: "AKID", SecretKey: "wrong", Region: "eu-west-1"}), sigv4.CodeInvalidSignature)
	f(plain.WithCredentials(Credentials{AccessKey: "other", SecretKey: "secret", Region: "eu-west-1"}), sigv4.CodeUnrecognizedClient)
	f(plain.WithCredentials(Credentials{AccessKey: "AKID", SecretKey: "secret", Region: "us-east-1"}), sigv4.CodeInvalidSignature)
	out, err := good.PutRecords(ctx, "s", []PutRecordsEntry{{Data: []byte(`{"a":1}`), PartitionKey: "k"}})
	if err != nil || out.FailedRecordCount != 0 {
		t.Fatalf("PutRecords = %+v, %v", out, err)
	}
}

// TestSignatureVerifies checks the signer against the verifier directly,
// also for a path that needs encoding and a non-default port.
func TestSignatureVerifies(t *testing.T) {
	v := &sigv4.Verifier{Credentials: map[string]string{"AKID": "secret"}}
	for _, url := range []string{"http://example.com/", "http://127.0.0.1:4567/", "https://example.com:443/", "http://h/a%20b/c"} {
		body := []byte(`{"StreamName":"s"}`)
		req := httptest.NewRequest("POST", url, nil)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListShards")
		cr := &Credentials{AccessKey: "AKID", SecretKey: "secret", Region: "us-east-1"}
		cr.sign(req, "kinesis", body, time.Now())
		if err := v.Verify(req, body); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
}
