package sns

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxAnswerBytes is how much of an endpoint's answer is read (and
// dropped) so that its connection can be reused.
const maxAnswerBytes = 64 << 10

// httpOutput POSTs notifications to an HTTP/S endpoint, as SNS does.
type httpOutput struct {
	url         string
	contentType string
}

func newHTTPOutput(proto, endpoint, contentType string) (*httpOutput, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != proto || u.Host == "" {
		return nil, fmt.Errorf("%q is not an %s:// URL", endpoint, proto)
	}
	if contentType == "" {
		contentType = "text/plain; charset=UTF-8"
	}
	return &httpOutput{url: endpoint, contentType: contentType}, nil
}

// deliver makes one POST: the envelope, or the body with raw delivery. A
// 2xx answer is success; anything else is an error (retried).
func (h *httpOutput) deliver(ctx context.Context, s *Subscription, n *notification) error {
	body := n.envelope
	if s.raw {
		body = []byte(n.msg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", h.contentType)
	req.Header.Set("User-Agent", "Sluice SNS Agent")
	req.Header.Set("x-amz-sns-message-type", "Notification")
	req.Header.Set("x-amz-sns-message-id", n.msg.ID)
	req.Header.Set("x-amz-sns-topic-arn", s.topic.arn)
	req.Header.Set("x-amz-sns-subscription-arn", s.arn)
	if s.raw {
		req.Header.Set("x-amz-sns-rawdelivery", "true")
	}
	resp, err := s.topic.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", h.url, resp.Status)
	}
	return nil
}

func (h *httpOutput) close() error { return nil }
