package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/format"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/store/client"
	"github.com/sluicehq/sluice/store/server"
)

var schema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()

func row(i int) []runtime.Value {
	names := []string{"plain", `say "hi"`, "two\nlines", "é€😀", ""}
	name := runtime.StringValue(names[i%len(names)])
	if i%11 == 5 {
		name = runtime.NullValue(runtime.Varchar)
	}
	score := runtime.FloatValue(float64(i) / 4)
	if i%7 == 3 {
		score = runtime.NullValue(runtime.Double)
	}
	return []runtime.Value{runtime.IntValue(int64(i)), name, score, runtime.TimeValue(base + int64(i)*1000)}
}

func rows(from, to int) [][]runtime.Value {
	var out [][]runtime.Value
	for i := from; i < to; i++ {
		out = append(out, row(i))
	}
	return out
}

func formatted(rows [][]runtime.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rttest.Format(r)
	}
	slices.Sort(out)
	return out
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startStore runs a store server in-process with a stream of shards shards
// and returns its URL and a client.
func startStore(t *testing.T, stream string, shards int) (string, *client.Client) {
	t.Helper()
	s, err := server.New(t.TempDir(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c := client.New(ts.URL, ts.Client())
	if err := c.CreateStream(context.Background(), stream, shards); err != nil {
		t.Fatal(err)
	}
	return ts.URL, c
}

func connector(t testing.TB) interface {
	connectors.Source
	connectors.Sink
} {
	t.Helper()
	f, ok := connectors.Lookup("store")
	if !ok {
		t.Fatal("store is not registered")
	}
	c, ok := f.(interface {
		connectors.Source
		connectors.Sink
	})
	if !ok {
		t.Fatalf("%T is not a source and a sink", f)
	}
	return c
}

func table(opts map[string]string) connectors.Table {
	return connectors.Table{Name: "t", Schema: schema, Options: opts, TimeColumn: -1}
}

// readAll reads every record of stream with the client, from the start.
func readAll(t *testing.T, c *client.Client, stream string) (data [][]byte, keys []string) {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		it, err := c.GetShardIterator(ctx, client.GetShardIteratorInput{StreamName: stream, ShardId: sh.ShardId, ShardIteratorType: client.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for it != "" {
			out, err := c.GetRecords(ctx, it, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) == 0 {
				break
			}
			for _, r := range out.Records {
				data = append(data, r.Data)
				keys = append(keys, r.PartitionKey)
			}
			it = out.NextShardIterator
		}
	}
	return data, keys
}

// decodeAll decodes JSON records into rows formatted by rttest.Format, sorted.
func decodeAll(t *testing.T, data [][]byte) []string {
	t.Helper()
	dec := format.NewJSONDecoder(schema)
	b := runtime.NewBatch(schema)
	defer b.Release()
	for _, d := range data {
		if err := dec.Decode(d, b); err != nil {
			t.Fatalf("record %s: %v", d, err)
		}
	}
	out := rttest.Strings(b)
	slices.Sort(out)
	return out
}

func TestRegistered(t *testing.T) {
	c := connector(t)
	if c.AcceptsUpdates(table(nil)) {
		t.Fatal("the store sink takes appended rows only")
	}
}

func TestOptions(t *testing.T) {
	f := func(opts map[string]string, want string) {
		t.Helper()
		_, _, err := connector(t).NewSource(table(opts))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("NewSource(%v) = %v, want an error with %q", opts, err, want)
		}
	}
	ok := func(extra ...string) map[string]string {
		m := map[string]string{"stream": "s", "endpoint": "http://127.0.0.1:4567"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	f(map[string]string{"endpoint": "http://x"}, `"stream"`)
	f(ok("endpoint", "ftp://x"), `"endpoint"`)
	f(ok("format", "csv"), `option "format": "csv" is not one of json`)
	f(ok("partition-key", "nope"), `option "partition-key": "nope" is not a column of table`)
	f(ok("scan.startup.mode", "earliest"), `option "scan.startup.mode": "earliest" is not one of trim-horizon, latest, at-timestamp`)
	f(ok("streem", "s"), `did you mean "stream"?`)
	if _, _, err := connector(t).NewSink(table(ok("partition-key", "name", "scan.startup.mode", "latest"))); err != nil {
		t.Fatal(err)
	}
}

// write runs a job writing rows into the stream through a sink of par subtasks.
func write(t *testing.T, opts map[string]string, par int, rows [][]runtime.Value) error {
	t.Helper()
	newSink, n, err := connector(t).NewSink(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		n = par
	}
	g := runtime.NewGraph("write")
	src := g.AddSource("rows", schema, par, rttest.Source(schema, rttest.Deal(rows, 300, par)), runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("store", schema, n, 1, newSink), runtime.Rebalance)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: metrics.NewSet()})
}

func TestSink(t *testing.T) {
	url, c := startStore(t, "out", 4)
	in := rows(0, 1234)
	if err := write(t, map[string]string{"stream": "out", "endpoint": url}, 2, in); err != nil {
		t.Fatal(err)
	}
	data, keys := readAll(t, c, "out")
	if got, want := decodeAll(t, data), formatted(in); !slices.Equal(got, want) {
		t.Fatalf("read back %d rows, want %d:\n%v\nwant\n%v", len(got), len(want), got[:min(5, len(got))], want[:5])
	}
	if slices.Contains(keys, "") {
		t.Fatal("an empty partition key")
	}
}

func TestSinkPartitionKey(t *testing.T) {
	url, c := startStore(t, "out", 3)
	in := rows(0, 200)
	if err := write(t, map[string]string{"stream": "out", "endpoint": url, "partition-key": "id"}, 1, in); err != nil {
		t.Fatal(err)
	}
	data, keys := readAll(t, c, "out")
	if got := decodeAll(t, data); !slices.Equal(got, formatted(in)) {
		t.Fatalf("read back %d rows, want %d", len(got), len(in))
	}
	for i, k := range keys {
		if !bytes.HasPrefix(data[i], []byte(`{"id":`+k+",")) {
			t.Fatalf("record %s has partition key %q, want its id", data[i], k)
		}
	}
}

// TestSinkBatches writes rows large enough that the 5 MiB limit, not the
// 500-record one, cuts the requests.
func TestSinkBatches(t *testing.T) {
	url, c := startStore(t, "out", 2)
	big := strings.Repeat("x", 20<<10)
	var in [][]runtime.Value
	for i := range 600 {
		in = append(in, []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue(big), runtime.NullValue(runtime.Double), runtime.TimeValue(base)})
	}
	if err := write(t, map[string]string{"stream": "out", "endpoint": url}, 1, in); err != nil {
		t.Fatal(err)
	}
	data, _ := readAll(t, c, "out")
	if got := decodeAll(t, data); !slices.Equal(got, formatted(in)) {
		t.Fatalf("read back %d rows, want %d", len(got), len(in))
	}
}

// TestMissingStreamSaysHowToCreateIt: a sink or source table over a stream
// that does not exist fails the job with a message naming the table, the
// stream and the store, and saying how to create the stream.
func TestMissingStreamSaysHowToCreateIt(t *testing.T) {
	url, _ := startStore(t, "out", 1)
	onEndpoint := `table t: stream "other" does not exist on the store at ` + url + `: create it with ` +
		`'stream.create-shards' = '1' (or more shards) in the table's WITH options, or before the job with ` +
		"`sluice stream create other --shards 1 --endpoint " + url + "` or " +
		"`aws kinesis create-stream --stream-name other --shard-count 1 --endpoint-url " + url + "`"
	err := write(t, map[string]string{"stream": "other", "endpoint": url}, 1, rows(0, 10))
	if err == nil || !strings.Contains(err.Error(), onEndpoint) {
		t.Fatalf("sink on an endpoint: err = %v\nwant it to contain %s", err, onEndpoint)
	}
	if err := readMissing(t, map[string]string{"stream": "other", "endpoint": url}); err == nil || !strings.Contains(err.Error(), onEndpoint) {
		t.Fatalf("source on an endpoint: err = %v\nwant it to contain %s", err, onEndpoint)
	}

	// A name near an existing stream's gets "did you mean".
	if err := readMissing(t, map[string]string{"stream": "outt", "endpoint": url}); err == nil ||
		!strings.Contains(err.Error(), `stream "outt" does not exist on the store at `+url+` (did you mean "out"?): create it`) {
		t.Fatalf("source of a misspelled stream: err = %v", err)
	}

	dir := t.TempDir()
	srv, err := server.New(dir, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	UseEmbedded(srv)
	defer UseEmbedded(nil)
	embedded := `table t: stream "other" does not exist in the embedded store (folder ` + dir + `): create it with ` +
		`'stream.create-shards' = '1' (or more shards) in the table's WITH options, or before the job with ` +
		"`sluice stream create other --shards 1 --store-dir " + dir + "`"
	if err := write(t, map[string]string{"stream": "other"}, 1, rows(0, 10)); err == nil || !strings.Contains(err.Error(), embedded) {
		t.Fatalf("sink on the embedded store: err = %v\nwant it to contain %s", err, embedded)
	}
	if err := readMissing(t, map[string]string{"stream": "other"}); err == nil || !strings.Contains(err.Error(), embedded) {
		t.Fatalf("source on the embedded store: err = %v\nwant it to contain %s", err, embedded)
	}
	// As the message says, the option creates it.
	if err := write(t, map[string]string{"stream": "other", "stream.create-shards": "1"}, 1, rows(0, 10)); err != nil {
		t.Fatalf("with 'stream.create-shards': %v", err)
	}
}

// readMissing runs a job reading the table, which is to fail, and returns
// its error.
func readMissing(t *testing.T, opts map[string]string) error {
	t.Helper()
	newSrc, _, err := connector(t).NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	_, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, 1, newSrc, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return runtime.Run(ctx, g, runtime.Options{Parallelism: 1, Metrics: metrics.NewSet()})
}

// put writes records with the client.
func put(t *testing.T, c *client.Client, stream string, data ...[]byte) {
	t.Helper()
	for len(data) > 0 {
		n := min(len(data), 500)
		var recs []client.PutRecordsEntry
		for i, d := range data[:n] {
			recs = append(recs, client.PutRecordsEntry{Data: d, PartitionKey: fmt.Sprint("k", i)})
		}
		out, err := c.PutRecords(context.Background(), stream, recs)
		if err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("PutRecords: %+v, %v", out, err)
		}
		data = data[n:]
	}
}

func encode(rows [][]runtime.Value) [][]byte {
	b := rttest.NewBatch(schema, rows...)
	defer b.Release()
	var out [][]byte
	for i := 0; i < b.Len(); i++ {
		out = append(out, format.AppendJSON(nil, b, i))
	}
	return out
}

// readJob runs a job reading the table with par subtasks until want rows
// have arrived (or a deadline passes), then cancels it.
func readJob(t *testing.T, opts map[string]string, par, want int, started func(*rttest.Collector)) (*rttest.Collector, *metrics.Set) {
	t.Helper()
	return readJobLogged(t, opts, par, want, started, os.Stderr)
}

// readJobLogged is readJob with the job's log lines written to log.
func readJobLogged(t *testing.T, opts map[string]string, par, want int, started func(*rttest.Collector), log io.Writer) (*rttest.Collector, *metrics.Set) {
	t.Helper()
	newSrc, _, err := connector(t).NewSource(table(opts))
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(schema)
	g := runtime.NewGraph("read")
	src := g.AddSource("src", schema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 3})
	g.Connect(src, g.AddOperator("collect", schema, 1, 1, sink), runtime.Global)
	set := metrics.NewSet()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, g, runtime.Options{Parallelism: par, Metrics: set, Logger: lineLogger(log)})
	}()
	if started != nil {
		started(c)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Len() < want && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("job ended early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil && ctx.Err() == nil {
		t.Fatal(err)
	}
	if c.Len() < want {
		t.Fatalf("%d rows arrived, want %d", c.Len(), want)
	}
	return c, set
}

