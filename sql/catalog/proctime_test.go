package catalog

import "testing"

// TestProcTimeColumnIsKeptInAFolderCatalog checks that a table's
// p AS PROCTIME() column is recorded apart from the physical columns and
// survives a folder catalog.
func TestProcTimeColumnIsKeptInAFolderCatalog(t *testing.T) {
	tb := tables(t, "CREATE TABLE t (k BIGINT, p AS PROCTIME()) WITH ('connector' = 'datagen')")[0]
	if tb.ProcTime != "p" || len(tb.Columns) != 1 || tb.Schema().Len() != 1 {
		t.Fatalf("ProcTime %q, columns %v: want p apart from the one physical column", tb.ProcTime, tb.Columns)
	}
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
	if got.ProcTime != "p" {
		t.Errorf("after reopening: ProcTime %q, want p", got.ProcTime)
	}
}
