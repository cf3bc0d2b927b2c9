// Package agg holds incremental, mergeable aggregate functions over
// columnar batches: COUNT, COUNT(DISTINCT), SUM, MIN, MAX and AVG.
//
// Accumulators of many groups live in flat slices (a few int64 and float64
// slots per group) so that updating a group is an indexed add, a group costs
// a few dozen bytes, and windows can merge groups (sessions) cheaply.
package agg

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// Func is an aggregate function.
type Func uint8

// Aggregate functions.
const (
	Count         Func = iota + 1 // COUNT(x), or COUNT(*) with Col -1
	CountDistinct                 // COUNT(DISTINCT x)
	Sum
	Min
	Max
	Avg // always DOUBLE
)

var funcNames = [...]string{"", "COUNT", "COUNT DISTINCT", "SUM", "MIN", "MAX", "AVG"}

func (f Func) String() string {
	if f == 0 || int(f) >= len(funcNames) {
		return fmt.Sprintf("Func(%d)", uint8(f))
	}
	return funcNames[f]
}

// ParseFunc maps an SQL function name to a Func.
func ParseFunc(name string, distinct bool) (Func, bool) {
	switch strings.ToUpper(name) {
	case "COUNT":
		if distinct {
			return CountDistinct, true
		}
		return Count, true
	case "SUM":
		return Sum, !distinct
	case "MIN":
		return Min, true
	case "MAX":
		return Max, true
	case "AVG":
		return Avg, !distinct
	}
	return 0, false
}

// Spec is one aggregate of a query.
type Spec struct {
	Func Func
	Col  int    // input column; -1 for COUNT(*)
	Name string // output column name
}

// slot kinds
const (
	slotNone = -1
)

type compiled struct {
	Spec
	in      runtime.Type
	out     runtime.Field
	i, i2   int // int slots (i2: non-null count or "has" flag), or -1
	f       int // float slot, or -1
	s       int // string slot, or -1
	d       int // distinct set index, or -1
	phys    runtime.Physical
	canNull bool // input column is nullable
}

// Layout is the compiled shape of a list of aggregates over an input
// schema: how many slots of each kind one group needs, and the output
// fields.
type Layout struct {
	aggs           []compiled
	nI, nF, nS, nD int
	zeroI          []int64 // nI zeros, appended for a new group
	zeroF          []float64
}

// NewLayout checks specs against the input schema.
func NewLayout(in *runtime.Schema, specs []Spec) (*Layout, error) {
	l := &Layout{}
	for _, s := range specs {
		c := compiled{Spec: s, i: slotNone, i2: slotNone, f: slotNone, s: slotNone, d: slotNone}
		if s.Col >= in.Len() || s.Col < -1 || s.Col == -1 && s.Func != Count {
			return nil, fmt.Errorf("aggregate %s(%s): no such input column", s.Func, s.Name)
		}
		if s.Col >= 0 {
			f := in.Fields[s.Col]
			c.in, c.canNull, c.phys = f.Type, f.Nullable, f.Type.Physical()
		}
		name := s.Name
		switch s.Func {
		case Count:
			c.out = runtime.Field{Name: name, Type: runtime.BigInt}
			c.i = l.int()
		case CountDistinct:
			c.out = runtime.Field{Name: name, Type: runtime.BigInt}
			c.d = l.nD
			l.nD++
		case Sum:
			if !c.in.Numeric() {
				return nil, fmt.Errorf("SUM(%s): cannot sum %s", in.Fields[s.Col].Name, c.in)
			}
			t := runtime.BigInt
			if c.phys == runtime.PhysFloat {
				t = runtime.Double
				c.f = l.float()
			} else {
				c.i = l.int()
			}
			if c.canNull {
				c.i2 = l.int()
			}
			c.out = runtime.Field{Name: name, Type: t, Nullable: c.canNull}
		case Min, Max:
			c.out = runtime.Field{Name: name, Type: c.in, Nullable: c.canNull}
			switch c.phys {
			case runtime.PhysFloat:
				c.f = l.float()
			case runtime.PhysString:
				c.s = l.nS
				l.nS++
			default:
				c.i = l.int()
			}
			if c.canNull || c.phys == runtime.PhysString {
				c.i2 = l.int()
			}
		case Avg:
			if !c.in.Numeric() {
				return nil, fmt.Errorf("AVG(%s): cannot average %s", in.Fields[s.Col].Name, c.in)
			}
			c.out = runtime.Field{Name: name, Type: runtime.Double, Nullable: c.canNull}
			c.f = l.float()
			c.i2 = l.int()
		default:
			return nil, fmt.Errorf("unknown aggregate function %d", s.Func)
		}
		l.aggs = append(l.aggs, c)
	}
	l.zeroI, l.zeroF = make([]int64, l.nI), make([]float64, l.nF)
	return l, nil
}

func (l *Layout) int() int   { l.nI++; return l.nI - 1 }
func (l *Layout) float() int { l.nF++; return l.nF - 1 }

