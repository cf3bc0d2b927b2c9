package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql/catalog"
	"github.com/sluicehq/sluice/sql/parser"
	"github.com/sluicehq/sluice/sql/query"
)

// Computed columns, as Flink's: CREATE TABLE t (…, name AS expr, …) where
// expr is any scalar expression over t's physical columns (ROW fields
// included), e.g. Nexmark's
//
//	`dateTime` AS CASE WHEN event_type = 0 THEN person.`dateTime`
//	                   WHEN event_type = 1 THEN auction.`dateTime` ELSE bid.`dateTime` END
//
// They are virtual. A connector reads and writes the physical columns only
// (catalog.Table.Columns), so INSERT INTO t writes those; a source of t
// computes them after decoding. name AS PROCTIME() is the table's
// processing-time attribute, wherever it is declared.
//
// Where they are computed: in the source's subtask, between the
// connector's Poll and the runtime (computedSource), so the source node
// emits every column in the declared order and a WATERMARK FOR a computed
// column works as one for a physical column: the runtime's watermark
// generator reads the computed time of each batch of each partition (Kafka
// partition, store shard, file split, nexmark subtask) and keeps its
// per-partition watermarks and idleness, as Flink does when it pushes a
// watermark into a source (SupportsWatermarkPushDown). The connector is
// told of no time column then (connectors.Table.TimeColumn is -1), so it
// cannot reject a bad event time as a bad record; the watermark ignores
// times outside the years 0001–9999 and windows drop them as late.
//
// Rules, checked at CREATE TABLE (errors at the expression): the
// expression is scalar and types (unknown functions, type mismatches and
// aggregates are errors); it may not use another computed column (Flink's
// rule too); at most one PROCTIME() column; a WATERMARK on a computed
// column needs a TIMESTAMP(3), not PROCTIME(); PRIMARY KEY and
// PARTITIONED BY take physical columns (catalog.validate).

// computedClause names the place of a computed column's expression in
// errors: "aggregate SUM(x) is not allowed in a computed column".
const computedClause = "a computed column"

// checkComputed types the computed columns of t, created by n (statement
// st), and records their types in t; errors are at the offending
// expression, or at the WATERMARK.
func (p *planner) checkComputed(st parser.Statement, n *parser.CreateTable, t *catalog.Table) error {
	if len(t.Computed) == 0 {
		return nil
	}
	q := &query.Query{Text: st.Text, Base: query.Pos{Line: st.Line, Col: st.Col}, Functions: p.functions}
	var cols []parser.Column
	for _, c := range n.Columns {
		if c.Expr != nil {
			cols = append(cols, c)
		}
	}
	if len(cols) != len(t.Computed) {
		return fmt.Errorf("table %s: %d computed columns declared, %d recorded", t.Name, len(cols), len(t.Computed))
	}
	proc := ""
	for i, c := range cols {
		x, err := p.computedExpr(q, t, c.Name, c.Expr)
		if err != nil {
			return err
		}
		cc := &t.Computed[i]
		cc.Type, cc.Nullable = x.Type.String(), x.Nullable
		if cc.ProcTime() {
			if proc != "" {
				return &query.Error{Pos: q.Pos(c.Expr), Msg: fmt.Sprintf(
					"table %s: %s is a second PROCTIME() column (after %s); a table has one processing-time attribute", t.Name, c.Name, proc)}
			}
			proc = c.Name
		}
	}
	w := n.Watermark
	if w == nil {
		return nil
	}
	c := t.ComputedColumn(w.Column)
	switch {
	case c == nil:
	case c.ProcTime():
		return &parser.SyntaxError{Line: w.Pos.Line, Col: w.Pos.Col,
			Msg: fmt.Sprintf("table %s: WATERMARK FOR %s: %s is a PROCTIME() column, a processing-time attribute; a watermark needs an event-time column", t.Name, w.Column, c.Name)}
	case c.Type != runtime.Timestamp.String():
		return &parser.SyntaxError{Line: w.Pos.Line, Col: w.Pos.Col,
			Msg: fmt.Sprintf("table %s: WATERMARK FOR %s: computed column %s is %s, not TIMESTAMP(3) (CAST it, or use TO_TIMESTAMP)", t.Name, w.Column, c.Name, c.Type)}
	}
	return nil
}

