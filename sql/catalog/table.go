package catalog

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/parser"
)

// Table is a table of the catalog.
type Table struct {
	Name string
	// Columns is nil for a table defined without a column list: a sink
	// whose columns the query writing to it defines.
	Columns []runtime.Field
	// Rows are the ROW columns of the DDL, whose fields are among Columns
	// (see the package doc); nil when it has none.
	Rows       []RowColumn
	Watermark  *Watermark // nil: no event time
	PrimaryKey []string   // column names; nil: none
	// Computed are the table's computed columns (name AS expression), in
	// the order declared; nil when it has none. They are virtual, as in
	// Flink: not in Columns, so connectors neither read nor write them; the
	// planner computes them from the physical columns of each row a source
	// reads.
	Computed []Computed
	// PartitionKeys are the columns of PARTITIONED BY (…), in order; nil:
	// none.
	PartitionKeys []string
	Options       map[string]string
	// Created is when the table entered the catalog (set by Create when
	// zero).
	Created time.Time
	// DefinedAt says where the CREATE statement was, e.g. "job.sql:3:1".
	DefinedAt string
	// SQL is the text of the CREATE statement.
	SQL string
	// View is the query of a view (CREATE VIEW); nil for a table. A view's
	// Columns are those of its query, as planned when it was created; it
	// has no options, watermark or key (a time attribute of its query
	// keeps its watermarks where the view is read).
	View *View
}

// View is the query of a view: CREATE [TEMPORARY] VIEW name [(Columns)] AS
// Query.
type View struct {
	// Query is the query's text (SELECT …, WITH …), planned anew wherever
	// the view is named.
	Query string
	// Columns is the view's column list; nil when not written.
	Columns []string
	// Line and Col are where Query starts in the file of DefinedAt.
	Line, Col int
}

// IsView reports whether t is a view.
func (t *Table) IsView() bool { return t.View != nil }

// RowColumn is a ROW column as the DDL declared it: its fields are the
// Count columns from Columns[First], named Name.field.
type RowColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // as written: ROW<`id` BIGINT, …>
	Nullable bool   `json:"nullable"`
	First    int    `json:"first"`
	Count    int    `json:"count"`
}

// Computed is a computed column: Name AS Expr, over the physical columns
// of its table.
type Computed struct {
	Name string `json:"name"`
	// Expr is the expression as SQL (sql/parser's printed form, e.g.
	// CASE WHEN `event_type` = 0 THEN `person`.`dateTime` … END).
	Expr string `json:"expr"`
	// At is its place among the table's columns: the number of physical
	// columns (ROW fields counted one by one) declared before it.
	At int `json:"at"`
	// Type is the expression's type as SQL (TIMESTAMP(3)) and Nullable
	// whether it can be NULL, as the planner typed it when the table was
	// created; Type is "" until then.
	Type     string `json:"type,omitempty"`
	Nullable bool   `json:"nullable"`
}

// ProcTime reports whether c is name AS PROCTIME(), a processing-time
// attribute.
func (c Computed) ProcTime() bool {
	return strings.EqualFold(strings.ReplaceAll(c.Expr, " ", ""), "PROCTIME()")
}

// ComputedColumn returns the computed column called name, or nil.
func (t *Table) ComputedColumn(name string) *Computed {
	for i := range t.Computed {
		if strings.EqualFold(t.Computed[i].Name, name) {
			return &t.Computed[i]
		}
	}
	return nil
}

// Watermark is the event time of a table: WATERMARK FOR Column AS Column -
// INTERVAL Delay.
type Watermark struct {
	Column string
	Delay  time.Duration
}

// Schema returns the columns as a runtime schema, or nil when the table has
// no column list.
func (t *Table) Schema() *runtime.Schema {
	if len(t.Columns) == 0 {
		return nil
	}
	return runtime.NewSchema(t.Columns...)
}

// Connector returns what a connector builds a source or sink from. Its
// Options map is a copy.
func (t *Table) Connector() connectors.Table {
	ct := connectors.Table{Name: t.Name, Schema: t.Schema(), Options: maps.Clone(t.Options), TimeColumn: -1}
	if ct.Options == nil {
		ct.Options = map[string]string{}
	}
	if w := t.Watermark; w != nil && ct.Schema != nil {
		ct.TimeColumn, ct.MaxOutOfOrderness = ct.Schema.Index(w.Column), w.Delay
	}
	ct.PartitionKeys = append([]string(nil), t.PartitionKeys...)
	if len(ct.PartitionKeys) == 0 {
		ct.PartitionKeys = nil
	}
	if len(t.PrimaryKey) > 0 {
		ct.PrimaryKey = append([]string(nil), t.PrimaryKey...)
	}
	return ct
}

