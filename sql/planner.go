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

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/sns"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/window"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
	"github.com/sluicehq/sluice/triggers"
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
	// Triggers are the job's function triggers (CREATE FUNCTION TRIGGER),
	// by name, for the job's process to run (triggers.New, Trigger.Run).
	Triggers []triggers.Config
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
	for _, name := range slices.Sorted(maps.Keys(p.triggers)) {
		plan.Triggers = append(plan.Triggers, p.triggers[name])
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
	// triggers are the job's function triggers, by name; session is set
	// in a Session, which does not run them.
	triggers map[string]triggers.Config
	session  bool
	// optionPos are where the WITH options of the tables created by this
	// job file (or by the earlier pieces of a Session) are written, by
	// table: a connector's error about an option is placed there.
	optionPos map[string]optionPlaces
	plan      *Plan
	cur       parser.Statement // the statement being planned
	// The job options SET so far: they apply to the statements after.
	stateTTL     time.Duration
	maxStateKeys int
	// functions are the names of CREATE FUNCTION, upper case, each to the
	// function it calls.
	functions map[string]string
	// scans are the sources of the graph scanned, by table definition
	// (scanKey): every scan of a table in one job reads its one source.
	scans map[scanKey]stream
}

// scanKey is a table definition (its name, statement and options) in a
// graph.
type scanKey struct {
	g     *runtime.Graph
	table string
}

