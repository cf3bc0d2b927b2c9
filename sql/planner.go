package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/xwb1989/sqlparser"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/groupagg"
	"github.com/sluicehq/sluice/operators/window"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Options configure Compile.
type Options struct {
	// File names the job file in errors ("job.sql:3:17: …").
	File string
	// Parallelism is the job's default parallelism (required, > 0).
	Parallelism int
	// Catalog holds the tables; nil for a fresh in-memory one.
	Catalog *catalog.Catalog
	// Out receives the output of SHOW TABLES and DESCRIBE (nil: discarded).
	Out io.Writer
	// StateTTL, when positive, is the state TTL of every query, over the
	// file's SET 'table.exec.state.ttl' (the --state-ttl flag).
	StateTTL time.Duration
	// Logger receives the warnings of the job's topics (nil:
	// runtime.DefaultLogger); give runtime.Run the same one.
	Logger *slog.Logger
	// Metrics receives the counters of the job's topics (sluice_sns_*);
	// give runtime.Run the same set. Nil: each topic has a set of its own,
	// registered for /metrics until the plan is closed.
	Metrics *metrics.Set
	// Collect, when set, receives the rows of a bare SELECT instead of the
	// print sink: it is given the query's columns and whether its result
	// is updating, and returns the sink operator (run as one subtask).
	Collect func(schema *runtime.Schema, updating bool) func() runtime.Operator
}

// Plan is a compiled job file: one dataflow graph running every INSERT.
type Plan struct {
	Graph       *runtime.Graph
	Parallelism int
	Inserts     int
	// Topics are the job's topics; Close delivers what they hold.
	Topics []*sns.Topic
	// Settings are the job options the file SET, as "key = value (where)"
	// lines, in order, for Explain.
	Settings []string
	// Warnings are "file:line:col: warning: …" lines to print when the job
	// starts, e.g. for a GROUP BY whose state grows without bound.
	Warnings []string
}

// Explain returns the physical plan as text.
func (p *Plan) Explain() string {
	if len(p.Settings) == 0 {
		return p.Graph.Explain(p.Parallelism)
	}
	return "settings: " + strings.Join(p.Settings, "; ") + "\n" + p.Graph.Explain(p.Parallelism)
}

// Compile runs the DDL statements of a job file against the catalog, in
// order, and plans every INSERT INTO … SELECT (a bare SELECT prints its
// rows) into one job. Errors name file:line:column and the offending text.
func Compile(src string, o Options) (*Plan, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.File == "" {
		o.File = "job.sql"
	}
	p := &planner{o: o, g: runtime.NewGraph(jobName(o.File))}
	stmts, err := parser.ParseScript(src)
	if err != nil {
		return nil, p.errAt(parser.Statement{Line: 1, Col: 1}, err)
	}
	plan := &Plan{Parallelism: o.Parallelism}
	p.plan = plan
	for _, st := range stmts {
		if err := p.statement(st); err != nil {
			for _, t := range p.topics {
				t.Close(context.Background())
			}
			return nil, err
		}
	}
	if o.StateTTL > 0 {
		plan.Settings = append(plan.Settings, fmt.Sprintf("'%s' = '%v' (--state-ttl, over the file)", setStateTTL, o.StateTTL))
	}
	for _, name := range slices.Sorted(maps.Keys(p.topics)) {
		plan.Topics = append(plan.Topics, p.topics[name])
	}
	if p.inserts > 0 {
		plan.Graph, plan.Inserts = p.g, p.inserts
	}
	return plan, nil
}

func jobName(file string) string {
	i := strings.LastIndexAny(file, "/\\")
	return strings.TrimSuffix(file[i+1:], ".sql")
}

type planner struct {
	o       Options
	g       *runtime.Graph
	inserts int
	// sinks are the sink operators made so far, by table: several INSERTs
	// into one table feed one sink (a union), so that its output — part
	// files, records — has one writer per subtask.
	sinks map[string]sinkNode
	// topics are the job's topics, by name.
	topics map[string]*sns.Topic
	// optionPos are where the WITH options of the tables created by this
	// job file (or by the earlier pieces of a Session) are written, by
	// table: a connector's error about an option is placed there.
	optionPos map[string]optionPlaces
	plan      *Plan
	cur       parser.Statement // the statement being planned
	// The job options SET so far: they apply to the statements after.
	stateTTL     time.Duration
	maxStateKeys int
}

type sinkNode struct {
	id  runtime.NodeID
	par int
}

