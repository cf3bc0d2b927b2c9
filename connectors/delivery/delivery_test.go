package delivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

var schema = runtime.NewSchema(
	runtime.Field{Name: "id", Type: runtime.BigInt},
	runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "ok", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.Int, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

// t0 is 2026-11-25 10:00:00 UTC.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli()

// row i: name "a" or "b", ts = t0 + i hours.
func row(i int) []runtime.Value {
	return []runtime.Value{runtime.IntValue(int64(i)), runtime.StringValue([]string{"a", "b"}[i%2]),
		runtime.FloatValue(float64(i) + 0.5), runtime.BoolValue(i%3 == 0), {Type: runtime.Int, I: int64(i * 10)},
		runtime.TimeValue(t0 + int64(i)*3600_000)}
}

func rows(from, to int) [][]runtime.Value {
	var out [][]runtime.Value
	for i := from; i < to; i++ {
		out = append(out, row(i))
	}
	return out
}

var tableSeq int

// newSink returns an opened subtask of a delivery sink with opts, for a
// table of a unique name (metrics are per table).
func newSink(t *testing.T, opts map[string]string, checkpointing bool) *sink {
	t.Helper()
	tableSeq++
	name := fmt.Sprintf("t%d_%s", tableSeq, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")))
	return openSink(t, name, opts, checkpointing)
}

func openSink(t *testing.T, name string, opts map[string]string, checkpointing bool) *sink {
	t.Helper()
	f, ok := connectors.Lookup("delivery")
	if !ok {
		t.Fatal("delivery is not registered")
	}
	newOp, _, err := f.(connectors.Sink).NewSink(connectors.Table{Name: name, Schema: schema, Options: opts, TimeColumn: -1})
	if err != nil {
		t.Fatal(err)
	}
	op := newOp().(*sink)
	ctx := rttest.NewContext("delivery", 0, 1)
	ctx.Checkpointing = checkpointing
	must(t, op.Open(ctx))
	t.Cleanup(func() { op.Close() })
	return op
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func feed(t *testing.T, op *sink, rs [][]runtime.Value) {
	t.Helper()
	must(t, op.ProcessBatch(0, rttest.NewBatch(schema, rs...), nil))
}

// objects returns the visible files under dir (not .staging), by path
// relative to dir with '/'.
func objects(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == stagingDir {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = data
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// staged counts the files under dir/.staging but for the commit records.
func staged(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(filepath.Join(dir, stagingDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !isRecord(p) {
			n++
		}
		return nil
	})
	return n
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(data))
	must(t, err)
	out, err := io.ReadAll(r)
	must(t, err)
	return out
}

func lines(data []byte) []string {
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// counter reads a counter of the sink op from its job's metrics set.
func counter(op *sink, name string) uint64 {
	return op.m.set.GetOrCreateCounter(name).Get()
}

var objectName = regexp.MustCompile(`-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}`)

// TestJSONGzip: rows partitioned by event hour, gzipped JSON lines, read
// back whole; object names as Firehose's; metrics counted.
func TestJSONGzip(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "compression": "gzip",
		"prefix": "logs/", "prefix.time": "ts"}, false)
	feed(t, op, rows(0, 3))
	if got := objects(t, dir); len(got) != 0 {
		t.Fatalf("objects before the buffer is full: %v", got)
	}
	must(t, op.Finish(nil))
	got := objects(t, dir)
	if len(got) != 3 {
		t.Fatalf("got %d objects, want one per hour: %v", len(got), got)
	}
	var all []string
	for name, data := range got {
		if !strings.HasPrefix(name, "logs/2026/11/25/1") || !strings.HasSuffix(name, ".json.gz") ||
			!strings.Contains(name, "/"+op.cfg.table+"-") || !objectName.MatchString(name) {
			t.Errorf("object name %s", name)
		}
		all = append(all, lines(gunzip(t, data))...)
	}
	slices.Sort(all)
	want := []string{
		`{"id":0,"name":"a","score":0.5,"ok":true,"n":0,"ts":"2026-11-25T10:00:00.000Z"}`,
		`{"id":1,"name":"b","score":1.5,"ok":false,"n":10,"ts":"2026-11-25T11:00:00.000Z"}`,
		`{"id":2,"name":"a","score":2.5,"ok":false,"n":20,"ts":"2026-11-25T12:00:00.000Z"}`,
	}
	if !slices.Equal(all, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := got["logs/2026/11/25/10/"+strings.TrimPrefix(firstKey(got, "/10/"), "logs/2026/11/25/10/")]; !ok {
		t.Errorf("no object for 10:00: %v", got)
	}
	l := `{table="` + op.cfg.table + `"}`
	if r, o := counter(op, "sluice_delivery_records_total"+l), counter(op, "sluice_delivery_objects_total"+l); r != 3 || o != 3 {
		t.Errorf("metrics: %d records, %d objects; want 3, 3", r, o)
	}
}

func firstKey(m map[string][]byte, sub string) string {
	for k := range m {
		if strings.Contains(k, sub) {
			return k
		}
	}
	return ""
}

// TestCSVAndCompressions: CSV objects, with the default prefix (processing
// time) and every compression codec readable back.
func TestCSVAndCompressions(t *testing.T) {
	for _, c := range []string{"none", "gzip", "zstd", "snappy"} {
		t.Run(c, func(t *testing.T) {
			dir := t.TempDir()
			op := newSink(t, map[string]string{"destination": "file://" + dir, "format": "csv", "compression": c}, false)
			feed(t, op, rows(0, 2))
			must(t, op.Finish(nil))
			got := objects(t, dir)
			if len(got) != 1 {
				t.Fatalf("got %d objects, want 1", len(got))
			}
			name, data := firstKey(got, ""), got[firstKey(got, "")]
			hour := time.Now().UTC().Format("2006/01/02/")
			if !strings.HasPrefix(name, hour) || !strings.HasSuffix(name, ".csv"+compressionExt(c)) {
				t.Errorf("object %s, want under %s…", name, hour)
			}
			text := decompress(t, c, data)
			want := "0,a,0.5,true,0,2026-11-25T10:00:00.000Z\n1,b,1.5,false,10,2026-11-25T11:00:00.000Z\n"
			if string(text) != want {
				t.Fatalf("CSV:\n%s\nwant:\n%s", text, want)
			}
		})
	}
}

// TestParquet: a Parquet object read back with parquet-go: column types,
// optional columns, values, Snappy column chunks.
func TestParquet(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "format": "parquet", "prefix": "p/!{timestamp:yyyy}/"}, false)
	rs := rows(0, 3)
	rs = append(rs, []runtime.Value{runtime.IntValue(3), runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Double),
		runtime.NullValue(runtime.Boolean), runtime.NullValue(runtime.Int), runtime.NullValue(runtime.Timestamp)})
	feed(t, op, rs)
	must(t, op.Finish(nil))
	got := objects(t, dir)
	name := firstKey(got, "p/2026/")
	if len(got) != 1 || !strings.HasSuffix(name, ".parquet") {
		t.Fatalf("objects: %v", got)
	}
	data := got[name]
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	must(t, err)
	types := map[string]string{}
	for _, col := range f.Schema().Columns() {
		leaf, _ := f.Schema().Lookup(col...)
		types[col[0]] = fmt.Sprintf("%v optional=%v", leaf.Node.Type(), leaf.Node.Optional())
	}
	wantTypes := map[string]string{"id": "INT(64,true) optional=false", "name": "STRING optional=true",
		"score": "DOUBLE optional=true", "ok": "BOOLEAN optional=true", "n": "INT(32,true) optional=true",
		"ts": "TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS) optional=true"}
	for k, v := range wantTypes {
		if types[k] != v {
			t.Errorf("column %s: %s, want %s", k, types[k], v)
		}
	}
	if codec := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); codec != "SNAPPY" {
		t.Errorf("codec %s, want SNAPPY", codec)
	}
	r := parquet.NewReader(bytes.NewReader(data))
	defer r.Close()
	prs := make([]parquet.Row, 10)
	n, _ := r.ReadRows(prs)
	if n != 4 {
		t.Fatalf("read %d rows, want 4", n)
	}
	col := func(name string) int { l, _ := f.Schema().Lookup(name); return l.ColumnIndex }
	var gotRows []string
	for _, pr := range prs[:n] {
		var b strings.Builder
		for _, c := range []string{"id", "name", "score", "ok", "n", "ts"} {
			v := pr[col(c)]
			if v.IsNull() {
				b.WriteString("NULL ")
				continue
			}
			switch c {
			case "name":
				b.WriteString(string(v.ByteArray()))
			case "score":
				fmt.Fprint(&b, v.Double())
			case "ok":
				fmt.Fprint(&b, v.Boolean())
			case "n":
				fmt.Fprint(&b, v.Int32())
			case "ts":
				b.WriteString(time.UnixMilli(v.Int64()).UTC().Format(time.RFC3339))
			default:
				fmt.Fprint(&b, v.Int64())
			}
			b.WriteByte(' ')
		}
		gotRows = append(gotRows, strings.TrimSpace(b.String()))
	}
	want := []string{"0 a 0.5 true 0 2026-11-25T10:00:00Z", "1 b 1.5 false 10 2026-11-25T11:00:00Z",
		"2 a 2.5 false 20 2026-11-25T12:00:00Z", "3 NULL NULL NULL NULL NULL"}
	if !slices.Equal(gotRows, want) {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(gotRows, "\n"), strings.Join(want, "\n"))
	}
}

