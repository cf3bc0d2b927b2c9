// Package join implements the event-time interval join of two keyed streams,
// as Flink's
//
//	SELECT … FROM a JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts + Lower AND a.ts + Upper
//
// Both inputs must reach the operator through runtime.Keyed edges hashed on
// the join key columns, so rows with equal keys meet in the same subtask.
// Input 0 is the left stream (a), input 1 the right stream (b).
//
// # Semantics
//
// It is an inner join: a left row l and a right row r are emitted as one
// output row (l's columns followed by r's) when their keys are equal, no key
// column is NULL (or NaN), neither time is NULL, and
//
//	Lower <= r.ts - l.ts <= Upper      (both bounds inclusive)
//
// Each side is buffered; a row arriving on one side probes the buffer of the
// other side, so every pair is emitted exactly once, by the later of its two
// rows.
//
// # Watermarks, state and late rows
//
// A watermark wm promises that no later on-time row has a time <= wm. It
// frees state:
//
//	a left row  is dropped from state once wm >= l.ts + Upper
//	a right row is dropped from state once wm >= r.ts - Lower
//
// because no right (left) row with a time > wm can match it any more. So the
// buffered rows of a side are exactly those that could still meet an on-time
// row of the other side, and state is bounded by the watermark.
//
// An arriving row is first joined against what the other side holds. It is
// then stored only if it could still meet a future on-time row, by the same
// rule (l.ts + Upper > wm, r.ts - Lower > wm). A row is late when its time is
// behind the watermark (ts <= wm) and it cannot be stored, that is
//
//	left:  l.ts + max(Upper, 0) <= wm
//	right: r.ts + max(-Lower, 0) <= wm
//
// Late rows are joined against the rows still buffered (which may yield
// matches when the interval reaches behind the row), never stored, and
// counted in OperatorMetrics.LateRowsDropped whether or not they matched:
// their result may lack pairs whose partners were already freed. A row that
// is not behind the watermark but still cannot meet a future row (possible
// only when Upper < 0 for a left row or Lower > 0 for a right row) has all
// its partners behind the watermark: the on-time ones have arrived and are
// still buffered, so it is fully joined on arrival; it is not stored and not
// counted. Rows behind the watermark that can still meet future rows are
// joined and stored as usual, close to what Flink SQL's row-time interval
// join does (Flink's DataStream IntervalJoin drops every row behind the
// watermark instead). Before the first watermark nothing is late.
//
// Consequently, when no row is behind the watermark on arrival, the output is
// exactly the nested-loop join of the two inputs, whatever the interleaving
// of the inputs.
//
// Rows with a NULL key, a NaN DOUBLE key or a NULL time never match; they are
// neither stored nor counted.
package join

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/runtime"
)

// ErrInvalidSpec is wrapped by every error New returns for a bad Spec.
var ErrInvalidSpec = errors.New("invalid interval join")

// Spec describes an interval join.
type Spec struct {
	// Left and Right are the schemas of input 0 and input 1.
	Left, Right *runtime.Schema
	// LeftKeys and RightKeys are the equi-join key columns, pairwise of the
	// same type (INT and BIGINT may be mixed). At least one pair is needed.
	LeftKeys, RightKeys []int
	// LeftTime and RightTime are the event-time columns (TIMESTAMP, or
	// BIGINT milliseconds).
	LeftTime, RightTime int
	// Lower and Upper bound right.ts - left.ts in milliseconds, both
	// inclusive; Lower <= Upper and either may be negative.
	Lower, Upper int64
	// Name, when set, is prepended verbatim to every output column name
	// (include your own separator, e.g. "j_").
	Name string
}

// New validates spec and returns a factory making one operator per subtask,
// and the output schema: the left columns followed by the right columns.
//
// Output column names are the input names, prefixed by spec.Name. A name
// that is already taken (compared case-insensitively, as Schema.Index does)
// gets the first free suffix "0", "1", … as Flink SQL does: joining (k, ts)
// with (k, ts, v) gives (k, ts, k0, ts0, v).
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := validate(&spec); err != nil {
		return nil, nil, err
	}
	spec.LeftKeys = append([]int(nil), spec.LeftKeys...)
	spec.RightKeys = append([]int(nil), spec.RightKeys...)
	out = outputSchema(&spec)
	return func() runtime.Operator { return newIntervalJoin(&spec, out) }, out, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
}

func validate(s *Spec) error {
	if s.Left == nil || s.Right == nil {
		return invalid("both input schemas are required")
	}
	if len(s.LeftKeys) == 0 {
		return invalid("at least one key column pair is required")
	}
	if len(s.LeftKeys) != len(s.RightKeys) {
		return invalid("%d left key columns but %d right key columns", len(s.LeftKeys), len(s.RightKeys))
	}
	for i := range s.LeftKeys {
		l, r := s.LeftKeys[i], s.RightKeys[i]
		if l < 0 || l >= s.Left.Len() {
			return invalid("left key column %d out of range (left has %d columns)", l, s.Left.Len())
		}
		if r < 0 || r >= s.Right.Len() {
			return invalid("right key column %d out of range (right has %d columns)", r, s.Right.Len())
		}
		lt, rt := s.Left.Fields[l].Type, s.Right.Fields[r].Type
		if !keyTypesMatch(lt, rt) {
			return invalid("key %d: left column %q is %s but right column %q is %s", i,
				s.Left.Fields[l].Name, lt, s.Right.Fields[r].Name, rt)
		}
	}
	if err := checkTime("left", s.Left, s.LeftTime); err != nil {
		return err
	}
	if err := checkTime("right", s.Right, s.RightTime); err != nil {
		return err
	}
	if s.Lower > s.Upper {
		return invalid("lower bound %d ms is above upper bound %d ms", s.Lower, s.Upper)
	}
	if s.Lower == math.MinInt64 {
		return invalid("lower bound %d ms out of range", s.Lower)
	}
	return nil
}

func keyTypesMatch(a, b runtime.Type) bool {
	if a == b {
		return a != runtime.Invalid
	}
	intLike := func(t runtime.Type) bool { return t == runtime.Int || t == runtime.BigInt }
	return intLike(a) && intLike(b)
}

func checkTime(side string, s *runtime.Schema, col int) error {
	if col < 0 || col >= s.Len() {
		return invalid("%s time column %d out of range (%s has %d columns)", side, col, side, s.Len())
	}
	if t := s.Fields[col].Type; t != runtime.Timestamp && t != runtime.BigInt {
		return invalid("%s time column %q is %s, want TIMESTAMP or BIGINT", side, s.Fields[col].Name, t)
	}
	return nil
}

func outputSchema(s *Spec) *runtime.Schema {
	fields := make([]runtime.Field, 0, s.Left.Len()+s.Right.Len())
	fields = append(fields, s.Left.Fields...)
	fields = append(fields, s.Right.Fields...)
	taken := make(map[string]bool, len(fields))
	for i := range fields {
		name := fields[i].Name
		if taken[strings.ToLower(name)] {
			for n := 0; ; n++ {
				c := name + strconv.Itoa(n)
				if !taken[strings.ToLower(c)] {
					name = c
					break
				}
			}
		}
		taken[strings.ToLower(name)] = true
		fields[i].Name = name
	}
	for i := range fields {
		fields[i].Name = s.Name + fields[i].Name
	}
	return runtime.NewSchema(fields...)
}
