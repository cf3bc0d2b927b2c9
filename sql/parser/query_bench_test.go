package parser

import (
	"os"
	"testing"
)

// BenchmarkParseQuery parses Nexmark's q5, its longest query.
func BenchmarkParseQuery(b *testing.B) {
	src, err := os.ReadFile("../../bench/nexmark/queries/q5.sql")
	if err != nil {
		b.Fatal(err)
	}
	texts, at := queriesOf(&testing.T{}, string(src))
	q := texts[0]
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ParseQuery(q, at[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