// Error is a planning error at a place of the job file.
type Error struct {
	File      string
	Line, Col int
	Msg       string
	Err       error // the underlying error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

func (e *Error) Unwrap() error { return e.Err }

// errAt places err in the file: at its own position when it has one, else
// at the statement's.
func (p *planner) errAt(st parser.Statement, err error) error {
	var qe *query.Error
	var se *parser.SyntaxError
	line, col := st.Line, st.Col
	msg := err.Error()
	switch {
	case errors.As(err, &qe):
		line, col = qe.Pos.Line, qe.Pos.Col
	case errors.As(err, &se):
		line, col = se.Line, se.Col
	}
	msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d:%d: ", line, col))
	return &Error{File: p.o.File, Line: line, Col: col, Msg: msg, Err: err}
}

func (p *planner) statement(st parser.Statement) error {
	switch n := st.Node.(type) {
	case *parser.CreateTable:
		t, err := catalog.FromDDL(p.o.File, st)
		if err != nil {
			return p.errAt(st, err)
		}
		if err := p.checkConnector(t, n); err != nil {
			return p.errAt(st, err)
		}
		_, err = p.o.Catalog.Get(t.Name)
		existed := err == nil
		if err := p.o.Catalog.Create(t, n.IfNotExists); err != nil {
			return p.errAt(st, err)
		}
		if !existed {
			p.noteOptions(t.Name, n)
		}
		return nil
	case *parser.CreateTopic:
		return p.errAt2(st, p.createTopic(n))
	case *parser.CreateSubscription:
		return p.errAt2(st, p.createSubscription(n))
	case *parser.DropTable:
		delete(p.optionPos, strings.ToLower(n.Name))
		return p.errAt2(st, p.o.Catalog.Drop(n.Name, n.IfExists))
	case *parser.ShowTables:
		tables, err := p.o.Catalog.List()
		for _, t := range tables {
			fmt.Fprintln(p.o.Out, t.Name)
		}
		return p.errAt2(st, err)
	case *parser.Describe:
		s, err := p.o.Catalog.Describe(n.Name)
		if err != nil {
			return p.errAt(st, err)
		}
		fmt.Fprint(p.o.Out, s)
		if !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(p.o.Out)
		}
		return nil
	case *parser.Set:
		return p.set(n)
	case *parser.Query:
		p.cur = st
		q, err := query.Parse(st.Text, query.Pos{Line: st.Line, Col: st.Col})
		if err != nil {
			return p.errAt(st, err)
		}
		if err := p.insert(q); err != nil {
			return p.errAt(st, err)
		}
		p.inserts++
		return nil
	}
	return p.errAt(st, fmt.Errorf("statement %s is not supported", st.Kind))
}

func (p *planner) errAt2(st parser.Statement, err error) error {
	if err == nil {
		return nil
	}
	return p.errAt(st, err)
}

// plannerOptions are table options every source takes, read by the
// planner rather than the connector.
var plannerOptions = map[string]bool{
	"scan.watermark.idle-timeout": true, // a partition silent this long stops holding back the watermark
}

// idleTimeout is the spec of 'scan.watermark.idle-timeout'.
var idleTimeout = connectors.Option{Key: "scan.watermark.idle-timeout", Type: connectors.Duration, Min: "0"}

// checkConnector validates a table's connector and options when it is
// defined, so mistakes surface at the CREATE TABLE, at the option's place.
func (p *planner) checkConnector(t *catalog.Table, ddl *parser.CreateTable) error {
	at := func(key string, err error) error {
		for _, o := range ddl.Options {
			if o.Key == key {
				return &parser.SyntaxError{Line: o.Pos.Line, Col: o.Pos.Col, Msg: err.Error()}
			}
		}
		return err
	}
	name, ok := t.Options["connector"]
	if !ok {
		return fmt.Errorf("table %s has no 'connector' option; connectors: %s", t.Name, strings.Join(connectors.Names(), ", "))
	}
	f, ok := connectors.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("table %s: unknown connector %q", t.Name, name)
		msg += suggest.Hint(name, connectors.Names())
		return at("connector", fmt.Errorf("%s; connectors: %s", msg, strings.Join(connectors.Names(), ", ")))
	}
	var also []string // what a mistyped option may have meant
	if _, ok := f.(connectors.Source); ok {
		also = slices.Sorted(maps.Keys(plannerOptions))
	}
	opts := maps.Clone(t.Options)
	_, isSource := f.(connectors.Source)
	for _, o := range ddl.Options {
		if plannerOptions[o.Key] && isSource {
			delete(opts, o.Key)
			continue
		}
		if err := connectors.CheckOption(f, o.Key, also...); err != nil {
			return at(o.Key, fmt.Errorf("table %s: %w", t.Name, err))
		}
	}
	if d, ok := t.Options[idleTimeout.Key]; ok {
		if _, err := connectors.ParseValue(idleTimeout, t.Connector(), d); err != nil {
			return at(idleTimeout.Key, err)
		}
	}
	if err := connectors.CheckOptions(f, opts); err != nil {
		return fmt.Errorf("table %s: %w", t.Name, err)
	}
	if len(t.Columns) == 0 {
		return nil // its columns come from the query that writes it: checked then
	}
	// Every value, checked against its spec now, so that a table no query
	// uses yet is checked too.
	ct := t.Connector()
	ct.Options = opts
	if _, err := connectors.Parse(f, ct); err != nil {
		var oe interface{ OptionKey() string }
		if errors.As(err, &oe) {
			return at(oe.OptionKey(), err)
		}
		return err
	}
	return nil
}

