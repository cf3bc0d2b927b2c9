package delivery

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// httpSender POSTs records to an HTTP endpoint in Firehose's HTTP endpoint
// delivery format:
//
//	{"requestId": "<uuid>", "timestamp": <ms>, "records": [{"data": "<base64>"}, …]}
//
// with the headers X-Amz-Firehose-Request-Id and, when set,
// X-Amz-Firehose-Access-Key. A delivery succeeds when the endpoint answers
// 200 with a JSON body echoing the requestId.
type httpSender struct {
	url       string
	accessKey string
	gzip      bool
	client    *http.Client
	enc       *encoder // compresses the body when gzip
	body      []byte
}

// httpTimeout bounds one request.
const httpTimeout = 30 * time.Second

// maxResponse bounds the response body read.
const maxResponse = 1 << 20

// send delivers the records of buf (one per record end) in one request.
func (h *httpSender) send(ctx context.Context, buf *buffer, table string) error {
	id := newID()
	now := time.Now().UnixMilli()
	b := h.body[:0]
	b = append(b, `{"requestId":"`...)
	b = append(b, id...)
	b = append(b, `","timestamp":`...)
	b = strconv.AppendInt(b, now, 10)
	b = append(b, `,"records":[`...)
	start := 0
	for i, end := range buf.ends {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, buf.data[start:end])
		b = append(b, `"}`...)
		start = end + 1 // the line break
	}
	b = append(b, "]}"...)
	h.body = b
	payload := b
	if h.gzip {
		var err error
		if payload, err = h.enc.compress(b, "gzip"); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Firehose-Request-Id", id)
	req.Header.Set("X-Amz-Firehose-Source-Arn", "sluice:delivery:"+table)
	if h.accessKey != "" {
		req.Header.Set("X-Amz-Firehose-Access-Key", h.accessKey)
	}
	if h.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("POST %s: reading the response: %w", h.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %.200s", h.url, resp.Status, body)
	}
	var ack struct {
		RequestID string `json:"requestId"`
		Timestamp int64  `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &ack); err != nil {
		return fmt.Errorf("POST %s: the response is not {\"requestId\",\"timestamp\"}: %.200s", h.url, body)
	}
	if ack.RequestID != id {
		return fmt.Errorf("POST %s: the response echoes requestId %q, not %q", h.url, ack.RequestID, id)
	}
	return nil
}