// Clone returns a deep copy of t.
func (t *Table) Clone() *Table {
	c := *t
	if len(t.Columns) > 0 {
		c.Columns = append([]runtime.Field(nil), t.Columns...)
	} else {
		c.Columns = nil
	}
	if t.Watermark != nil {
		w := *t.Watermark
		c.Watermark = &w
	}
	if t.PrimaryKey != nil {
		c.PrimaryKey = append([]string(nil), t.PrimaryKey...)
	}
	if t.PartitionKeys != nil {
		c.PartitionKeys = append([]string(nil), t.PartitionKeys...)
	}
	c.Rows = append([]RowColumn(nil), t.Rows...)
	if len(c.Rows) == 0 {
		c.Rows = nil
	}
	c.Computed = append([]Computed(nil), t.Computed...)
	if len(c.Computed) == 0 {
		c.Computed = nil
	}
	c.Options = maps.Clone(t.Options)
	if c.Options == nil {
		c.Options = map[string]string{}
	}
	if t.View != nil {
		v := *t.View
		v.Columns = append([]string(nil), t.View.Columns...)
		if t.View.Columns == nil {
			v.Columns = nil
		}
		c.View = &v
	}
	return &c
}

// FromDDL makes a table from a CREATE TABLE statement of a script; file
// names the script in DefinedAt ("job.sql:3:1"; "line 3:1" when empty).
func FromDDL(file string, st parser.Statement) (*Table, error) {
	ct, ok := st.Node.(*parser.CreateTable)
	if !ok {
		return nil, fmt.Errorf("line %d:%d: %s is not a CREATE TABLE statement", st.Line, st.Col, st.Kind)
	}
	t := &Table{
		Name:      ct.Name,
		Options:   ct.OptionsMap(),
		SQL:       st.Text,
		DefinedAt: fmt.Sprintf("line %d:%d", st.Line, st.Col),
	}
	if file != "" {
		t.DefinedAt = fmt.Sprintf("%s:%d:%d", file, st.Line, st.Col)
	}
	for _, c := range ct.Columns {
		if c.Expr != nil {
			cc := Computed{Name: c.Name, Expr: c.Expr.String(), At: len(t.Columns), Nullable: true}
			if cc.ProcTime() {
				cc.Type, cc.Nullable = runtime.Timestamp.String(), false
			}
			t.Computed = append(t.Computed, cc)
			continue
		}
		flat := parser.Flatten([]parser.Column{c})
		if c.Fields != nil {
			t.Rows = append(t.Rows, RowColumn{Name: c.Name, Type: c.TypeString(), Nullable: c.Nullable, First: len(t.Columns), Count: len(flat)})
		}
		for _, f := range flat {
			t.Columns = append(t.Columns, runtime.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable})
		}
	}
	if w := ct.Watermark; w != nil {
		if w.Delay < 0 {
			return nil, &parser.SyntaxError{Line: w.Pos.Line, Col: w.Pos.Col,
				Msg: fmt.Sprintf("table %s: WATERMARK FOR %s AS %s is not supported yet: write AS %s or AS %s - INTERVAL 'n' unit", ct.Name, w.Column, w.Expr, w.Column, w.Column)}
		}
		t.Watermark = &Watermark{Column: w.Column, Delay: w.Delay}
	}
	if k := ct.PrimaryKey; k != nil {
		t.PrimaryKey = append([]string(nil), k.Columns...)
		for _, c := range k.Columns {
			if t.ComputedColumn(c) != nil {
				return nil, &parser.SyntaxError{Line: k.Pos.Line, Col: k.Pos.Col,
					Msg: fmt.Sprintf("table %s: PRIMARY KEY column %s is a computed column; a PRIMARY KEY takes physical columns (as in Flink)", ct.Name, c)}
			}
		}
	}
	if len(ct.PartitionedBy) > 0 {
		t.PartitionKeys = append([]string(nil), ct.PartitionedBy...)
	}
	return t, validate(t)
}