// noteOptions notes where the WITH options of table, created by ddl, are
// written.
func (p *planner) noteOptions(table string, ddl *parser.CreateTable) {
	places := optionPlaces{file: p.o.File, pos: map[string]parser.Pos{}}
	for _, o := range ddl.Options {
		places.pos[o.Key] = o.Pos
	}
	if p.optionPos == nil {
		p.optionPos = map[string]optionPlaces{}
	}
	p.optionPos[strings.ToLower(table)] = places
}

// optionPlaces are where the options of a CREATE TABLE are, by key, in
// file.
type optionPlaces struct {
	file string
	pos  map[string]parser.Pos
}

// atOption places a connector's error about an option of table at the
// option in the CREATE TABLE of this job file (nil when err is about no
// option, or the table was created elsewhere), rather than at the table's
// use.
func (p *planner) atOption(table string, err error) error {
	var oe interface{ OptionKey() string }
	if !errors.As(err, &oe) {
		return nil
	}
	places := p.optionPos[strings.ToLower(table)]
	at, ok := places.pos[oe.OptionKey()]
	if !ok || places.file != p.o.File {
		return nil
	}
	return &parser.SyntaxError{Line: at.Line, Col: at.Col, Msg: err.Error()}
}

// stream is a planned relation: a node of the graph and what it emits.
type stream struct {
	id       runtime.NodeID
	schema   *runtime.Schema
	par      int
	timeCol  int  // event-time column, -1 if none
	updating bool // a changelog (-U/+U), not append-only
	keys     []int
}

func (p *planner) insert(q *query.Query) error {
	var outs []*stream
	for _, sel := range q.Selects {
		s, err := p.selectStmt(q, sel)
		if err != nil {
			return err
		}
		outs = append(outs, s)
	}
	first := outs[0]
	for i, s := range outs[1:] {
		if err := sameColumns(first.schema, s.schema); err != nil {
			return q.Errorf(q.Selects[i+1].Node, "UNION ALL branch %d does not match the first: %v", i+2, err)
		}
	}
	if q.Target == nil {
		return p.sink(q, nil, outs)
	}
	t, err := p.o.Catalog.Get(q.Target.Name)
	if err != nil {
		return &query.Error{Pos: q.Target.Pos, Msg: err.Error(), Near: q.Target.Name}
	}
	if q.Target.Columns != nil {
		if outs, err = p.insertColumns(q, t, outs); err != nil {
			return err
		}
	}
	return p.sink(q, t, outs)
}

// insertColumns maps INSERT INTO t (c1, c2, …) onto t's columns: listed
// columns take the query's columns in order, the others are NULL.
func (p *planner) insertColumns(q *query.Query, t *catalog.Table, outs []*stream) ([]*stream, error) {
	schema := t.Schema()
	errAt := func(format string, args ...any) error {
		return &query.Error{Pos: q.Target.Pos, Msg: fmt.Sprintf(format, args...), Near: q.Target.Name}
	}
	if schema == nil {
		return nil, errAt("table %s declares no columns to list", t.Name)
	}
	if len(q.Target.Columns) != outs[0].schema.Len() {
		return nil, errAt("INSERT INTO %s lists %d columns but the query has %d", t.Name, len(q.Target.Columns), outs[0].schema.Len())
	}
	from := make([]int, schema.Len())
	for i := range from {
		from[i] = -1
	}
	for j, c := range q.Target.Columns {
		i := schema.Index(c)
		if i < 0 {
			msg := fmt.Sprintf("table %s has no column %q", t.Name, c)
			msg += suggest.Hint(c, schema.Names())
			return nil, errAt("%s", msg)
		}
		if from[i] >= 0 {
			return nil, errAt("column %s is listed twice", c)
		}
		from[i] = j
	}
	var mapped []*stream
	for _, s := range outs {
		exprs := make([]expr.Expr, schema.Len())
		for i, f := range schema.Fields {
			if from[i] < 0 {
				if !f.Nullable {
					return nil, errAt("column %s of %s is NOT NULL but not in the column list", f.Name, t.Name)
				}
				exprs[i] = expr.Null(f.Type)
				continue
			}
			exprs[i] = expr.ColIndex(from[i])
			if st := s.schema.Fields[from[i]].Type; st != f.Type && widens(st, f.Type) {
				exprs[i] = expr.Cast(exprs[i], f.Type)
			}
		}
		m, err := p.calcOn(s, "insert columns", nil, exprs, schema.Names())
		if err != nil {
			return nil, errAt("%v", err)
		}
		m.keys = nil
		mapped = append(mapped, m)
	}
	return mapped, nil
}

