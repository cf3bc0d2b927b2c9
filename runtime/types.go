// Package runtime is Sluice's dataflow engine: typed columnar batches, a job
// graph of parallel subtasks connected by row-bounded queues, event time with
// watermarks, timers, keyed state and the control messages (watermarks,
// checkpoint barriers, end of input) that travel with the data.
//
// The planner (package sql) and the Go API sit above this package; runtime
// imports neither of them nor any connector.
package runtime

import (
	"fmt"
	"strings"
	"sync"
)

// Type is the logical type of a column.
//
// Physically every value lives in one of three slices of a Vector:
// BOOLEAN (0/1), INT, BIGINT, TIMESTAMP (milliseconds since the Unix
// epoch) and DECIMAL (the unscaled value) in I64; DOUBLE in F64; VARCHAR in
// Str.
//
// A Type is a small comparable value: the kind in the low byte and, for
// DECIMAL, the precision and scale above it (see DecimalType), so that ==
// means "same type" and DECIMAL(10, 2) != DECIMAL(12, 2).
type Type uint32

// The column types Sluice supports.
const (
	Invalid Type = iota
	Boolean
	Int
	BigInt
	Double
	Varchar
	Timestamp
	// Decimal is the kind of every DECIMAL(p, s) type; the value Decimal
	// itself (precision 0) is not a valid column type: use DecimalType.
	Decimal
)

var typeNames = [...]string{"INVALID", "BOOLEAN", "INT", "BIGINT", "DOUBLE", "VARCHAR", "TIMESTAMP(3)", "DECIMAL"}

func (t Type) String() string {
	if t.Kind() == Decimal && t>>24 == 0 && t != Decimal {
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision(), t.Scale())
	}
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%#x)", uint32(t))
}

// Physical is the storage class of a type.
type Physical uint8

// Storage classes.
const (
	PhysInt Physical = iota + 1
	PhysFloat
	PhysString
)

// Valid reports whether t is a column type: BOOLEAN through TIMESTAMP, or
// a DECIMAL(p, s) with 1 <= p <= MaxDecimalPrecision and 0 <= s <= p.
func (t Type) Valid() bool {
	switch t.Kind() {
	case Invalid:
		return false
	case Decimal:
		p, s := t.Precision(), t.Scale()
		return p >= 1 && p <= MaxDecimalPrecision && s <= p && t>>24 == 0
	}
	return t <= Timestamp
}

// Physical returns where values of t are stored in a Vector.
func (t Type) Physical() Physical {
	switch t.Kind() {
	case Double:
		return PhysFloat
	case Varchar:
		return PhysString
	default:
		return PhysInt
	}
}

// Numeric reports whether t is INT, BIGINT or DOUBLE.
func (t Type) Numeric() bool { return t == Int || t == BigInt || t == Double }

// Field is one column of a schema.
type Field struct {
	Name     string
	Type     Type
	Nullable bool
}

// Schema describes the columns of a stream. A Schema is immutable once
// built and shared by every batch of its stream; it also owns the pool that
// recycles those batches.
type Schema struct {
	Fields []Field
	pool   sync.Pool
}

// NewSchema returns a schema with the given fields.
func NewSchema(fields ...Field) *Schema {
	return &Schema{Fields: append([]Field(nil), fields...)}
}

// Len is the number of columns.
func (s *Schema) Len() int { return len(s.Fields) }

// Index returns the position of the column called name (case-insensitive),
// or -1.
func (s *Schema) Index(name string) int {
	for i, f := range s.Fields {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// Names returns the column names.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

func (s *Schema) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		b.WriteByte(' ')
		b.WriteString(f.Type.String())
		if !f.Nullable {
			b.WriteString(" NOT NULL")
		}
	}
	b.WriteByte(')')
	return b.String()
}
