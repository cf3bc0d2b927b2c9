// Package calc is Flink's Calc: an optional filter predicate followed by an
// optional projection, fused into one stateless operator.
//
// A filter without a projection never copies rows: it emits a view of its
// input (the input's columns with a selection vector of the surviving rows).
// A projection evaluates each output column, over the surviving rows only,
// into a batch the operator owns and reuses.
package calc

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// New checks and compiles a Calc over rows of schema in and returns a
// factory of operators (one per subtask) and the output schema.
//
// where is the filter predicate, nil for none; it must be BOOLEAN and keeps
// the rows where it is TRUE (not FALSE, not NULL). project lists the output
// columns, nil to pass the input columns through unchanged (the output schema
// is then in itself). names names the output columns; nil, or an empty name,
// takes the expression's text. Output names must be unique
// (case-insensitive). A field is nullable when its expression can be NULL.
func New(in *runtime.Schema, where expr.Expr, project []expr.Expr, names []string) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if names != nil && len(names) != len(project) {
		return nil, nil, fmt.Errorf("calc: %d names for %d projected columns", len(names), len(project))
	}
	if where != nil {
		w, err := expr.Compile(where, in)
		if err != nil {
			return nil, nil, fmt.Errorf("filter: %w", err)
		}
		if w.Type() != runtime.Boolean {
			return nil, nil, fmt.Errorf("filter must be BOOLEAN, not %s: %q", w.Type(), where.String())
		}
	}
	out = in
	if project != nil {
		fields := make([]runtime.Field, len(project))
		seen := make(map[string]int, len(project))
		for i, p := range project {
			c, err := expr.Compile(p, in)
			if err != nil {
				return nil, nil, fmt.Errorf("projection %d: %w", i+1, err)
			}
			name := ""
			if names != nil {
				name = names[i]
			}
			if name == "" {
				name = p.String()
			}
			key := strings.ToLower(name)
			if j, dup := seen[key]; dup {
				return nil, nil, fmt.Errorf("projections %d and %d are both called %q", j+1, i+1, name)
			}
			seen[key] = i
			fields[i] = runtime.Field{Name: name, Type: c.Type(), Nullable: c.Nullable()}
		}
		out = runtime.NewSchema(fields...)
	}
	return func() runtime.Operator { return newCalc(in, where, project, out) }, out, nil
}

// calc is one subtask's operator. It owns its compiled expressions (they
// hold scratch vectors) and its output batch.
type calc struct {
	runtime.Base
	err     error // compile error; cannot happen after New succeeded
	where   *expr.Compiled
	dropAll bool // the filter is constantly FALSE or NULL
	proj    []*expr.Compiled
	cols    []int // projection i is a bare reference to input column cols[i], or -1
	same    []int // projection i repeats the earlier projection same[i] (computed once), or -1
	schema  *runtime.Schema
	out     *runtime.Batch
	own     []runtime.Vector // out's own vectors while it shares input columns
	sel     []int32
	view    runtime.Batch
}

func newCalc(in *runtime.Schema, where expr.Expr, project []expr.Expr, schema *runtime.Schema) *calc {
	c := &calc{schema: schema}
	if where != nil {
		w, err := expr.Compile(where, in)
		if err != nil {
			c.err = err
			return c
		}
		if v, ok := w.Const(); ok {
			c.dropAll = v.Null || v.I == 0
		} else {
			c.where = w
		}
	}
	if project == nil {
		return c
	}
	for _, p := range project {
		pc, err := expr.Compile(p, in)
		if err != nil {
			c.err = err
			return c
		}
		col, ok := pc.Column()
		if !ok {
			col = -1
		}
		j := -1
		if !callRE.MatchString(p.String()) { // a call may be volatile: compute it each time
			j = slices.IndexFunc(c.proj, func(q *expr.Compiled) bool { return q.String() == p.String() })
		}
		c.proj, c.cols, c.same = append(c.proj, pc), append(c.cols, col), append(c.same, j)
	}
	c.out = runtime.NewBatch(schema)
	c.own = make([]runtime.Vector, len(project))
	return c
}

// Open reports a compile error (which New already ruled out).
func (c *calc) Open(*runtime.Context) error { return c.err }

// OutputSchema returns the schema of the rows the operator emits.
func (c *calc) OutputSchema() *runtime.Schema { return c.schema }

