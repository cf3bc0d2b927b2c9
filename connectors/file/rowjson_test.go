package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestROWColumnsReadAndWriteNestedJSON: through SQL, a file of JSON lines
// with nested objects fills a table's ROW columns (fields selected as
// r.x), and a ROW column written to a JSON file is a nested object again.
func TestROWColumnsReadAndWriteNestedJSON(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	lines := `{"k":1,"r":{"ts":"2026-01-01T00:00:01Z","x":10}}
{"k":2,"r":{"x":20,"ts":"2026-01-01T00:00:02Z"}}
`
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	job := fmt.Sprintf(`CREATE TABLE src (k BIGINT, r ROW<ts TIMESTAMP(3), x INT>) WITH ('connector' = 'file', 'path' = '%s');
CREATE TABLE dst (k BIGINT, r ROW<ts TIMESTAMP(3), x INT>, y BIGINT) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'json');
INSERT INTO dst SELECT k, r.ts, r.x, r.x * 2 AS y FROM src;`, in, out)
	plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	var got []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Fields(string(data))...)
	}
	want := []string{`{"k":1,"r":{"ts":"2026-01-01T00:00:01.000Z","x":10},"y":20}`, `{"k":2,"r":{"ts":"2026-01-01T00:00:02.000Z","x":20},"y":40}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("wrote (files %v)\n%s\nwant\n%s", files, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
