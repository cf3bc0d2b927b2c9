// Package agg holds incremental, mergeable aggregate functions over
// columnar batches.
//
// Accumulators of many groups live in flat arrays (a few int64 and float64
// slots per group, in chunks of a few MB that never move as the groups
// grow) so that updating a group is an indexed add, a group costs a few
// dozen bytes, and windows can merge groups (sessions) cheaply.
//
// # Functions and result types
//
// NULL inputs are ignored; an aggregate over no (non-NULL, filtered-in)
// value is NULL, except COUNT, which is 0. Result types, with Flink's where
// Sluice differs (a planner that wants Flink's types casts the result):
//
//	COUNT(*), COUNT(x), COUNT(DISTINCT x)  BIGINT NOT NULL
//	SUM(x), SUM(DISTINCT x)                BIGINT for INT/BIGINT x (Flink: INT for INT), DOUBLE for DOUBLE,
//	                                       DECIMAL(18, s) for DECIMAL(p, s) (see SumType)
//	AVG(x)                                 the type of x for INT/BIGINT x, as Flink: the exact sum divided by
//	                                       the count, truncated toward zero (Java's long division), so
//	                                       AVG of 1 and 2 is 1 and of -1 and -2 is -1; DOUBLE for DOUBLE;
//	                                       exact DECIMAL(18, max(6, s)) for DECIMAL(p, s) (see AvgType).
//	                                       AVG(CAST(x AS DOUBLE)) is the fractional mean of integers.
//	                                       (Flink's AvgAggFunction: the sum over the count, cast to the
//	                                       argument's type; TINYINT and SMALLINT are INT in Sluice, so
//	                                       their AVG is an INT of the same value.)
//	MIN(x), MAX(x)                         the type of x
//	FIRST_VALUE(x), LAST_VALUE(x)          the type of x; by arrival order
//	LISTAGG(x [, sep])                     VARCHAR; x must be VARCHAR; sep defaults to ","; arrival order
//	STDDEV_POP, STDDEV_SAMP, VAR_POP, VAR_SAMP (x)
//	                                       DOUBLE (Flink: the type of x, truncated for integers);
//	                                       the _SAMP forms are NULL over one value
//	BOOL_AND(x), BOOL_OR(x)                BOOLEAN; x must be BOOLEAN
//
// The variances are computed with Welford's updates (and their inverse
// for retractions, Chan's formula for merges), not from a sum of squares,
// so that large values with a small spread keep their precision; the state
// keeps the square root of the sum of squared deviations, so that values
// whose squares overflow a DOUBLE (above ~1e154) do not overflow it.
//
// # FILTER
//
// Spec.Filter (with Spec.HasFilter) is SQL's aggregate FILTER (WHERE
// cond): the planner computes cond into a BOOLEAN input column, and a row
// counts for that aggregate only where the column is TRUE (not FALSE, not
// NULL). A filtered aggregate's result is nullable whatever its input.
//
// # Append-only and retracting layouts
//
// NewLayout compiles aggregates over an append-only input: every row is
// added. NewRetractLayout compiles them over an updating input in retract
// mode (Flink's): a +I or +U row is added, a -U or -D row removes one copy
// of an equal row added before. Every function retracts exactly: COUNT,
// SUM and AVG keep counts and sums, MIN and MAX an ordered multiset of
// their values (value and count), COUNT/SUM(DISTINCT) a count per value,
// FIRST_VALUE, LAST_VALUE and LISTAGG the ordered list of their live values
// (a retraction removes the earliest live copy of the value, as Flink), the
// variances Welford's state. The append-only layout keeps MIN and MAX in a
// flat slot (the fast path); only a retracting layout pays for multisets.
// Retraction is exact for integers and DECIMALs (SUM keeps an int64 sum,
// failing on overflow as appending does, where Flink's BIGINT sum would
// wrap; AVG of an integer a 128-bit sum, which cannot overflow, of a
// DECIMAL an int64 one) and as exact as float64 addition for DOUBLE (SUM
// and AVG of DOUBLE, as in Flink, may keep a rounding residue after
// retractions).
//
// A retracting layout also counts each group's rows (Accs.Rows): a
// retraction reaching a group with no rows (its state expired, or it was
// never inserted) is ignored, as in Flink, and counted (Accs.Ignored).
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
	Avg         // the type of an integer x; DOUBLE; DECIMAL (see AvgType)
	SumDistinct // SUM(DISTINCT x)
	FirstValue
	LastValue
	ListAgg // LISTAGG(x [, Spec.Sep])
	StddevPop
	StddevSamp
	VarPop
	VarSamp
	BoolAnd
	BoolOr
)

