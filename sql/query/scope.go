package query

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// Relation is an input of a SELECT as FROM names it.
type Relation struct {
	Name   string // the table's name
	Alias  string // its alias in FROM; "" when none
	Schema *runtime.Schema
	// Inner names columns of a subquery without an alias by the t.c
	// references of its select list that define them (lower-case "t.c" →
	// column), so that t.c outside means that column when no relation of
	// the scope is called t (Nexmark q6 writes A.id over such a
	// subquery). Nil for other relations.
	Inner map[string]int
}

// Ref is the name that qualifies the relation's columns: its alias when it
// has one, else its name (with an alias, the table's own name no longer
// qualifies its columns, as in Flink).
func (r Relation) Ref() string {
	if r.Alias != "" {
		return r.Alias
	}
	return r.Name
}

// Scope resolves column references (c, t.c, alias.c) against the inputs of
// a SELECT: no relation (no FROM), one, or the relations of its joins. Its
// columns are those of the relations one after the other, as Schema lists
// them; translated expressions refer to them by position in Schema.
//
// A Scope is immutable and safe for concurrent use.
type Scope struct {
	rels   []Relation
	offs   []int // index in schema of each relation's first column
	schema *runtime.Schema
	count  map[string]int // lower-case column name → occurrences in schema
}

// NewScope returns the scope of rels, which must have distinct Refs.
func NewScope(rels ...Relation) (*Scope, error) {
	s := &Scope{rels: append([]Relation(nil), rels...), count: map[string]int{}}
	var fields []runtime.Field
	for i, r := range rels {
		if r.Schema == nil {
			return nil, fmt.Errorf("relation %q has no schema", r.Ref())
		}
		for _, o := range rels[:i] {
			if strings.EqualFold(o.Ref(), r.Ref()) {
				return nil, fmt.Errorf("table name %q is used twice: give one of them an alias", r.Ref())
			}
		}
		s.offs = append(s.offs, len(fields))
		for _, f := range r.Schema.Fields {
			fields = append(fields, f)
			s.count[strings.ToLower(f.Name)]++
		}
	}
	s.schema = runtime.NewSchema(fields...)
	return s, nil
}

// Schema is the scope's columns: each relation's, one after the other.
// Column names may repeat (both sides of a join may have a ts).
func (s *Scope) Schema() *runtime.Schema { return s.schema }

// Relations returns the scope's relations.
func (s *Scope) Relations() []Relation { return append([]Relation(nil), s.rels...) }

// Offset returns the index in Schema of the first column of relation i.
func (s *Scope) Offset(i int) int { return s.offs[i] }

// Resolve returns the index in Schema of the column name, qualified by a
// relation's Ref when qualifier is not empty; names are case-insensitive.
// Errors name the column and suggest the nearest known name.
func (s *Scope) Resolve(qualifier, name string) (int, error) {
	if qualifier != "" {
		return s.resolveIn(qualifier, name)
	}
	idx, in := -1, -1
	for ri, r := range s.rels {
		for ci, f := range r.Schema.Fields {
			if !strings.EqualFold(f.Name, name) {
				continue
			}
			if idx >= 0 {
				if in == ri {
					return -1, fmt.Errorf("column %q is ambiguous: %s has it twice", name, r.Ref())
				}
				a, b := s.rels[in].Ref(), r.Ref()
				return -1, fmt.Errorf("column %q is ambiguous: both %s and %s have it (write %s.%s or %s.%s)",
					name, a, b, a, name, b, name)
			}
			idx, in = s.offs[ri]+ci, ri
		}
	}
	if idx >= 0 {
		return idx, nil
	}
	if len(s.rels) == 0 {
		return -1, fmt.Errorf("unknown column %q: the query has no FROM", name)
	}
	if fields := s.rowFields(s.rels, name); len(fields) > 0 {
		return -1, fmt.Errorf("column %s is a ROW: select its fields (%s)", name, strings.Join(fields, ", "))
	}
	var all []string
	for _, r := range s.rels {
		all = append(all, r.Schema.Names()...)
	}
	if n := suggest.Nearest(name, append(slices.Clip(all), s.rowNames()...)); n != "" {
		return -1, fmt.Errorf("unknown column %q (did you mean %q?)", name, n)
	}
	return -1, fmt.Errorf("unknown column %q%s", name, didYouMean(name, all, "columns"))
}