// errorRecord is a record of the error output.
type errorRecord struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                string `json:"rawData"`
	DeliveryStreamName     string `json:"deliveryStreamName"`
}

// errorRecords reads the error records of the objects under prefix.
func errorRecords(t *testing.T, got map[string][]byte, prefix string) []errorRecord {
	t.Helper()
	var out []errorRecord
	for name, data := range got {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, l := range lines(data) {
			var e errorRecord
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("error record %q: %v", l, err)
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b errorRecord) int { return strings.Compare(a.RawData, b.RawData) })
	return out
}

func raw(t *testing.T, e errorRecord) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(e.RawData)
	must(t, err)
	return string(b)
}

// TestPartitionKeyFromQuery: objects per column value and event-time
// folders; rows whose key is NULL, empty or holds '/' go to the error prefix
// with the reason.
func TestPartitionKeyFromQuery(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "prefix.time": "ts",
		"prefix": "by/!{partitionKeyFromQuery:name}/!{timestamp:yyyy-MM-dd}/"}, false)
	rs := rows(0, 4)
	bad := func(id int64, name runtime.Value) []runtime.Value {
		r := row(int(id))
		r[0], r[1] = runtime.IntValue(id), name
		return r
	}
	rs = append(rs, bad(100, runtime.NullValue(runtime.Varchar)), bad(101, runtime.StringValue("")), bad(102, runtime.StringValue("x/../y")))
	feed(t, op, rs)
	must(t, op.Finish(nil))
	got := objects(t, dir)
	perKey := map[string]int{}
	for name, data := range got {
		if strings.HasPrefix(name, "by/") {
			perKey[name[:strings.LastIndexByte(name, '/')]] += len(lines(data))
		}
	}
	if want := map[string]int{"by/a/2026-11-25": 2, "by/b/2026-11-25": 2}; fmt.Sprint(perKey) != fmt.Sprint(want) {
		t.Errorf("rows per folder %v, want %v", perKey, want)
	}
	hour := time.Now().UTC().Format("2006/01/02/")
	errs := errorRecords(t, got, "errors/processing-failed/"+hour)
	if len(errs) != 3 {
		t.Fatalf("%d error records, want 3 (objects %v)", len(errs), keys(got))
	}
	for _, e := range errs {
		if e.ErrorCode != "DynamicPartitioning.MetadataExtractionFailed" || !strings.Contains(e.ErrorMessage, "column name") ||
			e.DeliveryStreamName != op.cfg.table || e.ArrivalTimestamp == 0 {
			t.Errorf("error record %+v", e)
		}
	}
	if r := raw(t, errs[0]); !strings.HasPrefix(r, `{"id":10`) {
		t.Errorf("rawData %s", r)
	}
	l := `{table="` + op.cfg.table + `",type="processing-failed"}`
	if n := counter(op, "sluice_delivery_errors_total"+l); n != 3 {
		t.Errorf("errors counted: %d, want 3", n)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestConversionErrors: values Parquet cannot take (an INT beyond INT32, a
// NULL in a NOT NULL column) go to a custom error prefix with the reason;
// the other rows are delivered.
func TestConversionErrors(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "format": "parquet",
		"error-prefix": "bad/!{firehose:error-output-type}/!{timestamp:yyyy}/"}, false)
	rs := rows(0, 2)
	big := row(7)
	big[4] = runtime.Value{Type: runtime.Int, I: 1 << 40}
	null := row(8)
	null[0] = runtime.NullValue(runtime.BigInt)
	feed(t, op, append(rs, big, null))
	must(t, op.Finish(nil))
	got := objects(t, dir)
	errs := errorRecords(t, got, "bad/format-conversion-failed/"+time.Now().UTC().Format("2006")+"/")
	if len(errs) != 2 {
		t.Fatalf("%d error records, want 2: %v", len(errs), keys(got))
	}
	msgs := errs[0].ErrorMessage + " | " + errs[1].ErrorMessage
	if !strings.Contains(msgs, "does not fit Parquet INT32") || !strings.Contains(msgs, "column id is NOT NULL") {
		t.Errorf("reasons: %s", msgs)
	}
	n := 0
	for name := range got {
		if strings.HasSuffix(name, ".parquet") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d parquet objects, want 1", n)
	}
}

