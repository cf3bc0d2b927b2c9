package store

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// flaky is a store that throttles every third PutRecords request as a
// whole and, of the others, fails every second record with
// ProvisionedThroughputExceededException (writing only the rest).
type flaky struct {
	next http.Handler
	mu   sync.Mutex
	n    int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" {
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n%3 == 1 {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"LimitExceededException","message":"slow down"}`)
		return
	}
	var in struct {
		StreamName string
		Records    []client.PutRecordsEntry
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var pass []client.PutRecordsEntry
	for i, rec := range in.Records {
		if i%2 == 0 || len(in.Records) == 1 {
			pass = append(pass, rec)
		}
	}
	fwd, _ := json.Marshal(struct {
		StreamName string
		Records    []client.PutRecordsEntry
	}{in.StreamName, pass})
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(fwd))
	req.Header = r.Header.Clone()
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, req)
	var out client.PutRecordsOutput
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	merged := client.PutRecordsOutput{}
	k := 0
	for i := range in.Records {
		if i%2 == 0 || len(in.Records) == 1 {
			merged.Records = append(merged.Records, out.Records[k])
			k++
			continue
		}
		merged.FailedRecordCount++
		merged.Records = append(merged.Records, client.PutRecordsResultEntry{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded"})
	}
	json.NewEncoder(w).Encode(merged)
}

func TestSinkRetries(t *testing.T) {
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{next: s}
	ts := httptest.NewServer(f)
	defer func() {
		ts.Close()
		s.Close()
	}()
	c := client.New(ts.URL, ts.Client())
	if err := c.CreateStream(t.Context(), "out", 2); err != nil {
		t.Fatal(err)
	}
	in := rows(0, 700)
	if err := write(t, map[string]string{"stream": "out", "endpoint": ts.URL}, 1, in); err != nil {
		t.Fatal(err)
	}
	data, _ := readAll(t, c, "out")
	if got := decodeAll(t, data); !slices.Equal(got, formatted(in)) {
		t.Fatalf("read back %d rows, want %d", len(got), len(in))
	}
	if f.n < 6 {
		t.Fatalf("%d PutRecords requests: the faults were not exercised", f.n)
	}
}
