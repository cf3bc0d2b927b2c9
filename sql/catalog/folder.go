package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/sluicehq/sluice/runtime"
)

// fileVersion is the version of the table file format.
const fileVersion = 1

// fileTable is the JSON form of a table.
type fileTable struct {
	Version    int            `json:"version"`
	Name       string         `json:"name"`
	Columns    []fileColumn   `json:"columns"` // null: no column list
	Rows       []RowColumn    `json:"rows,omitempty"`
	Watermark  *fileWatermark `json:"watermark,omitempty"`
	PrimaryKey []string       `json:"primary_key,omitempty"`
	Computed   []Computed     `json:"computed,omitempty"`
	// ProcTime is how files written before computed columns kept a last
	// column name AS PROCTIME(); read, never written.
	ProcTime  string            `json:"proctime,omitempty"`
	Partition []string          `json:"partitioned_by,omitempty"`
	Options   map[string]string `json:"options"`
	Created   time.Time         `json:"created"`
	DefinedAt string            `json:"defined_at,omitempty"`
	SQL       string            `json:"sql"`
	View      *fileView         `json:"view,omitempty"`
}

// fileView is the query of a view, kept as text.
type fileView struct {
	Query   string   `json:"query"`
	Columns []string `json:"columns,omitempty"`
	Line    int      `json:"line"`
	Col     int      `json:"col"`
}

type fileColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // as runtime.Type.String: BIGINT, TIMESTAMP(3), …
	Nullable bool   `json:"nullable"`
}

type fileWatermark struct {
	Column string `json:"column"`
	Delay  string `json:"delay"` // a Go duration: "5s"
}

// syncFile makes a file or folder durable; tests replace it to make a
// write fail.
var syncFile = (*os.File).Sync

// Open returns the catalog kept in the folder dir, creating the folder if
// needed. A file in it that cannot be read is reported by List, Get and
// Describe, not by Open.
func Open(dir string) (*Catalog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create catalog folder: %w", err)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("cannot read catalog folder: %w", err)
	}
	return &Catalog{dir: dir, now: time.Now}, nil
}

// checkFileName returns an error if name cannot be a file name.
func checkFileName(name string) error {
	ok := name != "" && len(name) <= 200
	for _, r := range name {
		ok = ok && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '$')
	}
	if !ok {
		return fmt.Errorf("table name %q cannot be kept in a folder catalog: use up to 200 letters, digits, '_', '-' or '$'", name)
	}
	return nil
}

// isTableFile reports whether e is the file of a table (temporary files
// start with a dot).
func isTableFile(e fs.DirEntry) bool {
	return e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".")
}

// findFile returns the file of the table called name, or "".
func (c *Catalog) findFile(name string) (string, error) {
	if checkFileName(name) != nil {
		return "", nil
	}
	path := filepath.Join(c.dir, strings.ToLower(name)+".json")
	if _, err := os.Lstat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("cannot read catalog: %w", err)
	}
	// A file written by hand may not be in lower case.
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return "", fmt.Errorf("cannot read catalog folder: %w", err)
	}
	for _, e := range entries {
		if isTableFile(e) && strings.EqualFold(strings.TrimSuffix(e.Name(), ".json"), name) {
			return filepath.Join(c.dir, e.Name()), nil
		}
	}
	return "", nil
}

func corrupt(path, format string, args ...any) error {
	return &tableError{fmt.Sprintf("catalog file %s: ", path) + fmt.Sprintf(format, args...), ErrCorrupt}
}

// load reads the table file at path.
func load(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read catalog file: %w", err)
	}
	var ft fileTable
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ft); err != nil {
		return nil, corrupt(path, "not a table definition: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt(path, "unexpected data after the table definition")
	}
	if ft.Version != fileVersion {
		return nil, corrupt(path, "unsupported version %d (this Sluice reads version %d)", ft.Version, fileVersion)
	}
	if base := strings.TrimSuffix(filepath.Base(path), ".json"); !strings.EqualFold(ft.Name, base) {
		return nil, corrupt(path, "defines table %q, not %q", ft.Name, base)
	}
	t := &Table{
		Name: ft.Name, PrimaryKey: ft.PrimaryKey, Computed: ft.Computed, PartitionKeys: ft.Partition, Options: ft.Options,
		Created: ft.Created, DefinedAt: ft.DefinedAt, SQL: ft.SQL, Rows: ft.Rows,
	}
	if t.Options == nil {
		t.Options = map[string]string{}
	}
	if fv := ft.View; fv != nil {
		t.View = &View{Query: fv.Query, Columns: fv.Columns, Line: fv.Line, Col: fv.Col}
	}
	for _, fc := range ft.Columns {
		typ := typeByName(fc.Type)
		if typ == runtime.Invalid {
			return nil, corrupt(path, "column %q: unknown type %q", fc.Name, fc.Type)
		}
		t.Columns = append(t.Columns, runtime.Field{Name: fc.Name, Type: typ, Nullable: fc.Nullable})
	}
	if ft.ProcTime != "" {
		t.Computed = append(t.Computed, Computed{Name: ft.ProcTime, Expr: "PROCTIME()", At: len(t.Columns), Type: runtime.Timestamp.String()})
	}
	if fw := ft.Watermark; fw != nil {
		d, err := time.ParseDuration(fw.Delay)
		if err != nil {
			return nil, corrupt(path, "watermark delay: %v", err)
		}
		t.Watermark = &Watermark{Column: fw.Column, Delay: d}
	}
	if err := validate(t); err != nil {
		return nil, corrupt(path, "%v", err)
	}
	return t, nil
}