var funcNames = [...]string{"", "COUNT", "COUNT DISTINCT", "SUM", "MIN", "MAX", "AVG", "SUM DISTINCT",
	"FIRST_VALUE", "LAST_VALUE", "LISTAGG", "STDDEV_POP", "STDDEV_SAMP", "VAR_POP", "VAR_SAMP", "BOOL_AND", "BOOL_OR"}

func (f Func) String() string {
	if f == 0 || int(f) >= len(funcNames) {
		return fmt.Sprintf("Func(%d)", uint8(f))
	}
	return funcNames[f]
}

// ParseFunc maps an SQL function name to a Func. DISTINCT is accepted
// where it changes the result (COUNT, SUM) or cannot (MIN, MAX).
func ParseFunc(name string, distinct bool) (Func, bool) {
	switch strings.ToUpper(name) {
	case "COUNT":
		if distinct {
			return CountDistinct, true
		}
		return Count, true
	case "SUM":
		if distinct {
			return SumDistinct, true
		}
		return Sum, true
	case "MIN":
		return Min, true
	case "MAX":
		return Max, true
	case "AVG":
		return Avg, !distinct
	case "FIRST_VALUE":
		return FirstValue, !distinct
	case "LAST_VALUE":
		return LastValue, !distinct
	case "LISTAGG":
		return ListAgg, !distinct
	case "STDDEV_POP":
		return StddevPop, !distinct
	case "STDDEV_SAMP", "STDDEV":
		return StddevSamp, !distinct
	case "VAR_POP":
		return VarPop, !distinct
	case "VAR_SAMP", "VARIANCE":
		return VarSamp, !distinct
	case "BOOL_AND":
		return BoolAnd, !distinct
	case "BOOL_OR":
		return BoolOr, !distinct
	}
	return 0, false
}

// Spec is one aggregate of a query.
type Spec struct {
	Func Func
	Col  int    // input column; -1 for COUNT(*)
	Name string // output column name
	// Filter, when HasFilter, is a BOOLEAN input column: a row counts for
	// this aggregate only where it is TRUE (SQL's FILTER (WHERE …)). The
	// zero Spec has no filter.
	Filter    int
	HasFilter bool
	// Sep is LISTAGG's separator (nil: ",", as Flink's).
	Sep *string
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
	i3      int // int slot: FIRST_VALUE/LAST_VALUE's arrival number, AVG's high sum bits, or -1
	f, f2   int // float slots, or -1
	s       int // string slot, or -1
	d       int // distinct set index, or -1
	b       int // byte buffer index (LISTAGG, append-only), or -1
	v       int // value bag index (retracting MIN/MAX/FIRST/LAST/LISTAGG), or -1
	sep     string
	phys    runtime.Physical
	canNull bool // input column is nullable
}

// Layout is the compiled shape of a list of aggregates over an input
// schema: how many slots of each kind one group needs, and the output
// fields.
type Layout struct {
	aggs                   []compiled
	nI, nF, nS, nD, nB, nV int
	retract                bool
	rowSlot                int         // retracting: the int slot counting a group's rows
	extended               bool        // snapshots carry the extended section
	firsts                 bool        // FIRST_VALUE or LAST_VALUE: number arrivals
	extremes               bool        // MIN or MAX in flat slots: initialised per group
	decimalSums            bool        // some SUM is of a DECIMAL: Check checks its precision
	plain                  []plainSlot // plainSlots: what MergeGroups adds slot by slot, or nil
}

// NewLayout checks specs against the input schema, for an append-only
// input.
func NewLayout(in *runtime.Schema, specs []Spec) (*Layout, error) {
	return newLayout(in, specs, false)
}

// NewRetractLayout checks specs against the input schema, for an updating
// input in retract mode (see the package doc).
func NewRetractLayout(in *runtime.Schema, specs []Spec) (*Layout, error) {
	return newLayout(in, specs, true)
}

