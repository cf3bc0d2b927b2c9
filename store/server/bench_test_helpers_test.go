package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"
)

// Shapes shared by the store server's benchmarks.
const (
	benchRecordBytes = 1 << 10 // data bytes per record
	benchShards      = 4       // shards of the benchmark stream
	benchClients     = 8       // concurrent PutRecords clients
	benchPerCall     = 100     // records per PutRecords call
	benchStream      = "bench"
)

// benchClient sends pre-encoded Kinesis JSON requests over real HTTP. Its
// transport keeps enough idle connections for every concurrent caller, so
// the benchmarks do not measure TCP connection set-up.
type benchClient struct {
	url string
	hc  *http.Client
}

// startBenchServer serves a new store in b.TempDir() over loopback HTTP and
// creates benchStream with benchShards shards.
func startBenchServer(b *testing.B, opts Options) *benchClient {
	b.Helper()
	s, err := New(b.TempDir(), opts)
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	c := &benchClient{url: ts.URL, hc: &http.Client{Transport: tr}}
	if err := c.call("CreateStream", map[string]any{"StreamName": benchStream, "ShardCount": benchShards}, nil); err != nil {
		b.Fatal(err)
	}
	return c
}

// post sends body as operation op and decodes the answer into out (nil
// discards it). A status other than 200 is an error.
func (c *benchClient) post(op string, body []byte, out any) error {
	return c.postCtx(context.Background(), op, body, nil, out)
}

// postCtx is post with a context and extra request headers.
func (c *benchClient) postCtx(ctx context.Context, op string, body []byte, hdr http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: status %d: %s", op, resp.StatusCode, msg)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}

// call encodes in as JSON and posts it.
func (c *benchClient) call(op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.post(op, body, out)
}

type benchEntry struct {
	Data         []byte
	PartitionKey string
}

// benchPutRecordsBodies builds n PutRecords request bodies for benchStream,
// each of benchPerCall records of benchRecordBytes random bytes with random
// partition keys (so records spread over all shards). Encoding them before
// the clock starts keeps the client's JSON cost out of the measurement.
func benchPutRecordsBodies(b *testing.B, n int, seed uint64) [][]byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	bodies := make([][]byte, n)
	for i := range bodies {
		recs := make([]benchEntry, benchPerCall)
		for j := range recs {
			data := make([]byte, benchRecordBytes)
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
			recs[j] = benchEntry{Data: data, PartitionKey: strconv.FormatUint(rng.Uint64(), 36)}
		}
		body, err := json.Marshal(map[string]any{"StreamName": benchStream, "Records": recs})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = body
	}
	return bodies
}

// rawFsyncWrite appends records records of benchRecordBytes to f, one write
// and one fsync per batch records (the last batch may be shorter): a single
// writer's group commit without any server around it.
func rawFsyncWrite(f *os.File, buf []byte, records, batch int) error {
	for n := records; n > 0; n -= batch {
		k := min(n, batch)
		if _, err := f.Write(buf[:k*benchRecordBytes]); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// benchRawFile creates the plain file raw fsync benchmarks append to, and a
// buffer of random bytes for batches of up to batch records.
func benchRawFile(b *testing.B, batch int) (*os.File, []byte) {
	b.Helper()
	f, err := os.Create(b.TempDir() + "/raw")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	buf := make([]byte, batch*benchRecordBytes)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	return f, buf
}

// percentileMs returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// durations in milliseconds; it sorts d.
func percentileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d))*p/100+0.999999) - 1
	i = max(0, min(i, len(d)-1))
	return float64(d[i]) / float64(time.Millisecond)
}
