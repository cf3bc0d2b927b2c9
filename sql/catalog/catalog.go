package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/suggest"
)

// Errors of the catalog, for errors.Is; the errors returned say which
// table (and, for ErrCorrupt, which file).
var (
	ErrNotFound = errors.New("unknown table")
	ErrExists   = errors.New("table already exists")
	ErrCorrupt  = errors.New("corrupt catalog file")
)

// tableError is an error about one table that wraps one of the errors
// above without repeating its text.
type tableError struct {
	msg  string
	kind error
}

func (e *tableError) Error() string { return e.msg }
func (e *tableError) Unwrap() error { return e.kind }

// Catalog is a set of tables, in memory or in a folder. Its methods are
// safe for concurrent use; a folder may also be shared by processes (a
// table is created with an atomic, exclusive link, so two processes
// creating the same table cannot both succeed).
//
// Tables passed in and returned are copies: changing one does not change
// the catalog.
type Catalog struct {
	mu     sync.Mutex        // serialises the operations of this Catalog
	dir    string            // "" in memory
	tables map[string]*Table // in memory: by lower-case name
	now    func() time.Time
}

// New returns an empty catalog kept in memory.
func New() *Catalog {
	return &Catalog{tables: map[string]*Table{}, now: time.Now}
}

// Dir returns the folder of the catalog, or "" for one in memory.
func (c *Catalog) Dir() string { return c.dir }

// Create adds t to the catalog, setting its Created time when zero. If a
// table of that name exists, Create does nothing when ifNotExists is set,
// and returns an error wrapping ErrExists otherwise.
func (c *Catalog) Create(t *Table, ifNotExists bool) error {
	if err := validate(t); err != nil {
		return err
	}
	t = t.Clone()
	if t.Created.IsZero() {
		t.Created = c.now().UTC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.dir != "" {
		err = c.createFile(t)
	} else if old, ok := c.tables[strings.ToLower(t.Name)]; ok {
		err = existsError(old, "")
	} else {
		c.tables[strings.ToLower(t.Name)] = t
	}
	if ifNotExists && errors.Is(err, ErrExists) {
		return nil
	}
	return err
}

func existsError(old *Table, file string) error {
	var where []string
	if old != nil && old.DefinedAt != "" {
		where = append(where, "defined at "+old.DefinedAt)
	}
	if file != "" {
		where = append(where, "stored in "+file)
	}
	name := "?"
	if old != nil {
		name = old.Name
	}
	msg := fmt.Sprintf("table %q already exists", name)
	if len(where) > 0 {
		msg += " (" + strings.Join(where, ", ") + ")"
	}
	return &tableError{msg, ErrExists}
}

// Drop removes the table called name. A table that does not exist is an
// error wrapping ErrNotFound, unless ifExists is set.
func (c *Catalog) Drop(name string, ifExists bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.dir != "" {
		err = c.dropFile(name)
	} else if _, ok := c.tables[strings.ToLower(name)]; ok {
		delete(c.tables, strings.ToLower(name))
	} else {
		err = c.notFound(name)
	}
	if ifExists && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Get returns a copy of the table called name, or an error wrapping
// ErrNotFound that suggests the nearest name.
func (c *Catalog) Get(name string) (*Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		return c.getFile(name)
	}
	if t, ok := c.tables[strings.ToLower(name)]; ok {
		return t.Clone(), nil
	}
	return nil, c.notFound(name)
}

// List returns copies of the tables, sorted by name. In a folder, a file
// that cannot be read does not hide the others: List returns every table
// it could read together with an error naming each bad file.
func (c *Catalog) List() ([]*Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.list()
}

func (c *Catalog) list() ([]*Table, error) {
	var out []*Table
	var err error
	if c.dir != "" {
		out, err = c.listFiles()
	} else {
		for _, t := range c.tables {
			out = append(out, t.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *Table) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	return out, err
}

// notFound returns the error for an unknown table, with the nearest known
// name. c.mu is held.
func (c *Catalog) notFound(name string) error {
	tables, _ := c.list()
	msg := fmt.Sprintf("unknown table %q", name)
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	if near := suggest.Nearest(name, names); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	} else if len(names) == 0 {
		msg += " (the catalog has no tables)"
	}
	return &tableError{msg, ErrNotFound}
}
