package parser

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
)

// reservedObjects are the things DROP will know, not yet.
var reservedObjects = []string{"TOPIC", "SUBSCRIPTION"}

func (p *parser) create(start token) (Node, error) {
	temporary, system := p.accept("TEMPORARY"), false
	if temporary {
		system = p.accept("SYSTEM")
	}
	switch {
	case !temporary && p.isTrigger():
		return p.createTrigger(start)
	case !temporary && p.accept("TABLE"):
		return p.createTable(start)
	case !temporary && p.accept("TOPIC"):
		return p.createTopic(start)
	case !temporary && p.accept("SUBSCRIPTION"):
		return p.createSubscription(start)
	case !system && p.accept("VIEW"):
		return p.createView(start, temporary)
	case p.accept("FUNCTION"):
		return p.createFunction(start, temporary, system)
	case temporary && p.peek().is("TABLE"):
		return nil, p.unsupported(p.peek(), "CREATE TEMPORARY TABLE")
	}
	if system {
		return nil, p.expected("FUNCTION after TEMPORARY SYSTEM", "FUNCTION")
	}
	if temporary {
		return nil, p.expected("VIEW or FUNCTION after TEMPORARY", "VIEW", "FUNCTION")
	}
	return nil, p.expected("TABLE, VIEW, FUNCTION, TOPIC or SUBSCRIPTION after CREATE", "TABLE", "VIEW", "FUNCTION", "TOPIC", "SUBSCRIPTION")
}

// ifNotExists reads IF NOT EXISTS, unless IF is the name itself (then
// end, one of ends, follows it).
func (p *parser) ifNotExists(ends ...string) (bool, error) {
	if !p.peek().is("IF") {
		return false, nil
	}
	t := p.peekAt(1)
	if t.kind == tEOF || t.isPunct("(") {
		return false, nil
	}
	for _, e := range ends {
		if t.is(e) {
			return false, nil
		}
	}
	p.i++
	for _, kw := range []string{"NOT", "EXISTS"} {
		if err := p.expectKeyword(kw); err != nil {
			return false, err
		}
	}
	return true, nil
}

// createView reads CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(cols)]
// AS query; the query is parsed into the AST.
func (p *parser) createView(start token, temporary bool) (Node, error) {
	v := &CreateView{Temporary: temporary, Pos: start.pos}
	var err error
	if v.IfNotExists, err = p.ifNotExists("AS"); err != nil {
		return nil, err
	}
	if err := p.placeholder(); err != nil {
		return nil, err
	}
	if v.Name, err = p.tableName(); err != nil {
		return nil, err
	}
	if p.peek().isPunct("(") {
		if v.Columns, err = p.nameList("the column list of the view"); err != nil {
			return nil, err
		}
	}
	if !p.accept("AS") {
		return nil, p.want("AS before the query of the view")
	}
	v.QueryPos = p.peek().pos
	if v.Query, err = p.query(); err != nil {
		return nil, err
	}
	return v, p.queryEnd()
}

// functionLanguages are the languages of CREATE FUNCTION … LANGUAGE.
var functionLanguages = []string{"GO", "JAVA", "SCALA", "PYTHON", "SQL"}

// createFunction reads CREATE [TEMPORARY [SYSTEM]] FUNCTION [IF NOT
// EXISTS] name AS 'identifier' [LANGUAGE lang].
func (p *parser) createFunction(start token, temporary, system bool) (Node, error) {
	f := &CreateFunction{Temporary: temporary, System: system, Pos: start.pos}
	var err error
	if f.IfNotExists, err = p.ifNotExists("AS"); err != nil {
		return nil, err
	}
	name, _, err := p.name("function name")
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.isPunct(".") {
		return nil, p.errAt(t, "qualified function names are not supported")
	}
	f.Name = name
	if err := p.expectKeyword("AS"); err != nil {
		return nil, err
	}
	it := p.peek()
	if it.kind != tString || it.val == "" {
		e := p.want("the function's identifier as a non-empty quoted string")
		e.Hint = "e.g. CREATE FUNCTION count_char AS 'go:count_char'"
		return nil, e
	}
	p.i++
	f.Identifier, f.IdentifierPos = it.val, it.pos
	if p.accept("LANGUAGE") {
		l := p.peek()
		for _, lang := range functionLanguages {
			if l.is(lang) {
				f.Language = lang
			}
		}
		if f.Language == "" {
			return nil, p.expected("a language ("+strings.Join(functionLanguages, ", ")+")", functionLanguages...)
		}
		p.i++
	}
	if t := p.peek(); t.is("USING") {
		return nil, p.unsupported(t, "CREATE FUNCTION … USING JAR")
	}
	return f, p.expectEnd()
}