func sameColumns(a, b *runtime.Schema) error {
	if a.Len() != b.Len() {
		return fmt.Errorf("%d columns against %d", b.Len(), a.Len())
	}
	for i := range a.Fields {
		if a.Fields[i].Type != b.Fields[i].Type {
			return fmt.Errorf("column %d is %s, not %s", i+1, b.Fields[i].Type, a.Fields[i].Type)
		}
	}
	return nil
}

// source adds the source of a FROM table.
func (p *planner) source(q *query.Query, ft *query.Table) (*stream, error) {
	t, err := p.o.Catalog.Get(ft.Name)
	if err != nil {
		return nil, q.Errorf(ft.Node, "%v", err)
	}
	if len(t.Columns) == 0 {
		return nil, q.Errorf(ft.Node, "table %s has no columns: a table read by a query must declare them", t.Name)
	}
	f, _ := connectors.Lookup(t.Options["connector"])
	src, ok := f.(connectors.Source)
	if !ok {
		return nil, q.Errorf(ft.Node, "connector %q of table %s cannot be read (it is a sink only)", f.Name(), t.Name)
	}
	ct := t.Connector()
	idle, err := ct.Duration("scan.watermark.idle-timeout", 0)
	if err != nil {
		return nil, q.Errorf(ft.Node, "%v", err)
	}
	for k := range plannerOptions {
		delete(ct.Options, k)
	}
	newSource, par, err := src.NewSource(ct)
	if err != nil {
		if oe := p.atOption(t.Name, err); oe != nil {
			return nil, oe
		}
		// The connector's error names the table ("table T: …").
		return nil, &query.Error{Pos: q.Pos(ft.Node), Msg: err.Error()}
	}
	if par <= 0 {
		par = p.o.Parallelism
	}
	wm := runtime.NoWatermarks
	if ct.TimeColumn >= 0 {
		wm = runtime.WatermarkStrategy{TimeColumn: ct.TimeColumn, MaxOutOfOrderness: ct.MaxOutOfOrderness, IdleTimeout: idle}
	}
	id := p.g.AddSource(t.Name, ct.Schema, par, newSource, wm)
	return &stream{id: id, schema: ct.Schema, par: par, timeCol: ct.TimeColumn}, nil
}

// calcOn adds a filter/projection after s, fused into its subtasks.
func (p *planner) calcOn(s *stream, name string, where expr.Expr, project []expr.Expr, names []string) (*stream, error) {
	newOp, out, err := calc.New(s.schema, where, project, names)
	if err != nil {
		return nil, err
	}
	id := p.g.AddOperator(name, out, s.par, 1, newOp)
	p.g.Connect(s.id, id, runtime.Forward)
	return &stream{id: id, schema: out, par: s.par, timeCol: -1, updating: s.updating}, nil
}

func (p *planner) selectStmt(q *query.Query, sel *query.Select) (*stream, error) {
	if sel.From == nil {
		return nil, q.Errorf(sel.Node, "a query needs FROM")
	}
	var in *stream
	var scope *query.Scope
	var err error
	if len(sel.From.Tables) == 2 {
		if in, scope, err = p.joinFrom(q, sel); err != nil {
			return nil, err
		}
	} else {
		ft := sel.From.Tables[0]
		if in, err = p.source(q, ft); err != nil {
			return nil, err
		}
		if scope, err = query.NewScope(query.Relation{Name: ft.Name, Alias: ft.Alias, Schema: in.schema}); err != nil {
			return nil, q.Errorf(ft.Node, "%v", err)
		}
	}
	aggs := collectAggregates(sel)
	if len(sel.GroupBy) == 0 && len(aggs) == 0 {
		if sel.Having != nil {
			return nil, q.Errorf(sel.Having, "HAVING needs GROUP BY or an aggregate")
		}
		return p.project(q, sel, scope, in)
	}
	return p.aggregate(q, sel, scope, in, aggs)
}