// Fields returns the output fields, one per aggregate.
func (l *Layout) Fields() []runtime.Field {
	out := make([]runtime.Field, len(l.aggs))
	for i, a := range l.aggs {
		out[i] = a.out
	}
	return out
}

// Len is the number of aggregates.
func (l *Layout) Len() int { return len(l.aggs) }

// Accs holds the accumulators of groups 0..Len()-1.
type Accs struct {
	l *Layout
	I []int64
	F []float64
	S []string
	D []distinctSet
	n int
	// over holds the groups whose SUM left BIGINT's range, and which
	// aggregate did: rare, so a small list.
	over []overflowAt
}

type overflowAt struct {
	g   int32
	agg int
}

// OverflowError is the error of a group whose integer SUM does not fit in
// a BIGINT (PostgreSQL: "bigint out of range"); the operator adds the key.
type OverflowError struct {
	Agg string // the aggregate's output column, e.g. SUM(v)
}

func (e *OverflowError) Error() string {
	return fmt.Sprintf("%s: BIGINT out of range", e.Agg)
}

func (a *Accs) overflow(g int32, agg int) {
	if a.overflowed(g) < 0 {
		a.over = append(a.over, overflowAt{g, agg})
	}
}

// overflowed returns the aggregate of group g that overflowed, or -1.
func (a *Accs) overflowed(g int32) int {
	for _, o := range a.over {
		if o.g == g {
			return o.agg
		}
	}
	return -1
}

// Overflow returns a group whose integer SUM left BIGINT's range and its
// *OverflowError, or nil: for a snapshot, which must not keep a wrong sum
// as if it were right.
func (a *Accs) Overflow() (int32, error) {
	if len(a.over) == 0 {
		return 0, nil
	}
	o := a.over[0]
	return o.g, &OverflowError{Agg: a.l.aggs[o.agg].Name}
}

// Check returns an *OverflowError when an integer SUM of group g left
// BIGINT's range (its value is then wrong and must not be emitted), else
// nil. It costs nothing while no group has overflowed.
func (a *Accs) Check(g int32) error {
	if len(a.over) == 0 {
		return nil
	}
	if i := a.overflowed(g); i >= 0 {
		return &OverflowError{Agg: a.l.aggs[i].Name}
	}
	return nil
}

// NewAccs returns an empty accumulator table for l.
func NewAccs(l *Layout) *Accs { return &Accs{l: l} }

// Len is the number of groups.
func (a *Accs) Len() int { return a.n }

// Grow adds groups until there are n, each initialised empty.
func (a *Accs) Grow(n int) {
	for a.n < n {
		a.add()
	}
}

// Add appends one empty group and returns its id.
func (a *Accs) Add() int32 {
	a.add()
	return int32(a.n - 1)
}

func (a *Accs) add() {
	l := a.l
	a.I = append(a.I, l.zeroI...)
	a.F = append(a.F, l.zeroF...)
	for k := 0; k < l.nS; k++ {
		a.S = append(a.S, "")
	}
	for k := 0; k < l.nD; k++ {
		a.D = append(a.D, distinctSet{})
	}
	a.n++
	a.initExtremes(int32(a.n - 1))
}

// initExtremes sets the MIN and MAX slots of group g to their identities.
func (a *Accs) initExtremes(g int32) {
	l := a.l
	base, fb := int(g)*l.nI, int(g)*l.nF
	for _, c := range l.aggs {
		switch c.Func {
		case Min:
			if c.f >= 0 {
				a.F[fb+c.f] = math.Inf(1)
			} else if c.i >= 0 {
				a.I[base+c.i] = math.MaxInt64
			}
		case Max:
			if c.f >= 0 {
				a.F[fb+c.f] = math.Inf(-1)
			} else if c.i >= 0 {
				a.I[base+c.i] = math.MinInt64
			}
		}
	}
}

// Reset empties the table, keeping memory.
func (a *Accs) Reset() {
	a.I, a.F = a.I[:0], a.F[:0]
	clear(a.S)
	a.S = a.S[:0]
	clear(a.D)
	a.D = a.D[:0]
	a.n = 0
	a.over = a.over[:0]
}

// Clear re-initialises group g to empty (to reuse its slots).
func (a *Accs) Clear(g int32) {
	l := a.l
	clear(a.I[int(g)*l.nI : int(g+1)*l.nI])
	clear(a.F[int(g)*l.nF : int(g+1)*l.nF])
	clear(a.S[int(g)*l.nS : int(g+1)*l.nS])
	clear(a.D[int(g)*l.nD : int(g+1)*l.nD])
	a.initExtremes(g)
	if len(a.over) > 0 {
		a.over = slices.DeleteFunc(a.over, func(o overflowAt) bool { return o.g == g })
	}
}

// Bytes estimates the memory held by the accumulators.
func (a *Accs) Bytes() int {
	n := cap(a.I)*8 + cap(a.F)*8 + cap(a.S)*16 + cap(a.D)*16
	for _, s := range a.S {
		n += len(s)
	}
	for _, d := range a.D {
		n += d.bytes()
	}
	return n
}
