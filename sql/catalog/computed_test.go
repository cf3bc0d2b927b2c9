package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/parser"
)

// TestComputedColumnsAreKeptInAFolderCatalog checks that a table's
// computed columns, p AS PROCTIME() among them, are recorded apart from
// the physical columns, in their places, and survive a folder catalog.
func TestComputedColumnsAreKeptInAFolderCatalog(t *testing.T) {
	tb := tables(t, "CREATE TABLE t (k BIGINT, p AS PROCTIME(), v BIGINT, d AS k +  v * 2) WITH ('connector' = 'datagen')")[0]
	want := []Computed{
		{Name: "p", Expr: "PROCTIME()", At: 1, Type: "TIMESTAMP(3)"},
		{Name: "d", Expr: "`k` + `v` * 2", At: 2, Nullable: true},
	}
	check := func(when string, tb *Table) {
		t.Helper()
		if len(tb.Columns) != 2 || tb.Schema().Len() != 2 || len(tb.Computed) != 2 {
			t.Fatalf("%s: columns %v, computed %v: want k and v physical, p and d computed", when, tb.Columns, tb.Computed)
		}
		for i, c := range tb.Computed {
			if c != want[i] {
				t.Errorf("%s: computed column %d is %+v, want %+v", when, i, c, want[i])
			}
		}
	}
	check("from the DDL", tb)
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(tb, false); err != nil {
		t.Fatal(err)
	}
	c, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get("t")
	if err != nil {
		t.Fatal(err)
	}
	check("after reopening", got)
	// In the declared order, with their expressions; d's type is the
	// planner's to set.
	var lines []string
	for l := range strings.Lines(got.Describe()) {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	desc := strings.Join(lines, "\n")
	if want := "k BIGINT NULL\np TIMESTAMP(3) NOT NULL AS PROCTIME()\nv BIGINT NULL\nd ? NULL AS `k` + `v` * 2\n"; !strings.Contains(desc, want) {
		t.Errorf("DESCRIBE lacks\n%s\nin\n%s", want, desc)
	}
}

// TestFolderCatalogReadsTheOldProcTimeField checks that a table file
// written before computed columns, which kept a last p AS PROCTIME() as
// "proctime", still reads as that computed column.
func TestFolderCatalogReadsTheOldProcTimeField(t *testing.T) {
	dir := t.TempDir()
	old := `{"version": 1, "name": "t", "columns": [{"name": "k", "type": "BIGINT", "nullable": true}], "proctime": "p",
"options": {"connector": "datagen"}, "created": "2026-01-01T00:00:00Z", "sql": "CREATE TABLE t (k BIGINT, p AS PROCTIME())"}`
	if err := os.WriteFile(filepath.Join(dir, "t.json"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get("t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Computed) != 1 || got.Computed[0] != (Computed{Name: "p", Expr: "PROCTIME()", At: 1, Type: "TIMESTAMP(3)"}) {
		t.Fatalf("computed columns %+v, want p AS PROCTIME() after k", got.Computed)
	}
}

// TestComputedColumnsAreNotKeysOrPartitions checks that PRIMARY KEY and
// PARTITIONED BY refuse computed columns by name.
func TestComputedColumnsAreNotKeysOrPartitions(t *testing.T) {
	for ddl, want := range map[string]string{
		"CREATE TABLE t (k BIGINT, d AS k + 1, PRIMARY KEY (d) NOT ENFORCED) WITH ('connector' = 'datagen')": "PRIMARY KEY column d is a computed column",
		"CREATE TABLE t (k BIGINT, d AS k + 1) PARTITIONED BY (d) WITH ('connector' = 'file')":               `partition column "d" is a computed column`,
	} {
		stmts, err := parser.ParseScript(ddl)
		if err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
		_, err = FromDDL("job.sql", stmts[0])
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", ddl, err, want)
		}
	}
}