// createTopic reads CREATE TOPIC [IF NOT EXISTS] name [WITH (…)].
func (p *parser) createTopic(start token) (Node, error) {
	ct := &CreateTopic{Pos: start.pos}
	if t := p.peekAt(1); p.peek().is("IF") && !(t.kind == tEOF || t.is("WITH")) {
		p.i++
		for _, kw := range []string{"NOT", "EXISTS"} {
			if err := p.expectKeyword(kw); err != nil {
				return nil, err
			}
		}
		ct.IfNotExists = true
	}
	name, _, err := p.name("topic name")
	if err != nil {
		return nil, err
	}
	ct.Name = name
	if p.accept("WITH") {
		if ct.Options, err = p.optionList(); err != nil {
			return nil, err
		}
	} else if p.peek().kind != tEOF {
		return nil, p.expected("WITH or end of statement", "WITH")
	}
	return ct, p.expectEnd()
}

// createSubscription reads CREATE SUBSCRIPTION name ON TOPIC topic WITH (…).
func (p *parser) createSubscription(start token) (Node, error) {
	cs := &CreateSubscription{Pos: start.pos}
	name, _, err := p.name("subscription name")
	if err != nil {
		return nil, err
	}
	cs.Name = name
	for _, kw := range []string{"ON", "TOPIC"} {
		if err := p.expectKeyword(kw); err != nil {
			return nil, err
		}
	}
	cs.TopicPos = p.peek().pos
	if cs.Topic, _, err = p.name("topic name"); err != nil {
		return nil, err
	}
	if err := p.expectKeyword("WITH"); err != nil {
		return nil, err
	}
	if cs.Options, err = p.optionList(); err != nil {
		return nil, err
	}
	return cs, p.expectEnd()
}

// reserved fails on DROP TOPIC and SUBSCRIPTION, which Sluice will have
// later.
func (p *parser) reserved(verb string) error {
	t := p.peek()
	for _, o := range reservedObjects {
		if t.is(o) {
			return p.errAt(t, verb+" "+o+" is not supported yet")
		}
	}
	return nil
}

func (p *parser) dropTable(start token) (Node, error) {
	if t := p.peek(); t.is("VIEW") || t.is("TEMPORARY") && p.peekAt(1).is("VIEW") {
		return p.dropView(start)
	}
	if p.isTrigger() {
		return p.dropTrigger(start)
	}
	if !p.accept("TABLE") {
		if err := p.reserved("DROP"); err != nil {
			return nil, err
		}
		return nil, p.expected("TABLE or VIEW after DROP", "TABLE", "VIEW")
	}
	d := &DropTable{Pos: start.pos}
	// IF is a clause unless it is the last word (a table called "if").
	if p.peek().is("IF") && p.peekAt(1).kind != tEOF {
		p.i++
		if err := p.expectKeyword("EXISTS"); err != nil {
			return nil, err
		}
		d.IfExists = true
	}
	var err error
	if d.Name, err = p.tableName(); err != nil {
		return nil, err
	}
	return d, p.expectEnd()
}

// dropView reads DROP [TEMPORARY] VIEW [IF EXISTS] name.
func (p *parser) dropView(start token) (Node, error) {
	d := &DropView{Temporary: p.accept("TEMPORARY"), Pos: start.pos}
	p.i++ // VIEW
	if p.peek().is("IF") && p.peekAt(1).kind != tEOF {
		p.i++
		if err := p.expectKeyword("EXISTS"); err != nil {
			return nil, err
		}
		d.IfExists = true
	}
	var err error
	if d.Name, err = p.tableName(); err != nil {
		return nil, err
	}
	return d, p.expectEnd()
}

// tableName reads the name of a table; qualified names are refused.
func (p *parser) tableName() (string, error) {
	name, _, err := p.name("table name")
	if err != nil {
		return "", err
	}
	if t := p.peek(); t.isPunct(".") {
		e := p.errAt(t, "qualified table names are not supported")
		e.Hint = "name the table without a catalog or database"
		return "", e
	}
	return name, nil
}

