package window

import (
	"slices"
	"strconv"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// reference computes, the slow and obvious way, the rows a window
// aggregation emits for rows none of which is late: one row per key and
// window, formatted like fmtRow. Rows with a NULL time are left out.
func reference(spec Spec, rows [][]runtime.Value) []string {
	return referenceWith(spec, rows, nil)
}

// referenceWith is reference for tumbling and hopping windows where row i
// goes into window [start, end) only if accept(i, start, end) (all when nil).
func referenceWith(spec Spec, rows [][]runtime.Value, accept func(i int, start, end int64) bool) []string {
	type group struct {
		key        []runtime.Value
		start, end int64
		rows       [][]runtime.Value
	}
	groups := map[string]*group{}
	var order []string
	add := func(key []runtime.Value, start, end int64, r []runtime.Value) {
		id := fmtRow(key) + "@" + strconv.FormatInt(start, 10) + "," + strconv.FormatInt(end, 10)
		g := groups[id]
		if g == nil {
			g = &group{key: key, start: start, end: end}
			groups[id] = g
			order = append(order, id)
		}
		g.rows = append(g.rows, r)
	}
	keyOf := func(r []runtime.Value) []runtime.Value {
		var key []runtime.Value
		for _, c := range spec.KeyCols {
			key = append(key, r[c])
		}
		return key
	}
	w := spec.Window
	switch w.Kind {
	case Tumbling, Hopping:
		slide := w.Slide
		if w.Kind == Tumbling {
			slide = w.Size
		}
		for i, r := range rows {
			tv := r[spec.TimeCol]
			if tv.Null {
				continue
			}
			t := tv.I
			// Try every window start near t.
			k := (t - w.Offset) / slide
			for j := k - w.Size/slide - 2; j <= k+2; j++ {
				if s := w.Offset + j*slide; s <= t && t < s+w.Size && (accept == nil || accept(i, s, s+w.Size)) {
					add(keyOf(r), s, s+w.Size, r)
				}
			}
		}
	case Session:
		byKey := map[string][][]runtime.Value{}
		var keys []string
		for _, r := range rows {
			if r[spec.TimeCol].Null {
				continue
			}
			id := fmtRow(keyOf(r))
			if _, ok := byKey[id]; !ok {
				keys = append(keys, id)
			}
			byKey[id] = append(byKey[id], r)
		}
		for _, id := range keys {
			rs := slices.Clone(byKey[id])
			slices.SortStableFunc(rs, func(a, b []runtime.Value) int {
				return int(min(max(a[spec.TimeCol].I-b[spec.TimeCol].I, -1), 1))
			})
			// Sweep: a row at most one gap after the last joins.
			var cur [][]runtime.Value
			flush := func() {
				if len(cur) == 0 {
					return
				}
				start, last := cur[0][spec.TimeCol].I, cur[len(cur)-1][spec.TimeCol].I
				for _, r := range cur {
					add(keyOf(r), start, last+w.Gap, r)
				}
				cur = nil
			}
			for _, r := range rs {
				if len(cur) > 0 && r[spec.TimeCol].I > cur[len(cur)-1][spec.TimeCol].I+w.Gap {
					flush()
				}
				cur = append(cur, r)
			}
			flush()
		}
	}
	var out []string
	for _, id := range order {
		g := groups[id]
		vals := append(slices.Clone(g.key), runtime.TimeValue(g.start), runtime.TimeValue(g.end))
		for _, a := range spec.Aggs {
			vals = append(vals, refAggregate(spec.In, a, g.rows))
		}
		out = append(out, fmtRow(vals))
	}
	slices.Sort(out)
	return out
}

// refAggregate computes one aggregate over rows.
func refAggregate(in *runtime.Schema, a agg.Spec, rows [][]runtime.Value) runtime.Value {
	if a.Col < 0 {
		return runtime.IntValue(int64(len(rows)))
	}
	typ := in.Fields[a.Col].Type
	var vals []runtime.Value
	for _, r := range rows {
		if !r[a.Col].Null {
			v := r[a.Col]
			v.Type = typ
			vals = append(vals, v)
		}
	}
	isFloat := typ.Physical() == runtime.PhysFloat
	switch a.Func {
	case agg.Count:
		return runtime.IntValue(int64(len(vals)))
	case agg.CountDistinct:
		seen := map[string]bool{}
		for _, v := range vals {
			if isFloat && v.F == 0 {
				v.F = 0 // -0 and +0 are one value
			}
			seen[rttest.Quote(v)] = true
		}
		return runtime.IntValue(int64(len(seen)))
	}
	if len(vals) == 0 {
		return runtime.Value{Null: true}
	}
	switch a.Func {
	case agg.Sum:
		if isFloat {
			var s float64
			for _, v := range vals {
				s += v.F
			}
			return runtime.FloatValue(s)
		}
		var s int64
		for _, v := range vals {
			s += v.I
		}
		return runtime.IntValue(s)
	case agg.Avg:
		if !isFloat { // the type of the integers, truncated toward zero
			var s int64
			for _, v := range vals {
				s += v.I
			}
			return runtime.Value{Type: typ, I: s / int64(len(vals))}
		}
		var s float64
		for _, v := range vals {
			s += v.F
		}
		return runtime.FloatValue(s / float64(len(vals)))
	case agg.Min, agg.Max:
		best := vals[0]
		for _, v := range vals[1:] {
			var less bool
			switch typ.Physical() {
			case runtime.PhysFloat:
				less = v.F < best.F
			case runtime.PhysString:
				less = v.S < best.S
			default:
				less = v.I < best.I
			}
			greater := v != best && !less
			if a.Func == agg.Min && less || a.Func == agg.Max && greater {
				best = v
			}
		}
		return best
	}
	panic("unknown aggregate")
}
