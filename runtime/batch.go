package runtime

import (
	"math"
	"strconv"
	"time"
)

// DefaultBatchRows is the number of rows a batch holds before it is sent on.
const DefaultBatchRows = 2048

// Vector is one column of a batch. Exactly one of I64, F64 and Str is used,
// chosen by Type.Physical(). Null is nil when the vector holds no NULL;
// otherwise it has one entry per physical row.
type Vector struct {
	Type Type
	I64  []int64
	F64  []float64
	Str  []string
	Null []bool
}

// Len is the number of physical rows.
func (v *Vector) Len() int {
	switch v.Type.Physical() {
	case PhysFloat:
		return len(v.F64)
	case PhysString:
		return len(v.Str)
	}
	return len(v.I64)
}

// IsNull reports whether row i is NULL.
func (v *Vector) IsNull(i int) bool { return v.Null != nil && v.Null[i] }

// Reset empties the vector, keeping its memory.
func (v *Vector) Reset() {
	v.I64 = v.I64[:0]
	v.F64 = v.F64[:0]
	clear(v.Str)
	v.Str = v.Str[:0]
	v.Null = nil
}

// Resize sets the vector to n rows (contents unspecified unless grown from
// empty), reusing memory. Nulls are cleared.
func (v *Vector) Resize(n int) {
	switch v.Type.Physical() {
	case PhysFloat:
		v.F64 = resize(v.F64, n)
	case PhysString:
		v.Str = resize(v.Str, n)
	default:
		v.I64 = resize(v.I64, n)
	}
	v.Null = nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, max(n, 2*cap(s)))
}

// Truncate cuts the vector to its first n rows (n at most its length),
// keeping their nulls; strings past n are cleared so they can be freed.
func (v *Vector) Truncate(n int) {
	switch v.Type.Physical() {
	case PhysFloat:
		v.F64 = v.F64[:n]
	case PhysString:
		clear(v.Str[n:])
		v.Str = v.Str[:n]
	default:
		v.I64 = v.I64[:n]
	}
	if len(v.Null) > n {
		v.Null = v.Null[:n]
	}
}

// SetNull marks row i NULL, creating the null slice on first use.
func (v *Vector) SetNull(i int) {
	if v.Null == nil {
		v.Null = make([]bool, v.Len())
	}
	v.Null[i] = true
}

// markNull appends a null flag for a newly appended row.
func (v *Vector) appendNullFlag(null bool) {
	if v.Null == nil {
		if !null {
			return
		}
		v.Null = make([]bool, v.Len()-1, v.Len()+16)
	}
	v.Null = append(v.Null, null)
}

// AppendInt appends an integer-class value (BOOLEAN, INT, BIGINT, TIMESTAMP).
func (v *Vector) AppendInt(x int64) {
	v.I64 = append(v.I64, x)
	if v.Null != nil {
		v.Null = append(v.Null, false)
	}
}

// AppendFloat appends a DOUBLE.
func (v *Vector) AppendFloat(x float64) {
	v.F64 = append(v.F64, x)
	if v.Null != nil {
		v.Null = append(v.Null, false)
	}
}

// AppendString appends a VARCHAR.
func (v *Vector) AppendString(x string) {
	v.Str = append(v.Str, x)
	if v.Null != nil {
		v.Null = append(v.Null, false)
	}
}

// AppendNull appends a NULL.
func (v *Vector) AppendNull() {
	switch v.Type.Physical() {
	case PhysFloat:
		v.F64 = append(v.F64, 0)
	case PhysString:
		v.Str = append(v.Str, "")
	default:
		v.I64 = append(v.I64, 0)
	}
	v.appendNullFlag(true)
}

// AppendFrom appends row i of src, which must have the same physical type.
func (v *Vector) AppendFrom(src *Vector, i int) {
	switch v.Type.Physical() {
	case PhysFloat:
		v.F64 = append(v.F64, src.F64[i])
	case PhysString:
		v.Str = append(v.Str, src.Str[i])
	default:
		v.I64 = append(v.I64, src.I64[i])
	}
	null := src.Null != nil && src.Null[i]
	if v.Null != nil || null {
		v.appendNullFlag(null)
	}
}

