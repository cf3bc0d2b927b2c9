package query

import "github.com/sluicehq/sluice/sql/parser"

// ExpandStars returns sel with each t.* item replaced by a reference to each
// column it names in s (see Scope.Star): t's columns for a relation t, the
// fields of the ROW column t otherwise. A bare * is kept. sel itself is
// not changed. An unknown qualifier is an error at the star.
func (q *Query) ExpandStars(sel *Select, s *Scope) (*Select, error) {
	expand := false
	for _, it := range sel.Items {
		expand = expand || it.StarOf != ""
	}
	if !expand {
		return sel, nil
	}
	out := *sel
	out.Items = make([]*Item, 0, len(sel.Items))
	for _, it := range sel.Items {
		if it.StarOf == "" {
			out.Items = append(out.Items, it)
			continue
		}
		st := it.Expr.(*parser.Star)
		cols, err := s.Star(it.StarOf)
		if err != nil {
			return nil, q.Errorf(st, "%v", err)
		}
		for _, parts := range cols {
			id := &parser.Ident{Parts: parts, Pos: st.Qualifier.Pos, End: st.Qualifier.End}
			out.Items = append(out.Items, &Item{Expr: id})
		}
	}
	return &out, nil
}