// TestBufferSize: a buffer becomes an object once it holds buffer.size MiB.
func TestBufferSize(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "buffer.size": "1", "prefix": "s/!{timestamp:yyyy}/"}, false)
	big := strings.Repeat("x", 100<<10)
	var rs [][]runtime.Value
	for i := range 25 { // ~2.5 MiB
		r := row(i)
		r[1] = runtime.StringValue(big)
		rs = append(rs, r)
	}
	feed(t, op, rs)
	if got := objects(t, dir); len(got) != 2 {
		t.Fatalf("%d objects before the end, want 2 (1 MiB each)", len(got))
	}
	for name, data := range objects(t, dir) {
		if len(data) < 1<<20 || len(data) > 1<<20+110<<10 {
			t.Errorf("%s: %d bytes", name, len(data))
		}
	}
	must(t, op.Finish(nil))
	if got := objects(t, dir); len(got) != 3 {
		t.Fatalf("%d objects at the end, want 3", len(got))
	}
}

// TestBufferInterval: a buffer becomes an object once it has been open
// buffer.interval (its timer fires), not before.
func TestBufferInterval(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "buffer.interval": "60"}, false)
	start := time.Now().UnixMilli()
	feed(t, op, rows(0, 2))
	must(t, op.OnProcessingTime(start+30_000, nil))
	if got := objects(t, dir); len(got) != 0 {
		t.Fatalf("delivered after 30 s of 60: %v", keys(got))
	}
	must(t, op.OnProcessingTime(time.Now().UnixMilli()+60_000, nil))
	if got := objects(t, dir); len(got) != 1 {
		t.Fatalf("%d objects after 60 s, want 1", len(got))
	}
}