// whereOf translates the WHERE condition of sel, if any.
func whereOf(q *query.Query, sel *query.Select, scope *query.Scope) (expr.Expr, error) {
	if sel.Where == nil {
		return nil, nil
	}
	w, err := q.Predicate(scope, sel.Where, query.Options{Clause: "WHERE"})
	if err != nil {
		return nil, err
	}
	return w.Expr, nil
}

// project plans SELECT items FROM t WHERE … without aggregation.
func (p *planner) project(q *query.Query, sel *query.Select, scope *query.Scope, in *stream) (*stream, error) {
	where, err := whereOf(q, sel, scope)
	if err != nil {
		return nil, err
	}
	var exprs []expr.Expr
	var names []string
	timeCol := -1
	for i, it := range sel.Items {
		if it.Star {
			for c, f := range scope.Schema().Fields {
				if c == in.timeCol {
					timeCol = len(exprs)
				}
				exprs = append(exprs, expr.ColIndex(c))
				names = append(names, f.Name)
			}
			continue
		}
		sc, err := q.Scalar(scope, it.Expr, query.Options{Clause: "the select list"})
		if err != nil {
			return nil, err
		}
		if c, ok := it.Expr.(*sqlparser.ColName); ok {
			if idx, err := q.Column(scope, c); err == nil && idx == in.timeCol {
				timeCol = len(exprs)
			}
		}
		exprs = append(exprs, sc.Expr)
		names = append(names, it.Name(i))
	}
	out, err := p.calcOn(in, "calc", where, exprs, uniqueNames(names))
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	out.timeCol = timeCol
	return out, nil
}

