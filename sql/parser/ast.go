package parser

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// Node is the parsed form of a statement: *CreateTable, *DropTable,
// *ShowTables, *Describe, *CreateTopic, *CreateSubscription, *Set,
// *CreateView, *DropView, *CreateFunction or *Query.
type Node interface {
	node()
}

// CreateTable is CREATE TABLE. Names are kept as written (without
// backticks); option keys and values are kept exactly as written.
type CreateTable struct {
	Name        string
	IfNotExists bool
	// Columns is nil for a table declared without a column list (a sink
	// whose columns the query defines).
	Columns    []Column
	Watermark  *Watermark  // nil: no event time
	PrimaryKey *PrimaryKey // nil: none
	// PartitionedBy are the columns of PARTITIONED BY (…), as declared;
	// nil without the clause.
	PartitionedBy []string
	Options       []Option // in the order written; keys are unique
	Pos           Pos      // of CREATE
}

// Column is a column of a CREATE TABLE: a physical column (name TYPE), or
// a computed one (name AS Expr), whose Type is runtime.Invalid until the
// planner types Expr.
type Column struct {
	Name     string
	Type     runtime.Type // Invalid for a ROW
	Nullable bool
	Expr     Expr     // the expression of a computed column, else nil
	Comment  string   // COMMENT '…', or ""
	Pos      Pos      // of the name
	Fields   []Column // of a ROW column (ROW<name TYPE, …>); nil for others
}

// TypeString is the column's type as SQL: BIGINT, or ROW<`id` BIGINT, …>.
func (c Column) TypeString() string {
	if c.Fields == nil {
		return c.Type.String()
	}
	var b strings.Builder
	b.WriteString("ROW<")
	for i, f := range c.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(f.Name) + " " + f.TypeString())
		if !f.Nullable {
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteString(">")
	return b.String()
}

// Flatten returns the columns with each ROW column replaced by its fields,
// named row.field (nested: row.field.subfield). A field is nullable when
// it or a ROW around it is.
func Flatten(cols []Column) []Column {
	var out []Column
	for _, c := range cols {
		if c.Fields == nil {
			out = append(out, c)
			continue
		}
		for _, f := range Flatten(c.Fields) {
			f.Name = c.Name + "." + f.Name
			f.Nullable = f.Nullable || c.Nullable
			f.Pos = c.Pos
			out = append(out, f)
		}
	}
	return out
}

// Watermark is WATERMARK FOR Column AS Expr. Expr is kept as written.
// When it is Column - INTERVAL 'n' UNIT (or Column alone), Delay is that
// interval (0 for `AS ts`); for any other expression Delay is -1 and the
// planner must compute the watermark from Expr.
type Watermark struct {
	Column string
	Delay  time.Duration // the allowed disorder; -1: see Expr
	Expr   Expr
	Pos    Pos // of WATERMARK
}

// PrimaryKey is [CONSTRAINT Name] PRIMARY KEY (Columns) NOT ENFORCED, or a
// column declared PRIMARY KEY NOT ENFORCED.
type PrimaryKey struct {
	Name    string // empty when not named
	Columns []string
	Pos     Pos // of PRIMARY, or of CONSTRAINT
}

// Option is one 'key' = 'value' of a WITH clause.
type Option struct {
	Key, Value string
	Pos        Pos // of the key
}

// Set is SET 'key' = 'value' (Flink's form): a job option for the
// statements after it. The parser checks the form only; the planner knows
// the keys.
type Set struct {
	Key, Value string
	Pos        Pos // of SET
	KeyPos     Pos
	ValuePos   Pos
}

// DropTable is DROP TABLE [IF EXISTS] Name.
type DropTable struct {
	Name     string
	IfExists bool
	Pos      Pos
}

// ShowTables is SHOW TABLES.
type ShowTables struct {
	Pos Pos
}

// Describe is DESCRIBE Name (or DESC Name).
type Describe struct {
	Name string
	Pos  Pos
}

// Query is INSERT …, SELECT … or WITH …: its text is the Statement's Text,
// which Statement.ParseQuery parses into a *QueryStatement. (The script
// does not parse it eagerly: the planner still reads Text with its older
// query parser, which must see every query.)
type Query struct {
	Verb string // INSERT, SELECT or WITH, upper case
	Pos  Pos
}

// CreateTopic is CREATE TOPIC [IF NOT EXISTS] Name [WITH (…)].
type CreateTopic struct {
	Name        string
	IfNotExists bool
	Options     []Option
	Pos         Pos
}

// CreateSubscription is CREATE SUBSCRIPTION Name ON TOPIC Topic WITH (…).
type CreateSubscription struct {
	Name     string
	Topic    string
	TopicPos Pos
	Options  []Option
	Pos      Pos
}

// CreateView is CREATE [TEMPORARY] VIEW [IF NOT EXISTS] Name [(Columns)]
// AS Query. Its query is parsed, with positions in the script.
type CreateView struct {
	Name        string
	Temporary   bool
	IfNotExists bool
	Columns     []string // nil when not written
	Query       QueryExpr
	QueryPos    Pos // of the query's first token
	Pos         Pos // of CREATE
}

// DropView is DROP [TEMPORARY] VIEW [IF EXISTS] Name.
type DropView struct {
	Name      string
	Temporary bool
	IfExists  bool
	Pos       Pos
}

