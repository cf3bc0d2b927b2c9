package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// decodeParts and decodePerPart size the topic of the decode tests: enough
// records per partition for several hand-overs of a batch each, so that
// workers decode them at the same time.
const (
	decodeParts   = 2
	decodePerPart = 9000
)

// fillWithBad writes decodePerPart records to each partition, every 701st
// one malformed and every 1009th dated in the year 9999 (bad records),
// and returns per partition the rows of the good ones in offset order.
func fillWithBad(t *testing.T, addr string) map[int][]string {
	t.Helper()
	want := map[int][]string{}
	for p := range decodeParts {
		vals := make([][]byte, decodePerPart)
		for i := range vals {
			switch {
			case i%701 == 700:
				vals[i] = fmt.Appendf(nil, `{"user":"u%d","n":"not a number %d"}`, p, i)
			case i%1009 == 1008:
				vals[i] = fmt.Appendf(nil, `{"user":"u%d","n":%d,"ts":"9999-12-31T00:00:00Z"}`, p, i)
			default:
				vals[i] = click(fmt.Sprint("u", p), i, int64(i))
				want[p] = append(want[p], clickRow(fmt.Sprint("u", p), i, int64(i)))
			}
		}
		for i := 0; i < len(vals); i += 3000 {
			produce(t, addr, "clicks", p, vals[i:min(i+3000, len(vals))], nil)
		}
	}
	return want
}

// readParts polls one subtask until it ends (n < 0) or has emitted at
// least n rows, and returns its rows per partition in the order emitted.
func readParts(t *testing.T, s runtime.Source, n int) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	got := 0
	deadline := time.Now().Add(20 * time.Second)
	for n < 0 || got < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d rows before the deadline", got)
		}
		b, part, err := s.Poll(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			rows := rttest.Strings(b)
			out[part] = append(out[part], rows...)
			got += len(rows)
		}
	}
	return out
}

// errorLines reads errors.path: per partition, "offset: reason" in the
// order written.
func errorLines(t *testing.T, path string) map[int][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			Topic     string
			Partition int
			Offset    int64
			Error     string
			Record    string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("errors.path line %q: %v", l, err)
		}
		// The far-future reason names the wall clock: keep its start.
		reason, _, _ := strings.Cut(e.Error, " ahead of the wall clock")
		out[e.Partition] = append(out[e.Partition], fmt.Sprintf("%d: %s (%s)", e.Offset, reason, e.Record))
	}
	return out
}

// TestDecodeWorkersEmitWhatOneWorkerEmits: a subtask decoding on 4 workers
// emits the same rows, in the same order per partition, and reports the
// same bad records at the same offsets as one decoding in its goroutine.
func TestDecodeWorkersEmitWhatOneWorkerEmits(t *testing.T) {
	addr := startCluster(t, decodeParts)
	want := fillWithBad(t, addr)
	var rows, bad []map[int][]string
	for _, workers := range []int{1, 4} {
		path := filepath.Join(t.TempDir(), "errors.jsonl")
		d := openSourcesLogged(t, table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "errors.path": path,
			"scan.decode.parallelism": fmt.Sprint(workers)}), 1, nil, io.Discard)
		if s := d.srcs[0].(*source); (s.pool != nil) != (workers > 1) || len(s.workers) != workers+min(workers-1, 1) {
			t.Fatalf("%d workers asked: pool %v, %d workers", workers, s.pool != nil, len(s.workers))
		}
		rows = append(rows, readParts(t, d.srcs[0], -1))
		d.close()
		bad = append(bad, errorLines(t, path))
	}
	for p := range decodeParts {
		if !slices.Equal(rows[0][p], want[p]) {
			t.Fatalf("one worker: partition %d: %d rows, want %d", p, len(rows[0][p]), len(want[p]))
		}
		if !slices.Equal(rows[1][p], rows[0][p]) {
			t.Fatalf("4 workers: partition %d: %d rows, not those of one worker (%d)", p, len(rows[1][p]), len(rows[0][p]))
		}
		if len(bad[0][p]) != decodePerPart/701+decodePerPart/1009 {
			t.Fatalf("one worker: partition %d: %d bad records: %q", p, len(bad[0][p]), bad[0][p])
		}
		if !slices.Equal(bad[1][p], bad[0][p]) {
			t.Fatalf("partition %d: bad records with 4 workers\n%q\nwith one\n%q", p, bad[1][p], bad[0][p])
		}
	}
}

// TestDecodeWorkersCheckpointMidStream: a position snapshot taken while
// the workers hold hand-overs read ahead of what was emitted covers only
// the rows emitted: restored from it, the source reads every remaining
// row once, none lost, none twice.
func TestDecodeWorkersCheckpointMidStream(t *testing.T) {
	addr := startCluster(t, decodeParts)
	want := fillWithBad(t, addr)
	tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "scan.decode.parallelism": "4"})
	d := openSourcesLogged(t, tab, 1, nil, io.Discard)
	first := readParts(t, d.srcs[0], 3*runtime.DefaultBatchRows)
	// Wait until the readers have handed over more than was emitted.
	pool := d.srcs[0].(*source).pool
	for deadline := time.Now().Add(10 * time.Second); pool.Queued() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d hand-overs queued, want the readers ahead", pool.Queued())
		}
		time.Sleep(time.Millisecond)
	}
	pos := d.snapshot(t)
	d.close()

	d = openSourcesLogged(t, tab, 1, pos, io.Discard)
	rest := readParts(t, d.srcs[0], -1)
	for p := range decodeParts {
		got := append(slices.Clone(first[p]), rest[p]...)
		if !slices.Equal(got, want[p]) {
			t.Fatalf("partition %d: %d rows before the snapshot and %d after, want the %d rows once in order\n%s",
				p, len(first[p]), len(rest[p]), len(want[p]), firstDiff(got, want[p]))
		}
	}
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("row %d: %s, want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}