func scanOf(g *runtime.Graph, t *catalog.Table) scanKey {
	return scanKey{g, fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%v", strings.ToLower(t.Name), t.SQL, t.DefinedAt, t.Created, t.Options)}
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
		if err := p.checkComputed(st, n, t); err != nil {
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
	case *parser.CreateTrigger:
		return p.errAt2(st, p.createTrigger(n))
	case *parser.DropTrigger:
		return p.errAt2(st, p.dropTrigger(n))
	case *parser.DropTable:
		if t, err := p.o.Catalog.Get(n.Name); err == nil && t.IsView() {
			return p.errAt(st, fmt.Errorf("%s is a view: drop it with DROP VIEW %s", t.Name, t.Name))
		}
		delete(p.optionPos, strings.ToLower(n.Name))
		return p.errAt2(st, p.o.Catalog.Drop(n.Name, n.IfExists))
	case *parser.CreateView:
		return p.errAt2(st, p.createView(st, n))
	case *parser.CreateFunction:
		return p.createFunction(n)
	case *parser.DropView:
		if t, err := p.o.Catalog.Get(n.Name); err == nil && !t.IsView() {
			return p.errAt(st, fmt.Errorf("%s is a table, not a view: drop it with DROP TABLE %s", t.Name, t.Name))
		}
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
		q, err := p.parseQuery(st.Text, query.Pos{Line: st.Line, Col: st.Col})
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

// parseQuery parses a query statement, which sees the job's CREATE
// FUNCTION names.
func (p *planner) parseQuery(text string, at query.Pos) (*query.Query, error) {
	q, err := query.Parse(text, at)
	if err == nil {
		q.Functions = p.functions
	}
	return q, err
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
	id     runtime.NodeID
	schema *runtime.Schema
	par    int
	// timeCol is the event-time column (a time attribute: rows carry
	// watermarks for it), -1 if none.
	timeCol int
	// procCol is the processing-time column (PROCTIME()), -1 if none.
	procCol int
	// updating: a changelog (-U/+U/-D), not append-only.
	updating bool
	// keys are the upsert keys of an updating stream (the GROUP BY keys):
	// all changes of one key go through one subtask when partitioned by them.
	keys []int
	// inKey is where the partition key of the job's input sits in the
	// rows (see inputkey.go): rows keyed by it need no repartition when
	// processes share the input's partitions. Nil: none known.
	inKey inputKey
	// win is set on the output of a window table function: its window
	// columns, so that GROUP BY window_start, window_end plans a window
	// aggregation.
	win *tvfWindow
	// wcols marks the columns that are a window table function's
	// window_start (1) and window_end (2), carried through projections
	// (see windowrank.go); nil when there are none.
	wcols []int8
	// wwin is the window of the wcols columns (see windowjoin.go).
	wwin window.Assigner
	// attrs, when set, is the time attribute of each column, and why a
	// column is not one (see timeattr.go); nil: timeCol and procCol say.
	attrs []timeAttr
	// wins marks the columns that are a window table function's
	// window_start, window_end or window_time, carried through
	// projections, filters, views and subqueries, so that a GROUP BY of
	// them plans a window aggregation (see timeattr.go); nil when none.
	wins []winCol
}

// tvfWindow describes the output of a window table function (window
// assign): its input's columns, then window_start, window_end and
// window_time.
type tvfWindow struct {
	input            *stream // the function's input, before assignment
	start, end, time int     // columns of the output
	timeCol          int     // the DESCRIPTOR column, in input and output
	assigner         window.Assigner
	// procTime: the DESCRIPTOR column is a processing-time attribute
	// (PROCTIME()): windows aggregated over it fire on the clock.
	procTime bool
	// lag is the DESCRIPTOR column's (see timeattr.go).
	lag int64
}

// env is the queries of WITH that a query can name, innermost last: each
// query of a WITH sees the ones before it, and the body sees them all.
type env struct {
	cte    *query.CTE
	parent *env
}

// lookup finds the query of WITH called name, and the env it was defined
// in (which its body is planned in).
func (e *env) lookup(name string) (*query.CTE, *env) {
	for ; e != nil; e = e.parent {
		if strings.EqualFold(e.cte.Name, name) {
			return e.cte, e.parent
		}
	}
	return nil, nil
}

func (p *planner) insert(q *query.Query) error {
	outs, err := p.body(q, q.Body, nil)
	if err != nil {
		return err
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
		if cc := t.ComputedColumn(c); i < 0 && cc != nil {
			return nil, errAt("column %s of %s is a computed column (AS %s): INSERT writes the physical columns only", cc.Name, t.Name, cc.Expr)
		}
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

// source adds the source of a FROM table, or reuses it: a table read
// twice in a job (a self-join, two views of one table, two INSERTs) is
// read once, its source's rows going to every reader.
func (p *planner) source(q *query.Query, ft *query.Table) (*stream, error) {
	t, err := p.o.Catalog.Get(ft.Name)
	if err != nil {
		return nil, q.Errorf(ft, "%v", err)
	}
	if len(t.Columns) == 0 {
		return nil, q.Errorf(ft, "table %s has no columns: a table read by a query must declare them", t.Name)
	}
	key := scanOf(p.g, t)
	if s, ok := p.scans[key]; ok {
		s.keys = slices.Clone(s.keys)
		return &s, nil
	}
	f, _ := connectors.Lookup(t.Options["connector"])
	src, ok := f.(connectors.Source)
	if !ok {
		return nil, q.Errorf(ft, "connector %q of table %s cannot be read (it is a sink only)", f.Name(), t.Name)
	}
	ct := t.Connector()
	idle, err := ct.Duration("scan.watermark.idle-timeout", 0)
	if err != nil {
		return nil, q.Errorf(ft, "%v", err)
	}
	for k := range plannerOptions {
		delete(ct.Options, k)
	}
	// A changelog source (changelog-json, debezium-json) is an updating
	// stream whose upsert key is the table's PRIMARY KEY.
	ct.Updates = connectors.ProducesUpdates(ct)
	newSource, par, err := src.NewSource(ct)
	if err != nil {
		if oe := p.atOption(t.Name, err); oe != nil {
			return nil, oe
		}
		// The connector's error names the table ("table T: …").
		return nil, &query.Error{Pos: q.Pos(ft), Msg: err.Error()}
	}
	if par <= 0 {
		par = p.o.Parallelism
	}
	// Computed columns are computed in the source's subtasks (computed.go),
	// so a watermark on one is generated per partition too.
	schema, timeCol, procCol := ct.Schema, ct.TimeColumn, -1
	if len(t.Computed) > 0 {
		cc, err := p.computed(q, ft, t)
		if err != nil {
			return nil, err
		}
		newSource, schema, procCol = cc.wrap(newSource), cc.schema, cc.procCol
		if w := t.Watermark; w != nil {
			timeCol = schema.Index(w.Column)
		}
	}
	wm := runtime.NoWatermarks
	if timeCol >= 0 {
		wm = runtime.WatermarkStrategy{TimeColumn: timeCol, MaxOutOfOrderness: ct.MaxOutOfOrderness, IdleTimeout: idle}
	}
	inKey, err := sourceKey(ct, schema)
	if err != nil {
		if oe := p.atOption(t.Name, err); oe != nil {
			return nil, oe
		}
		return nil, &query.Error{Pos: q.Pos(ft), Msg: err.Error()}
	}
	id := p.g.AddSource(t.Name, schema, par, newSource, wm)
	p.g.Node(id).Info = ct
	s := &stream{id: id, schema: schema, par: par, timeCol: timeCol, procCol: procCol, updating: ct.Updates, inKey: inKey}
	if ct.Updates {
		for _, k := range t.PrimaryKey {
			s.keys = append(s.keys, schema.Index(k))
		}
	}
	if connectors.ProducesUpserts(ct) {
		if s, err = p.normalizeUpserts(s); err != nil {
			return nil, q.Errorf(ft, "%v", err)
		}
	}
	if p.scans == nil {
		p.scans = map[scanKey]stream{}
	}
	p.scans[key] = *s
	s.keys = slices.Clone(s.keys)
	return s, nil
}

// calcOn adds a filter/projection after s, fused into its subtasks. The
// columns of s's input key it passes through stay the input key.
func (p *planner) calcOn(s *stream, name string, where expr.Expr, project []expr.Expr, names []string) (*stream, error) {
	newOp, out, err := calc.New(s.schema, where, project, names)
	if err != nil {
		return nil, err
	}
	id := p.g.AddOperator(name, out, s.par, 1, newOp)
	p.g.Connect(s.id, id, runtime.Forward)
	return &stream{id: id, schema: out, par: s.par, timeCol: -1, procCol: -1, updating: s.updating,
		inKey: s.inKey.projected(s.schema, project)}, nil
}

// body plans a query: its WITH queries are visible to its SELECTs (each
// planned where it is named), which give one stream each (the branches of
// a UNION ALL), checked to have the same column types.
func (p *planner) body(q *query.Query, b *query.Body, e *env) ([]*stream, error) {
	for _, c := range b.CTEs {
		e = &env{cte: c, parent: e}
	}
	var outs []*stream
	for _, sel := range b.Selects {
		s, err := p.selectStmt(q, sel, e)
		if err != nil {
			return nil, err
		}
		outs = append(outs, s)
	}
	first := outs[0]
	for i, s := range outs[1:] {
		if err := sameColumns(first.schema, s.schema); err != nil {
			return nil, q.Errorf(b.Selects[i+1].Node, "UNION ALL branch %d does not match the first: %v", i+2, err)
		}
	}
	return outs, nil
}

// unionOf makes one stream of the branches of a UNION ALL: an identity
// calc that every branch feeds.
func (p *planner) unionOf(outs []*stream) (*stream, error) {
	if len(outs) == 1 {
		return outs[0], nil
	}
	first := outs[0]
	n := first.schema.Len()
	exprs := make([]expr.Expr, n)
	for i := range exprs {
		exprs[i] = expr.ColIndex(i)
	}
	newOp, out, err := calc.New(first.schema, nil, exprs, first.schema.Names())
	if err != nil {
		return nil, err
	}
	u := &stream{schema: out, par: p.o.Parallelism, timeCol: -1, procCol: -1}
	for _, s := range outs {
		u.updating = u.updating || s.updating
	}
	u.setAttrs(unionAttrs(outs))
	u.id = p.g.AddOperator("union", out, u.par, 1, newOp)
	for _, s := range outs {
		switch {
		case s.updating && len(s.keys) > 0:
			p.connectKeyed(s, u.id, 0, s.keys)
		case s.par == u.par:
			p.g.Connect(s.id, u.id, runtime.Forward)
		case s.updating:
			// A row and its later retraction must meet in one subtask.
			p.connectKeyed(s, u.id, 0, changelogKeys(s))
		default:
			p.g.Connect(s.id, u.id, runtime.Rebalance)
		}
	}
	return u, nil
}

// renamed gives s's columns the names of a column list (WITH t (a, b), an
// alias (a, b) of a subquery), at node.
func (p *planner) renamed(q *query.Query, node query.Node, s *stream, names []string) (*stream, error) {
	if names == nil {
		return s, nil
	}
	if len(names) != s.schema.Len() {
		return nil, q.Errorf(node, "%d column names for a query of %d columns", len(names), s.schema.Len())
	}
	exprs := make([]expr.Expr, len(names))
	for i := range exprs {
		exprs[i] = expr.ColIndex(i)
	}
	r, err := p.calcOn(s, "rename", nil, exprs, names)
	if err != nil {
		return nil, q.Errorf(node, "%v", err)
	}
	r.keys, r.wcols, r.wins, r.wwin = s.keys, s.wcols, s.wins, s.wwin
	r.setAttrs(s.allAttrs())
	return r, nil
}

// relation plans a relation of FROM into a stream, with the relations
// whose columns it carries (one for a table or subquery, the relations of
// both sides for a join) in the order of its schema. where holds the WHERE
// terms not yet used: a comma join takes from it the terms over its two
// sides as its condition.
func (p *planner) relation(q *query.Query, f *query.From, e *env, where *[]parser.Expr) (*stream, []query.Relation, error) {
	switch {
	case f.Table != nil:
		if f.Table.Node.SystemTime != nil {
			return nil, nil, q.Errorf(f.Table.Node, "FOR SYSTEM_TIME AS OF names the right side of a temporal join: FROM s JOIN %s FOR SYSTEM_TIME AS OF s.time ON …", f.Table.Name)
		}
		s, rel, err := p.named(q, f.Table, e)
		if err != nil {
			return nil, nil, err
		}
		return s, []query.Relation{rel}, nil
	case f.TVF != nil:
		s, rel, err := p.windowTVF(q, f.TVF, e)
		if err != nil {
			return nil, nil, err
		}
		return s, []query.Relation{rel}, nil
	case f.Sub != nil:
		outs, err := p.body(q, f.Sub.Body, e)
		if err != nil {
			return nil, nil, err
		}
		s, err := p.unionOf(outs)
		if err != nil {
			return nil, nil, q.Errorf(f.Sub, "%v", err)
		}
		if s, err = p.renamed(q, f.Sub, s, f.Sub.Columns); err != nil {
			return nil, nil, err
		}
		return s, []query.Relation{{Name: f.Sub.Name, Schema: s.schema, Inner: f.Sub.InnerColumns()}}, nil
	}
	if isTemporal(f) {
		return p.temporalJoin(q, f, e, where)
	}
	l, lrels, err := p.relation(q, f.L, e, where)
	if err != nil {
		return nil, nil, err
	}
	r, rrels, err := p.relation(q, f.R, e, where)
	if err != nil {
		return nil, nil, err
	}
	rels := append(append([]query.Relation(nil), lrels...), rrels...)
	scope, err := query.NewScope(rels...)
	if err != nil {
		return nil, nil, q.Errorf(f, "%v", err)
	}
	if k := f.Join.Kind; k == parser.JoinInner || k == parser.JoinComma {
		if l, r, err = p.filterSides(q, where, scope, l, r, lrels, rrels); err != nil {
			return nil, nil, err
		}
	}
	var terms []parser.Expr
	var cond query.Node = f.On
	if f.Comma() {
		// FROM a, b WHERE …: the terms of WHERE over a and b are the join's.
		var rest []parser.Expr
		for _, t := range *where {
			if resolves(q, scope, t) {
				terms = append(terms, t)
			} else {
				rest = append(rest, t)
			}
		}
		*where = rest
		cond = f
	} else {
		terms = conjuncts(f.On)
	}
	s, err := p.join(q, f, cond, terms, l, r, lrels, rrels, scope)
	if err != nil {
		return nil, nil, err
	}
	return s, rels, nil
}

// createView plans the query of CREATE VIEW (into a graph of its own, to
// check it and learn its columns) and adds the view to the catalog, its
// query kept as text.
func (p *planner) createView(st parser.Statement, n *parser.CreateView) error {
	start := 0
	for i := range st.Text {
		if l, c := st.Position(i); l == n.QueryPos.Line && c == n.QueryPos.Col {
			start = i
			break
		}
	}
	v := &catalog.View{Query: st.Text[start:], Columns: n.Columns, Line: n.QueryPos.Line, Col: n.QueryPos.Col}
	t := &catalog.Table{Name: n.Name, View: v, SQL: st.Text, DefinedAt: fmt.Sprintf("%s:%d:%d", p.o.File, st.Line, st.Col)}
	if old, err := p.o.Catalog.Get(n.Name); err == nil {
		if n.IfNotExists {
			return nil
		}
		kind := "table"
		if old.IsView() {
			kind = "view"
		}
		return fmt.Errorf("a %s called %s already exists (defined at %s)", kind, old.Name, old.DefinedAt)
	}
	// Plan it aside: the job's graph gets the view's operators only where
	// a query reads it.
	g, inserts := p.g, p.inserts
	p.g = runtime.NewGraph("view " + n.Name)
	s, err := p.view(t)
	p.g, p.inserts = g, inserts
	if err != nil {
		return err
	}
	t.Columns = s.schema.Fields
	return p.o.Catalog.Create(t, n.IfNotExists)
}

// view plans the query of the view t where a query reads it.
func (p *planner) view(t *catalog.Table) (*stream, error) {
	v := t.View
	q, err := p.parseQuery(v.Query, query.Pos{Line: v.Line, Col: v.Col})
	if err == nil && q.Target != nil {
		err = fmt.Errorf("the query of a view cannot be an INSERT")
	}
	var outs []*stream
	if err == nil {
		outs, err = p.body(q, q.Body, nil)
	}
	var s *stream
	if err == nil {
		s, err = p.unionOf(outs)
	}
	if err == nil && q != nil {
		s, err = p.renamed(q, q.Body.Selects[0].Node, s, v.Columns)
	}
	if err != nil {
		var qe *query.Error
		var se *parser.SyntaxError
		if !errors.As(err, &qe) && !errors.As(err, &se) {
			return nil, fmt.Errorf("view %s: %w", t.Name, err)
		}
		return nil, err
	}
	return s, nil
}

// named plans a relation named in FROM: a query of WITH, a view or a
// table of the catalog.
func (p *planner) named(q *query.Query, t *query.Table, e *env) (*stream, query.Relation, error) {
	if cte, def := e.lookup(t.Name); cte != nil {
		outs, err := p.body(q, cte.Body, def)
		if err != nil {
			return nil, query.Relation{}, err
		}
		s, err := p.unionOf(outs)
		if err != nil {
			return nil, query.Relation{}, q.Errorf(t, "%v", err)
		}
		if s, err = p.renamed(q, cte, s, cte.Columns); err != nil {
			return nil, query.Relation{}, err
		}
		return s, query.Relation{Name: cte.Name, Alias: t.Alias, Schema: s.schema}, nil
	}
	if ct, err := p.o.Catalog.Get(t.Name); err == nil && ct.IsView() {
		s, err := p.view(ct)
		if err != nil {
			return nil, query.Relation{}, q.Errorf(t, "%v", err)
		}
		return s, query.Relation{Name: ct.Name, Alias: t.Alias, Schema: s.schema}, nil
	}
	s, err := p.source(q, t)
	if err != nil {
		return nil, query.Relation{}, err
	}
	return s, query.Relation{Name: t.Name, Alias: t.Alias, Schema: s.schema}, nil
}

// windowTVF plans TABLE(TUMBLE|HOP|CUMULATE(TABLE t, DESCRIPTOR(ts), …)):
// window assign, chained to t's stream, adding window_start, window_end
// and window_time (a time attribute: windows over the result cascade).
func (p *planner) windowTVF(q *query.Query, tv *query.TVF, e *env) (*stream, query.Relation, error) {
	in, rel, err := p.named(q, tv.Table, e)
	if err != nil {
		return nil, query.Relation{}, err
	}
	scope, err := query.NewScope(rel)
	if err != nil {
		return nil, query.Relation{}, q.Errorf(tv, "%v", err)
	}
	idx, err := q.Column(scope, tv.TimeCol)
	if err != nil {
		return nil, query.Relation{}, err
	}
	ta := in.attr(idx)
	if ta.kind == attrNone {
		name := q.TextOf(tv.TimeCol)
		return nil, query.Relation{}, timeAttrError(q, tv.TimeCol, "DESCRIPTOR("+name+")", name, in, idx)
	}
	if in.updating {
		return nil, query.Relation{}, q.Errorf(tv, "%s over an updating input (the result of a GROUP BY without a window) is not supported", tv.Kind)
	}
	var w window.Assigner
	ds := tv.Durations
	switch tv.Kind {
	case "TUMBLE":
		w = window.Tumble(ds[0])
	case "HOP":
		w = window.Hop(ds[0], ds[1])
	default:
		w = window.Cumulate(ds[0], ds[1])
	}
	w.Offset = tv.Offset.Milliseconds()
	newOp, out, err := window.NewAssign(window.AssignSpec{In: in.schema, TimeCol: idx, Window: w})
	if err != nil {
		return nil, query.Relation{}, q.Errorf(tv, "%v", err)
	}
	id := p.g.AddOperator("window assign "+w.String(), out, in.par, 1, newOp)
	p.g.Connect(in.id, id, runtime.Forward)
	n := in.schema.Len()
	isProc := ta.kind == attrProctime
	tw := &tvfWindow{input: in, start: n, end: n + 1, time: n + 2, timeCol: idx, assigner: w, procTime: isProc, lag: ta.lag}
	// The function appends its columns: the input's keep their places.
	s := &stream{id: id, schema: out, par: in.par, win: tw, inKey: in.inKey}
	// window_time is the time attribute of the rows (of the DESCRIPTOR
	// column's kind); the DESCRIPTOR column and the input's other time
	// attributes become plain columns, as window_start and window_end are.
	attrs := dropped(in.allAttrs(), fmt.Sprintf("the window function at %s makes its input's time attributes plain TIMESTAMPs (its window_time is the time attribute of its rows)", at(q, tv)))
	bound := timeAttr{why: "a window function's window_start and window_end are plain TIMESTAMPs (its window_time is the time attribute)"}
	attrs = append(attrs, bound, bound, ta)
	s.setAttrs(attrs)
	s.wins = make([]winCol, out.Len())
	s.wins[n], s.wins[n+1], s.wins[n+2] = winCol{tw, windowStart}, winCol{tw, windowEnd}, winCol{tw, windowTime}
	if !isProc { // a window Top-N fires on watermarks: event time only
		s.wcols = make([]int8, out.Len())
		s.wcols[n], s.wcols[n+1] = windowStart, windowEnd
		s.wwin = w
	}
	return s, query.Relation{Name: tv.Name, Schema: out}, nil
}

// resolves reports whether every column e names is in scope.
func resolves(q *query.Query, scope *query.Scope, e parser.Expr) bool {
	ok := true
	query.Walk(e, func(x parser.Expr) bool {
		if c, isCol := x.(*parser.Ident); isCol {
			if _, err := q.Column(scope, c); err != nil {
				ok = false
			}
		}
		return ok
	})
	return ok
}

func (p *planner) selectStmt(q *query.Query, sel *query.Select, e *env) (*stream, error) {
	if sel.From == nil {
		return nil, q.Errorf(sel.Node, "a query needs FROM")
	}
	sel, err := numberedSelect(q, sel)
	if err != nil {
		return nil, err
	}
	var where []parser.Expr
	if sel.Where != nil {
		where = conjuncts(sel.Where)
	}
	in, rels, err := p.fromOf(q, sel.From, e, &where, sel)
	if err != nil {
		return nil, err
	}
	scope, err := query.NewScope(rels...)
	if err != nil {
		return nil, q.Errorf(sel.From, "%v", err)
	}
	if err := whereAliases(q, sel, where, scope); err != nil {
		return nil, err
	}
	if sel, err = q.ExpandStars(sel, scope); err != nil {
		return nil, err
	}
	aggs := collectAggregates(q, sel, scope)
	if len(sel.GroupBy) == 0 && len(aggs) == 0 {
		if sel.Having != nil {
			return nil, q.Errorf(sel.Having, "HAVING needs GROUP BY or an aggregate")
		}
		if calls := overCalls(sel); len(calls) > 0 {
			out, err := p.overSelect(q, sel, scope, in, where, calls)
			if err == nil {
				lostThrough(q, sel, scope, in, out, fmt.Sprintf("the OVER aggregation at %s drops time attributes", at(q, calls[0])))
			}
			return out, err
		}
		return p.project(q, sel, scope, in, where)
	}
	return p.aggregate(q, sel, scope, in, aggs, where)
}

// whereOf translates the WHERE terms that are left after the joins.
func whereOf(q *query.Query, where []parser.Expr, scope *query.Scope) (expr.Expr, error) {
	var preds []expr.Expr
	for _, t := range where {
		w, err := q.Predicate(scope, t, query.Options{Clause: "WHERE"})
		if err != nil {
			return nil, err
		}
		preds = append(preds, w.Expr)
	}
	switch len(preds) {
	case 0:
		return nil, nil
	case 1:
		return preds[0], nil
	}
	return expr.And(preds...), nil
}

// project plans SELECT items FROM t WHERE … without aggregation.
func (p *planner) project(q *query.Query, sel *query.Select, scope *query.Scope, in *stream, whereTerms []parser.Expr) (*stream, error) {
	where, err := whereOf(q, whereTerms, scope)
	if err != nil {
		return nil, err
	}
	var exprs []expr.Expr
	var names []string
	var wcols []int8
	var attrs []timeAttr // time attributes: see timeattr.go
	var wins []winCol
	for i, it := range sel.Items {
		if it.Star {
			for c, f := range scope.Schema().Fields {
				wcols = carryWindowCol(wcols, in.wcols, c, len(exprs))
				attrs, wins = append(attrs, in.attr(c)), append(wins, in.winAt(c))
				exprs = append(exprs, expr.ColIndex(c))
				names = append(names, f.Name)
			}
			continue
		}
		sc, err := q.Scalar(scope, it.Expr, query.Options{Clause: "the select list"})
		if err != nil {
			return nil, err
		}
		if c, ok := it.Expr.(*parser.Ident); ok {
			if idx, err := q.Column(scope, c); err == nil {
				wcols = carryWindowCol(wcols, in.wcols, idx, len(exprs))
			}
		}
		attrs = append(attrs, projectedAttr(q, scope, in, it.Expr))
		wins = append(wins, projectedWin(q, scope, in, it.Expr))
		exprs = append(exprs, sc.Expr)
		names = append(names, it.Name(i))
	}
	out, err := p.calcOn(in, "calc", where, exprs, uniqueNames(names))
	if err != nil {
		return nil, q.Errorf(sel.Node, "%v", err)
	}
	out.setAttrs(attrs)
	out.wins = fitWins(wins)
	out.wcols = fitWindowCols(wcols, out.schema.Len())
	out.wwin = in.wwin
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
			return &query.Error{Pos: targetPos(q), Msg: fmt.Sprintf("INSERT INTO %s: %v%s", ct.Name, err, notWritten(t)), Near: ct.Name}
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
			"INSERT INTO %s: the query's result is updating (a GROUP BY without a window, a Top-N, a deduplication or an outer join emits -U/+U changes as results change) "+
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
			case s.updating:
				p.connectKeyed(s, prev.id, 0, changelogKeys(s))
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
	p.g.Node(id).Info = ct
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
		case s.updating:
			p.connectKeyed(s, id, 0, changelogKeys(s))
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
// meaning: INT → BIGINT → DOUBLE, and an integer into VARCHAR (its decimal
// text, as CAST(x AS VARCHAR); Nexmark q6 writes a BIGINT seller into a
// VARCHAR column). INSERT casts these implicitly; nothing else.
func widens(a, b runtime.Type) bool {
	switch a {
	case runtime.Int:
		return b == runtime.BigInt || b == runtime.Double || b == runtime.Varchar
	case runtime.BigInt:
		return b == runtime.Double || b == runtime.Varchar
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
