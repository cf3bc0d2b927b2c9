package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
)

const clicksDDL = `-- the clicks
CREATE TABLE Clicks (
  page VARCHAR,
  user_id BIGINT NOT NULL,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '10')`

// tables parses src and returns its tables, defined in job.sql.
func tables(t *testing.T, src string) []*Table {
	t.Helper()
	stmts, err := parser.ParseScript(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Table
	for _, st := range stmts {
		tb, err := FromDDL("job.sql", st)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tb)
	}
	return out
}

func table(t *testing.T, src string) *Table {
	t.Helper()
	return tables(t, src)[0]
}

func TestFromDDL(t *testing.T) {
	got := table(t, clicksDDL)
	want := &Table{
		Name: "Clicks",
		Columns: []runtime.Field{
			{Name: "page", Type: runtime.Varchar, Nullable: true},
			{Name: "user_id", Type: runtime.BigInt},
			{Name: "ts", Type: runtime.Timestamp, Nullable: true},
		},
		Watermark: &Watermark{Column: "ts", Delay: 5 * time.Second},
		Options:   map[string]string{"connector": "datagen", "number-of-rows": "10"},
		DefinedAt: "job.sql:2:1",
		SQL:       clicksDDL[len("-- the clicks\n"):],
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	ct := got.Connector()
	if ct.Name != "Clicks" || ct.TimeColumn != 2 || ct.MaxOutOfOrderness != 5*time.Second || ct.Schema.Len() != 3 || ct.Options["connector"] != "datagen" {
		t.Fatalf("connector table %+v", ct)
	}
	ct.Options["connector"] = "changed"
	if got.Options["connector"] != "datagen" {
		t.Fatal("Connector shares its options with the table")
	}
}

func TestFromDDLErrors(t *testing.T) {
	stmts, err := parser.ParseScript("SHOW TABLES;\n  INSERT INTO o SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromDDL("", stmts[1]); err == nil || err.Error() != "line 2:3: QUERY is not a CREATE TABLE statement" {
		t.Fatalf("got %v", err)
	}
	sink, err := parser.ParseScript("CREATE TABLE out WITH ('connector' = 'print')")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := FromDDL("", sink[0])
	if err != nil {
		t.Fatal(err)
	}
	if tb.Columns != nil || tb.Schema() != nil || tb.DefinedAt != "line 1:1" || tb.Connector().TimeColumn != -1 {
		t.Fatalf("sink table %+v", tb)
	}
}

// eachCatalog runs test on a catalog in memory and on one in a folder.
func eachCatalog(t *testing.T, test func(t *testing.T, c *Catalog)) {
	t.Run("memory", func(t *testing.T) { test(t, New()) })
	t.Run("folder", func(t *testing.T) {
		c, err := Open(filepath.Join(t.TempDir(), "catalog"))
		if err != nil {
			t.Fatal(err)
		}
		test(t, c)
	})
}

func TestCatalog(t *testing.T) {
	eachCatalog(t, func(t *testing.T, c *Catalog) {
		where := func(name string) string { // what "already exists" says of where the table is
			if c.Dir() == "" {
				return ""
			}
			return ", stored in " + filepath.Join(c.Dir(), name+".json")
		}
		errIs := func(err error, target error, want string) {
			t.Helper()
			if !errors.Is(err, target) || err.Error() != want {
				t.Fatalf("got %v, want %s (%v)", err, want, target)
			}
		}
		if _, err := c.Get("clicks"); err != nil {
			errIs(err, ErrNotFound, `unknown table "clicks" (the catalog has no tables)`)
		}
		if l, err := c.List(); len(l) != 0 || err != nil {
			t.Fatalf("empty catalog lists %v, %v", l, err)
		}
		all := tables(t, clicksDDL+";\nCREATE TABLE out WITH ('connector' = 'print');\nCREATE TABLE `a_first` (x INT)")
		before := time.Now().UTC()
		for _, tb := range all {
			if err := c.Create(tb, false); err != nil {
				t.Fatal(err)
			}
		}
		// Create copies: changing the table afterwards changes nothing.
		all[0].Options["connector"] = "changed"

		got, err := c.Get("CLICKS")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Clicks" || got.Options["connector"] != "datagen" || got.Created.Before(before.Add(-time.Second)) ||
			got.Schema().String() != "(page VARCHAR, user_id BIGINT NOT NULL, ts TIMESTAMP(3))" || got.SQL != all[0].SQL {
			t.Fatalf("got %+v", got)
		}
		got.Columns[0].Name = "changed" // Get copies too
		if again, _ := c.Get("clicks"); again.Columns[0].Name != "page" {
			t.Fatal("Get returned the catalog's own table")
		}

		errIs(c.Create(table(t, "CREATE TABLE clicks (a INT)"), false), ErrExists,
			`table "Clicks" already exists (defined at job.sql:2:1`+where("clicks")+`)`)
		if err := c.Create(table(t, "CREATE TABLE clicks (a INT)"), true); err != nil {
			t.Fatalf("IF NOT EXISTS: %v", err)
		}
		if again, _ := c.Get("clicks"); len(again.Columns) != 3 {
			t.Fatal("IF NOT EXISTS replaced the table")
		}
		_, err = c.Get("clcks")
		errIs(err, ErrNotFound, `unknown table "clcks" (did you mean "Clicks"?)`)
		_, err = c.Get("nothing_like_it")
		errIs(err, ErrNotFound, `unknown table "nothing_like_it"`)

		list, err := c.List()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tb := range list {
			names = append(names, tb.Name)
		}
		if strings.Join(names, " ") != "a_first Clicks out" {
			t.Fatalf("List: %v", names)
		}

		if err := c.Drop("clicks", false); err != nil {
			t.Fatal(err)
		}
		errIs(c.Drop("clicks", false), ErrNotFound, `unknown table "clicks"`)
		if err := c.Drop("clicks", true); err != nil {
			t.Fatalf("IF EXISTS: %v", err)
		}
		if _, err := c.Get("clicks"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("dropped table: %v", err)
		}
		// Once dropped, the name can be used again.
		if err := c.Create(table(t, "CREATE TABLE clicks (a INT)"), false); err != nil {
			t.Fatal(err)
		}

		// Tables are checked as the parser checks them.
		bad := &Table{Name: "bad", Columns: []runtime.Field{{Name: "a", Type: runtime.BigInt}},
			Watermark: &Watermark{Column: "a"}}
		if err := c.Create(bad, false); err == nil || err.Error() != `table "bad": watermark column "a" is BIGINT, not TIMESTAMP(3)` {
			t.Fatalf("got %v", err)
		}
		for _, bad := range []*Table{
			{Name: " "},
			{Name: "t", Columns: []runtime.Field{{Name: "a", Type: runtime.Int}, {Name: "A", Type: runtime.Int}}},
			{Name: "t", Columns: []runtime.Field{{Name: "a"}}},
			{Name: "t", PrimaryKey: []string{"a"}},
			{Name: "t", Columns: []runtime.Field{{Name: "a", Type: runtime.Timestamp}}, Watermark: &Watermark{Column: "a", Delay: -1}},
		} {
			if err := c.Create(bad, false); err == nil {
				t.Fatalf("%+v created", bad)
			}
		}
	})
}

func TestDescribe(t *testing.T) {
	eachCatalog(t, func(t *testing.T, c *Catalog) {
		c.now = func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
		for _, tb := range tables(t, clicksDDL+`;
CREATE TABLE out WITH ('path' = '/tmp/out', 'connector' = 'file', 'format' = 'json');
CREATE TABLE users (id BIGINT PRIMARY KEY NOT ENFORCED, name STRING)`) {
			if err := c.Create(tb, false); err != nil {
				t.Fatal(err)
			}
		}
		f := func(name, want string) {
			t.Helper()
			got, err := c.Describe(name)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		}
		f("clicks", `Table Clicks
Defined at job.sql:2:1
Created 2026-11-25 10:00:00 UTC

column   type          null      key
page     VARCHAR       NULL
user_id  BIGINT        NOT NULL
ts       TIMESTAMP(3)  NULL

Watermark: FOR ts AS ts - INTERVAL '5' SECOND

Options:
  'connector' = 'datagen'
  'number-of-rows' = '10'
`)
		f("OUT", `Table out
Defined at job.sql:8:1
Created 2026-11-25 10:00:00 UTC

Columns: defined by the query that writes to it

Options:
  'connector' = 'file'
  'format' = 'json'
  'path' = '/tmp/out'
`)
		f("users", `Table users
Defined at job.sql:9:1
Created 2026-11-25 10:00:00 UTC

column  type     null      key
id      BIGINT   NOT NULL  PRIMARY KEY
name    VARCHAR  NULL

Primary key: (id) NOT ENFORCED
`)
		if _, err := c.Describe("user"); err == nil || err.Error() != `unknown table "user" (did you mean "users"?)` {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFolderReopen(t *testing.T) {
	dir := t.TempDir()
	c1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := table(t, clicksDDL)
	if err := c1.Create(want, false); err != nil {
		t.Fatal(err)
	}
	// The second catalog sees the table at once, exactly as created.
	got, err := c2.Get("clicks")
	if err != nil {
		t.Fatal(err)
	}
	want, _ = c1.Get("clicks")
	if !got.Created.Equal(want.Created) {
		t.Fatalf("created %v, want %v", got.Created, want.Created)
	}
	got.Created = want.Created
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if err := c2.Create(table(t, "CREATE TABLE clicks (a INT)"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("got %v", err)
	}
	// A third Open, after the first two are gone, still sees it; a drop
	// through one is seen by the other.
	c3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := c3.List(); err != nil || len(l) != 1 || l[0].Name != "Clicks" {
		t.Fatalf("List: %v, %v", l, err)
	}
	if err := c3.Drop("CLICKS", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Get("clicks"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after the drop: %v", entries)
	}
}

func TestFolderCreateRace(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := Open(dir)
			if err == nil {
				err = c.Create(table(t, fmt.Sprintf("CREATE TABLE t (c%d INT)", i)), false)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrExists):
			t.Fatal(err)
		}
	}
	if created != 1 {
		t.Fatalf("%d of %d concurrent creates succeeded", created, n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "t.json" {
		t.Fatalf("files: %v", entries)
	}
}

func TestFolderAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	syncFile = func(*os.File) error { return errors.New("disk on fire") }
	err = c.Create(table(t, clicksDDL), false)
	syncFile = (*os.File).Sync
	if err == nil || !strings.Contains(err.Error(), `cannot create table "Clicks"`) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed write left %v", entries)
	}
	if _, err := c.Get("clicks"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	if err := c.Create(table(t, clicksDDL), false); err != nil {
		t.Fatal(err)
	}
	// The file is complete JSON with a trailing newline, and nothing else
	// is left in the folder.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "clicks.json" {
		t.Fatalf("files: %v", entries)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "clicks.json"))
	if !strings.HasPrefix(string(data), "{\n  \"version\": 1,\n  \"name\": \"Clicks\",") || !strings.HasSuffix(string(data), "}\n") {
		t.Fatalf("file:\n%s", data)
	}
}

func TestFolderBadFiles(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables(t, clicksDDL+";\nCREATE TABLE zz (a INT)") {
		if err := c.Create(tb, false); err != nil {
			t.Fatal(err)
		}
	}
	good, _ := os.ReadFile(filepath.Join(dir, "zz.json"))
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("torn.json", string(good[:len(good)/2]))
	write("renamed.json", string(good))
	write("future.json", strings.Replace(strings.Replace(string(good), `"version": 1`, `"version": 2`, 1), `"zz"`, `"future"`, 1))
	write("typo.json", strings.Replace(strings.Replace(string(good), `"INT"`, `"INTEGER"`, 1), `"zz"`, `"typo"`, 1))
	write("extra.json", strings.Replace(strings.Replace(string(good), `"version"`, `"colour": "red", "version"`, 1), `"zz"`, `"extra"`, 1))
	write("twice.json", string(good)+string(good))
	write(".zz.json.tmp-123", "{") // left by a crash: ignored
	write("notes.txt", "not a table")
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}

	list, err := c.List()
	var names []string
	for _, tb := range list {
		names = append(names, tb.Name)
	}
	if strings.Join(names, " ") != "Clicks zz" {
		t.Fatalf("List: %v", names)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	wantErr := strings.Join([]string{
		"catalog file " + path("extra.json") + `: not a table definition: json: unknown field "colour"`,
		"catalog file " + path("future.json") + ": unsupported version 2 (this Sluice reads version 1)",
		"catalog file " + path("renamed.json") + `: defines table "zz", not "renamed"`,
		"catalog file " + path("torn.json") + ": not a table definition: unexpected EOF",
		"catalog file " + path("twice.json") + ": unexpected data after the table definition",
		"catalog file " + path("typo.json") + `: column "a": unknown type "INTEGER"`,
	}, "\n")
	if err.Error() != wantErr {
		t.Fatalf("got\n%v\nwant\n%s", err, wantErr)
	}

	// The good tables are still there one by one; the bad ones say why.
	if _, err := c.Get("zz"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("torn"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path("torn.json")) {
		t.Fatalf("got %v", err)
	}
	err = c.Create(table(t, "CREATE TABLE torn (a INT)"), false)
	if !errors.Is(err, ErrExists) || !strings.HasPrefix(err.Error(), `table "torn" already exists (stored in `+path("torn.json")+", which cannot be read: catalog file") {
		t.Fatalf("got %v", err)
	}
	// A bad table can be dropped.
	if err := c.Drop("torn", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(table(t, "CREATE TABLE torn (a INT)"), false); err != nil {
		t.Fatal(err)
	}
}

func TestFolderNames(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a/b", "..", ".hidden", "a b", `a\b`, strings.Repeat("x", 201)} {
		tb := &Table{Name: name}
		if err := c.Create(tb, false); err == nil || !strings.Contains(err.Error(), "cannot be kept in a folder catalog") {
			t.Fatalf("%q: got %v", name, err)
		}
		if _, err := c.Get(name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%q: got %v", name, err)
		}
	}
	if err := c.Create(&Table{Name: "Größe_1-$"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("GRÖSSE_1-$"); err == nil {
		t.Fatal("ß matched SS") // EqualFold is simple folding, as in the parser
	}
	if _, err := c.Get("größe_1-$"); err != nil {
		t.Fatal(err)
	}
	// A file written by hand in another case is found too.
	data, _ := os.ReadFile(filepath.Join(dir, "größe_1-$.json"))
	if err := os.WriteFile(filepath.Join(dir, "Orders.json"), []byte(strings.Replace(string(data), "Größe_1-$", "Orders", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if tb, err := c.Get("ORDERS"); err != nil || tb.Name != "Orders" {
		t.Fatalf("got %v, %v", tb, err)
	}
	if err := c.Create(&Table{Name: "orders"}, false); !errors.Is(err, ErrExists) {
		t.Fatalf("got %v", err)
	}
	if err := c.Drop("orders", false); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "cannot create catalog folder") {
		t.Fatalf("got %v", err)
	}
}

// TestViewKeptAsText checks that a view's query, column list and place
// survive the catalog (a folder stores them in its file), and that DESCRIBE
// says it is a view.
func TestViewKeptAsText(t *testing.T) {
	eachCatalog(t, func(t *testing.T, c *Catalog) {
		v := &Table{Name: "v", Columns: []runtime.Field{{Name: "a", Type: runtime.BigInt}},
			View: &View{Query: "SELECT k\n  FROM src", Columns: []string{"a"}, Line: 3, Col: 5}, DefinedAt: "job.sql:3:1"}
		if err := c.Create(v, false); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get("V")
		if err != nil {
			t.Fatal(err)
		}
		if !got.IsView() || got.View.Query != v.View.Query || len(got.View.Columns) != 1 || got.View.Line != 3 || got.View.Col != 5 {
			t.Fatalf("view read back as %+v (view %+v)", got, got.View)
		}
		got.View.Columns[0] = "changed"
		if again, _ := c.Get("v"); again.View.Columns[0] != "a" {
			t.Error("a returned view shares its column list with the catalog")
		}
		d := got.Describe()
		if !strings.HasPrefix(d, "View v\n") || !strings.Contains(d, "\nQuery: SELECT k FROM src\n") {
			t.Errorf("describe:\n%s", d)
		}
	})
}
