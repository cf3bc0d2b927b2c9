package parser

// Inspect walks the AST below node depth-first, in the order of the text:
// it calls f with each *QueryStatement, QueryExpr, TableRef, Expr and
// *Window it meets (a window between its call's arguments and FILTER
// clause); when f returns false, Inspect skips that node's children.
// node may be any of those, or a *CreateView (its query is walked).
// Absent children (a nil Where, a Call without OVER) are skipped.
func Inspect(node any, f func(node any) bool) {
	switch n := node.(type) {
	case nil:
		return
	case *CreateView:
		Inspect(n.Query, f)
		return
	}
	if !f(node) {
		return
	}
	exprs := func(es []Expr) {
		for _, e := range es {
			Inspect(e, f)
		}
	}
	order := func(items []OrderItem) {
		for _, o := range items {
			Inspect(o.X, f)
		}
	}
	switch n := node.(type) {
	case *QueryStatement:
		if n.Insert != nil {
			Inspect(n.Insert.Table, f)
			for _, c := range n.Insert.Columns {
				Inspect(c, f)
			}
		}
		Inspect(n.Query, f)
	case *Select:
		for _, it := range n.Items {
			Inspect(it.Expr, f)
		}
		Inspect(n.From, f)
		Inspect(n.Where, f)
		exprs(n.GroupBy)
		Inspect(n.Having, f)
	case *Values:
		for _, r := range n.Rows {
			exprs(r)
		}
	case *SetOp:
		Inspect(n.L, f)
		Inspect(n.R, f)
	case *With:
		for _, c := range n.CTEs {
			Inspect(c.Query, f)
		}
		Inspect(n.Body, f)
	case *Ordered:
		Inspect(n.Query, f)
		order(n.OrderBy)
		Inspect(n.Limit, f)
		Inspect(n.Offset, f)
	case *TableName:
		Inspect(n.Name, f)
		Inspect(n.SystemTime, f)
	case *Derived:
		Inspect(n.Query, f)
	case *TableFunc:
		Inspect(n.Call, f)
	case *Join:
		Inspect(n.L, f)
		Inspect(n.R, f)
		Inspect(n.On, f)
	case *Unary:
		Inspect(n.X, f)
	case *Binary:
		Inspect(n.L, f)
		Inspect(n.R, f)
	case *Is:
		Inspect(n.X, f)
		Inspect(n.From, f)
	case *Between:
		Inspect(n.X, f)
		Inspect(n.Lo, f)
		Inspect(n.Hi, f)
	case *In:
		Inspect(n.X, f)
		exprs(n.List)
		Inspect(n.Query, f)
	case *Like:
		Inspect(n.X, f)
		Inspect(n.Pattern, f)
		Inspect(n.Escape, f)
	case *Exists:
		Inspect(n.Query, f)
	case *Subquery:
		Inspect(n.Query, f)
	case *Call:
		exprs(n.Args)
		Inspect(n.Filter, f)
		if n.Over != nil {
			Inspect(n.Over, f)
		}
	case *Window:
		exprs(n.PartitionBy)
		order(n.OrderBy)
		if n.Frame != nil {
			Inspect(n.Frame.Start.Offset, f)
			Inspect(n.Frame.End.Offset, f)
		}
	case *Cast:
		Inspect(n.X, f)
	case *Case:
		Inspect(n.Operand, f)
		for _, w := range n.Whens {
			Inspect(w.Cond, f)
			Inspect(w.Result, f)
		}
		Inspect(n.Else, f)
	case *Extract:
		Inspect(n.X, f)
	case *Trim:
		Inspect(n.Chars, f)
		Inspect(n.X, f)
	case *Item:
		Inspect(n.X, f)
		Inspect(n.Index, f)
	case *Star:
		if n.Qualifier != nil {
			Inspect(n.Qualifier, f)
		}
	case *NamedArg:
		Inspect(n.Value, f)
	case *TableArg:
		Inspect(n.Name, f)
		for _, c := range n.PartitionBy {
			Inspect(c, f)
		}
	case *Descriptor:
		for _, c := range n.Columns {
			Inspect(c, f)
		}
	}
}