// TestMaxOpenPartitions: a row for a partition beyond max-open-partitions
// delivers the oldest buffer first.
func TestMaxOpenPartitions(t *testing.T) {
	dir := t.TempDir()
	op := newSink(t, map[string]string{"destination": "file://" + dir, "max-open-partitions": "2",
		"prefix": "k/!{partitionKeyFromQuery:id}/!{timestamp:yyyy}/"}, false)
	feed(t, op, rows(0, 2))
	if got := objects(t, dir); len(got) != 0 {
		t.Fatalf("objects %v", keys(got))
	}
	feed(t, op, rows(2, 3))
	got := objects(t, dir)
	if len(got) != 1 || !strings.HasPrefix(firstKey(got, ""), "k/0/") {
		t.Fatalf("objects %v, want the oldest partition (k/0/) only", keys(got))
	}
}

// TestOptionErrors: bad options are refused naming the option.
func TestOptionErrors(t *testing.T) {
	f := func(opts map[string]string, want string) {
		t.Helper()
		fac, _ := connectors.Lookup("delivery")
		_, _, err := fac.(connectors.Sink).NewSink(connectors.Table{Name: "x", Schema: schema, Options: opts})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %v, want %q", opts, err, want)
		}
	}
	d := "file:///tmp/x"
	f(map[string]string{}, `"destination"`)
	f(map[string]string{"destination": "ftp://x"}, "want file:///abs/dir")
	f(map[string]string{"destination": "file://rel"}, "file URL")
	f(map[string]string{"destination": d, "buffer.size": "129"}, `"buffer.size"`)
	f(map[string]string{"destination": d, "buffer.interval": "901"}, `"buffer.interval"`)
	f(map[string]string{"destination": d, "format": "avro"}, `"format"`)
	f(map[string]string{"destination": d, "compression": "lz4"}, `"compression"`)
	f(map[string]string{"destination": d, "prefix": "!{partitionKeyFromQuery:nope}"}, `no column "nope"`)
	f(map[string]string{"destination": d, "prefix": "!{timestamp:yyyy"}, "unclosed")
	f(map[string]string{"destination": d, "prefix": "!{timestamp:QQ}"}, "not supported")
	f(map[string]string{"destination": d, "prefix.time": "name"}, `"prefix.time"`)
	f(map[string]string{"destination": d, "prefix": "../x/"}, "..")
	f(map[string]string{"destination": "http://h/", "format": "parquet"}, "not parquet")
	f(map[string]string{"destination": "s3://b/p"}, "s3.endpoint")
	f(map[string]string{"destination": d, "bufer.size": "1"}, `did you mean "buffer.size"`)
}

