package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/blackhole"
	"github.com/sluicehq/sluice/runtime"
)

// benchSchema is a clickstream event (as in the format benchmarks).
var benchSchema = runtime.NewSchema(
	runtime.Field{Name: "page", Type: runtime.Varchar},
	runtime.Field{Name: "user", Type: runtime.BigInt},
	runtime.Field{Name: "ms", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "mobile", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "referrer", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

// BenchmarkFileSourceJSON reads 1,000,000 JSON lines in 4 files through the
// file source into a discarding sink, with one subtask and with two.
func BenchmarkFileSourceJSON(b *testing.B) {
	const files, perFile = 4, 250_000
	dir := b.TempDir()
	var size int64
	for f := range files {
		var sb strings.Builder
		for i := f * perFile; i < (f+1)*perFile; i++ {
			ref := `null`
			if i%3 == 0 {
				ref = fmt.Sprintf(`"https://search.example/?q=item+%d"`, i%97)
			}
			fmt.Fprintf(&sb, `{"page":"/products/%d","user":%d,"ms":%d,"score":%d.%02d,"mobile":%t,"referrer":%s,`+
				`"ctx":{"ip":"10.0.%d.%d","tags":["a","b"]},"ts":"2026-11-25T10:%02d:%02d.%03dZ"}`+"\n",
				i%500, 100000+i*7919%50000, i%250, i%10, i%100, i%2 == 0, ref, i%256, i%199, i/60000%60, i/1000%60, i%1000)
		}
		size += int64(sb.Len())
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("events-%d.json", f)), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	newSrc, _, err := factory{}.NewSource(tableOf(benchSchema, map[string]string{"path": dir}))
	if err != nil {
		b.Fatal(err)
	}
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("p=%d", par), func(b *testing.B) {
			b.SetBytes(size)
			var rows int64
			for b.Loop() {
				var c blackhole.Counter
				g := runtime.NewGraph("bench")
				src := g.AddSource("src", benchSchema, par, newSrc, runtime.WatermarkStrategy{TimeColumn: 6, MaxOutOfOrderness: time.Second})
				g.Connect(src, g.AddOperator("discard", benchSchema, par, 1, blackhole.New(&c)), runtime.Forward)
				if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par, Metrics: metrics.NewSet()}); err != nil {
					b.Fatal(err)
				}
				if c.Rows() != files*perFile {
					b.Fatalf("%d rows, want %d", c.Rows(), files*perFile)
				}
				rows += c.Rows()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
