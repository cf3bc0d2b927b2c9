package format

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// benchSchema is a clickstream event; benchLines also carry a key the
// schema does not declare, with a nested value to skip.
var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "page", Type: runtime.Varchar},
	runtime.Field{Name: "user", Type: runtime.BigInt},
	runtime.Field{Name: "ms", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "mobile", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "referrer", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

func benchLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		ref := `null`
		if i%3 == 0 {
			ref = fmt.Sprintf(`"https://search.example/?q=item+%d"`, i%97)
		}
		lines[i] = fmt.Appendf(nil, `{"page":"/products/%d","user":%d,"ms":%d,"score":%d.%02d,"mobile":%t,"referrer":%s,`+
			`"ctx":{"ip":"10.0.%d.%d","tags":["a","b"]},"ts":"2026-11-25T10:%02d:%02d.%03dZ"}`,
			i%500, 100000+i*7919%50000, i%250, i%10, i%100, i%2 == 0, ref, i%256, i%199, i/60000%60, i/1000%60, i%1000)
	}
	return lines
}

func reportRows(b *testing.B, rows int) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkJSONDecode: the schema-driven decoder, lines into column vectors.
func BenchmarkJSONDecode(b *testing.B) {
	lines := benchLines(4096)
	d := NewJSONDecoder(benchSchema)
	batch := runtime.NewBatch(benchSchema)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if batch.N == runtime.DefaultBatchRows {
			batch.Reset()
		}
		if err := d.Decode(lines[rows%len(lines)], batch); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	reportRows(b, rows)
}

// BenchmarkEncodingJSONToMaps: the same lines with encoding/json into
// map[string]any, as a record-at-a-time pipeline decodes them.
func BenchmarkEncodingJSONToMaps(b *testing.B) {
	lines := benchLines(4096)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(lines[rows%len(lines)], &m); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	reportRows(b, rows)
}

func BenchmarkCSVDecode(b *testing.B) {
	lines := benchLines(4096)
	in := runtime.NewBatch(benchSchema)
	d := NewJSONDecoder(benchSchema)
	e, _ := NewCSVEncoder(CSVOptions{})
	var recs [][]byte
	for _, l := range lines {
		if err := d.Decode(l, in); err != nil {
			b.Fatal(err)
		}
		recs = append(recs, e.Append(nil, in, in.N-1))
		if in.N == runtime.DefaultBatchRows {
			in.Reset()
		}
	}
	c, _ := NewCSVDecoder(benchSchema, CSVOptions{})
	batch := runtime.NewBatch(benchSchema)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if batch.N == runtime.DefaultBatchRows {
			batch.Reset()
		}
		if err := c.Decode(recs[rows%len(recs)], batch); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	reportRows(b, rows)
}

func BenchmarkAppendJSON(b *testing.B) {
	lines := benchLines(runtime.DefaultBatchRows)
	d := NewJSONDecoder(benchSchema)
	batch := runtime.NewBatch(benchSchema)
	for _, l := range lines {
		if err := d.Decode(l, batch); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		buf = AppendJSON(buf[:0], batch, rows%batch.N)
		rows++
	}
	reportRows(b, rows)
}

// benchChanges wraps benchLines as changelog-json records (every fourth
// an update's -U/+U pair) or Debezium events (every fourth an update).
func benchChanges(n int, debezium bool) [][]byte {
	lines := benchLines(n + 1)
	out := make([][]byte, n)
	ops := []string{"+I", "-U", "+U", "-D"}
	for i := range out {
		switch {
		case !debezium:
			out[i] = fmt.Appendf(nil, `{"op":"%s","row":%s}`, ops[i%4], lines[i])
		case i%4 == 0:
			out[i] = fmt.Appendf(nil, `{"before":%s,"after":%s,"source":{"connector":"mysql","db":"shop","table":"clicks","pos":%d},"op":"u","ts_ms":1764064800000}`,
				lines[i], lines[i+1], i)
		default:
			out[i] = fmt.Appendf(nil, `{"before":null,"after":%s,"source":{"connector":"mysql","db":"shop","table":"clicks","pos":%d},"op":"c","ts_ms":1764064800000}`,
				lines[i], i)
		}
	}
	return out
}

