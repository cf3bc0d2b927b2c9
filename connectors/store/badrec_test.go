package store

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// boundedTimedJob reads the table, with ts as its event time, until it ends.
func boundedTimedJob(t *testing.T, opts map[string]string, log io.Writer) (*rttest.Collector, error) {
	t.Helper()
	tab := table(opts)
	tab.TimeColumn = 3
	newSrc, _, err := connector(t).NewSource(tab)
	if err != nil {
		return nil, err
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, 1, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c, runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Logger: lineLogger(log)})
}

func TestStoreSourceBadRecordsGoToErrorsPath(t *testing.T) {
	var log syncBuffer
	url, c := startStore(t, "in", 1)
	data := encode(rows(0, 50))
	data = append(data[:20:20], append([][]byte{
		[]byte(`{"id": "not a number"}`),
		[]byte(`{"id": 7, "ts": "9999-12-31T00:00:00Z"}`),
	}, data[20:]...)...)
	put(t, c, "in", data...)
	errPath := filepath.Join(t.TempDir(), "bad.jsonl")
	opts := map[string]string{"stream": "in", "endpoint": url, "scan.bounded.mode": "latest", "errors.path": errPath}
	got, err := boundedTimedJob(t, opts, &log)
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 50 {
		t.Fatalf("%d rows, want 50", got.Len())
	}
	text, _ := os.ReadFile(errPath)
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	wantErr := []string{`column "id" at offset 7: want BIGINT`, `column "ts": event time 9999-12-31 00:00:00.000 is more than 24h0m0s ahead`}
	if len(lines) != len(wantErr) {
		t.Fatalf("errors.path:\n%s", text)
	}
	for i, l := range lines {
		var e struct {
			Stream, Shard, SequenceNumber, Error, Record string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Stream != "in" || e.Shard != "shardId-000000000000" || e.SequenceNumber == "" ||
			!strings.Contains(e.Error, wantErr[i]) || e.Record != string(data[20+i]) {
			t.Fatalf("errors.path line %s: want stream, shard, sequence number, %q and the record", l, wantErr[i])
		}
		if !strings.Contains(log.String(), "stream in shard shardId-000000000000 sequence number "+e.SequenceNumber+": ") {
			t.Fatalf("log does not name sequence number %s:\n%s", e.SequenceNumber, log.String())
		}
	}

	// format.fail-on-error makes the first one fatal, naming its place.
	opts["format.fail-on-error"] = "true"
	delete(opts, "errors.path")
	_, err = boundedTimedJob(t, opts, &log)
	if err == nil || !strings.Contains(err.Error(), "table t: stream in shard shardId-000000000000 sequence number ") {
		t.Fatalf("got %v, want an error naming the record's place", err)
	}
}