// computedExpr translates computed column name AS e of table t over t's
// physical columns, with errors at e (positions of q).
func (p *planner) computedExpr(q *query.Query, t *catalog.Table, name string, e parser.Expr) (*query.Scalar, error) {
	schema := t.Schema()
	if schema == nil {
		schema = runtime.NewSchema()
	}
	var bad *parser.Ident
	parser.Inspect(e, func(node any) bool {
		if bad != nil {
			return false
		}
		id, ok := node.(*parser.Ident)
		if !ok {
			return true
		}
		col := id.Parts[len(id.Parts)-1]
		if len(id.Parts) == 2 && !strings.EqualFold(id.Parts[0], t.Name) {
			return true // row.field
		}
		if len(id.Parts) <= 2 && schema.Index(col) < 0 && t.ComputedColumn(col) != nil {
			bad = id
		}
		return true
	})
	if bad != nil {
		used := bad.Parts[len(bad.Parts)-1]
		return nil, &query.Error{Pos: q.Pos(bad), Msg: fmt.Sprintf(
			"computed column %s uses computed column %s: a computed column can only use the physical columns of %s (as in Flink); repeat %s's expression",
			name, used, t.Name, used)}
	}
	if isProcTimeCall(e) {
		return &query.Scalar{Expr: expr.ProcTime(), Type: runtime.Timestamp}, nil
	}
	scope, err := query.NewScope(query.Relation{Name: t.Name, Schema: schema})
	if err != nil {
		return nil, q.Errorf(e, "%v", err)
	}
	return q.Scalar(scope, e, query.Options{Clause: computedClause})
}

// notWritten says, for an error about the columns an INSERT writes to t,
// that its computed columns are not written ("" when it has none).
func notWritten(t *catalog.Table) string {
	if t == nil || len(t.Computed) == 0 {
		return ""
	}
	names := make([]string, len(t.Computed))
	for i, c := range t.Computed {
		names[i] = c.Name
	}
	return fmt.Sprintf("; its computed columns (%s) are not written", strings.Join(names, ", "))
}

// computedColumns is what the planner adds to a source of a table with
// computed columns.
type computedColumns struct {
	newCalc func() runtime.Operator // from the physical columns to all of them
	schema  *runtime.Schema         // all the columns, in the declared order
	procCol int                     // the PROCTIME() column, -1 if none
}

// computed plans the computed columns of t, read at ft: their expressions
// (from the catalog's text, typed again: a table may come from a folder
// catalog) and the columns of t in the declared order.
func (p *planner) computed(q *query.Query, ft *query.Table, t *catalog.Table) (*computedColumns, error) {
	phys := t.Schema()
	out := &computedColumns{procCol: -1}
	var exprs []expr.Expr
	var names []string
	next := 0
	add := func(upTo int) {
		for ; next < upTo; next++ {
			exprs, names = append(exprs, expr.ColIndex(next)), append(names, phys.Fields[next].Name)
		}
	}
	for _, c := range t.Computed {
		add(c.At)
		at := query.Pos{Line: 1, Col: 1}
		e, err := parser.ParseExpr(c.Expr, at)
		if err != nil {
			return nil, q.Errorf(ft, "table %s: computed column %s AS %s: %v", t.Name, c.Name, c.Expr, err)
		}
		cq := &query.Query{Text: c.Expr, Base: at, Functions: p.functions}
		x, err := p.computedExpr(cq, t, c.Name, e)
		if err != nil {
			// The error is placed at ft; its place in the expression's
			// text says nothing there.
			msg := err.Error()
			var qe *query.Error
			if errors.As(err, &qe) {
				msg = strings.TrimPrefix(msg, "line "+qe.Pos.String()+": ")
			}
			return nil, &query.Error{Pos: q.Pos(ft), Msg: fmt.Sprintf("table %s: computed column %s AS %s: %s", t.Name, c.Name, c.Expr, msg)}
		}
		if c.ProcTime() && out.procCol < 0 {
			out.procCol = len(exprs)
		}
		exprs, names = append(exprs, x.Expr), append(names, c.Name)
	}
	add(phys.Len())
	newCalc, schema, err := calc.New(phys, nil, exprs, names)
	if err != nil {
		return nil, q.Errorf(ft, "table %s: computed columns: %v", t.Name, err)
	}
	out.newCalc, out.schema = newCalc, schema
	return out, nil
}

// wrap returns the source subtasks of newSource with the computed
// columns added to every batch.
func (c *computedColumns) wrap(newSource func() runtime.Source) func() runtime.Source {
	return func() runtime.Source {
		src := newSource()
		s := &computedSource{src: src, calc: c.newCalc(), empty: &runtime.Batch{Schema: c.schema}}
		if _, ok := src.(runtime.DynamicPartitions); ok {
			return &dynamicComputedSource{s}
		}
		return s
	}
}