func newLayout(in *runtime.Schema, specs []Spec, retract bool) (*Layout, error) {
	l := &Layout{retract: retract, rowSlot: slotNone, extended: retract}
	for _, s := range specs {
		c := compiled{Spec: s, i: slotNone, i2: slotNone, i3: slotNone, f: slotNone, f2: slotNone, s: slotNone, d: slotNone, b: slotNone, v: slotNone}
		if s.Col >= in.Len() || s.Col < -1 || s.Col == -1 && s.Func != Count {
			return nil, fmt.Errorf("aggregate %s(%s): no such input column", s.Func, s.Name)
		}
		if s.HasFilter {
			if s.Filter < 0 || s.Filter >= in.Len() {
				return nil, fmt.Errorf("aggregate %s: FILTER column %d out of range (the input has %d columns)", s.Name, s.Filter, in.Len())
			}
			if t := in.Fields[s.Filter].Type; t != runtime.Boolean {
				return nil, fmt.Errorf("aggregate %s: FILTER column %s is %s, want BOOLEAN", s.Name, in.Fields[s.Filter].Name, t)
			}
		}
		if s.Func > Avg || s.HasFilter {
			l.extended = true
		}
		argName := ""
		if s.Col >= 0 {
			f := in.Fields[s.Col]
			c.in, c.canNull, c.phys = f.Type, f.Nullable, f.Type.Physical()
			argName = f.Name
		}
		// sparse: the aggregate may see no value in a non-empty group.
		sparse := c.canNull || s.HasFilter
		name := s.Name
		switch s.Func {
		case Count:
			c.out = runtime.Field{Name: name, Type: runtime.BigInt}
			c.i = l.int()
		case CountDistinct:
			c.out = runtime.Field{Name: name, Type: runtime.BigInt}
			c.d = l.nD
			l.nD++
		case Sum, SumDistinct:
			if !c.in.Numeric() && !c.in.IsDecimal() {
				return nil, fmt.Errorf("%s(%s): cannot sum %s", s.Func, argName, c.in)
			}
			t := runtime.BigInt
			if c.in.IsDecimal() {
				t = SumType(c.in)
				l.decimalSums = true
			}
			if c.phys == runtime.PhysFloat {
				t = runtime.Double
				c.f = l.float()
			} else {
				c.i = l.int()
			}
			if s.Func == SumDistinct {
				c.d = l.nD
				l.nD++
			} else if sparse {
				c.i2 = l.int()
			}
			c.out = runtime.Field{Name: name, Type: t, Nullable: sparse}
		case Min, Max:
			c.out = runtime.Field{Name: name, Type: c.in, Nullable: sparse}
			if retract {
				c.v = l.nV
				l.nV++
				break
			}
			l.extremes = true
			switch c.phys {
			case runtime.PhysFloat:
				c.f = l.float()
			case runtime.PhysString:
				c.s = l.nS
				l.nS++
			default:
				c.i = l.int()
			}
			if sparse || c.phys == runtime.PhysString {
				c.i2 = l.int()
			}
		case Avg:
			if !c.in.Numeric() && !c.in.IsDecimal() {
				return nil, fmt.Errorf("AVG(%s): cannot average %s", argName, c.in)
			}
			if c.phys == runtime.PhysFloat {
				c.out = runtime.Field{Name: name, Type: runtime.Double, Nullable: sparse}
				c.f = l.float()
				c.i2 = l.int()
				break
			}
			// Integers and DECIMALs: exact, a sum and a count. A
			// DECIMAL's sum is an int64 (checked for 18 digits), an
			// integer's 128 bits (i the low, i3 the high half), so
			// that its mean, which fits its type, never overflows.
			c.out = runtime.Field{Name: name, Type: AvgType(c.in), Nullable: sparse}
			c.i, c.i2 = l.int(), l.int()
			if !c.in.IsDecimal() {
				c.i3 = l.int()
			}
		case FirstValue, LastValue:
			c.out = runtime.Field{Name: name, Type: c.in, Nullable: true}
			if retract {
				c.v = l.nV
				l.nV++
				break
			}
			l.firsts = true
			switch c.phys {
			case runtime.PhysFloat:
				c.f = l.float()
			case runtime.PhysString:
				c.s = l.nS
				l.nS++
			default:
				c.i = l.int()
			}
			c.i2, c.i3 = l.int(), l.int()
		case ListAgg:
			if c.phys != runtime.PhysString {
				return nil, fmt.Errorf("LISTAGG(%s): %s is %s, want VARCHAR (CAST it)", argName, argName, c.in)
			}
			c.sep = ","
			if s.Sep != nil {
				c.sep = *s.Sep
			}
			c.out = runtime.Field{Name: name, Type: runtime.Varchar, Nullable: true}
			if retract {
				c.v = l.nV
				l.nV++
				break
			}
			c.b = l.nB
			l.nB++
			c.i2 = l.int()
		case StddevPop, StddevSamp, VarPop, VarSamp:
			if !c.in.Numeric() {
				return nil, fmt.Errorf("%s(%s): %s is not numeric", s.Func, argName, c.in)
			}
			c.out = runtime.Field{Name: name, Type: runtime.Double, Nullable: true}
			c.f, c.f2, c.i2 = l.float(), l.float(), l.int()
		case BoolAnd, BoolOr:
			if c.in != runtime.Boolean {
				return nil, fmt.Errorf("%s(%s): %s is %s, want BOOLEAN", s.Func, argName, argName, c.in)
			}
			c.out = runtime.Field{Name: name, Type: runtime.Boolean, Nullable: sparse}
			c.i, c.i2 = l.int(), l.int()
		default:
			return nil, fmt.Errorf("unknown aggregate function %d", s.Func)
		}
		l.aggs = append(l.aggs, c)
	}
	if retract {
		l.rowSlot = l.int()
	}
	l.plain = plainSlots(l)
	return l, nil
}

