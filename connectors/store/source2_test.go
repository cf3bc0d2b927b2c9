package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

// boundedJob runs a job reading the table with par subtasks until it ends
// by itself, and returns what it read.
func boundedJob(t *testing.T, opts map[string]string, par int) *rttest.Collector {
	t.Helper()
	newSrc, _, err := connector(t).NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par}); err != nil {
		t.Fatalf("bounded read: %v", err)
	}
	return c
}

// TestSourceBoundedLatest: with 'scan.bounded.mode' = 'latest' a job reads
// what the stream held when it started — across a split made before — and
// ends by itself; records put afterwards are not read.
func TestSourceBoundedLatest(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			url, c := startStore(t, "in", 3)
			keyed(t, c, "in", 0, 500)
			split(t, url, c, "in")
			keyed(t, c, "in", 500, 1200)
			got := boundedJob(t, map[string]string{"stream": "in", "endpoint": url, "scan.bounded.mode": "latest"}, par)
			want := keyedRows(0, 1200)
			if !slices.Equal(got.Sorted(), formatted(want)) {
				t.Fatalf("read %d rows, want %d", got.Len(), len(want))
			}
			// The last watermark is the end of input: every window fired.
			if wms := got.Watermarks(); len(wms) == 0 || wms[len(wms)-1] != runtime.MaxWatermark {
				t.Fatalf("watermarks %v do not end with the final one", wms)
			}
		})
	}
}

func keyedRows(from, to int) [][]runtime.Value {
	var rows [][]runtime.Value
	for i := from; i < to; i++ {
		rows = append(rows, []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue(fmt.Sprint("k", i%16)),
			runtime.NullValue(runtime.Double), runtime.TimeValue(base + int64(i))})
	}
	return rows
}

// TestSourceAtTimestamp reads from an arrival time: records put before it
// are skipped, in every shard.
func TestSourceAtTimestamp(t *testing.T) {
	url, c := startStore(t, "in", 2)
	keyed(t, c, "in", 0, 300)
	time.Sleep(20 * time.Millisecond)
	from := time.Now()
	time.Sleep(20 * time.Millisecond)
	keyed(t, c, "in", 300, 700)
	for _, ts := range []string{fmt.Sprint(from.UnixMilli()), from.UTC().Format(time.RFC3339Nano)} {
		got := boundedJob(t, map[string]string{"stream": "in", "endpoint": url, "scan.startup.mode": "at-timestamp",
			"scan.startup.timestamp-millis": ts, "scan.bounded.mode": "latest"}, 2)
		if want := keyedRows(300, 700); !slices.Equal(got.Sorted(), formatted(want)) {
			t.Fatalf("from %s: read %d rows, want the %d put after it", ts, got.Len(), len(want))
		}
	}
}

// TestSourceLongPollLatency: a record put while the job waits reaches the
// job through a long poll, without the source sleeping between polls — far
// sooner than the poll interval a plain reader would wait.
func TestSourceLongPollLatency(t *testing.T) {
	url, c := startStore(t, "in", 1)
	var slowest time.Duration
	_, _ = readJob(t, map[string]string{"stream": "in", "endpoint": url, "scan.startup.mode": "latest"}, 1, 5, func(col *rttest.Collector) {
		time.Sleep(200 * time.Millisecond) // the source is waiting in a long poll
		for i := range 5 {
			start := time.Now()
			put(t, c, "in", encode(rows(i, i+1))...)
			for col.Len() < i+1 && time.Since(start) < 5*time.Second {
				time.Sleep(100 * time.Microsecond)
			}
			slowest = max(slowest, time.Since(start))
			time.Sleep(50 * time.Millisecond)
		}
	})
	// A plain poller sleeps pollInterval after an empty answer; a long
	// poll answers at the commit. The bound is loose for busy machines.
	if slowest >= pollInterval {
		t.Fatalf("slowest put-to-read %v, want well under the %v poll interval", slowest, pollInterval)
	}
}

// source subtasks driven by hand, as the runtime would.
type driven struct {
	srcs []runtime.Source
}