// AppendRows appends rows rows of src, which must have the same physical
// type, in their order.
func (v *Vector) AppendRows(src *Vector, rows []int32) {
	n0 := v.Len()
	switch v.Type.Physical() {
	case PhysFloat:
		for _, r := range rows {
			v.F64 = append(v.F64, src.F64[r])
		}
	case PhysString:
		for _, r := range rows {
			v.Str = append(v.Str, src.Str[r])
		}
	default:
		for _, r := range rows {
			v.I64 = append(v.I64, src.I64[r])
		}
	}
	if src.Null == nil {
		if v.Null != nil {
			for range rows {
				v.Null = append(v.Null, false)
			}
		}
		return
	}
	if v.Null == nil {
		null := false
		for _, r := range rows {
			if src.Null[r] {
				null = true
				break
			}
		}
		if !null {
			return
		}
		v.Null = make([]bool, n0, n0+len(rows))
	}
	for _, r := range rows {
		v.Null = append(v.Null, src.Null[r])
	}
}

// AppendValue appends a Value of the vector's type (converting numbers).
func (v *Vector) AppendValue(x Value) {
	if x.Null {
		v.AppendNull()
		return
	}
	switch v.Type.Physical() {
	case PhysFloat:
		if x.Type.IsDecimal() {
			v.AppendFloat(DecimalToFloat(x.I, x.Type.Scale()))
		} else if x.Type.Physical() == PhysInt {
			v.AppendFloat(float64(x.I))
		} else {
			v.AppendFloat(x.F)
		}
	case PhysString:
		v.AppendString(x.S)
	default:
		if v.Type.IsDecimal() || x.Type.IsDecimal() {
			v.AppendInt(convertToDecimalClass(x, v.Type))
		} else if x.Type.Physical() == PhysFloat {
			v.AppendInt(int64(x.F))
		} else {
			v.AppendInt(x.I)
		}
	}
}

// Value returns row i as a Value. It is for tests, printing and other slow
// paths; operators work on the slices directly.
func (v *Vector) Value(i int) Value {
	out := Value{Type: v.Type}
	if v.IsNull(i) {
		out.Null = true
		return out
	}
	switch v.Type.Physical() {
	case PhysFloat:
		out.F = v.F64[i]
	case PhysString:
		out.S = v.Str[i]
	default:
		out.I = v.I64[i]
	}
	return out
}

// Value is one typed scalar, used off the hot path (tests, printing, row
// functions). It never boxes into an interface.
type Value struct {
	Type Type
	Null bool
	I    int64
	F    float64
	S    string
}

// Constructors for Values.
func IntValue(x int64) Value     { return Value{Type: BigInt, I: x} }
func FloatValue(x float64) Value { return Value{Type: Double, F: x} }
func StringValue(x string) Value { return Value{Type: Varchar, S: x} }
func TimeValue(ms int64) Value   { return Value{Type: Timestamp, I: ms} }
func NullValue(t Type) Value     { return Value{Type: t, Null: true} }
func BoolValue(x bool) Value     { return Value{Type: Boolean, I: b2i(x)} }
func b2i(x bool) int64 {
	if x {
		return 1
	}
	return 0
}

// String formats the value as SQL would print it.
func (x Value) String() string {
	if x.Null {
		return "NULL"
	}
	if x.Type.IsDecimal() {
		return FormatDecimal(x.I, x.Type.Scale())
	}
	switch x.Type {
	case Boolean:
		if x.I != 0 {
			return "TRUE"
		}
		return "FALSE"
	case Double:
		return FormatFloat(x.F)
	case Varchar:
		return x.S
	case Timestamp:
		return FormatTimestamp(x.I)
	}
	return strconv.FormatInt(x.I, 10)
}

// FormatFloat prints a DOUBLE the way Sluice's sinks do.
func FormatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// FormatTimestamp prints milliseconds since the epoch as
// "2006-01-02 15:04:05.000" in UTC, as Flink prints TIMESTAMP(3).
func FormatTimestamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05.000")
}

// Batch is a set of rows stored column by column. Sel, when non-nil, lists
// the physical rows that are present, in order (a filter produces it instead
// of copying rows).
//
// Ownership: a batch handed to Output.Emit or Operator.ProcessBatch is
// borrowed for the duration of the call; the callee must neither modify nor
// keep it. A batch received from a queue belongs to the receiving subtask,
// which releases it to its schema's pool when done.
type Batch struct {
	Schema *Schema
	Cols   []Vector
	N      int
	Sel    []int32
	// Kinds, when non-nil, holds the changelog kind of each physical row of
	// an updating stream; nil means every row is an insert (+I).
	Kinds []RowKind
}