// rowFields returns the columns of rels that are fields of a ROW column
// row (named row.field), as row.field.
func (s *Scope) rowFields(rels []Relation, row string) []string {
	var out []string
	for _, r := range rels {
		for _, f := range r.Schema.Fields {
			if len(f.Name) > len(row) && f.Name[len(row)] == '.' && strings.EqualFold(f.Name[:len(row)], row) {
				out = append(out, f.Name)
			}
		}
	}
	return out
}

// resolveIn resolves qualifier.name: a column of the relation whose Ref is
// qualifier or, when no relation is called so, the field name of ROW
// column qualifier (a flattened column called qualifier.name). A relation
// wins over a ROW column of the same name, as in Flink. name may itself
// be a field, row.field, for t.row.field.
func (s *Scope) resolveIn(qualifier, name string) (int, error) {
	ri := -1
	for i, r := range s.rels {
		if strings.EqualFold(r.Ref(), qualifier) {
			ri = i
		}
	}
	if ri < 0 && len(s.rowFields(s.rels, qualifier)) > 0 {
		path := qualifier + "." + name
		i, err := s.Resolve("", path)
		if err != nil && len(s.rowFields(s.rels, path)) == 0 && !strings.Contains(err.Error(), "ambiguous") {
			return -1, fmt.Errorf("ROW column %s has no field %q%s", qualifier, name,
				didYouMean(path, s.rowFields(s.rels, qualifier), "fields"))
		}
		return i, err
	}
	if ri < 0 {
		if i, ok := s.resolveInner(qualifier, name); ok {
			return i, nil
		}
		refs := make([]string, len(s.rels))
		for i, r := range s.rels {
			if r.Alias != "" && strings.EqualFold(r.Name, qualifier) {
				return -1, fmt.Errorf("table %s is called %s in this query: write %s.%s", r.Name, r.Alias, r.Alias, name)
			}
			refs[i] = r.Ref()
		}
		if rows := s.rowNames(); len(rows) > 0 {
			return -1, fmt.Errorf("unknown table or ROW column %q%s", qualifier, didYouMean(qualifier, append(refs, rows...), "tables and ROW columns"))
		}
		return -1, fmt.Errorf("unknown table %q%s", qualifier, didYouMean(qualifier, refs, "tables"))
	}
	r := s.rels[ri]
	ci := -1
	for i, f := range r.Schema.Fields {
		if strings.EqualFold(f.Name, name) {
			if ci >= 0 {
				return -1, fmt.Errorf("column %q is ambiguous: %s has it twice", name, r.Ref())
			}
			ci = i
		}
	}
	if ci < 0 {
		if shadowed := qualifier + "." + name; s.has(r, shadowed) {
			// FROM t AS person, where t has a ROW column person: the alias
			// wins, as in Flink, and the ROW's field takes both names.
			return -1, fmt.Errorf("unknown column %q: %s is the name of table %s here, not its ROW column %s (write %s.%s)",
				shadowed, r.Ref(), r.Name, qualifier, r.Ref(), shadowed)
		}
		if fields := s.rowFields([]Relation{r}, name); len(fields) > 0 {
			return -1, fmt.Errorf("column %s.%s is a ROW: select its fields (%s)", qualifier, name, strings.Join(fields, ", "))
		}
		return -1, fmt.Errorf("unknown column %q%s", qualifier+"."+name,
			didYouMean(name, r.Schema.Names(), "columns of "+r.Ref()))
	}
	return s.offs[ri] + ci, nil
}