func typeByName(s string) runtime.Type {
	for t := runtime.Boolean; t <= runtime.Timestamp; t++ {
		if t.String() == s {
			return t
		}
	}
	return runtime.Invalid
}

func encode(t *Table) ([]byte, error) {
	ft := fileTable{
		Version: fileVersion, Name: t.Name, PrimaryKey: t.PrimaryKey, Computed: t.Computed, Partition: t.PartitionKeys, Options: t.Options,
		Created: t.Created, DefinedAt: t.DefinedAt, SQL: t.SQL, Rows: t.Rows,
	}
	for _, c := range t.Columns {
		ft.Columns = append(ft.Columns, fileColumn{Name: c.Name, Type: c.Type.String(), Nullable: c.Nullable})
	}
	if w := t.Watermark; w != nil {
		ft.Watermark = &fileWatermark{Column: w.Column, Delay: w.Delay.String()}
	}
	if v := t.View; v != nil {
		ft.View = &fileView{Query: v.Query, Columns: v.Columns, Line: v.Line, Col: v.Col}
	}
	data, err := json.MarshalIndent(ft, "", "  ")
	return append(data, '\n'), err
}

// createFile writes the file of a new table. c.mu is held.
func (c *Catalog) createFile(t *Table) error {
	if err := checkFileName(t.Name); err != nil {
		return err
	}
	if old, err := c.findFile(t.Name); err != nil {
		return err
	} else if old != "" {
		return existsAt(t.Name, old)
	}
	data, err := encode(t)
	if err != nil {
		return fmt.Errorf("cannot encode table %q: %w", t.Name, err)
	}
	path := filepath.Join(c.dir, strings.ToLower(t.Name)+".json")
	if err := writeNew(c.dir, path, data); errors.Is(err, fs.ErrExist) {
		return existsAt(t.Name, path)
	} else if err != nil {
		return fmt.Errorf("cannot create table %q: %w", t.Name, err)
	}
	return nil
}

// existsAt returns the error for creating a table stored in path.
func existsAt(name, path string) error {
	old, err := load(path)
	if err != nil {
		return &tableError{fmt.Sprintf("table %q already exists (stored in %s, which cannot be read: %v)", name, path, err), ErrExists}
	}
	return existsError(old, path)
}

// writeNew writes data to a new file at path, atomically: to a temporary
// file in dir first, made durable, then linked to path, which fails if
// path exists (so two writers cannot both create it), and the folder made
// durable. Where hard links are not available it renames the temporary
// file after checking that path is free. Readers never see a partial file.
func writeNew(dir, path string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a link, the second name; after a rename or an error, nothing or the partial file
	_, err = f.Write(data)
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return err
	} else if err != nil {
		if _, err := os.Lstat(path); err == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncFile(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot sync catalog folder: %w", err)
	}
	return nil
}

// dropFile removes the file of a table. c.mu is held.
func (c *Catalog) dropFile(name string) error {
	path, err := c.findFile(name)
	if err != nil {
		return err
	}
	if path == "" {
		return c.notFound(name)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("cannot drop table %q: %w", name, err)
	}
	return syncDir(c.dir)
}

// getFile reads the table called name. c.mu is held.
func (c *Catalog) getFile(name string) (*Table, error) {
	path, err := c.findFile(name)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, c.notFound(name)
	}
	return load(path)
}

// listFiles reads every table file; the files that cannot be read are
// reported together, after the tables that can. c.mu is held.
func (c *Catalog) listFiles() ([]*Table, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read catalog folder: %w", err)
	}
	var tables []*Table
	var errs []error
	seen := map[string]string{} // lower-case name → file
	for _, e := range entries {
		if !isTableFile(e) {
			continue
		}
		path := filepath.Join(c.dir, e.Name())
		t, err := load(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := seen[strings.ToLower(t.Name)]; dup {
			errs = append(errs, corrupt(path, "table %q is also defined in %s", t.Name, other))
			continue
		}
		seen[strings.ToLower(t.Name)] = path
		tables = append(tables, t)
	}
	return tables, errors.Join(errs...)
}
