package join

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// RegularType is the kind of a regular join.
type RegularType uint8

// Regular join types.
const (
	RegularInner RegularType = iota // INNER JOIN
	RegularLeft                     // LEFT [OUTER] JOIN
	RegularRight                    // RIGHT [OUTER] JOIN
	RegularFull                     // FULL [OUTER] JOIN
)

func (t RegularType) String() string {
	switch t {
	case RegularInner:
		return "INNER"
	case RegularLeft:
		return "LEFT OUTER"
	case RegularRight:
		return "RIGHT OUTER"
	case RegularFull:
		return "FULL OUTER"
	}
	return fmt.Sprintf("RegularType(%d)", uint8(t))
}

// outer reports whether side (0 left, 1 right) is preserved: its unmatched
// rows are emitted null-padded.
func (t RegularType) outer(side int) bool {
	if side == 0 {
		return t == RegularLeft || t == RegularFull
	}
	return t == RegularRight || t == RegularFull
}

// ErrInvalidRegularSpec is wrapped by every error NewRegular returns for a
// bad RegularSpec.
var ErrInvalidRegularSpec = errors.New("invalid regular join")

// RegularSpec describes a regular join.
type RegularSpec struct {
	// Left and Right are the schemas of input 0 and input 1.
	Left, Right *runtime.Schema
	// LeftKeys and RightKeys are the equi-join key columns, pairwise of the
	// same type (INT and BIGINT may be mixed). At least one pair is needed;
	// the inputs arrive keyed by them.
	LeftKeys, RightKeys []int
	// Type is INNER, LEFT, RIGHT or FULL.
	Type RegularType
	// Residual is the rest of the ON condition, over the joined row (the
	// left columns then the right columns, as the output schema: refer to
	// them with expr.ColIndex), nil for none. A pair matches when it is
	// TRUE (not FALSE, not NULL). It must be BOOLEAN.
	Residual expr.Expr
	// TTL drops a key's rows of one side once that side has not been
	// written (a row added or retracted) for this long (0: never), in
	// processing time, as Flink's 'table.exec.state.ttl'. Expired rows are
	// never read again; their memory is freed by a purge every TTL/4 (10 ms
	// to 1 min), also while no rows arrive. Rows restored from a snapshot
	// start their TTL at the restore.
	TTL time.Duration
	// MaxGroups bounds the keys one subtask may hold (0: no limit); going
	// over fails the job with an error wrapping state.ErrStateLimit.
	MaxGroups int
	// Clock returns the processing time in milliseconds (nil: the wall
	// clock); for tests.
	Clock func() int64
	// Name, when set, is prepended verbatim to every output column name.
	Name string
}

// NewRegular validates spec and returns a factory making one operator per
// subtask, and the output schema: the left columns followed by the right
// columns, named as New names them, the null-padded side(s) nullable.
//
// The regular (unbounded) join is Flink SQL's
//
//	SELECT … FROM a [INNER | LEFT | RIGHT | FULL] JOIN b ON a.k = b.k [AND residual]
//
// It joins two updating streams and keeps every row of both in state
// (bounded by RegularSpec.TTL and MaxGroups). The operator it makes
// implements runtime.Snapshotter (a restored subtask emits exactly what an
// uninterrupted one would) and runtime.ProcessingTimer (the TTL purge).
//
// # What the planner must guarantee
//
//   - Input 0 carries the left rows (schema RegularSpec.Left), input 1 the
//     right rows (RegularSpec.Right), each through a runtime.Keyed edge
//     hashed on LeftKeys and RightKeys respectively, so that equal keys meet
//     in one subtask.
//   - Inputs may be updating, in retract mode: +I and +U add a row, -U and -D
//     remove one copy of an identical row (all columns equal). The changes of
//     one row must arrive in order (a row's retraction after its addition),
//     which holds when each input's changes for a join key come from one
//     upstream subtask, as a keyed upstream gives. A retraction of a row the
//     operator does not hold is ignored and counted (the
//     sluice_join_retractions_ignored_total counter, labelled by job,
//     operator and subtask).
//   - NULL keys never match; residual NULL is not a match (SQL).
//   - There is no time attribute: the output's time columns are plain
//     columns (as in Flink, a regular join's output has no rowtime), so the
//     planner must not window or interval-join on them downstream.
//     Watermarks pass through: the runtime forwards the minimum of both
//     inputs' watermarks. Nothing is ever late.
//
// # What it emits
//
// The output schema is the left columns followed by the right columns (names
// deduplicated as New does, prefixed by RegularSpec.Name); the columns of a
// side that may be null-padded (right for LEFT, left for RIGHT, both for FULL)
// are nullable. The output is a retract changelog of +I and -D rows only,
// whose final state is the SQL join of the two inputs' final states:
//
//   - every matching pair (equal keys, no key column NULL or NaN, the
//     residual TRUE) is emitted as +I when its later row is added, and
//     retracted as -D when either row is removed; a pair is emitted once per
//     copy of each row (bag semantics);
//   - for an outer side, a row with no match is emitted null-padded (+I) on
//     arrival; the operator keeps, per row, how many rows of the other side
//     match it, retracts the null-padded row (-D) when the first match
//     arrives and emits it again (+I) when the last match is removed.
//     Rows of an outer side with a NULL (or NaN) key are passed through
//     null-padded with their own kind (+I/+U as +I, -U/-D as -D) and are not
//     stored; rows of an inner side with such a key are dropped.
//
// The output follows the input rows in order (a pair's -D of a null-padded
// row comes before its +I), in batches of at most runtime.DefaultBatchRows
// rows, so the changelog is valid for any interleaving of the two inputs:
// a consumer applying it never retracts a row it does not hold.
//
// # State
//
// Per key, each side's rows as a multiset: identical rows share one entry
// with a count, found through a hash table over whole rows; an outer side's
// entries also hold their match count. Rows are stored column by column in
// slices indexed by a row id (no per-row or per-key allocation in steady
// state; the id of a removed row is reused, memory is not given back). A
// key exists while it holds rows on either side; MaxGroups bounds the keys
// of one subtask (checked after each batch). BenchmarkRegularJoin reports
// the bytes per key.
//
// With a TTL, a key's rows on one side are dropped, silently, once no row of
// that side for that key has been added or retracted for TTL (processing
// time, as Flink's 'table.exec.state.ttl'). As in Flink this loses
// information: a pair whose row expired is never retracted, a retraction of
// an expired row is ignored, and an outer row whose matches expired keeps
// its match count (so it is not null-padded again when the surviving
// matches go), while a new outer row that would have matched expired rows
// is emitted null-padded.
func NewRegular(spec RegularSpec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := regValidate(&spec); err != nil {
		return nil, nil, err
	}
	spec.LeftKeys = append([]int(nil), spec.LeftKeys...)
	spec.RightKeys = append([]int(nil), spec.RightKeys...)
	named := outputSchema(&Spec{Left: spec.Left, Right: spec.Right, Name: spec.Name})
	fields := append([]runtime.Field(nil), named.Fields...)
	nl := spec.Left.Len()
	for i := range fields {
		if spec.Type.outer(1) && i < nl || spec.Type.outer(0) && i >= nl {
			fields[i].Nullable = true
		}
	}
	out = runtime.NewSchema(fields...)
	if spec.Residual != nil {
		c, err := expr.Compile(spec.Residual, out)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: join condition: %w", ErrInvalidRegularSpec, err)
		}
		if c.Type() != runtime.Boolean {
			return nil, nil, regInvalid("join condition must be BOOLEAN, not %s: %q", c.Type(), spec.Residual.String())
		}
	}
	return func() runtime.Operator { return newRegJoin(&spec, out) }, out, nil
}

func regInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRegularSpec, fmt.Sprintf(format, args...))
}

func regValidate(s *RegularSpec) error {
	if s.Left == nil || s.Right == nil {
		return regInvalid("both input schemas are required")
	}
	if s.Type > RegularFull {
		return regInvalid("unknown join type %d", uint8(s.Type))
	}
	if len(s.LeftKeys) == 0 {
		return regInvalid("at least one key column pair is required (a join without an equality needs a different operator)")
	}
	if len(s.LeftKeys) != len(s.RightKeys) {
		return regInvalid("%d left key columns but %d right key columns", len(s.LeftKeys), len(s.RightKeys))
	}
	for i := range s.LeftKeys {
		l, r := s.LeftKeys[i], s.RightKeys[i]
		if l < 0 || l >= s.Left.Len() {
			return regInvalid("left key column %d out of range (left has %d columns)", l, s.Left.Len())
		}
		if r < 0 || r >= s.Right.Len() {
			return regInvalid("right key column %d out of range (right has %d columns)", r, s.Right.Len())
		}
		lt, rt := s.Left.Fields[l].Type, s.Right.Fields[r].Type
		if !keyTypesMatch(lt, rt) {
			return regInvalid("key %d: left column %q is %s but right column %q is %s", i,
				s.Left.Fields[l].Name, lt, s.Right.Fields[r].Name, rt)
		}
	}
	if s.TTL < 0 {
		return regInvalid("negative state TTL %v", s.TTL)
	}
	if s.MaxGroups < 0 {
		return regInvalid("negative key limit %d", s.MaxGroups)
	}
	return nil
}

// Describe says what the operator keeps, for plans.
func (o *regJoin) Describe() string {
	var b strings.Builder
	keys := func(s *runtime.Schema, cols []int) string {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = s.Fields[c].Name
		}
		return strings.Join(names, ", ")
	}
	fmt.Fprintf(&b, "regular %s join on (%s) = (%s)", o.typ, keys(o.sides[0].schema, o.sides[0].keyCols), keys(o.sides[1].schema, o.sides[1].keyCols))
	if o.residual != nil {
		fmt.Fprintf(&b, " and %s", o.residual)
	}
	b.WriteString(", an updating result (+I, -D)\nstate: every row of both sides per key")
	if o.ttl > 0 {
		fmt.Fprintf(&b, ", TTL %v in processing time ('table.exec.state.ttl')", time.Duration(o.ttl)*time.Millisecond)
	} else {
		b.WriteString(", no TTL: kept forever")
	}
	if o.maxKeys > 0 {
		fmt.Fprintf(&b, "; at most %d keys per subtask ('sluice.state.max-keys')", o.maxKeys)
	}
	return b.String()
}