// resolveInner resolves qualifier.name through the Inner names of the
// scope's subqueries without an alias, when exactly one of them has it.
func (s *Scope) resolveInner(qualifier, name string) (int, bool) {
	key := strings.ToLower(qualifier + "." + name)
	idx := -1
	for ri, r := range s.rels {
		if c, ok := r.Inner[key]; ok {
			if idx >= 0 {
				return -1, false
			}
			idx = s.offs[ri] + c
		}
	}
	return idx, idx >= 0
}

// rowNames returns the names of the scope's ROW columns (the prefixes of
// its flattened row.field columns), each once, in order.
func (s *Scope) rowNames() []string {
	var rows []string
	for _, r := range s.rels {
		for _, f := range r.Schema.Fields {
			if row, _, ok := strings.Cut(f.Name, "."); ok && !slices.ContainsFunc(rows, func(x string) bool { return strings.EqualFold(x, row) }) {
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// has reports whether relation r has a column called name.
func (s *Scope) has(r Relation, name string) bool {
	for _, f := range r.Schema.Fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Star returns the columns that qualifier.* names, as the parts of column
// references: the columns of the relation whose Ref is qualifier (a
// relation wins over a ROW column of the same name, as in Flink) or, when
// no relation is called so, the fields of ROW column qualifier. An unknown
// qualifier is an error that suggests the nearest relation or ROW column.
func (s *Scope) Star(qualifier string) ([][]string, error) {
	var out [][]string
	for _, r := range s.rels {
		if !strings.EqualFold(r.Ref(), qualifier) {
			continue
		}
		for _, f := range r.Schema.Fields {
			out = append(out, []string{r.Ref(), f.Name})
		}
		return out, nil
	}
	if fields := s.rowFields(s.rels, qualifier); len(fields) > 0 {
		for _, f := range fields {
			out = append(out, []string{qualifier, f[len(qualifier)+1:]})
		}
		return out, nil
	}
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			names = append(names, n)
		}
	}
	for _, r := range s.rels {
		if r.Alias != "" && strings.EqualFold(r.Name, qualifier) {
			return nil, fmt.Errorf("table %s is called %s in this query: write %s.*", r.Name, r.Alias, r.Alias)
		}
		add(r.Ref())
	}
	for _, row := range s.rowNames() {
		add(row)
	}
	return nil, fmt.Errorf("unknown table or ROW column %q%s", qualifier, didYouMean(qualifier, names, "tables and ROW columns"))
}

// column returns the expression referring to column i of Schema: by name
// when the name is unique in the scope (so that it prints as the user
// wrote it), else by position.
func (s *Scope) column(i int) expr.Expr {
	name := s.schema.Fields[i].Name
	if s.count[strings.ToLower(name)] == 1 {
		return expr.Col(name)
	}
	return expr.ColIndex(i)
}

// maxListed bounds the names listed by an error without a suggestion.
const maxListed = 12

// didYouMean returns ` (did you mean "x"?)` with the nearest of names to s,
// or, without a near one, the list of names under what.
func didYouMean(s string, names []string, what string) string {
	if n := suggest.Nearest(s, names); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	if len(names) == 0 {
		return ""
	}
	if len(names) > maxListed {
		names = append(names[:maxListed:maxListed], "…")
	}
	return " (" + what + ": " + strings.Join(names, ", ") + ")"
}

// Scope returns the scope of f's leaves given their schemas, left to
// right. A nil From (no FROM clause) has an empty scope.
func (f *From) Scope(schemas ...*runtime.Schema) (*Scope, error) {
	var leaves []*From
	if f != nil {
		leaves = f.Leaves()
	}
	if len(schemas) != len(leaves) {
		return nil, fmt.Errorf("FROM has %d relations, got %d schemas", len(leaves), len(schemas))
	}
	rels := make([]Relation, len(leaves))
	for i, l := range leaves {
		rels[i] = Relation{Name: l.Ref(), Schema: schemas[i]}
		if l.Table != nil {
			rels[i].Name, rels[i].Alias = l.Table.Name, l.Table.Alias
		}
	}
	return NewScope(rels...)
}
