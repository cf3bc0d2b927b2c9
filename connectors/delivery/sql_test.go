package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/sluicehq/sluice/connectors/delivery"
	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestSQLEndToEnd: INSERT INTO a delivery table from a file of JSON lines,
// with checkpoints: every row lands once, in gzipped objects partitioned
// by a column and the event hour, nothing left staged; a row without a
// partition key lands in the error output.
func TestSQLEndToEnd(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	must(t, os.MkdirAll(in, 0o755))
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, `{"id":%d,"region":"%s","ts":"2026-11-25T%02d:00:00.000Z"}`+"\n", i, []string{"eu", "us"}[i%2], 10+i%3)
	}
	b.WriteString(`{"id":999,"region":null,"ts":"2026-11-25T10:00:00.000Z"}` + "\n")
	must(t, os.WriteFile(filepath.Join(in, "events.json"), []byte(b.String()), 0o644))
	job := fmt.Sprintf(`
CREATE TABLE events (id BIGINT, region VARCHAR, ts TIMESTAMP(3)) WITH ('connector' = 'file', 'path' = '%s');
CREATE TABLE lake (id BIGINT, region VARCHAR, ts TIMESTAMP(3)) WITH (
  'connector' = 'delivery', 'destination' = 'file://%s', 'compression' = 'gzip',
  'prefix' = 'events/region=!{partitionKeyFromQuery:region}/!{timestamp:yyyy/MM/dd/HH}/', 'prefix.time' = 'ts');
INSERT INTO lake SELECT id, region, ts FROM events WHERE id >= 0;
`, in, out)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	must(t, err)
	err = runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2,
		Checkpoints: &runtime.CheckpointOptions{Dir: filepath.Join(dir, "ck")}})
	must(t, err)
	must(t, plan.Close(context.Background()))

	var ids []string
	var folders, errorFiles, stagedFiles []string
	must(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, ".staging/") && strings.Contains(rel, "/commits-"): // the commit records stay
		case strings.HasPrefix(rel, ".staging/"):
			stagedFiles = append(stagedFiles, rel)
		case strings.HasPrefix(rel, "errors/processing-failed/"):
			errorFiles = append(errorFiles, rel)
			if !strings.Contains(string(data), "column region is NULL") {
				t.Errorf("error record: %s", data)
			}
		default:
			folders = append(folders, rel[:strings.LastIndexByte(rel, '/')])
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return err
			}
			text, err := io.ReadAll(zr)
			if err != nil {
				return err
			}
			for _, l := range strings.Split(strings.TrimSpace(string(text)), "\n") {
				ids = append(ids, l[strings.Index(l, ":")+1:strings.Index(l, ",")])
			}
		}
		return nil
	}))
	if len(ids) != 200 || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 200 {
		t.Errorf("%d rows delivered (%d distinct), want 200", len(ids), len(slices.Compact(slices.Sorted(slices.Values(ids)))))
	}
	slices.Sort(folders)
	folders = slices.Compact(folders)
	want := []string{"events/region=eu/2026/11/25/10", "events/region=eu/2026/11/25/11", "events/region=eu/2026/11/25/12",
		"events/region=us/2026/11/25/10", "events/region=us/2026/11/25/11", "events/region=us/2026/11/25/12"}
	if !slices.Equal(folders, want) {
		t.Errorf("folders %v, want %v", folders, want)
	}
	if len(errorFiles) == 0 || len(stagedFiles) != 0 {
		t.Errorf("error files %v, staged files left %v", errorFiles, stagedFiles)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