// TestPrefixExpressions checks the expressions against Firehose's examples.
func TestPrefixExpressions(t *testing.T) {
	f := func(prefix, want string) {
		t.Helper()
		p, err := parsePrefix(prefix, schema, true)
		if err != nil {
			t.Fatal(err)
		}
		b := rttest.NewBatch(schema, row(1))
		got, err := p.eval(nil, b, 0, t0+5*60_000+7_000, "processing-failed")
		must(t, err)
		if string(got) != want {
			t.Errorf("%q: got %q, want %q", prefix, got, want)
		}
	}
	f("", "2026/11/25/10/")
	f("logs", "logs/2026/11/25/10/")
	f("logs/", "logs/2026/11/25/10/")
	f("logs/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/", "logs/2026/11/25/10/")
	f("!{timestamp:'year='yyyy/'month='MM}/", "year=2026/month=11/")
	f("x/!{timestamp:yy-MM-dd HH:mm:ss}/", "x/26-11-25 10:05:07/")
	f("e/!{firehose:error-output-type}/", "e/processing-failed/2026/11/25/10/")
	f("k=!{partitionKeyFromQuery:name}/n=!{partitionKeyFromQuery:n}/", "k=b/n=10/2026/11/25/10/")
	p, _ := parsePrefix("r/!{firehose:random-string}/", schema, false)
	got, _ := p.eval(nil, nil, 0, t0, "")
	if !regexp.MustCompile(`^r/[a-z0-9]{11}/2026/11/25/10/$`).Match(got) {
		t.Errorf("random-string: %q", got)
	}
}

func decompress(t *testing.T, codec string, data []byte) []byte {
	t.Helper()
	switch codec {
	case "gzip":
		return gunzip(t, data)
	case "zstd":
		return unzstd(t, data)
	case "snappy":
		return unsnappy(t, data)
	}
	return data
}

func connectorsTable(name string, opts map[string]string) connectors.Table {
	return connectors.Table{Name: name, Schema: schema, Options: opts, TimeColumn: -1}
}

// TestIntervalInJob: in a running job the buffer interval's processing-time
// timer delivers an object while the source is still open.
func TestIntervalInJob(t *testing.T) {
	dir := t.TempDir()
	c, err := parseConfig(connectorsTable("interval_job", map[string]string{"destination": "file://" + dir, "buffer.interval": "200ms"}))
	must(t, err)
	var early atomic.Bool
	seen := func() bool {
		if len(objects(t, dir)) > 0 {
			early.Store(true)
		}
		return early.Load()
	}
	g := runtime.NewGraph("interval")
	src := g.AddSource("rows", schema, 1, rttest.Source(schema, rttest.Deal(rows(0, 5), 0, 1), rttest.Hold(seen, 10*time.Second)), runtime.WatermarkStrategy{})
	snk := g.AddOperator("lake", schema, 1, 1, func() runtime.Operator { return &sink{cfg: c} })
	g.Connect(src, snk, runtime.Forward)
	must(t, runtime.Run(context.Background(), g, runtime.Options{Parallelism: 1}))
	if !early.Load() {
		t.Fatal("no object was delivered before the end of input")
	}
	var n int
	for _, data := range objects(t, dir) {
		n += len(lines(data))
	}
	if n != 5 {
		t.Fatalf("%d rows delivered, want 5", n)
	}
}

// TestCSVDelimiterAsFileAndKafkaTakeIt: 'csv.field-delimiter' takes what
// the file and kafka connectors take — tab, \t, \| and one character.
func TestCSVDelimiterAsFileAndKafkaTakeIt(t *testing.T) {
	for delim, sep := range map[string]string{"tab": "\t", `\t`: "\t", `\|`: "|", ";": ";"} {
		dir := t.TempDir()
		op := newSink(t, map[string]string{"destination": "file://" + dir, "format": "csv", "csv.field-delimiter": delim}, false)
		feed(t, op, rows(0, 1))
		must(t, op.Finish(nil))
		got := objects(t, dir)
		want := strings.Join([]string{"0", "a", "0.5", "true", "0", "2026-11-25T10:00:00.000Z"}, sep) + "\n"
		if data := got[firstKey(got, "")]; string(data) != want {
			t.Errorf("delimiter %q: CSV %q, want %q", delim, data, want)
		}
	}
}
