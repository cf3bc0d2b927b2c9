package delivery

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// receiver is a Firehose HTTP endpoint that fails the first failures
// requests with 503, then acknowledges, keeping the records it accepted.
type receiver struct {
	mu       sync.Mutex
	failures int
	requests int
	records  []string
	headers  []http.Header
	t        *testing.T
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			rc.t.Errorf("gzip body: %v", err)
			return
		}
		body = zr
	}
	var req struct {
		RequestID string `json:"requestId"`
		Timestamp int64  `json:"timestamp"`
		Records   []struct {
			Data string `json:"data"`
		} `json:"records"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		rc.t.Errorf("request body: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	rc.headers = append(rc.headers, r.Header.Clone())
	if rc.requests <= rc.failures {
		http.Error(w, `{"errorMessage":"busy"}`, http.StatusServiceUnavailable)
		return
	}
	if req.RequestID != r.Header.Get("X-Amz-Firehose-Request-Id") || req.Timestamp == 0 {
		rc.t.Errorf("requestId %q, header %q, timestamp %d", req.RequestID, r.Header.Get("X-Amz-Firehose-Request-Id"), req.Timestamp)
	}
	for _, rec := range req.Records {
		data, err := base64.StdEncoding.DecodeString(rec.Data)
		if err != nil {
			rc.t.Errorf("record data: %v", err)
		}
		rc.records = append(rc.records, string(data))
	}
	json.NewEncoder(w).Encode(map[string]any{"requestId": req.RequestID, "timestamp": req.Timestamp})
}

// TestHTTPRetries: the endpoint fails, then recovers; every record arrives
// once, in Firehose's format, with the access key; retries are counted.
func TestHTTPRetries(t *testing.T) {
	rc := &receiver{failures: 3, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	op := newSink(t, map[string]string{"destination": srv.URL + "/ingest", "http.access-key": "secret",
		"compression": "gzip", "retry.duration": "30"}, true)
	feed(t, op, rows(0, 5))
	_, err := op.SnapshotState(1) // at-least-once: delivered and acknowledged at the checkpoint
	must(t, err)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.requests != 4 || len(rc.records) != 5 {
		t.Fatalf("%d requests, %d records; want 4 and 5", rc.requests, len(rc.records))
	}
	if ids := idsOf(rc.records); !slices.Equal(ids, numbers(0, 5)) {
		t.Errorf("ids %v", ids)
	}
	for _, h := range rc.headers {
		if h.Get("X-Amz-Firehose-Access-Key") != "secret" || h.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", h)
		}
	}
	if n := counter(op, `sluice_delivery_retries_total{table="`+op.cfg.table+`"}`); n != 3 {
		t.Errorf("%d retries counted, want 3", n)
	}
	if n := counter(op, `sluice_delivery_records_total{table="`+op.cfg.table+`"}`); n != 5 {
		t.Errorf("%d records counted, want 5", n)
	}
}

// TestHTTPGivesUp: an endpoint that keeps failing beyond retry.duration;
// the records go to the error output with the reason and the attempts.
func TestHTTPGivesUp(t *testing.T) {
	rc := &receiver{failures: 1 << 30, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": srv.URL, "retry.duration": "400ms",
		"error-destination": "file://" + dir}, false)
	feed(t, op, rows(0, 3))
	must(t, op.Finish(nil))
	errs := errorRecords(t, objects(t, dir), "errors/http-endpoint-failed/")
	if len(errs) != 3 {
		t.Fatalf("%d error records, want 3", len(errs))
	}
	for i, e := range errs {
		if e.AttemptsMade < 3 || e.ErrorCode != "HttpEndpoint.RequestFailed" || !strings.Contains(e.ErrorMessage, "503") {
			t.Errorf("error record %+v", e)
		}
		if r := raw(t, e); !strings.HasPrefix(r, `{"id":`+itoa(i)+`,`) {
			t.Errorf("rawData %s", r)
		}
	}
	if n := counter(op, `sluice_delivery_errors_total{table="`+op.cfg.table+`",type="http-endpoint-failed"}`); n != 3 {
		t.Errorf("%d errors counted, want 3", n)
	}
}

// TestHTTPGivesUpWithoutErrorOutput: without an error destination, the job
// fails rather than drop the records.
func TestHTTPGivesUpWithoutErrorOutput(t *testing.T) {
	rc := &receiver{failures: 1 << 30, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	op := newSink(t, map[string]string{"destination": srv.URL, "retry.duration": "0"}, false)
	feed(t, op, rows(0, 1))
	if err := op.Finish(nil); err == nil || !strings.Contains(err.Error(), "error-destination") {
		t.Fatalf("Finish: %v", err)
	}
}