// uniqueNames renames repeated output names as Flink does: a, a0, a1, ….
func uniqueNames(names []string) []string {
	used := make(map[string]bool, len(names))
	out := make([]string, len(names))
	for i, n := range names {
		name := n
		for k := 0; used[strings.ToLower(name)]; k++ {
			name = n + strconv.Itoa(k)
		}
		used[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

// aggCall is one distinct aggregate call of a SELECT.
type aggCall struct {
	node     sqlparser.Expr
	text     string
	fn       string
	arg      sqlparser.Expr
	distinct bool
	star     bool
}

// collectAggregates finds the aggregate calls of the select list and
// HAVING, each once.
func collectAggregates(sel *query.Select) []*aggCall {
	var out []*aggCall
	seen := map[string]bool{}
	visit := func(n sqlparser.SQLNode) (bool, error) {
		e, ok := n.(sqlparser.Expr)
		if !ok {
			return true, nil
		}
		fn, arg, distinct, star, ok := query.AggregateCall(e)
		if !ok {
			return true, nil
		}
		text := strings.ToLower(sqlparser.String(e))
		if !seen[text] {
			seen[text] = true
			out = append(out, &aggCall{node: e, text: text, fn: fn, arg: arg, distinct: distinct, star: star})
		}
		return false, nil
	}
	for _, it := range sel.Items {
		if it.Expr != nil {
			sqlparser.Walk(visit, it.Expr)
		}
	}
	if sel.Having != nil {
		sqlparser.Walk(visit, sel.Having)
	}
	return out
}

// aggregate plans GROUP BY (with or without a group window) and global
// aggregates: a calc computing keys, time and aggregate arguments, a keyed
// exchange, the window or group aggregation, then a calc for HAVING and the
// select list over its output.
func (p *planner) aggregate(q *query.Query, sel *query.Select, scope *query.Scope, in *stream, aggs []*aggCall) (*stream, error) {
	if err := resolveColumns(q, sel, scope); err != nil {
		return nil, err
	}
	where, err := whereOf(q, sel, scope)
	if err != nil {
		return nil, err
	}
	// GROUP BY: keys and at most one window.
	var keys []sqlparser.Expr
	var win sqlparser.Expr
	var assigner window.Assigner
	var winKind, winTime string
	var winDur []time.Duration
	for _, g := range sel.GroupBy {
		if kind, tc, ds, ok := query.WindowCall(g); ok {
			if win != nil {
				return nil, q.Errorf(g, "GROUP BY has more than one group window")
			}
			win, winKind, winTime, winDur = g, kind, tc, ds
			switch kind {
			case "TUMBLE":
				assigner = window.Tumble(ds[0])
			case "HOP":
				assigner = window.Hop(ds[0], ds[1])
			case "SESSION":
				assigner = window.SessionGap(ds[0])
			}
			continue
		}
		keys = append(keys, g)
	}
	// Pre-projection: keys, [time], aggregate arguments. Internal columns
	// are named after the text they compute, so plans read like the query.
	var pre []expr.Expr
	var preNames []string
	used := map[string]bool{}
	uniq := func(name string) string {
		n := name
		for i := 2; used[strings.ToLower(n)]; i++ {
			n = fmt.Sprintf("%s#%d", name, i)
		}
		used[strings.ToLower(n)] = true
		return n
	}
	for _, k := range keys {
		sc, err := q.Scalar(scope, k, query.Options{Clause: "GROUP BY"})
		if err != nil {
			return nil, err
		}
		pre = append(pre, sc.Expr)
		preNames = append(preNames, uniq(q.TextOf(k)))
	}
	timeCol := -1
	if win != nil {
		idx, err := scope.Resolve("", winTime)
		if err != nil {
			return nil, q.Errorf(win, "%v", err)
		}
		if idx != in.timeCol {
			return nil, q.Errorf(win, "%s(%s, …): %s is not the event-time column of the table (declare it with WATERMARK FOR %s AS …)", winKind, winTime, winTime, winTime)
		}
		timeCol = len(pre)
		pre = append(pre, expr.ColIndex(idx))
		preNames = append(preNames, uniq(winTime))
	}
	specs := make([]agg.Spec, len(aggs))
	for i, a := range aggs {
		f, ok := agg.ParseFunc(a.fn, a.distinct)
		if !ok {
			return nil, q.Errorf(a.node, "%s(DISTINCT …) is not supported", a.fn)
		}
		specs[i] = agg.Spec{Func: f, Col: -1, Name: q.TextOf(a.node)}
		if sep, ok := query.ListAggSeparator(a.node); ok {
			specs[i].Sep = &sep
		}
		if a.star {
			continue
		}
		sc, err := q.Scalar(scope, a.arg, query.Options{Clause: "an aggregate's argument"})
		if err != nil {
			return nil, err
		}
		specs[i].Col = len(pre)
		pre = append(pre, sc.Expr)
		preNames = append(preNames, uniq(q.TextOf(a.arg)))
	}
	if len(pre) == 0 { // COUNT(*) alone: keep one column to carry rows
		pre, preNames = append(pre, expr.Int(0)), append(preNames, "one")
	}
	pc, err := p.calcOn(in, "calc", where, pre, preNames)
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	keyCols := make([]int, len(keys))
	for i := range keys {
		keyCols[i] = i
	}
	par, part := p.o.Parallelism, runtime.Keyed
	if len(keys) == 0 {
		par, part = 1, runtime.Global
	}
	var newOp func() runtime.Operator
	var aggOut *runtime.Schema
	var name string
	aggFirst := len(keys) // first aggregate column of the output
	updating := false
	if win != nil {
		newOp, aggOut, err = window.New(window.Spec{In: pc.schema, KeyCols: keyCols, TimeCol: timeCol, Window: assigner, Aggs: specs,
			StartName: "window_start", EndName: "window_end", MaxGroups: p.maxStateKeys})
		name = "window " + assigner.String()
		aggFirst += 2
	} else {
		ttl := p.stateTTL
		if p.o.StateTTL > 0 {
			ttl = p.o.StateTTL
		}
		newOp, aggOut, err = groupagg.New(groupagg.Spec{In: pc.schema, KeyCols: keyCols, Aggs: specs, TTL: ttl, MaxGroups: p.maxStateKeys})
		if ttl == 0 && len(keys) > 0 {
			p.plan.Warnings = append(p.plan.Warnings, fmt.Sprintf("%s:%d:%d: warning: GROUP BY without a window keeps the state of every key forever: "+
				"bound it with SET 'table.exec.state.ttl' = '1 h' (or --state-ttl), or cap it with SET 'sluice.state.max-keys'", p.o.File, p.cur.Line, p.cur.Col))
		}
		name = "group aggregate"
		updating = true
	}
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	id := p.g.AddOperator(name, aggOut, par, 1, newOp)
	p.g.Connect(pc.id, id, part, keyCols...)
	agged := &stream{id: id, schema: aggOut, par: par, timeCol: -1, updating: updating}

	// HAVING and the select list over the aggregation's output.
	post, err := query.NewScope(query.Relation{Name: "$agg", Schema: aggOut})
	if err != nil {
		return nil, err
	}
	var substErr error
	keyText := make([]string, len(keys))
	for i, k := range keys {
		keyText[i] = strings.ToLower(sqlparser.String(k))
	}
	subst := func(e sqlparser.Expr) (expr.Expr, bool) {
		if substErr != nil {
			return expr.Null(runtime.BigInt), true
		}
		text := strings.ToLower(sqlparser.String(e))
		for i, k := range keyText {
			if text == k {
				return expr.ColIndex(i), true
			}
		}
		for i, a := range aggs {
			if text == a.text {
				return expr.ColIndex(aggFirst + i), true
			}
		}
		if kind, bound, tc, ds, ok := query.WindowBoundCall(e); ok {
			if win == nil || kind != winKind || !strings.EqualFold(tc, winTime) || !slices.Equal(ds, winDur) {
				substErr = q.Errorf(e, "%s_%s must name the window of GROUP BY (%s)", kind, bound, groupWindowText(q, win))
				return expr.Null(runtime.Timestamp), true
			}
			if bound == "START" {
				return expr.ColIndex(len(keys)), true
			}
			return expr.ColIndex(len(keys) + 1), true
		}
		if c, ok := e.(*sqlparser.ColName); ok {
			substErr = q.Errorf(c, "column %s must appear in GROUP BY or be used inside an aggregate function", sqlparser.String(c))
			return expr.Null(runtime.BigInt), true
		}
		return nil, false
	}
	var having expr.Expr
	if sel.Having != nil {
		h, err := q.Predicate(post, sel.Having, query.Options{Clause: "HAVING", Subst: subst})
		if substErr != nil {
			return nil, substErr
		}
		if err != nil {
			return nil, err
		}
		having = h.Expr
	}
	var exprs []expr.Expr
	var names []string
	for i, it := range sel.Items {
		if it.Star {
			return nil, q.Errorf(it.Node, "SELECT * cannot be used with GROUP BY: list the columns")
		}
		sc, err := q.Scalar(post, it.Expr, query.Options{Clause: "the select list", Subst: subst})
		if substErr != nil {
			return nil, substErr
		}
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, sc.Expr)
		names = append(names, it.Name(i))
	}
	out, err := p.calcOn(agged, "calc", having, exprs, uniqueNames(names))
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	out.keys = keyCols
	return out, nil
}

// resolveColumns resolves every column reference of an aggregating sel
// against its input scope, clause by clause in the order they are written
// (select list, WHERE, GROUP BY with its window, HAVING), so that a
// misspelt name is reported as unknown (with the nearest known name)
// wherever it stands, before any rule about grouping: the select list and
// HAVING are translated over the aggregation's output, where an unknown
// name would otherwise read as a column missing from GROUP BY.
func resolveColumns(q *query.Query, sel *query.Select, scope *query.Scope) error {
	var first error
	visit := func(n sqlparser.SQLNode) (bool, error) {
		if first != nil {
			return false, nil
		}
		if c, ok := n.(*sqlparser.ColName); ok {
			if _, err := q.Column(scope, c); err != nil {
				first = err
			}
			return false, nil
		}
		return true, nil
	}
	var exprs []sqlparser.Expr
	for _, it := range sel.Items {
		if it.Expr != nil {
			exprs = append(exprs, it.Expr)
		}
	}
	exprs = append(exprs, sel.Where)
	exprs = append(exprs, sel.GroupBy...)
	exprs = append(exprs, sel.Having)
	for _, e := range exprs {
		if e != nil {
			sqlparser.Walk(visit, e)
		}
	}
	return first
}

func groupWindowText(q *query.Query, e sqlparser.Expr) string {
	if e == nil {
		return "it has none"
	}
	return q.TextOf(e)
}

// sink connects the planned streams to the target table (or, for a bare
// SELECT, to standard output).
func (p *planner) sink(q *query.Query, t *catalog.Table, outs []*stream) error {
	first := outs[0]
	updating := false
	for _, s := range outs {
		updating = updating || s.updating
	}
	if t == nil && p.o.Collect != nil {
		p.collect(first.schema, updating, outs)
		return nil
	}
	var f connectors.Factory
	ct := connectors.Table{Name: "stdout", Options: map[string]string{"connector": "print"}, TimeColumn: -1}
	if t != nil {
		ct = t.Connector()
		for k := range plannerOptions {
			delete(ct.Options, k)
		}
	}
	f, ok := connectors.Lookup(ct.Options["connector"])
	if !ok {
		return &query.Error{Pos: q.Base, Msg: fmt.Sprintf("unknown connector %q", ct.Options["connector"])}
	}
	sk, ok := f.(connectors.Sink)
	if !ok {
		return &query.Error{Pos: targetPos(q), Msg: fmt.Sprintf("connector %q of table %s cannot be written (it is a source only)", f.Name(), ct.Name)}
	}
	ct.Objects = p.object
	// Columns: the table's, or the query's when the table declares none.
	final := outs
	if ct.Schema == nil {
		ct.Schema = first.schema
	} else {
		if err := assignable(first.schema, ct.Schema); err != nil {
			return &query.Error{Pos: targetPos(q), Msg: fmt.Sprintf("INSERT INTO %s: %v", ct.Name, err), Near: ct.Name}
		}
		final = nil
		for _, s := range outs {
			c, err := p.castTo(s, ct.Schema)
			if err != nil {
				return &query.Error{Pos: targetPos(q), Msg: err.Error(), Near: ct.Name}
			}
			final = append(final, c)
		}
	}
	if updating && !sk.AcceptsUpdates(ct) {
		return &query.Error{Pos: targetPos(q), Near: ct.Name, Msg: fmt.Sprintf(
			"INSERT INTO %s: the query's result is updating (GROUP BY without a window emits -U/+U changes as results change) "+
				"but connector %q with these options only appends rows; write to a sink that accepts updates "+
				"('print', or 'file' with 'format' = 'changelog-json'), or group by a window (TUMBLE, HOP or SESSION) so that each result is final",
			ct.Name, f.Name())}
	}
	if prev, ok := p.sinks[ct.Name]; ok && t != nil {
		for _, s := range final {
			switch {
			case s.par == prev.par:
				p.g.Connect(s.id, prev.id, runtime.Forward)
			case prev.par == 1:
				p.g.Connect(s.id, prev.id, runtime.Global)
			case s.updating && len(s.keys) > 0:
				p.g.Connect(s.id, prev.id, runtime.Keyed, s.keys...)
			default:
				p.g.Connect(s.id, prev.id, runtime.Rebalance)
			}
		}
		return nil
	}
	newSink, par, err := sk.NewSink(ct)
	if err != nil {
		if oe := p.atOption(ct.Name, err); oe != nil {
			return oe
		}
		return &query.Error{Pos: targetPos(q), Msg: err.Error()} // "table T: …"
	}
	if par <= 0 {
		par = p.o.Parallelism
	}
	name := "sink " + ct.Name
	single := len(final) == 1 && final[0].par == par
	id := p.g.AddOperator(name, ct.Schema, par, 1, newSink)
	if t != nil {
		if p.sinks == nil {
			p.sinks = map[string]sinkNode{}
		}
		p.sinks[ct.Name] = sinkNode{id: id, par: par}
	}
	for _, s := range final {
		switch {
		case single:
			p.g.Connect(s.id, id, runtime.Forward)
		case par == 1:
			p.g.Connect(s.id, id, runtime.Global)
		case s.updating && len(s.keys) > 0:
			p.g.Connect(s.id, id, runtime.Keyed, s.keys...)
		default:
			p.g.Connect(s.id, id, runtime.Rebalance)
		}
	}
	return nil
}

func targetPos(q *query.Query) query.Pos {
	if q.Target != nil {
		return q.Target.Pos
	}
	return q.Base
}

// assignable checks that rows of from can be written to columns to.
func assignable(from, to *runtime.Schema) error {
	if from.Len() != to.Len() {
		return fmt.Errorf("the query has %d columns, the table %d (%s)", from.Len(), to.Len(), strings.Join(to.Names(), ", "))
	}
	for i, f := range from.Fields {
		t := to.Fields[i]
		if f.Type == t.Type || widens(f.Type, t.Type) {
			continue
		}
		return fmt.Errorf("column %d (%s) is %s but the table's column %s is %s; CAST it", i+1, f.Name, f.Type, t.Name, t.Type)
	}
	return nil
}

// widens reports whether a value of type a converts to b without loss of
// meaning (INT → BIGINT → DOUBLE).
func widens(a, b runtime.Type) bool {
	switch a {
	case runtime.Int:
		return b == runtime.BigInt || b == runtime.Double
	case runtime.BigInt:
		return b == runtime.Double
	}
	return false
}

// castTo converts s's columns to the types and names of schema when they
// differ.
func (p *planner) castTo(s *stream, schema *runtime.Schema) (*stream, error) {
	same := true
	for i, f := range s.schema.Fields {
		same = same && f.Type == schema.Fields[i].Type && f.Name == schema.Fields[i].Name
	}
	if same {
		return s, nil
	}
	exprs := make([]expr.Expr, schema.Len())
	for i, f := range schema.Fields {
		exprs[i] = expr.ColIndex(i)
		if s.schema.Fields[i].Type != f.Type {
			exprs[i] = expr.Cast(expr.ColIndex(i), f.Type)
		}
	}
	out, err := p.calcOn(s, "cast", nil, exprs, schema.Names())
	if err != nil {
		return nil, err
	}
	out.keys = s.keys
	return out, nil
}
