package sql

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGolden runs every testdata/*.sql job at parallelism 1 and 3 and
// compares what its 'collect' sinks received with testdata/NAME.out: per
// sink, the rows sorted; for an updating result, the final rows after
// applying the changelog (which is the same at any parallelism).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.sql")
	if len(files) == 0 {
		t.Fatal("no golden jobs")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".sql"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var outs []string
			for _, par := range []int{1, 3} {
				collectors.Lock()
				clear(collectors.m)
				collectors.Unlock()
				plan, err := Compile(string(src), Options{File: file, Parallelism: par})
				if err != nil {
					t.Fatal(err)
				}
				if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: par}); err != nil {
					t.Fatal(err)
				}
				outs = append(outs, goldenOutput())
			}
			// A changelog may come out as inserts alone at parallelism 1 (one
			// batch, no update to make): compare final results.
			label := " (final result of the changelog)"
			if strings.ReplaceAll(outs[0], label, "") != strings.ReplaceAll(outs[1], label, "") {
				t.Fatalf("parallelism 1 and 3 differ:\n%s\n---\n%s", outs[0], outs[1])
			}
			compareGolden(t, strings.TrimSuffix(file, ".sql")+".out", outs[1])
		})
	}
}

// TestGoldenErrors compiles every testdata/errors/*.sql and compares the
// error with testdata/errors/NAME.err.
func TestGoldenErrors(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.sql")
	if len(files) == 0 {
		t.Fatal("no golden error jobs")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".sql"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Compile(string(src), Options{File: filepath.Base(file), Parallelism: 2})
			if err == nil {
				t.Fatal("compiled without error")
			}
			compareGolden(t, strings.TrimSuffix(file, ".sql")+".err", err.Error()+"\n")
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sql -run Golden -update to write it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// goldenOutput renders every collect sink's rows.
func goldenOutput() string {
	collectors.Lock()
	names := make([]string, 0, len(collectors.m))
	for n := range collectors.m {
		names = append(names, n)
	}
	collectors.Unlock()
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		c := collected(n)
		rows, kinds := c.Strings(), c.Kinds()
		updating := false
		for _, k := range kinds {
			updating = updating || k != runtime.Insert
		}
		if updating {
			// Apply the changelog: -U removes one equal row.
			var live []string
			for i, r := range rows {
				if kinds[i] == runtime.UpdateBefore || kinds[i] == runtime.Delete {
					for j, l := range live {
						if l == r {
							live = append(live[:j], live[j+1:]...)
							break
						}
					}
					continue
				}
				live = append(live, r)
			}
			rows = live
			b.WriteString("-- " + n + " (final result of the changelog)\n")
		} else {
			b.WriteString("-- " + n + "\n")
		}
		sort.Strings(rows)
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}