// computedSource is a source subtask of a table with computed columns: the
// connector's subtask, whose batches go through a calc that adds the
// computed columns, in the subtask's goroutine, before the runtime sees
// them (and its watermark generator reads their time). The physical
// columns are lent, not copied. It forwards the optional interfaces of
// runtime sources; a source with runtime.DynamicPartitions is wrapped in
// a dynamicComputedSource, the only one whose mere presence changes what
// the runtime does.
type computedSource struct {
	src   runtime.Source
	calc  runtime.Operator
	out   runtime.Batch  // what Poll returns: the calc's output, its columns copied
	empty *runtime.Batch // returned for a batch of no rows
	got   bool
}

var (
	_ runtime.Source               = (*computedSource)(nil)
	_ runtime.PartitionedSource    = (*computedSource)(nil)
	_ runtime.CheckpointedSource   = (*computedSource)(nil)
	_ runtime.SourceBarrierHandler = (*computedSource)(nil)
	_ runtime.CheckpointListener   = (*computedSource)(nil)
	_ runtime.DynamicPartitions    = (*dynamicComputedSource)(nil)
)

// Open opens the connector's subtask, then the calc.
func (s *computedSource) Open(ctx *runtime.Context) error {
	if err := s.src.Open(ctx); err != nil {
		return err
	}
	return s.calc.Open(ctx)
}

// Poll returns the connector's next batch with the computed columns. It is
// borrowed until the next Poll, as the connector's is.
func (s *computedSource) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	b, part, err := s.src.Poll(ctx)
	if err != nil || b == nil {
		return nil, part, err
	}
	if b.Len() == 0 {
		return s.empty, part, nil
	}
	s.got = false
	if err := s.calc.ProcessBatch(0, b, s); err != nil {
		return nil, part, fmt.Errorf("computed %w", err)
	}
	if !s.got {
		return s.empty, part, nil
	}
	return &s.out, part, nil
}

// Emit takes the calc's output: the calc takes its lent columns back when
// Emit returns, so the batch's columns are copied (their headers, not
// their rows, which stay the connector's until its next Poll).
func (s *computedSource) Emit(b *runtime.Batch) error {
	s.out.Schema, s.out.N, s.out.Sel, s.out.Kinds = b.Schema, b.N, b.Sel, b.Kinds
	s.out.Cols = append(s.out.Cols[:0], b.Cols...)
	s.got = true
	return nil
}

// Close closes the calc and the connector's subtask.
func (s *computedSource) Close() error {
	s.out = runtime.Batch{}
	cerr := s.calc.Close()
	if err := s.src.Close(); err != nil {
		return err
	}
	return cerr
}

// Partitions are the connector's (none when it does not say).
func (s *computedSource) Partitions() []int {
	if ps, ok := s.src.(runtime.PartitionedSource); ok {
		return ps.Partitions()
	}
	return nil
}

// OnBarrier tells the connector of a barrier.
func (s *computedSource) OnBarrier(b runtime.Barrier) error {
	if h, ok := s.src.(runtime.SourceBarrierHandler); ok {
		return h.OnBarrier(b)
	}
	return nil
}

// SnapshotPosition is the connector's position (nil when it keeps none).
func (s *computedSource) SnapshotPosition() ([]byte, error) {
	if cs, ok := s.src.(runtime.CheckpointedSource); ok {
		return cs.SnapshotPosition()
	}
	return nil, nil
}

// RestorePositions gives the connector its positions.
func (s *computedSource) RestorePositions(all [][]byte) error {
	if cs, ok := s.src.(runtime.CheckpointedSource); ok {
		return cs.RestorePositions(all)
	}
	return nil
}

// NotifyCheckpointComplete tells the connector of a complete checkpoint.
func (s *computedSource) NotifyCheckpointComplete(id int64) error {
	if l, ok := s.src.(runtime.CheckpointListener); ok {
		return l.NotifyCheckpointComplete(id)
	}
	return nil
}

// dynamicComputedSource is a computedSource of a connector whose
// partitions come and go.
type dynamicComputedSource struct{ *computedSource }

// PartitionChanges are the connector's.
func (s *dynamicComputedSource) PartitionChanges() (started, ended []int) {
	return s.src.(runtime.DynamicPartitions).PartitionChanges()
}