// ProcessBatch filters and projects b. The emitted batch is a view of b or
// the operator's own batch; either way it is only lent to out.Emit.
func (c *calc) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	if c.dropAll || b.Len() == 0 {
		return nil
	}
	in := b
	if c.where != nil {
		c.sel = c.where.Select(b, c.sel)
		if err := c.where.Err(); err != nil {
			return c.evalError("WHERE "+c.where.String(), b, err)
		}
		switch len(c.sel) {
		case 0:
			return nil
		case b.Len(): // every row kept
		default:
			c.view = *b
			c.view.Sel = c.sel
			in = &c.view
		}
	}
	defer func() { c.view = runtime.Batch{} }() // keep no reference to b
	if c.proj == nil {
		return out.Emit(in)
	}
	n := in.Len()
	ob := c.out
	shared := false
	for i, p := range c.proj {
		if col := c.cols[i]; col >= 0 && in.Sel == nil {
			// A column passed through as is: lend the input's column
			// instead of copying it.
			c.own[i] = ob.Cols[i]
			ob.Cols[i] = sliceVector(&in.Cols[col], n, ob.Cols[i].Type)
			shared = true
			continue
		}
		if j := c.same[i]; j >= 0 { // a repeated projection: lend the first one's column
			c.own[i] = ob.Cols[i]
			ob.Cols[i] = sliceVector(&ob.Cols[j], n, ob.Cols[i].Type)
			shared = true
			continue
		}
		p.Eval(in, &ob.Cols[i])
		if err := p.Err(); err != nil {
			err = c.evalError(fmt.Sprintf("column %s = %s", c.schema.Fields[i].Name, p), in, err)
			c.view = runtime.Batch{}
			if shared { // give the lent columns back
				for j := 0; j < i; j++ {
					if c.lent(j, in) {
						ob.Cols[j], c.own[j] = c.own[j], runtime.Vector{}
					}
				}
			}
			return err
		}
	}
	ob.N, ob.Sel = n, nil
	ob.Kinds = nil
	if in.Kinds != nil { // an updating stream: keep each row's kind
		ob.Kinds = ob.Kinds[:0]
		for i := 0; i < n; i++ {
			ob.Kinds = append(ob.Kinds, in.Kinds[in.Row(i)])
		}
	}
	err := out.Emit(ob)
	if shared {
		for i := range c.cols {
			if c.lent(i, in) {
				ob.Cols[i], c.own[i] = c.own[i], runtime.Vector{}
			}
		}
	}
	return err
}

// lent reports whether ProcessBatch lends output column i, for in: a bare
// column reference of an input without a selection shares the input's
// column, a repeated projection the column of its first occurrence.
func (c *calc) lent(i int, in *runtime.Batch) bool {
	return c.cols[i] >= 0 && in.Sel == nil || c.same[i] >= 0
}

// callRE matches the text of an expression that calls a function.
var callRE = regexp.MustCompile(`[A-Za-z0-9_]\(`)

// evalError is the error of a row whose evaluation failed (an integer
// overflow): it names what was computed (the output column, or WHERE), the
// expression, and the input row, and the job fails with it.
func (c *calc) evalError(what string, b *runtime.Batch, err error) error {
	// The row of an overflow or of a failed user-defined function.
	r := -1
	var oe *expr.OverflowError
	var fe *expr.FuncError
	if errors.As(err, &oe) {
		r = oe.Row
	} else if errors.As(err, &fe) {
		r = fe.Row
	}
	if r < 0 || r >= b.N || b.Schema == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var row strings.Builder
	for i, f := range b.Schema.Fields {
		if i > 0 {
			row.WriteString(", ")
		}
		v := b.Cols[i].Value(r).String()
		if len(v) > 64 {
			v = v[:64] + "…"
		}
		fmt.Fprintf(&row, "%s=%s", f.Name, v)
	}
	return fmt.Errorf("%s: %w, for the row (%s)", what, err, row.String())
}

// sliceVector returns the first n rows of v, sharing its memory.
func sliceVector(v *runtime.Vector, n int, t runtime.Type) runtime.Vector {
	s := runtime.Vector{Type: t}
	switch t.Physical() {
	case runtime.PhysFloat:
		s.F64 = v.F64[:n]
	case runtime.PhysString:
		s.Str = v.Str[:n]
	default:
		s.I64 = v.I64[:n]
	}
	if v.Null != nil {
		s.Null = v.Null[:n]
	}
	return s
}

// Close returns the output batch to its pool.
func (c *calc) Close() error {
	if c.out != nil {
		c.out.Release()
		c.out = nil
	}
	return nil
}

// Describe says what the operator computes, for plans.
func (c *calc) Describe() string {
	var b strings.Builder
	switch {
	case c.dropAll:
		b.WriteString("filter: FALSE (drops every row)\n")
	case c.where != nil:
		fmt.Fprintf(&b, "filter: %s (a selection vector, rows are not copied)\n", c.where)
	}
	if c.proj != nil {
		parts := make([]string, len(c.proj))
		for i, p := range c.proj {
			parts[i] = fmt.Sprintf("%s AS %s", p, c.schema.Fields[i].Name)
			if j := c.same[i]; j >= 0 {
				parts[i] = fmt.Sprintf("%s AS %s (computed once, as %s)", p, c.schema.Fields[i].Name, c.schema.Fields[j].Name)
			}
		}
		fmt.Fprintf(&b, "project: %s\n", strings.Join(parts, ", "))
	}
	b.WriteString("state: none")
	return b.String()
}