// RowKind is the changelog kind of a row, as Flink's.
type RowKind uint8

// Row kinds.
const (
	Insert       RowKind = iota // +I
	UpdateBefore                // -U: retracts the previous result of a key
	UpdateAfter                 // +U: the new result of a key
	Delete                      // -D
)

func (k RowKind) String() string { return [...]string{"+I", "-U", "+U", "-D"}[k&3] }

// Kind returns the kind of physical row r.
func (b *Batch) Kind(r int) RowKind {
	if b.Kinds == nil {
		return Insert
	}
	return b.Kinds[r]
}

// SetKind sets the kind of physical row r, creating Kinds on first use.
func (b *Batch) SetKind(r int, k RowKind) {
	if b.Kinds == nil {
		if k == Insert {
			return
		}
		b.Kinds = make([]RowKind, b.N, max(b.N, 16))
	}
	for len(b.Kinds) <= r {
		b.Kinds = append(b.Kinds, Insert)
	}
	b.Kinds[r] = k
}

// NewBatch returns an empty batch for schema s, from the schema's pool.
func NewBatch(s *Schema) *Batch {
	if b, ok := s.pool.Get().(*Batch); ok {
		return b
	}
	b := &Batch{Schema: s, Cols: make([]Vector, len(s.Fields))}
	for i, f := range s.Fields {
		b.Cols[i].Type = f.Type
	}
	return b
}

// Release resets b and returns it to its schema's pool. The caller must not
// use b afterwards.
func (b *Batch) Release() {
	b.Reset()
	b.Schema.pool.Put(b)
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	for i := range b.Cols {
		b.Cols[i].Reset()
	}
	b.N = 0
	b.Sel = nil
	b.Kinds = nil
}

// Len is the number of rows present (after selection).
func (b *Batch) Len() int {
	if b.Sel != nil {
		return len(b.Sel)
	}
	return b.N
}

// Row maps the i-th present row to its physical row.
func (b *Batch) Row(i int) int {
	if b.Sel != nil {
		return int(b.Sel[i])
	}
	return i
}

// AppendRow copies physical row r of src (same column layout) to b.
func (b *Batch) AppendRow(src *Batch, r int) {
	for c := range b.Cols {
		b.Cols[c].AppendFrom(&src.Cols[c], r)
	}
	if src.Kinds != nil || b.Kinds != nil {
		b.SetKind(b.N, src.Kind(r))
	}
	b.N++
}

// AppendValues appends one row given as values, one per column.
func (b *Batch) AppendValues(vals ...Value) {
	for c := range b.Cols {
		b.Cols[c].AppendValue(vals[c])
	}
	b.N++
}

// Values returns the i-th present row as values (slow path).
func (b *Batch) Values(i int) []Value {
	r := b.Row(i)
	out := make([]Value, len(b.Cols))
	for c := range b.Cols {
		out[c] = b.Cols[c].Value(r)
	}
	return out
}

// CopyFrom replaces b's contents with the present rows of src, compacted
// (b.Sel is nil afterwards).
func (b *Batch) CopyFrom(src *Batch) {
	b.Reset()
	n := src.Len()
	for c := range b.Cols {
		dst, s := &b.Cols[c], &src.Cols[c]
		switch dst.Type.Physical() {
		case PhysFloat:
			dst.F64 = gather(dst.F64, s.F64, src.Sel, n)
		case PhysString:
			dst.Str = gather(dst.Str, s.Str, src.Sel, n)
		default:
			dst.I64 = gather(dst.I64, s.I64, src.Sel, n)
		}
		if s.Null != nil {
			dst.Null = gather(make([]bool, 0, n), s.Null, src.Sel, n)
		}
	}
	if src.Kinds != nil {
		b.Kinds = gather(make([]RowKind, 0, n), src.Kinds, src.Sel, n)
	}
	b.N = n
}

func gather[T any](dst, src []T, sel []int32, n int) []T {
	if sel == nil {
		return append(dst[:0], src[:n]...)
	}
	dst = resize(dst, n)
	for i, r := range sel {
		dst[i] = src[r]
	}
	return dst
}
