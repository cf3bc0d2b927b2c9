package parser

import "strings"

// QueryStatement is a parsed query statement: INSERT INTO … query, or a
// bare query (SELECT …, WITH …).
type QueryStatement struct {
	Insert *Insert // nil for a bare query
	Query  QueryExpr
	Pos    Pos // of the first token
	End    Pos // just past the last token
}

// Insert is the INSERT INTO Table [(Columns)] of a query statement.
type Insert struct {
	Table   *Ident
	Columns []*Ident // nil when not written
	Pos     Pos      // of INSERT
}

// QueryExpr is a query: *Select, *Values, *SetOp, *With or *Ordered.
type QueryExpr interface {
	Position() Pos
	String() string
	queryNode()
}

// Select is SELECT [DISTINCT] items [FROM …] [WHERE …] [GROUP BY …]
// [HAVING …].
type Select struct {
	Distinct bool
	Items    []SelectItem
	From     TableRef // nil without FROM
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	Pos      Pos // of SELECT
}

// SelectItem is an expression of a select list with its alias; Expr is a
// *Star for * and t.*.
type SelectItem struct {
	Expr     Expr
	Alias    string // "" when not written
	AliasPos Pos
}

// SetOp is L UNION [ALL] R, L EXCEPT [ALL] R or L INTERSECT [ALL] R.
// INTERSECT binds more tightly than UNION and EXCEPT; all are left
// associative.
type SetOp struct {
	Op    string // UNION, EXCEPT or INTERSECT
	All   bool
	L, R  QueryExpr
	OpPos Pos
}

// With is WITH name [(cols)] AS (query), … Body.
type With struct {
	CTEs []CTE
	Body QueryExpr
	Pos  Pos // of WITH
}

// CTE is one name [(Columns)] AS (Query) of a WITH.
type CTE struct {
	Name    string
	Columns []string
	Query   QueryExpr
	Pos     Pos // of the name
}

// Values is VALUES (row), …: a query of literal rows.
type Values struct {
	Rows [][]Expr
	Pos  Pos // of VALUES
}

// Ordered is a query with ORDER BY, LIMIT or OFFSET.
type Ordered struct {
	Query   QueryExpr
	OrderBy []OrderItem
	Limit   Expr // nil without LIMIT
	Offset  Expr // nil without OFFSET
}

func (q *Select) Position() Pos  { return q.Pos }
func (q *Values) Position() Pos  { return q.Pos }
func (q *SetOp) Position() Pos   { return q.L.Position() }
func (q *With) Position() Pos    { return q.Pos }
func (q *Ordered) Position() Pos { return q.Query.Position() }

func (*Select) queryNode()  {}
func (*Values) queryNode()  {}
func (*SetOp) queryNode()   {}
func (*With) queryNode()    {}
func (*Ordered) queryNode() {}

// TableRef is an item of FROM: *TableName, *Derived, *TableFunc or *Join.
type TableRef interface {
	Position() Pos
	String() string
	tableRef()
}

// Alias is [AS] Name [(Columns)] after a table reference.
type Alias struct {
	Name    string
	Columns []string
	Pos     Pos // of the name
}

// TableName is a table (or view, or WITH name) in FROM, possibly
// FOR SYSTEM_TIME AS OF SystemTime (a temporal join's versioned side).
type TableName struct {
	Name       *Ident
	SystemTime Expr // nil without FOR SYSTEM_TIME AS OF
	Alias      *Alias
}

// Derived is a subquery in FROM: (query) [[AS] alias]. The alias is
// optional, as Flink allows.
type Derived struct {
	Query QueryExpr
	Alias *Alias
	Pos   Pos // of '('
}

// TableFunc is TABLE(call) in FROM, a table-valued function such as
// TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND). Its arguments
// may be *TableArg, *Descriptor and *NamedArg besides expressions.
type TableFunc struct {
	Call  *Call
	Alias *Alias
	Pos   Pos // of TABLE
}

// JoinKind is the kind of a Join.
type JoinKind uint8

// The kinds of joins.
const (
	JoinComma JoinKind = iota + 1 // FROM a, b
	JoinCross
	JoinInner
	JoinLeft
	JoinRight
	JoinFull
)

var joinWords = [...]string{"", ",", "CROSS JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"}

func (k JoinKind) String() string {
	if int(k) < len(joinWords) {
		return joinWords[k]
	}
	return "JOIN"
}

// Join is L kind R [ON On | USING (Using)]. Joins are left associative.
type Join struct {
	Kind    JoinKind
	L, R    TableRef
	On      Expr     // nil for comma and cross joins, and with USING
	Using   []string // nil without USING
	KindPos Pos      // of the join's first keyword, or of the comma
}

func (t *TableName) Position() Pos { return t.Name.Pos }
func (t *Derived) Position() Pos   { return t.Pos }
func (t *TableFunc) Position() Pos { return t.Pos }
func (t *Join) Position() Pos      { return t.L.Position() }