func (p *parser) createTable(start token) (Node, error) {
	ct := &CreateTable{Pos: start.pos}
	// IF starts IF NOT EXISTS unless the table is called "if".
	if t := p.peekAt(1); p.peek().is("IF") && !(t.kind == tEOF || t.isPunct("(") || t.is("WITH")) {
		p.i++
		for _, kw := range []string{"NOT", "EXISTS"} {
			if err := p.expectKeyword(kw); err != nil {
				return nil, err
			}
		}
		ct.IfNotExists = true
	}
	var err error
	if ct.Name, err = p.tableName(); err != nil {
		return nil, err
	}
	if p.acceptPunct("(") {
		if err := p.tableElements(ct); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("PARTITIONED") {
		if err := p.partitionedBy(ct); err != nil {
			return nil, err
		}
	}
	with := p.accept("WITH")
	if with {
		if err := p.options(ct); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tEOF {
		if ct.Columns == nil && !with {
			return nil, p.expected("'(', WITH or end of statement", "WITH")
		}
		if !with {
			return nil, p.expected("WITH or end of statement", "WITH")
		}
	}
	return ct, p.expectEnd()
}

// partitionedBy reads PARTITIONED BY (col, …), whose columns must be
// columns of the table.
func (p *parser) partitionedBy(ct *CreateTable) error {
	p.i++
	if err := p.expectKeyword("BY"); err != nil {
		return err
	}
	if !p.peek().isPunct("(") {
		return p.expectPunct("(")
	}
	open := p.next()
	ct.PartitionedBy = []string{}
	seen := map[int]bool{}
	for {
		_, t, err := p.name("column name")
		if err != nil {
			return err
		}
		i := columnIndex(ct.Columns, t.val)
		if i < 0 {
			return p.unknownColumn(ct, t, "unknown partition column")
		}
		if seen[i] {
			return p.errAt(t, "duplicate partition column")
		}
		seen[i] = true
		ct.PartitionedBy = append(ct.PartitionedBy, ct.Columns[i].Name)
		if !p.acceptPunct(",") {
			break
		}
	}
	return p.closeParen(open, "PARTITIONED BY")
}

// tableElements reads the columns, watermark and primary key after '('.
func (p *parser) tableElements(ct *CreateTable) error {
	if t := p.peek(); t.isPunct(")") {
		e := p.errAt(t, "empty column list")
		e.Hint = "omit the parentheses for a sink table whose columns the query defines"
		return e
	}
	ct.Columns = []Column{}
	columns := map[string]Pos{} // lower-case name → where declared
	var wmCol token             // where the watermark names its column
	var pkCols []token          // where the primary key names its columns
	for {
		t, t1 := p.peek(), p.peekAt(1)
		switch {
		case t.is("WATERMARK") && t1.is("FOR"):
			if ct.Watermark != nil {
				return p.errAt(t, "a table has only one WATERMARK")
			}
			var err error
			if ct.Watermark, wmCol, err = p.watermark(); err != nil {
				return err
			}
		case t.is("PRIMARY") && t1.is("KEY") || t.is("CONSTRAINT") && !isTypeName(t1):
			if ct.PrimaryKey != nil {
				return p.errAt(t, "a table has only one PRIMARY KEY")
			}
			var err error
			if ct.PrimaryKey, pkCols, err = p.primaryKey(); err != nil {
				return err
			}
		default:
			col, pk, err := p.column()
			if err != nil {
				return err
			}
			if at, dup := columns[strings.ToLower(col.Name)]; dup {
				e := p.errAt(pk.nameTok, "duplicate column")
				e.Hint = "first declared at line " + at.String()
				return e
			}
			columns[strings.ToLower(col.Name)] = col.Pos
			ct.Columns = append(ct.Columns, col)
			if pk.declared {
				if ct.PrimaryKey != nil {
					return p.errAt(pk.at, "a table has only one PRIMARY KEY")
				}
				ct.PrimaryKey = &PrimaryKey{Columns: []string{col.Name}, Pos: pk.at.pos}
				pkCols = []token{pk.nameTok}
			}
		}
		if p.acceptPunct(",") {
			continue
		}
		if p.acceptPunct(")") {
			break
		}
		return p.expected("',' or ')'")
	}
	if w := ct.Watermark; w != nil {
		i := columnIndex(ct.Columns, w.Column)
		if i < 0 {
			return p.unknownColumn(ct, wmCol, "unknown watermark column")
		}
		if typ := ct.Columns[i].Type; typ != runtime.Timestamp && ct.Columns[i].Expr == nil {
			e := p.errAt(wmCol, "the watermark column must be TIMESTAMP(3)")
			e.Hint = fmt.Sprintf("%q is %s", ct.Columns[i].Name, typ)
			return e
		}
		w.Column = ct.Columns[i].Name
	}
	if k := ct.PrimaryKey; k != nil {
		seen := map[int]bool{}
		for j, t := range pkCols {
			i := columnIndex(ct.Columns, t.val)
			if i < 0 {
				return p.unknownColumn(ct, t, "unknown primary key column")
			}
			if seen[i] {
				return p.errAt(t, "duplicate primary key column")
			}
			seen[i] = true
			k.Columns[j] = ct.Columns[i].Name
			ct.Columns[i].Nullable = false // as Flink: a key column is NOT NULL
		}
	}
	return nil
}

func columnIndex(cols []Column, name string) int {
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// unknownColumn returns msg at t, suggesting the nearest column.
func (p *parser) unknownColumn(ct *CreateTable, t token, msg string) error {
	e := p.errAt(t, msg)
	names := make([]string, len(ct.Columns))
	for i, c := range ct.Columns {
		names[i] = c.Name
	}
	if near := suggest.Nearest(t.val, names); near != "" {
		e.Hint = fmt.Sprintf("did you mean %q?", near)
	} else if len(names) == 0 {
		e.Hint = "the table has no columns"
	} else {
		e.Hint = "the columns are " + strings.Join(names, ", ")
	}
	return e
}

// columnKey is what a column says of a primary key.
type columnKey struct {
	declared bool
	at       token // PRIMARY
	nameTok  token // the column's name
}

// misspelt returns the keyword that the name of a column nt misspells, if
// what follows shows that it starts a watermark or a key rather than a
// column: WATERMAK FOR, PRIMRY KEY, CONSTRANT pk PRIMARY.
func (p *parser) misspelt(nt token) string {
	if nt.kind != tIdent {
		return ""
	}
	next := p.peek()
	if isTypeName(next) {
		return ""
	}
	switch {
	case next.is("FOR"):
		return nearestKeyword(nt.text, []string{"WATERMARK"})
	case next.is("KEY"):
		return nearestKeyword(nt.text, []string{"PRIMARY"})
	case p.peekAt(1).is("PRIMARY"):
		return nearestKeyword(nt.text, []string{"CONSTRAINT"})
	}
	return ""
}

// column reads: name TYPE [NOT NULL | NULL] [PRIMARY KEY NOT ENFORCED].
func (p *parser) column() (Column, columnKey, error) {
	name, nt, err := p.name("column name")
	if err != nil {
		if t := p.peek(); t.kind == tEOF || t.isPunct(")") || t.isPunct(",") {
			err = p.errAt(t, "expected a column, WATERMARK or PRIMARY KEY")
		}
		return Column{}, columnKey{}, err
	}
	key := columnKey{nameTok: nt}
	if kw := p.misspelt(nt); kw != "" {
		e := p.errAt(nt, "expected a column, WATERMARK or PRIMARY KEY")
		e.Hint = "did you mean " + kw + "?"
		return Column{}, key, e
	}
	if p.accept("AS") { // a computed column
		col := Column{Name: name, Nullable: true, Pos: nt.pos}
		if col.Expr, err = p.expr(); err != nil {
			return col, key, err
		}
		if err := p.comment(&col); err != nil {
			return col, key, err
		}
		if t := p.peek(); t.is("PRIMARY") || t.is("NOT") || t.is("NULL") {
			return col, key, p.errAt(t, "a computed column takes no constraint")
		}
		return col, key, nil
	}
	col := Column{Name: name, Nullable: true, Pos: nt.pos}
	if p.peek().is("ROW") {
		col.Fields, err = p.rowType()
	} else {
		col.Type, err = p.typ()
	}
	if err != nil {
		return Column{}, key, err
	}
	var nullTok token // the last NULL or NOT NULL
	for {
		t := p.peek()
		switch {
		case t.is("NOT"):
			p.i++
			if !p.accept("NULL") {
				return col, key, p.expected("NULL after NOT", "NULL")
			}
			if nullTok.kind != tEOF && col.Nullable {
				return col, key, p.errAt(t, "conflicting NULL and NOT NULL")
			}
			col.Nullable, nullTok = false, t
		case t.is("NULL"):
			p.i++
			if nullTok.kind != tEOF && !col.Nullable {
				return col, key, p.errAt(t, "conflicting NULL and NOT NULL")
			}
			nullTok = t
		case t.is("PRIMARY"):
			if key.declared {
				return col, key, p.errAt(t, "a table has only one PRIMARY KEY")
			}
			p.i++
			if err := p.expectKeyword("KEY"); err != nil {
				return col, key, err
			}
			if err := p.notEnforced(); err != nil {
				return col, key, err
			}
			key.declared, key.at = true, t
		case t.is("COMMENT"):
			if err := p.comment(&col); err != nil {
				return col, key, err
			}
		case t.is("METADATA"):
			e := p.errAt(t, "METADATA columns are not supported")
			e.Hint = "declare the column without METADATA, or leave it out"
			return col, key, e
		default:
			return col, key, nil
		}
	}
}

// rowType reads ROW<name TYPE [NOT NULL], …> or ROW(name TYPE, …), whose
// field types may be ROWs too.
func (p *parser) rowType() ([]Column, error) {
	row := p.peek()
	p.i++
	closing := ">"
	if p.peek().isPunct("<>") {
		return nil, p.errAt(row, "a ROW needs at least one field")
	}
	if !p.acceptPunct("<") {
		if !p.acceptPunct("(") {
			e := p.errAt(p.peek(), "expected < or ( after ROW")
			e.Hint = "write ROW<name TYPE, …> or ROW(name TYPE, …)"
			return nil, e
		}
		closing = ")"
	}
	var fields []Column
	for {
		if t := p.peek(); t.isPunct(closing) && len(fields) == 0 {
			return nil, p.errAt(row, "a ROW needs at least one field")
		}
		name, nt, err := p.name("field name")
		if err != nil {
			return nil, err
		}
		if columnIndex(fields, name) >= 0 {
			return nil, p.errAt(nt, fmt.Sprintf("duplicate field %q", name))
		}
		f := Column{Name: name, Nullable: true, Pos: nt.pos}
		if p.peek().is("ROW") {
			f.Fields, err = p.rowType()
		} else {
			f.Type, err = p.typ()
		}
		if err != nil {
			return nil, err
		}
		if p.accept("NOT") {
			if !p.accept("NULL") {
				return nil, p.expected("NULL after NOT", "NULL")
			}
			f.Nullable = false
		} else {
			p.accept("NULL")
		}
		fields = append(fields, f)
		if p.acceptPunct(closing) {
			return fields, nil
		}
		if !p.acceptPunct(",") {
			return nil, p.expected(", or " + closing + " after a ROW field")
		}
	}
}

// comment reads COMMENT 'text' of a column, if it comes next.
func (p *parser) comment(col *Column) error {
	t := p.peek()
	if !t.is("COMMENT") {
		return nil
	}
	p.i++
	c := p.peek()
	if c.kind != tString {
		return p.expected("a quoted string after COMMENT")
	}
	if col.Comment != "" {
		return p.errAt(t, "a column has one COMMENT")
	}
	p.i++
	col.Comment = c.val
	return nil
}

// typeNames maps each type name to its type.
var typeNames = map[string]runtime.Type{
	"BOOLEAN": runtime.Boolean, "INT": runtime.Int, "INTEGER": runtime.Int, "BIGINT": runtime.BigInt,
	"DOUBLE": runtime.Double, "FLOAT": runtime.Double, "VARCHAR": runtime.Varchar, "STRING": runtime.Varchar,
	"TIMESTAMP": runtime.Timestamp,
	// DECIMAL without (p, s) is DECIMAL(10, 0), as in Flink.
	"DECIMAL": runtime.DecimalType(10, 0), "DEC": runtime.DecimalType(10, 0), "NUMERIC": runtime.DecimalType(10, 0),
}

// isTypeName reports whether t is the name of a supported type.
func isTypeName(t token) bool {
	_, ok := typeNames[strings.ToUpper(t.text)]
	return ok && t.kind == tIdent
}

// typeList names the supported types in errors.
const typeList = "BOOLEAN, INT, INTEGER, BIGINT, DOUBLE, DOUBLE PRECISION, FLOAT, VARCHAR, VARCHAR(n), STRING, TIMESTAMP, TIMESTAMP(3)"

// otherTypes are SQL types Sluice does not have, with what to use instead.
var otherTypes = map[string]string{
	"BOOL": "BOOLEAN", "TINYINT": "INT", "SMALLINT": "INT",
	"REAL": "DOUBLE", "CHAR": "VARCHAR", "TEXT": "VARCHAR", "DATE": "TIMESTAMP(3)", "TIME": "TIMESTAMP(3)",
	"DATETIME": "TIMESTAMP(3)", "TIMESTAMP_LTZ": "TIMESTAMP(3)",
}

// typ reads a type.
func (p *parser) typ() (runtime.Type, error) {
	t := p.peek()
	upper := strings.ToUpper(t.text)
	typ, ok := typeNames[upper]
	if !ok || t.kind != tIdent {
		msg := "unknown type"
		if t.kind == tEOF || t.isPunct(",") || t.isPunct(")") {
			msg = "expected a type"
		}
		e := p.errAt(t, msg)
		e.Hint = "supported types: " + typeList
		if use, ok := otherTypes[upper]; ok && t.kind == tIdent {
			e.Msg, e.Hint = "unsupported type", "use "+use+"; "+e.Hint
		} else if t.kind == tIdent {
			if near := nearestKeyword(t.text, slices.Sorted(maps.Keys(typeNames))); near != "" {
				e.Hint = "did you mean " + near + "? " + e.Hint
			}
		}
		return 0, e
	}
	p.i++
	switch upper {
	case "DOUBLE":
		p.accept("PRECISION")
	case "VARCHAR":
		if p.acceptPunct("(") {
			n := p.peek()
			if v, err := strconv.Atoi(n.text); n.kind != tNumber || err != nil || v <= 0 {
				e := p.errAt(n, "expected a length")
				e.Hint = "write VARCHAR(n) with n > 0, or VARCHAR"
				return 0, e
			}
			p.i++
			if err := p.expectPunct(")"); err != nil {
				return 0, err
			}
		}
		return typ, nil
	case "DECIMAL", "DEC", "NUMERIC":
		return p.decimalParams(upper)
	case "TIMESTAMP":
		if p.acceptPunct("(") {
			n := p.peek()
			if n.kind != tNumber {
				return 0, p.expected("a precision")
			}
			if n.text != "3" {
				e := p.errAt(n, "unsupported TIMESTAMP precision")
				e.Hint = "Sluice timestamps have millisecond precision: use TIMESTAMP(3)"
				return 0, e
			}
			p.i++
			if err := p.expectPunct(")"); err != nil {
				return 0, err
			}
		}
		if p.accept("WITHOUT") {
			for _, kw := range []string{"TIME", "ZONE"} {
				if err := p.expectKeyword(kw); err != nil {
					return 0, err
				}
			}
		} else if w := p.peek(); w.is("WITH") && (p.peekAt(1).is("TIME") || p.peekAt(1).is("LOCAL")) {
			e := p.errAt(w, "TIMESTAMP WITH TIME ZONE is not supported")
			e.Hint = "use TIMESTAMP(3): Sluice keeps times in UTC"
			return 0, e
		}
		return typ, nil
	}
	if t := p.peek(); t.isPunct("(") {
		return 0, p.errAt(t, upper+" takes no length or precision")
	}
	return typ, nil
}

// watermark reads WATERMARK FOR col AS col [- INTERVAL n UNIT]; it returns
// the token naming the column, for the checks that follow the columns.
func (p *parser) watermark() (*Watermark, token, error) {
	w := &Watermark{Pos: p.next().pos}
	p.next() // FOR
	var col token
	var err error
	if w.Column, col, err = p.name("column name"); err != nil {
		return nil, col, err
	}
	if p.peek().isPunct(".") {
		e := p.errAt(col, "a watermark on a ROW's field is not supported")
		e.Near = nearText(col.text + "." + p.peekAt(1).text)
		e.Hint = "declare the event time as a top-level TIMESTAMP(3) column, as Nexmark's `dateTime`, and WATERMARK FOR it"
		return nil, col, e
	}
	if err := p.expectKeyword("AS"); err != nil {
		return nil, col, err
	}
	// The fast path: col or col - INTERVAL 'n' UNIT gives Delay (and the
	// errors of a bad interval); any other expression gives Delay -1.
	start := p.i
	fast := false
	if t := p.peek(); (t.kind == tIdent || t.kind == tQuotedIdent) && strings.EqualFold(t.val, w.Column) {
		p.i++
		if t := p.peek(); t.isPunct(",") || t.isPunct(")") {
			fast = true
		} else if p.acceptPunct("-") && p.accept("INTERVAL") {
			if w.Delay, err = p.interval(); err != nil {
				return nil, col, err
			}
			if t := p.peek(); t.isPunct(",") || t.isPunct(")") {
				fast = true
			}
		}
	}
	p.i = start
	if w.Expr, err = p.expr(); err != nil {
		return nil, col, err
	}
	if !fast {
		w.Delay = -1
	}
	return w, col, nil
}

// intervalUnitNames are the unit keywords of an INTERVAL, for errors;
// intervalUnitWords adds their plurals, for suggestions.
var (
	intervalUnitNames = []string{"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY"}
	intervalUnitWords = []string{"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"}
)

// interval reads the count and unit of an INTERVAL.
func (p *parser) interval() (time.Duration, error) {
	t := p.peek()
	var count string
	switch t.kind {
	case tString:
		count = strings.TrimSpace(t.val)
	case tNumber:
		count = t.text
	default:
		e := p.expected("the interval's count")
		e.Hint = "e.g. INTERVAL '5' SECOND"
		return 0, e
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil && !strings.HasPrefix(count, "-") {
		e := p.errAt(t, "the interval's count must be a whole number")
		e.Hint = "e.g. INTERVAL '5' SECOND or INTERVAL '1500' MILLISECOND"
		return 0, e
	}
	if n < 0 || err != nil {
		return 0, p.errAt(t, "the interval must not be negative")
	}
	p.i++
	u := p.peek()
	var unit time.Duration
	for _, iu := range intervalUnits {
		if u.is(iu.name) || u.is(iu.name+"S") {
			unit = iu.d
		}
	}
	if unit == 0 {
		e := p.expected("an interval unit", intervalUnitWords...)
		if e.Hint == "" {
			e.Hint = "units: " + strings.Join(intervalUnitNames, ", ")
		}
		return 0, e
	}
	if n > math.MaxInt64/int64(unit) {
		return 0, p.errAt(t, "the interval is too long")
	}
	p.i++
	return time.Duration(n) * unit, nil
}

// primaryKey reads [CONSTRAINT name] PRIMARY KEY (col, …) NOT ENFORCED and
// returns the tokens naming the columns, for the checks that follow.
func (p *parser) primaryKey() (*PrimaryKey, []token, error) {
	k := &PrimaryKey{Pos: p.peek().pos}
	if p.accept("CONSTRAINT") {
		var err error
		if k.Name, _, err = p.name("constraint name"); err != nil {
			return nil, nil, err
		}
	}
	for _, kw := range []string{"PRIMARY", "KEY"} {
		if err := p.expectKeyword(kw); err != nil {
			return nil, nil, err
		}
	}
	if err := p.expectPunct("("); err != nil {
		return nil, nil, err
	}
	var cols []token
	for {
		name, t, err := p.name("column name")
		if err != nil {
			return nil, nil, err
		}
		k.Columns = append(k.Columns, name)
		cols = append(cols, t)
		if p.acceptPunct(",") {
			continue
		}
		if p.acceptPunct(")") {
			break
		}
		return nil, nil, p.expected("',' or ')'")
	}
	return k, cols, p.notEnforced()
}

// notEnforced reads the NOT ENFORCED of a primary key.
func (p *parser) notEnforced() error {
	if p.accept("NOT") {
		return p.expectKeyword("ENFORCED")
	}
	e := p.expected("NOT ENFORCED", "NOT")
	if e.Hint == "" {
		e.Hint = "Sluice does not check that keys are unique: write PRIMARY KEY … NOT ENFORCED"
	}
	return e
}

// options reads ('key' = 'value', …) after WITH into ct.
func (p *parser) options(ct *CreateTable) error {
	opts, err := p.optionList()
	ct.Options = append(ct.Options, opts...)
	return err
}

// optionList reads ('key' = 'value', …) after WITH.
func (p *parser) optionList() (opts []Option, err error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	if p.acceptPunct(")") {
		return nil, nil
	}
	seen := map[string]Pos{}
	for {
		kt, err := p.optionKey("", "")
		if err != nil {
			return nil, err
		}
		if at, dup := seen[kt.val]; dup {
			e := p.errAt(kt, "duplicate option")
			e.Hint = "first set at line " + at.String()
			return nil, e
		}
		seen[kt.val] = kt.pos
		p.i++
		if err := p.expectPunct("="); err != nil {
			return nil, err
		}
		vt, err := p.optionValue()
		if err != nil {
			return nil, err
		}
		opts = append(opts, Option{Key: kt.val, Value: vt.val, Pos: kt.pos})
		if p.acceptPunct(",") {
			continue
		}
		if p.acceptPunct(")") {
			return opts, nil
		}
		return nil, p.expected("',' or ')'")
	}
}

// dottedKey returns the unquoted key that starts at the current token,
// e.g. fields.id.kind, to show how to quote it.
func dottedKey(p *parser) string {
	var b strings.Builder
	for i := p.i; i < len(p.toks); i++ {
		t := p.toks[i]
		if t.kind == tEOF || t.isPunct("=") || t.isPunct(",") || t.isPunct(")") || i > p.i && p.toks[i-1].end != t.off {
			break
		}
		b.WriteString(t.val)
	}
	return b.String()
}

// optionKey looks at an option's key, which must be a non-empty quoted
// string (in WITH (…) and in SET), without taking it. The hints of its
// errors show the form written as prefix 'key' suffix.
func (p *parser) optionKey(prefix, suffix string) (token, error) {
	kt := p.peek()
	switch kt.kind {
	case tString:
	case tIdent, tQuotedIdent, tDQuoted:
		e := p.errAt(kt, "option keys are quoted strings")
		e.Hint = "write " + prefix + QuoteString(dottedKey(p)) + suffix
		return token{}, e
	default:
		e := p.expected("an option key")
		e.Hint = "write " + prefix + "'key' = 'value'"
		return token{}, e
	}
	if kt.val == "" {
		return token{}, p.errAt(kt, "empty option key")
	}
	return kt, nil
}

// optionValue takes an option's value, which must be a quoted string (in
// WITH (…) and in SET); anything else is an error at the value.
func (p *parser) optionValue() (token, error) {
	vt := p.peek()
	switch vt.kind {
	case tString:
	case tNumber, tIdent, tQuotedIdent, tDQuoted:
		e := p.errAt(vt, "option values are quoted strings")
		e.Hint = "write " + QuoteString(vt.val)
		return token{}, e
	default:
		return token{}, p.expected("an option value")
	}
	p.i++
	return vt, nil
}

// decimalParams reads the optional (p[, s]) of a DECIMAL whose name was
// just read: DECIMAL is DECIMAL(10, 0) and DECIMAL(p) is DECIMAL(p, 0), as
// in Flink. p may be up to 38, as in Flink, so that Flink's DDL is taken
// as written; Sluice stores at most runtime.MaxDecimalPrecision digits, so
// a wider type is kept as DECIMAL(18, s) (s at most 18) and a value that
// does not fit is an overflow error where it is computed or read.
func (p *parser) decimalParams(name string) (runtime.Type, error) {
	if !p.acceptPunct("(") {
		return runtime.DecimalType(10, 0), nil
	}
	prec, scale := 0, 0
	n := p.peek()
	v, err := strconv.Atoi(n.text)
	if n.kind != tNumber || err != nil || v < 1 || v > 38 {
		e := p.errAt(n, "expected a DECIMAL precision from 1 to 38")
		e.Hint = "Sluice stores decimals in 64 bits: types wider than 18 digits hold values of at most 18 digits"
		return 0, e
	}
	prec = v
	p.i++
	if p.acceptPunct(",") {
		n := p.peek()
		v, err := strconv.Atoi(n.text)
		if n.kind != tNumber || err != nil || v < 0 || v > prec {
			e := p.errAt(n, "expected a DECIMAL scale from 0 to the precision")
			e.Hint = "write " + name + "(p, s) with 0 <= s <= p"
			return 0, e
		}
		scale = v
		p.i++
	}
	if err := p.expectPunct(")"); err != nil {
		return 0, err
	}
	if prec > runtime.MaxDecimalPrecision {
		prec, scale = runtime.MaxDecimalPrecision, min(scale, runtime.MaxDecimalPrecision)
	}
	return runtime.DecimalType(prec, scale), nil
}