// CreateFunction is CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT EXISTS]
// Name AS 'Identifier' [LANGUAGE Language]: Identifier names the
// implementation (for Sluice, a function registered from the Go API).
type CreateFunction struct {
	Name          string
	Identifier    string
	Language      string // upper case; "" when not written
	Temporary     bool
	System        bool
	IfNotExists   bool
	IdentifierPos Pos
	Pos           Pos
}

func (*CreateView) node()         {}
func (*DropView) node()           {}
func (*CreateFunction) node()     {}
func (*CreateTopic) node()        {}
func (*CreateSubscription) node() {}
func (*CreateTable) node()        {}
func (*DropTable) node()          {}
func (*ShowTables) node()         {}
func (*Describe) node()           {}
func (*Query) node()              {}
func (*Set) node()                {}

// Schema returns the columns as a runtime schema, or nil when the table
// has no column list.
func (c *CreateTable) Schema() *runtime.Schema {
	if c.Columns == nil {
		return nil
	}
	flat := Flatten(c.Columns)
	fields := make([]runtime.Field, len(flat))
	for i, col := range flat {
		fields[i] = runtime.Field{Name: col.Name, Type: col.Type, Nullable: col.Nullable}
	}
	return runtime.NewSchema(fields...)
}

// OptionsMap returns the WITH options as a new map.
func (c *CreateTable) OptionsMap() map[string]string {
	m := make(map[string]string, len(c.Options))
	for _, o := range c.Options {
		m[o.Key] = o.Value
	}
	return m
}

// String returns the statement in canonical form: upper-case keywords,
// every name in backticks, one column or option a line. Parsing it gives
// back the same table.
func (c *CreateTable) String() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	if c.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(QuoteIdent(c.Name))
	if c.Columns != nil {
		b.WriteString(" (")
		sep := "\n  "
		for _, col := range c.Columns {
			if col.Expr != nil {
				fmt.Fprintf(&b, "%s%s AS %s", sep, QuoteIdent(col.Name), col.Expr)
			} else {
				fmt.Fprintf(&b, "%s%s %s", sep, QuoteIdent(col.Name), col.TypeString())
				if !col.Nullable {
					b.WriteString(" NOT NULL")
				}
			}
			if col.Comment != "" {
				b.WriteString(" COMMENT " + QuoteString(col.Comment))
			}
			sep = ",\n  "
		}
		if w := c.Watermark; w != nil {
			fmt.Fprintf(&b, "%sWATERMARK FOR %s AS ", sep, QuoteIdent(w.Column))
			switch {
			case w.Expr != nil:
				b.WriteString(w.Expr.String())
			case w.Delay == 0:
				b.WriteString(QuoteIdent(w.Column))
			default:
				b.WriteString(QuoteIdent(w.Column) + " - " + FormatInterval(w.Delay))
			}
		}
		if k := c.PrimaryKey; k != nil {
			b.WriteString(sep)
			if k.Name != "" {
				fmt.Fprintf(&b, "CONSTRAINT %s ", QuoteIdent(k.Name))
			}
			b.WriteString("PRIMARY KEY (")
			for i, col := range k.Columns {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(QuoteIdent(col))
			}
			b.WriteString(") NOT ENFORCED")
		}
		b.WriteString("\n)")
	}
	if c.PartitionedBy != nil {
		b.WriteString(" PARTITIONED BY (")
		writeNames(&b, c.PartitionedBy)
		b.WriteByte(')')
	}
	if len(c.Options) > 0 {
		b.WriteString(" WITH (")
		for i, o := range c.Options {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "\n  %s = %s", QuoteString(o.Key), QuoteString(o.Value))
		}
		b.WriteString("\n)")
	}
	return b.String()
}

// QuoteIdent returns name in backticks, doubling any backtick inside.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// QuoteString returns s as a SQL string literal, doubling any quote inside.
func QuoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// intervalUnits are the units of INTERVAL, largest first.
var intervalUnits = []struct {
	name string
	d    time.Duration
}{
	{"DAY", 24 * time.Hour},
	{"HOUR", time.Hour},
	{"MINUTE", time.Minute},
	{"SECOND", time.Second},
	{"MILLISECOND", time.Millisecond},
}

// FormatInterval returns d as an INTERVAL literal in the largest unit that
// divides it, e.g. INTERVAL '5' SECOND; d is truncated to milliseconds.
func FormatInterval(d time.Duration) string {
	d = d.Truncate(time.Millisecond)
	for _, u := range intervalUnits {
		if d%u.d == 0 {
			return fmt.Sprintf("INTERVAL '%d' %s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("INTERVAL '%d' MILLISECOND", d/time.Millisecond) // not reached
}

// String returns the view in canonical form; parsing it gives back the
// same view.
func (v *CreateView) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if v.Temporary {
		b.WriteString("TEMPORARY ")
	}
	b.WriteString("VIEW ")
	if v.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(QuoteIdent(v.Name))
	if v.Columns != nil {
		b.WriteString(" (")
		writeNames(&b, v.Columns)
		b.WriteByte(')')
	}
	b.WriteString(" AS ")
	b.WriteString(v.Query.String())
	return b.String()
}

// String returns the function in canonical form.
func (f *CreateFunction) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	if f.Temporary {
		b.WriteString("TEMPORARY ")
	}
	if f.System {
		b.WriteString("SYSTEM ")
	}
	b.WriteString("FUNCTION ")
	if f.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(QuoteIdent(f.Name) + " AS " + QuoteString(f.Identifier))
	if f.Language != "" {
		b.WriteString(" LANGUAGE " + f.Language)
	}
	return b.String()
}