func TestSource(t *testing.T) {
	for _, par := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			url, c := startStore(t, "in", 5)
			in := rows(0, 3000)
			put(t, c, "in", encode(in)...)
			got, _ := readJob(t, map[string]string{"stream": "in", "endpoint": url}, par, len(in), nil)
			if !slices.Equal(got.Sorted(), formatted(in)) {
				t.Fatalf("read %d rows, want %d", got.Len(), len(in))
			}
		})
	}
}

func TestSourceLatest(t *testing.T) {
	url, c := startStore(t, "in", 2)
	put(t, c, "in", encode(rows(0, 100))...) // before the job: not read
	in := rows(100, 150)
	has := func(col *rttest.Collector, rows [][]runtime.Value) bool {
		got := col.Strings()
		for _, r := range rows {
			if !slices.Contains(got, rttest.Format(r)) {
				return false
			}
		}
		return true
	}
	got, _ := readJob(t, map[string]string{"stream": "in", "endpoint": url, "scan.startup.mode": "latest"}, 1, 0, func(col *rttest.Collector) {
		// The job takes its iterators at its first polls: put probe rows
		// until one arrives, then the rows to check.
		deadline := time.Now().Add(30 * time.Second)
		for k := 0; col.Len() == 0 && time.Now().Before(deadline); k++ {
			put(t, c, "in", encode(rows(1000+10*k, 1010+10*k))...)
			time.Sleep(20 * time.Millisecond)
		}
		put(t, c, "in", encode(in)...)
		for !has(col, in) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	})
	if !has(got, in) {
		t.Fatalf("rows 100..149 not all read")
	}
	if has(got, rows(0, 1)) || slices.ContainsFunc(got.Rows(), func(r []runtime.Value) bool { return r[0].I < 100 }) {
		t.Fatal("read a row put before the job started")
	}
}