func benchChangelog(b *testing.B, lines [][]byte, decode func([]byte, *runtime.Batch) error) {
	batch := runtime.NewBatch(benchSchema)
	b.ReportAllocs()
	rows, i := 0, 0
	for b.Loop() {
		if batch.N >= runtime.DefaultBatchRows {
			rows += batch.N
			batch.Reset()
		}
		if err := decode(lines[i%len(lines)], batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRows(b, rows+batch.N)
}

// BenchmarkChangelogJSONDecode: changelog-json records into rows with kinds.
func BenchmarkChangelogJSONDecode(b *testing.B) {
	benchChangelog(b, benchChanges(4096, false), NewChangelogJSONDecoder(benchSchema).Decode)
}

// BenchmarkDebeziumJSONDecode: Debezium events (a quarter updates) into
// rows with kinds.
func BenchmarkDebeziumJSONDecode(b *testing.B) {
	benchChangelog(b, benchChanges(4096, true), NewDebeziumJSONDecoder(benchSchema, DebeziumOptions{}).Decode)
}

// BenchmarkJSONDecodeROW: lines whose ROW column is a nested object.
func BenchmarkJSONDecodeROW(b *testing.B) {
	s := runtime.NewSchema(
		runtime.Field{Name: "user", Type: runtime.BigInt},
		runtime.Field{Name: "bid.auction", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "bid.price", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "bid.channel", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
	lines := make([][]byte, 4096)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"user":%d,"bid":{"auction":%d,"price":%d,"channel":"ch-%d"},"ts":"2026-11-25T10:%02d:%02d.%03dZ"}`,
			i, i%1000, i*7%100000, i%7, i/60000%60, i/1000%60, i%1000)
	}
	d := NewJSONDecoder(s)
	batch := runtime.NewBatch(s)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if batch.N == runtime.DefaultBatchRows {
			batch.Reset()
		}
		if err := d.Decode(lines[rows%len(lines)], batch); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	reportRows(b, rows)
}

// eventSchema and eventLines are the ingest benchmark's records (package
// bench): a key, a value and a time as SQL's TIMESTAMP text.
var eventSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
)

func eventLines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		ms := 1_700_000_000_000 + int64(i)/10 - int64(i*7)%50
		lines[i] = fmt.Appendf(nil, `{"k":%d,"v":%d,"ts":"%s"}`, i*2654435761%10000, i%1000,
			time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000"))
	}
	return lines
}

// BenchmarkJSONDecodeEvents: small records of two integers and a time, in
// time order (the times of consecutive lines share their minute).
func BenchmarkJSONDecodeEvents(b *testing.B) {
	lines := eventLines(1 << 16)
	d := NewJSONDecoder(eventSchema)
	batch := runtime.NewBatch(eventSchema)
	rows := 0
	for b.Loop() {
		if batch.N == runtime.DefaultBatchRows {
			batch.Reset()
		}
		if err := d.Decode(lines[rows%len(lines)], batch); err != nil {
			b.Fatal(err)
		}
		rows++
	}
	reportRows(b, rows)
}

// BenchmarkJSONDecodeShape: the ingest events, the clickstream lines and
// the events with a key the schema lacks at the end of every other line
// (the worst case for one remembered shape: every other line differs only
// at its end) decoded with the remembered line shape tried first ("shape")
// and by the general path alone ("general"):
//
//	go test -run '^$' -bench JSONDecodeShape -count 3 ./connectors/format
func BenchmarkJSONDecodeShape(b *testing.B) {
	for _, data := range []struct {
		name   string
		schema *runtime.Schema
		lines  [][]byte
	}{{"events", eventSchema, eventLines(1 << 16)}, {"clicks", benchSchema, benchLines(4096)},
		{"events-two-shapes", eventSchema, twoShapes(eventLines(1 << 16))}} {
		for _, path := range []string{"shape", "general"} {
			b.Run(data.name+"/"+path, func(b *testing.B) {
				shapes = path == "shape"
				defer func() { shapes = true }()
				d := NewJSONDecoder(data.schema)
				batch := runtime.NewBatch(data.schema)
				rows := 0
				for b.Loop() {
					if batch.N == runtime.DefaultBatchRows {
						batch.Reset()
					}
					if err := d.Decode(data.lines[rows%len(data.lines)], batch); err != nil {
						b.Fatal(err)
					}
					rows++
				}
				reportRows(b, rows)
			})
		}
	}
}

// twoShapes adds a key the schema lacks at the end of every other line.
func twoShapes(lines [][]byte) [][]byte {
	for i := 1; i < len(lines); i += 2 {
		l := lines[i]
		lines[i] = append(l[:len(l)-1:len(l)-1], `,"x":1}`...)
	}
	return lines
}