func (*TableName) tableRef() {}
func (*Derived) tableRef()   {}
func (*TableFunc) tableRef() {}
func (*Join) tableRef()      {}

// String prints the statement as canonical SQL.
func (s *QueryStatement) String() string {
	if s.Insert == nil {
		return s.Query.String()
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(s.Insert.Table.String())
	if s.Insert.Columns != nil {
		b.WriteString(" (")
		for i, c := range s.Insert.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.String())
		}
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	b.WriteString(s.Query.String())
	return b.String()
}

func (q *Select) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.Distinct {
		b.WriteString("DISTINCT ")
	}
	for i, it := range q.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.Expr.String())
		if it.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteIdent(it.Alias))
		}
	}
	if q.From != nil {
		b.WriteString(" FROM ")
		b.WriteString(q.From.String())
	}
	if q.Where != nil {
		b.WriteString(" WHERE ")
		b.WriteString(q.Where.String())
	}
	if len(q.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		writeExprs(&b, q.GroupBy)
	}
	if q.Having != nil {
		b.WriteString(" HAVING ")
		b.WriteString(q.Having.String())
	}
	return b.String()
}

func (q *Values) String() string {
	var b strings.Builder
	b.WriteString("VALUES ")
	for i, r := range q.Rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		writeExprs(&b, r)
		b.WriteByte(')')
	}
	return b.String()
}

// setPrec is how tightly a query binds in a set operation.
func setPrec(q QueryExpr) int {
	switch q := q.(type) {
	case *SetOp:
		if q.Op == "INTERSECT" {
			return 2
		}
		return 1
	case *Select, *Values:
		return 3
	}
	return 0 // WITH and ORDER BY need parentheses inside a set operation
}

func writeSetSide(b *strings.Builder, q QueryExpr, min int) {
	if setPrec(q) < min {
		b.WriteString("(" + q.String() + ")")
		return
	}
	b.WriteString(q.String())
}

func (q *SetOp) String() string {
	var b strings.Builder
	p := setPrec(q)
	writeSetSide(&b, q.L, p)
	b.WriteString(" " + q.Op + " ")
	if q.All {
		b.WriteString("ALL ")
	}
	writeSetSide(&b, q.R, p+1)
	return b.String()
}

func (q *With) String() string {
	var b strings.Builder
	b.WriteString("WITH ")
	for i, c := range q.CTEs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.Name))
		if c.Columns != nil {
			b.WriteString(" (")
			writeNames(&b, c.Columns)
			b.WriteByte(')')
		}
		b.WriteString(" AS (")
		b.WriteString(c.Query.String())
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	if _, ok := q.Body.(*With); ok {
		b.WriteString("(" + q.Body.String() + ")")
	} else {
		b.WriteString(q.Body.String())
	}
	return b.String()
}

func (q *Ordered) String() string {
	var b strings.Builder
	switch q.Query.(type) {
	case *With, *Ordered: // (WITH …) ORDER BY, (… LIMIT 1) ORDER BY
		b.WriteString("(" + q.Query.String() + ")")
	default:
		b.WriteString(q.Query.String())
	}
	if len(q.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		writeOrder(&b, q.OrderBy)
	}
	if q.Limit != nil {
		b.WriteString(" LIMIT ")
		b.WriteString(q.Limit.String())
	}
	if q.Offset != nil {
		b.WriteString(" OFFSET ")
		b.WriteString(q.Offset.String())
	}
	return b.String()
}

func writeNames(b *strings.Builder, names []string) {
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(n))
	}
}

func (a *Alias) String() string {
	if a == nil {
		return ""
	}
	s := " AS " + QuoteIdent(a.Name)
	if a.Columns != nil {
		var b strings.Builder
		writeNames(&b, a.Columns)
		s += " (" + b.String() + ")"
	}
	return s
}

func (t *TableName) String() string {
	s := t.Name.String()
	if t.SystemTime != nil {
		s += " FOR SYSTEM_TIME AS OF " + t.SystemTime.String()
	}
	return s + t.Alias.String()
}

func (t *Derived) String() string   { return "(" + t.Query.String() + ")" + t.Alias.String() }
func (t *TableFunc) String() string { return "TABLE(" + t.Call.String() + ")" + t.Alias.String() }

func (t *Join) String() string {
	var b strings.Builder
	b.WriteString(t.L.String())
	if t.Kind == JoinComma {
		b.WriteString(", ")
	} else {
		b.WriteString(" " + t.Kind.String() + " ")
	}
	if _, ok := t.R.(*Join); ok {
		b.WriteString("(" + t.R.String() + ")")
	} else {
		b.WriteString(t.R.String())
	}
	if t.On != nil {
		b.WriteString(" ON ")
		b.WriteString(t.On.String())
	}
	if t.Using != nil {
		b.WriteString(" USING (")
		writeNames(&b, t.Using)
		b.WriteByte(')')
	}
	return b.String()
}