func (l *Layout) int() int   { l.nI++; return l.nI - 1 }
func (l *Layout) float() int { l.nF++; return l.nF - 1 }

// Retract reports whether l is a retracting layout (NewRetractLayout).
func (l *Layout) Retract() bool { return l.retract }

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
	// ints and floats hold each group's l.nI int64 and l.nF float64
	// slots, in chunks that never move (slotChunks).
	ints   slotChunks[int64]
	floats slotChunks[float64]
	S      []string
	D      []distinctSet
	B      [][]byte // LISTAGG's buffers (append-only layouts)
	V      []bag    // multisets and live lists (retracting layouts)
	n      int
	// seq numbers the values FIRST_VALUE and LAST_VALUE keep, so that
	// merging groups knows which came first.
	seq int64
	// ignored counts the retractions that reached a group without rows.
	ignored int64
	// scratch for filters and retractions
	fr, fg, sr, sg []int32
	fs, ss         []int8
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
	// Type is the result type that overflowed: BIGINT, or the
	// DECIMAL(18, s) of a SUM of DECIMALs.
	Type runtime.Type
}

func (e *OverflowError) Error() string {
	t := e.Type
	if t == runtime.Invalid {
		t = runtime.BigInt
	}
	return fmt.Sprintf("%s: %s out of range", e.Agg, t)
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
	return o.g, &OverflowError{Agg: a.l.aggs[o.agg].Name, Type: a.l.aggs[o.agg].out.Type}
}

// Check returns an *OverflowError when an integer SUM of group g left
// BIGINT's range (its value is then wrong and must not be emitted), else
// nil. It costs nothing while no group has overflowed.
func (a *Accs) Check(g int32) error {
	if a.l.decimalSums {
		if err := a.checkDecimalSums(g); err != nil {
			return err
		}
	}
	if len(a.over) == 0 {
		return nil
	}
	if i := a.overflowed(g); i >= 0 {
		return &OverflowError{Agg: a.l.aggs[i].Name, Type: a.l.aggs[i].out.Type}
	}
	return nil
}

// NewAccs returns an empty accumulator table for l.
func NewAccs(l *Layout) *Accs {
	return &Accs{l: l, ints: newSlotChunks[int64](l.nI), floats: newSlotChunks[float64](l.nF)}
}

// Len is the number of groups.
func (a *Accs) Len() int { return a.n }

