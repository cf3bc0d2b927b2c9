// Package client is a small client of the Kinesis Data Streams JSON 1.1 API,
// as served by store/server (`sluice store`): the operations a producer or a
// reader needs — CreateStream, ListShards, PutRecords, GetShardIterator and
// GetRecords — and those of a stream's administration — ListStreams,
// DescribeStreamSummary, DeleteStream, SplitShard, MergeShards and the
// retention period — and those of enhanced fan-out: the stream consumers
// (RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers,
// DeregisterStreamConsumer) and SubscribeToShard, whose event stream
// (store/eventstream) a Subscription reads — with typed requests and
// responses.
//
// Errors the API answers with are returned as *store.Error carrying AWS's
// error name (errors.As), so callers can tell ResourceNotFoundException from
// a transport failure. With WithCredentials, requests are signed with AWS
// Signature Version 4 (the mirror of store/sigv4's verification). A Client
// is safe for concurrent use; it owns no goroutine and needs no closing
// (its http.Client's connections are the caller's).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/store"
)

// maxResponseBytes bounds a response body read into memory (GetRecords
// returns at most 10 MiB of data, base64 makes it ~14 MiB).
const maxResponseBytes = 32 << 20

// Client calls the Kinesis API at one endpoint.
type Client struct {
	endpoint string
	http     *http.Client
	creds    *Credentials // nil: requests are not signed
	now      func() time.Time
	api      *api
}

// api is what tells one JSON API of the store from another on the wire.
type api struct {
	target      string // X-Amz-Target's prefix
	contentType string
	service     string // of SigV4's credential scope
}

var (
	kinesisAPI = &api{target: "Kinesis_20131202.", contentType: "application/x-amz-json-1.1", service: "kinesis"}
	sqsAPI     = &api{target: "AmazonSQS.", contentType: "application/x-amz-json-1.0", service: "sqs"}
)

// New returns a client of the API at endpoint (e.g.
// http://127.0.0.1:4567). A nil hc means http.DefaultClient.
func New(endpoint string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{endpoint: strings.TrimRight(endpoint, "/") + "/", http: hc, now: time.Now, api: kinesisAPI}
}

// call sends one operation with in as its JSON body and decodes the answer
// into out. API errors are *store.Error; others are wrapped with the
// operation's name.
func (c *Client) call(ctx context.Context, op string, in, out any) error {
	return c.callWith(ctx, op, nil, in, out)
}

// callWith is call with extra request headers (signed like the others).
func (c *Client) callWith(ctx context.Context, op string, header map[string]string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: cannot encode request: %w", op, err)
	}
	data, err := c.send(ctx, op, header, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: cannot decode response: %w", op, err)
	}
	return nil
}

// send posts an encoded request and returns the body of a 200 answer.
func (c *Client) send(ctx context.Context, op string, header map[string]string, body []byte) ([]byte, error) {
	resp, err := c.post(ctx, c.http, op, header, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, responseError(op, resp, data)
	}
	return data, nil
}

// post sends an encoded request with hc and returns the answer, whatever
// its status; the caller closes its body.
func (c *Client) post(ctx context.Context, hc *http.Client, op string, header map[string]string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("X-Amz-Target", c.api.target+op)
	req.Header.Set("Content-Type", c.api.contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if c.creds != nil {
		c.creds.sign(req, c.api.service, body, c.now())
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		// A store in this process (Server.Transport) answers a call whose
		// context ended (a long poll returns empty): the caller gets the
		// error it would get over the network.
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return resp, nil
}

// responseError turns a non-200 answer into a *store.Error with AWS's code
// (from __type, which may be prefixed by a namespace and '#', or from the
// X-Amzn-ErrorType header).
func responseError(op string, resp *http.Response, data []byte) error {
	var e struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(data, &e)
	code := e.Type
	if code == "" {
		code, _, _ = strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	msg := e.Message
	if msg == "" {
		msg = e.Message2
	}
	if code == "" {
		code = "HTTP" + fmt.Sprint(resp.StatusCode)
		if msg == "" {
			msg = fmt.Sprintf("%s: %s: %.200s", op, resp.Status, data)
		}
	}
	return &store.Error{Code: code, Message: msg}
}