func TestSourceBadRecords(t *testing.T) {
	var log syncBuffer
	url, c := startStore(t, "in", 1)
	in := rows(0, 100)
	var data [][]byte
	for i, d := range encode(in) {
		data = append(data, d)
		if i%10 == 0 {
			data = append(data, []byte(`{"id": "not a number"`))
		}
	}
	put(t, c, "in", data...)
	got, set := readJobLogged(t, map[string]string{"stream": "in", "endpoint": url}, 1, len(in), nil, &log)
	if !slices.Equal(got.Sorted(), formatted(in)) {
		t.Fatalf("read %d rows, want %d", got.Len(), len(in))
	}
	if n, _ := rttest.Metric(set, "sluice_operator_bad_records_total", "src"); n != 10 {
		t.Fatalf("bad records metric %v, want 10", n)
	}
	// Ten bad records: each logged in full, naming its place.
	if s := log.String(); strings.Count(s, "stream in shard shardId-000000000000 sequence number ") != 10 || strings.Count(s, "\n") != 10 {
		t.Fatalf("log: want ten lines naming the stream, shard and sequence number:\n%s", s)
	}
}

// lineLogger is a job logger writing "sluice: " lines to w, as the command does.
func lineLogger(w io.Writer) *slog.Logger { return slog.New(runtime.NewLineHandler(w, nil)) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