func openSources(t *testing.T, opts map[string]string, par int, restore [][]byte) *driven {
	t.Helper()
	newSrc, _, err := connector(t).NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	d := &driven{}
	for i := range par {
		s := newSrc()
		if restore != nil {
			if err := s.(runtime.CheckpointedSource).RestorePositions(restore); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Open(rttest.NewContext("src", i, par)); err != nil {
			t.Fatal(err)
		}
		d.srcs = append(d.srcs, s)
	}
	return d
}

// poll polls every subtask in turn until n rows have come (or, n < 0,
// until every subtask has ended) and returns them.
func (d *driven) poll(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	ended := make([]bool, len(d.srcs))
	deadline := time.Now().Add(20 * time.Second)
	for (n < 0 || len(out) < n) && time.Now().Before(deadline) {
		all := true
		for i, s := range d.srcs {
			if ended[i] {
				continue
			}
			all = false
			b, _, err := s.Poll(context.Background())
			if errors.Is(err, io.EOF) {
				ended[i] = true
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if b != nil {
				out = append(out, rttest.Strings(b)...)
			}
		}
		if all {
			return out
		}
	}
	if n >= 0 && len(out) < n || n < 0 && slices.Contains(ended, false) {
		t.Fatalf("polled %d rows before the deadline (want %d)", len(out), n)
	}
	return out
}

func (d *driven) snapshot(t *testing.T) [][]byte {
	t.Helper()
	var pos [][]byte
	for _, s := range d.srcs {
		p, err := s.(runtime.CheckpointedSource).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	return pos
}

func (d *driven) close(t *testing.T) {
	for _, s := range d.srcs {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestSourcePositions takes the positions of a source part-way (its
// subtasks polled by hand, as between two Polls at a barrier), reshards
// and writes more, and restores them into a run with another parallelism:
// the rows before the snapshot and the rows after the restore are every
// row, each exactly once.
func TestSourcePositions(t *testing.T) {
	for _, mode := range []string{"trim-horizon", "latest"} {
		t.Run(mode, func(t *testing.T) {
			url, c := startStore(t, "in", 3)
			opts := map[string]string{"stream": "in", "endpoint": url, "scan.startup.mode": mode, "scan.shard.getrecords.maxrecordcount": "100"}
			if mode == "trim-horizon" {
				keyed(t, c, "in", 0, 1000)
			}
			first := openSources(t, opts, 2, nil)
			if mode == "latest" {
				time.Sleep(50 * time.Millisecond) // the readers hold their LATEST iterators
				keyed(t, c, "in", 0, 1000)
			}
			before := first.poll(t, 400) // stops part-way through some shards
			pos := first.snapshot(t)
			// Rows the first run polled after its snapshot are not in it:
			// a restored job produces them again.
			first.poll(t, 100)
			first.close(t)

			split(t, url, c, "in")
			keyed(t, c, "in", 1000, 1500) // while no job runs
			opts["scan.bounded.mode"] = "latest"
			second := openSources(t, opts, 3, pos)
			after := second.poll(t, -1)
			second.close(t)

			got := append(before, after...)
			slices.Sort(got)
			if want := formatted(keyedRows(0, 1500)); !slices.Equal(got, want) {
				t.Fatalf("%d rows before the snapshot and %d after the restore; want each of %d once (first differences: %v)",
					len(before), len(after), len(want), firstDiffs(got, want))
			}
		})
	}
}

func firstDiffs(got, want []string) string {
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	var out []string
	for _, w := range want {
		switch seen[w] {
		case 0:
			out = append(out, "missing "+w)
		case 1:
		default:
			out = append(out, fmt.Sprintf("%d× %s", seen[w], w))
		}
		if len(out) >= 3 {
			break
		}
	}
	return strings.Join(out, "; ")
}

// TestRestoreOtherStream: positions of another stream are refused.
func TestRestoreOtherStream(t *testing.T) {
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"stream": "b", "endpoint": "http://127.0.0.1:1"}))
	if err != nil {
		t.Fatal(err)
	}
	err = newSrc().(runtime.CheckpointedSource).RestorePositions([][]byte{[]byte(`{"stream":"a"}`)})
	if err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestEmbedded: without 'endpoint', tables use the process's embedded store
// in-process, and say how to get one when there is none.
func TestEmbedded(t *testing.T) {
	_, _, err := connector(t).NewSource(table(map[string]string{"stream": "in"}))
	if err == nil || !strings.Contains(err.Error(), "--store-dir") {
		t.Fatalf("without an embedded store: %v", err)
	}
	srv, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	UseEmbedded(srv)
	defer UseEmbedded(nil)
	in := rows(0, 2000)
	if err := write(t, map[string]string{"stream": "e", "stream.create-shards": "3"}, 2, in); err != nil {
		t.Fatal(err)
	}
	got := boundedJob(t, map[string]string{"stream": "e", "scan.bounded.mode": "latest"}, 2)
	if !slices.Equal(got.Sorted(), formatted(in)) {
		t.Fatalf("read %d rows back, want %d", got.Len(), len(in))
	}
	c := client.New("http://embedded", nil)
	_ = c
}

// TestCredentials: a store that requires signatures takes the table's
// credentials, and refuses a table without them with AWS's error name.
func TestCredentials(t *testing.T) {
	s, err := server.New(t.TempDir(), server.Options{Credentials: map[string]string{"AKID": "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer func() { ts.Close(); s.Close() }()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	signed := map[string]string{"stream": "s", "endpoint": ts.URL, "stream.create-shards": "2",
		"aws.credentials.basic.accesskeyid": "AKID", "aws.credentials.basic.secretkey": "s3cret"}
	in := rows(0, 300)
	if err := write(t, signed, 1, in); err != nil {
		t.Fatal(err)
	}
	signed["scan.bounded.mode"] = "latest"
	if got := boundedJob(t, signed, 2); got.Len() != len(in) {
		t.Fatalf("read %d rows, want %d", got.Len(), len(in))
	}
	err = write(t, map[string]string{"stream": "s", "endpoint": ts.URL}, 1, in)
	if err == nil || !strings.Contains(err.Error(), "MissingAuthenticationToken") {
		t.Fatalf("unsigned: %v", err)
	}
	bad := map[string]string{"stream": "s", "endpoint": ts.URL, "aws.credentials.basic.accesskeyid": "AKID", "aws.credentials.basic.secretkey": "wrong"}
	err = write(t, bad, 1, in)
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}
	// From the environment, as AWS tools do.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cret")
	if err := write(t, map[string]string{"stream": "s", "endpoint": ts.URL}, 1, rows(0, 10)); err != nil {
		t.Fatalf("credentials from the environment: %v", err)
	}
}

// TestWatermarkFollowsSplit: without any idle timeout, the watermark of an
// unbounded read moves past a split — the parent, read to its end, stops
// holding it back, and the children carry it on.
func TestWatermarkFollowsSplit(t *testing.T) {
	url, c := startStore(t, "in", 1)
	keyed(t, c, "in", 0, 500)
	split(t, url, c, "in")
	keyed(t, c, "in", 500, 1000)
	got, _ := readJob(t, map[string]string{"stream": "in", "endpoint": url}, 2, 1000, func(col *rttest.Collector) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if wms := col.Watermarks(); len(wms) > 0 && wms[len(wms)-1] >= base+900 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wms := got.Watermarks()
	if len(wms) == 0 || wms[len(wms)-1] < base+900 {
		t.Fatalf("watermarks %v: stuck before the split's children (rows up to %d)", wms, base+999)
	}
}

// TestRestoreOldShortSequenceNumberIsRefused: a checkpoint taken when the
// store's sequence numbers were short per-shard counters names the shard
// and the number instead of resuming at a wrong place.
func TestRestoreOldShortSequenceNumberIsRefused(t *testing.T) {
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"stream": "b", "endpoint": "http://127.0.0.1:1"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []string{"17", "", "12x4", "18446744073709551615"} {
		pos := fmt.Sprintf(`{"stream":"b","shards":{"shardId-000000000003":%q}}`, seq)
		err = newSrc().(runtime.CheckpointedSource).RestorePositions([][]byte{[]byte(pos)})
		if err == nil || !strings.Contains(err.Error(), "shardId-000000000003") || !strings.Contains(err.Error(), fmt.Sprintf("%q", seq)) {
			t.Fatalf("restoring sequence number %q: err = %v", seq, err)
		}
	}
	// A 56-digit number, from this store or from Kinesis, restores.
	for _, seq := range []string{"1" + strings.Repeat("0", 54) + "7", "49590338271490256608559692538361571095921575989136588898"} {
		pos := fmt.Sprintf(`{"stream":"b","shards":{"shardId-000000000003":%q}}`, seq)
		if err := newSrc().(runtime.CheckpointedSource).RestorePositions([][]byte{[]byte(pos)}); err != nil {
			t.Fatalf("restoring sequence number %q: %v", seq, err)
		}
	}
}
