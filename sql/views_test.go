package sql

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
)

// TestViewsInFolderCatalog checks that a view created in a folder catalog
// is kept as its query's text: DESCRIBE shows its columns and query, SHOW
// TABLES lists it, and a later job reading the catalog again plans it.
func TestViewsInFolderCatalog(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_, err = Compile(src+`
CREATE VIEW odd (key, value, ts) AS SELECT k, v * 10, ts FROM src WHERE k % 2 = 1;
DESCRIBE odd;
SHOW TABLES;`, Options{File: "make.sql", Parallelism: 1, Catalog: cat, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"View odd\nDefined at make.sql:8:1\n",
		"key     BIGINT",
		"value   BIGINT",
		"ts      TIMESTAMP(3)",
		"Query: SELECT k, v * 10, ts FROM src WHERE k % 2 = 1\n",
		"odd\nsrc\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	cat, err = catalog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(`CREATE TABLE odd_sums WITH ('connector' = 'collect');
INSERT INTO odd_sums SELECT key, COUNT(*) AS n, SUM(value) AS total FROM odd
GROUP BY key, TUMBLE(ts, INTERVAL '10' SECOND);`, Options{File: "use.sql", Parallelism: 2, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	rows := collected("odd_sums").Strings()
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want 5 (one per odd key): %v", len(rows), rows)
	}
	// Key k has the rows v = k, k+10, …: 100 of them, summing to 100k + 49500.
	for _, r := range rows {
		f := strings.Split(r, ",")
		if f[1] != "100" {
			t.Errorf("row %s: want 100 rows per key", r)
		}
		var k, total int64
		for _, c := range f[0] {
			k = k*10 + int64(c-'0')
		}
		for _, c := range f[2] {
			total = total*10 + int64(c-'0')
		}
		if want := (100*k + 49500) * 10; total != want {
			t.Errorf("row %s: total %d, want %d", r, total, want)
		}
	}

	// DROP TABLE refuses a view, DROP VIEW a table; DROP VIEW removes it.
	if _, err := Compile("DROP VIEW src;", Options{Parallelism: 1, Catalog: cat}); err == nil || !strings.Contains(err.Error(), "src is a table, not a view") {
		t.Errorf("DROP VIEW of a table: %v", err)
	}
	if _, err := Compile("DROP VIEW odd; DROP VIEW IF EXISTS odd;", Options{Parallelism: 1, Catalog: cat}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Get("odd"); err == nil {
		t.Error("the view is still in the catalog")
	}
}
