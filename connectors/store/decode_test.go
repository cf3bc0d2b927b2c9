package store

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
	"github.com/sluicehq/sluice/store/client"
)

// decodeRecords is how many good records the decode tests put: with
// answers of decodeLimit records, several answers per shard, which the
// workers decode at the same time.
const (
	decodeRecords = 5000
	decodeLimit   = "600"
)

// putWithBad puts decodeRecords rows with a malformed record after every
// 613th and a record dated in the year 9999 after every 997th, and returns
// the rows of the good ones in the order put.
func putWithBad(t *testing.T, c *client.Client, stream string) []string {
	t.Helper()
	var data [][]byte
	var want []string
	for i, d := range encode(rows(0, decodeRecords)) {
		data = append(data, d)
		want = append(want, rttest.Format(row(i)))
		if i%613 == 612 {
			data = append(data, fmt.Appendf(nil, `{"id": "not a number %d"}`, i))
		}
		if i%997 == 996 {
			data = append(data, fmt.Appendf(nil, `{"id": %d, "ts": "9999-12-31T00:00:00Z"}`, i))
		}
	}
	put(t, c, stream, data...)
	return want
}

// openTimed opens one subtask of the table with opts, ts as its event
// time (so that far-future records are bad), logging nowhere.
func openTimed(t *testing.T, opts map[string]string, restore [][]byte) *source {
	t.Helper()
	tab := table(opts)
	tab.TimeColumn = 3
	newSrc, _, err := connector(t).NewSource(tab)
	if err != nil {
		t.Fatal(err)
	}
	s := newSrc().(*source)
	if restore != nil {
		if err := s.RestorePositions(restore); err != nil {
			t.Fatal(err)
		}
	}
	ctx := rttest.NewContext("src", 0, 1)
	ctx.SetLogger(lineLogger(io.Discard))
	if err := s.Open(ctx); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

// readShards polls s until it ends (n < 0) or has emitted at least n
// rows, and returns its rows per shard (partition) in the order emitted.
func readShards(t *testing.T, s runtime.Source, n int) map[int][]string {
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

// checkShardsOnce checks that the shards' rows are want's rows, each once,
// and per shard in the order put.
func checkShardsOnce(t *testing.T, shards map[int][]string, want []string) {
	t.Helper()
	at := map[string]int{}
	for i, r := range want {
		at[r] = i
	}
	var all []string
	for p, rows := range shards {
		last := -1
		for _, r := range rows {
			i, ok := at[r]
			if !ok || i <= last {
				t.Fatalf("shard %d: row %s out of the order put (or not put)", p, r)
			}
			last = i
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(all, sorted) {
		t.Fatalf("read %d rows, want the %d put, each once\n%s", len(all), len(want), firstDiffs(all, sorted))
	}
}

// badLines reads errors.path: per shard, "sequence number: reason
// (record)" in the order written.
func badLines(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct{ Stream, Shard, SequenceNumber, Error, Record string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("errors.path line %q: %v", l, err)
		}
		reason, _, _ := strings.Cut(e.Error, " ahead of the wall clock")
		out[e.Shard] = append(out[e.Shard], fmt.Sprintf("%s: %s (%s)", e.SequenceNumber, reason, e.Record))
	}
	return out
}

// TestDecodeWorkersEmitWhatOneWorkerEmits: polling and with enhanced
// fan-out, a subtask decoding on 4 workers emits the same rows in the same
// order per shard, and reports the same bad records at the same sequence
// numbers, as one decoding in its goroutine.
func TestDecodeWorkersEmitWhatOneWorkerEmits(t *testing.T) {
	for _, efo := range []bool{false, true} {
		t.Run(map[bool]string{false: "polling", true: "EFO"}[efo], func(t *testing.T) {
			opts := map[string]string{"stream": "in", "scan.bounded.mode": "latest", "scan.shard.getrecords.maxrecordcount": decodeLimit}
			var url string
			var c *client.Client
			if efo {
				url, c = startEFOStore(t, "in", 2, time.Minute)
				opts = efoOpts(url, "in", "job", "scan.bounded.mode", "latest", "scan.shard.getrecords.maxrecordcount", decodeLimit)
			} else {
				url, c = startStore(t, "in", 2)
				opts["endpoint"] = url
			}
			want := putWithBad(t, c, "in")
			var shards []map[int][]string
			var bad []map[string][]string
			for _, workers := range []int{1, 4} {
				opts["scan.decode.parallelism"] = fmt.Sprint(workers)
				opts["errors.path"] = filepath.Join(t.TempDir(), "errors.jsonl")
				s := openTimed(t, opts, nil)
				if (s.pool != nil) != (workers > 1) || len(s.workers) != workers+min(workers-1, 1) {
					t.Fatalf("%d workers asked: pool %v, %d workers", workers, s.pool != nil, len(s.workers))
				}
				shards = append(shards, readShards(t, s, -1))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				bad = append(bad, badLines(t, opts["errors.path"]))
			}
			checkShardsOnce(t, shards[0], want)
			for p := range shards[0] {
				if !slices.Equal(shards[1][p], shards[0][p]) {
					t.Fatalf("shard %d: 4 workers emitted %d rows, not the %d of one worker in its order\n%s",
						p, len(shards[1][p]), len(shards[0][p]), firstDiffs(shards[1][p], shards[0][p]))
				}
			}
			n := 0
			for sh, lines := range bad[0] {
				n += len(lines)
				if !slices.Equal(bad[1][sh], lines) {
					t.Fatalf("shard %s: bad records with 4 workers\n%q\nwith one\n%q", sh, bad[1][sh], lines)
				}
			}
			if want := decodeRecords/613 + decodeRecords/997; n != want || len(bad[1]) != len(bad[0]) {
				t.Fatalf("%d bad records reported, want %d", n, want)
			}
		})
	}
}

// TestDecodeWorkersCheckpointMidStream: a position snapshot taken while
// the workers hold answers read ahead of what was emitted covers only the
// rows emitted: restored from it, the source reads every remaining row
// once, none lost, none twice.
func TestDecodeWorkersCheckpointMidStream(t *testing.T) {
	url, c := startStore(t, "in", 2)
	want := putWithBad(t, c, "in")
	opts := map[string]string{"stream": "in", "endpoint": url, "scan.bounded.mode": "latest",
		"scan.shard.getrecords.maxrecordcount": decodeLimit, "scan.decode.parallelism": "4"}
	s := openTimed(t, opts, nil)
	first := readShards(t, s, 1200)
	for deadline := time.Now().Add(10 * time.Second); s.pool.Queued() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d answers queued, want the readers ahead", s.pool.Queued())
		}
		time.Sleep(time.Millisecond)
	}
	pos, err := s.SnapshotPosition()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTimed(t, opts, [][]byte{pos})
	rest := readShards(t, s, -1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all := map[int][]string{}
	for p, rows := range first {
		all[p] = rows
	}
	for p, rows := range rest {
		all[p] = append(all[p], rows...)
	}
	checkShardsOnce(t, all, want)
}