// Grow adds groups until there are n, each initialised empty.
func (a *Accs) Grow(n int) {
	l := a.l
	if n <= a.n {
		return
	}
	if l.nS+l.nD+l.nB+l.nV > 0 {
		for a.n < n {
			a.add()
		}
		return
	}
	// Only flat slots: extend them at once.
	first := a.n
	a.ints.grow(first, n)
	a.floats.grow(first, n)
	a.n = n
	if l.extremes {
		for g := first; g < n; g++ {
			a.initExtremes(int32(g))
		}
	}
}

// Reserve makes room for n groups in all, so that growing to that many
// does not grow the accumulators step by step: for a window whose
// predecessor had n groups.
func (a *Accs) Reserve(n int) {
	if n <= a.n {
		return
	}
	a.ints.ensure(n, true)
	a.floats.ensure(n, true)
}

// Add appends one empty group and returns its id.
func (a *Accs) Add() int32 {
	a.add()
	return int32(a.n - 1)
}

func (a *Accs) add() {
	l := a.l
	a.ints.grow(a.n, a.n+1)
	a.floats.grow(a.n, a.n+1)
	for k := 0; k < l.nS; k++ {
		a.S = append(a.S, "")
	}
	for k := 0; k < l.nD; k++ {
		a.D = append(a.D, distinctSet{})
	}
	for k := 0; k < l.nB; k++ {
		a.B = append(a.B, nil)
	}
	for k := 0; k < l.nV; k++ {
		a.V = append(a.V, bag{})
	}
	a.n++
	a.initExtremes(int32(a.n - 1))
}

// initExtremes sets the MIN and MAX slots of group g to their identities.
func (a *Accs) initExtremes(g int32) {
	l := a.l
	gi, gf := a.ints.at(g), a.floats.at(g)
	for _, c := range l.aggs {
		switch c.Func {
		case Min:
			if c.f >= 0 {
				gf[c.f] = math.Inf(1)
			} else if c.i >= 0 {
				gi[c.i] = math.MaxInt64
			}
		case Max:
			if c.f >= 0 {
				gf[c.f] = math.Inf(-1)
			} else if c.i >= 0 {
				gi[c.i] = math.MinInt64
			}
		}
	}
}

// Rows is the number of rows group g holds, in a retracting layout (0 in
// an append-only one).
func (a *Accs) Rows(g int32) int64 {
	if a.l.rowSlot < 0 {
		return 0
	}
	return a.ints.at(g)[a.l.rowSlot]
}

// Ignored is the number of retractions that reached a group without rows
// (see the package doc).
func (a *Accs) Ignored() int64 { return a.ignored }

// Reset empties the table, keeping memory.
func (a *Accs) Reset() {
	clear(a.S)
	a.S = a.S[:0]
	clear(a.D)
	a.D = a.D[:0]
	clear(a.B)
	a.B = a.B[:0]
	clear(a.V)
	a.V = a.V[:0]
	a.n = 0
	a.seq, a.ignored = 0, 0
	a.over = a.over[:0]
}

// Clear re-initialises group g to empty (to reuse its slots).
func (a *Accs) Clear(g int32) {
	l := a.l
	clear(a.ints.at(g))
	clear(a.floats.at(g))
	clear(a.S[int(g)*l.nS : int(g+1)*l.nS])
	clear(a.D[int(g)*l.nD : int(g+1)*l.nD])
	clear(a.B[int(g)*l.nB : int(g+1)*l.nB])
	clear(a.V[int(g)*l.nV : int(g+1)*l.nV])
	a.initExtremes(g)
	if len(a.over) > 0 {
		a.over = slices.DeleteFunc(a.over, func(o overflowAt) bool { return o.g == g })
	}
}

// Bytes estimates the memory held by the accumulators.
func (a *Accs) Bytes() int {
	n := a.ints.bytes() + a.floats.bytes() + cap(a.S)*16 + cap(a.D)*32 + cap(a.B)*24 + cap(a.V)*96
	for _, s := range a.S {
		n += len(s)
	}
	for _, d := range a.D {
		n += d.bytes()
	}
	for _, b := range a.B {
		n += cap(b)
	}
	for i := range a.V {
		n += a.V[i].bytes()
	}
	return n
}