// validate checks what the parser checks of a CREATE TABLE, for tables
// built in code or read from a file.
func validate(t *Table) error {
	if strings.TrimSpace(t.Name) == "" {
		return fmt.Errorf("a table needs a name")
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if c.Name == "" {
			return fmt.Errorf("table %q: a column has no name", t.Name)
		}
		if seen[strings.ToLower(c.Name)] {
			return fmt.Errorf("table %q: duplicate column %q", t.Name, c.Name)
		}
		seen[strings.ToLower(c.Name)] = true
		if !c.Type.Valid() {
			return fmt.Errorf("table %q: column %q has no valid type (%v)", t.Name, c.Name, c.Type)
		}
	}
	at := 0
	for _, c := range t.Computed {
		switch {
		case strings.TrimSpace(c.Name) == "":
			return fmt.Errorf("table %q: a computed column has no name", t.Name)
		case seen[strings.ToLower(c.Name)]:
			return fmt.Errorf("table %q: duplicate column %q", t.Name, c.Name)
		case strings.TrimSpace(c.Expr) == "":
			return fmt.Errorf("table %q: computed column %q has no expression", t.Name, c.Name)
		case c.At < at || c.At > len(t.Columns):
			return fmt.Errorf("table %q: computed column %q is out of place (after %d physical columns, of %d)", t.Name, c.Name, c.At, len(t.Columns))
		}
		seen[strings.ToLower(c.Name)] = true
		at = c.At
	}
	next := 0
	for _, r := range t.Rows {
		if r.First < next || r.Count < 1 || r.First+r.Count > len(t.Columns) {
			return fmt.Errorf("table %q: ROW column %q: fields %d…%d are not columns of the table", t.Name, r.Name, r.First, r.First+r.Count-1)
		}
		for _, c := range t.Columns[r.First : r.First+r.Count] {
			if !strings.HasPrefix(strings.ToLower(c.Name), strings.ToLower(r.Name)+".") {
				return fmt.Errorf("table %q: column %q is not a field of ROW column %q", t.Name, c.Name, r.Name)
			}
		}
		next = r.First + r.Count
	}
	schema := t.Schema()
	index := func(name string) int {
		if schema == nil {
			return -1
		}
		return schema.Index(name)
	}
	if w := t.Watermark; w != nil {
		i := index(w.Column)
		c := t.ComputedColumn(w.Column)
		switch {
		case i < 0 && c != nil && c.Type != "" && c.Type != runtime.Timestamp.String():
			return fmt.Errorf("table %q: watermark column %q is %s, not TIMESTAMP(3)", t.Name, w.Column, c.Type)
		case i < 0 && c != nil && w.Delay < 0:
			return fmt.Errorf("table %q: negative watermark delay %v", t.Name, w.Delay)
		case i < 0 && c != nil:
		case i < 0:
			return fmt.Errorf("table %q: unknown watermark column %q", t.Name, w.Column)
		case t.Columns[i].Type != runtime.Timestamp:
			return fmt.Errorf("table %q: watermark column %q is %s, not TIMESTAMP(3)", t.Name, w.Column, t.Columns[i].Type)
		case w.Delay < 0:
			return fmt.Errorf("table %q: negative watermark delay %v", t.Name, w.Delay)
		}
	}
	for _, k := range t.PrimaryKey {
		if c := t.ComputedColumn(k); c != nil {
			return fmt.Errorf("table %q: primary key column %q is a computed column; a PRIMARY KEY takes physical columns (as in Flink)", t.Name, c.Name)
		}
		if index(k) < 0 {
			return fmt.Errorf("table %q: unknown primary key column %q", t.Name, k)
		}
	}
	seenKey := map[int]bool{}
	for _, k := range t.PartitionKeys {
		i := index(k)
		if c := t.ComputedColumn(k); c != nil {
			return fmt.Errorf("table %q: partition column %q is a computed column; PARTITIONED BY takes physical columns (as in Flink)", t.Name, c.Name)
		}
		if i < 0 {
			return fmt.Errorf("table %q: unknown partition column %q%s", t.Name, k, suggest.Hint(k, columnNames(t.Columns)))
		}
		if seenKey[i] {
			return fmt.Errorf("table %q: duplicate partition column %q", t.Name, k)
		}
		seenKey[i] = true
	}
	return nil
}

func columnNames(cols []runtime.Field) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}
