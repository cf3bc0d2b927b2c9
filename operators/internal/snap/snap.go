// Package snap is the binary framing and encoding of operator snapshots
// (runtime.Snapshotter): flat little-endian arrays behind a small header and
// a checksum, so that a checkpoint of millions of groups is a few bulk
// copies, and a corrupt or foreign snapshot is refused instead of restored.
//
// Format, version 1:
//
//	"SLOP" version:byte kind (uvarint length, bytes)
//	body: as the operator writes it with the Encoder
//	CRC-32C (Castagnoli) of everything before it: 4 bytes little endian
//
// Fixed-width integers and floats are little endian; counts and small
// numbers are uvarints. Errors for a bad snapshot match
// state.ErrCorruptSnapshot (errors.Is).
package snap

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

const (
	magic   = "SLOP"
	version = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encoder appends a snapshot to a byte slice that it owns until Finish
// hands it over.
type Encoder struct {
	buf []byte
}

// NewEncoder starts a snapshot of the given operator kind (such as
// "tumbling window"), with room for about size bytes.
func NewEncoder(kind string, size int) *Encoder {
	e := &Encoder{buf: make([]byte, 0, size+len(magic)+len(kind)+16)}
	e.buf = append(e.buf, magic...)
	e.buf = append(e.buf, version)
	e.String(kind)
	return e
}

// Finish appends the checksum and returns the snapshot, which the caller
// owns.
func (e *Encoder) Finish() []byte {
	crc := crc32.Checksum(e.buf, castagnoli)
	b := binary.LittleEndian.AppendUint32(e.buf, crc)
	e.buf = nil
	return b
}

// Len is the number of bytes written so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Uvarint appends x as a uvarint.
func (e *Encoder) Uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

// Int appends a non-negative int (a count or an index) as a uvarint.
func (e *Encoder) Int(x int) { e.Uvarint(uint64(x)) }

// Int64 appends x in 8 bytes.
func (e *Encoder) Int64(x int64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(x)) }

// Bool appends one byte, 0 or 1.
func (e *Encoder) Bool(x bool) {
	var b byte
	if x {
		b = 1
	}
	e.buf = append(e.buf, b)
}

// Raw appends p as it is (for tests that seal bodies of their own).
func (e *Encoder) Raw(p []byte) { e.buf = append(e.buf, p...) }

// Bytes appends a length-prefixed byte string.
func (e *Encoder) Bytes(p []byte) {
	e.Int(len(p))
	e.buf = append(e.buf, p...)
}

// String appends a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Int(len(s))
	e.buf = append(e.buf, s...)
}

// grow makes room for n more bytes and returns the slice to fill.
func (e *Encoder) grow(n int) []byte {
	l := len(e.buf)
	if cap(e.buf)-l < n {
		nb := make([]byte, l, 2*cap(e.buf)+n)
		copy(nb, e.buf)
		e.buf = nb
	}
	e.buf = e.buf[:l+n]
	return e.buf[l:]
}

// Int64s appends a count and the values, 8 bytes each.
func (e *Encoder) Int64s(xs []int64) {
	e.Int(len(xs))
	p := e.grow(8 * len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint64(p[8*i:], uint64(x))
	}
}

// Int32s appends a count and the values, 4 bytes each.
func (e *Encoder) Int32s(xs []int32) {
	e.Int(len(xs))
	p := e.grow(4 * len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(p[4*i:], uint32(x))
	}
}

// Float64s appends a count and the values' IEEE 754 bits, 8 bytes each.
func (e *Encoder) Float64s(xs []float64) {
	e.Int(len(xs))
	p := e.grow(8 * len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint64(p[8*i:], math.Float64bits(x))
	}
}

// Strings appends a count and the length-prefixed strings.
func (e *Encoder) Strings(xs []string) {
	e.Int(len(xs))
	for _, s := range xs {
		e.String(s)
	}
}

// Vector appends the type, then rows rows of v (all of them when rows is
// nil): values, and NULL flags if any row is NULL.
func (e *Encoder) Vector(v *runtime.Vector, rows []int32) {
	e.buf = append(e.buf, byte(v.Type))
	if v.Type.IsDecimal() {
		e.buf = append(e.buf, byte(v.Type.Precision()), byte(v.Type.Scale()))
	}
	n := v.Len()
	if rows != nil {
		n = len(rows)
	}
	e.Int(n)
	hasNull := false
	if v.Null != nil {
		if rows == nil {
			for _, x := range v.Null {
				hasNull = hasNull || x
			}
		} else {
			for _, r := range rows {
				hasNull = hasNull || v.Null[r]
			}
		}
	}
	e.Bool(hasNull)
	if hasNull {
		p := e.grow(n)
		for i := range p {
			r := i
			if rows != nil {
				r = int(rows[i])
			}
			if v.Null[r] {
				p[i] = 1
			} else {
				p[i] = 0
			}
		}
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		p := e.grow(8 * n)
		for i := 0; i < n; i++ {
			r := i
			if rows != nil {
				r = int(rows[i])
			}
			binary.LittleEndian.PutUint64(p[8*i:], math.Float64bits(v.F64[r]))
		}
	case runtime.PhysString:
		for i := 0; i < n; i++ {
			r := i
			if rows != nil {
				r = int(rows[i])
			}
			e.String(v.Str[r])
		}
	default:
		p := e.grow(8 * n)
		for i := 0; i < n; i++ {
			r := i
			if rows != nil {
				r = int(rows[i])
			}
			binary.LittleEndian.PutUint64(p[8*i:], uint64(v.I64[r]))
		}
	}
}

// Decoder reads a snapshot written by an Encoder. The first error sticks:
// reads after it return zero values, and Err reports it.
type Decoder struct {
	buf []byte
	off int
	err error
}

// Open checks the framing and checksum of data, a snapshot of the given
// operator kind, and returns a decoder of its body.
func Open(kind string, data []byte) (*Decoder, error) {
	if len(data) < len(magic)+1+1+4 {
		return nil, corrupt("truncated: %d bytes", len(data))
	}
	if string(data[:len(magic)]) != magic {
		return nil, corrupt("not an operator snapshot (starts with %q)", data[:len(magic)])
	}
	body := data[:len(data)-4]
	want := binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != want {
		return nil, corrupt("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	if v := data[len(magic)]; v != version {
		return nil, corrupt("version %d, this build reads version %d", v, version)
	}
	d := &Decoder{buf: body, off: len(magic) + 1}
	if k := d.String(); d.err != nil || k != kind {
		if d.err != nil {
			return nil, d.err
		}
		return nil, corrupt("snapshot of a %s, not of a %s", k, kind)
	}
	return d, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", state.ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// Err returns the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Fail records a malformed body found by the caller.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt("at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

// Done fails unless the whole body has been read, and returns Err.
func (d *Decoder) Done() error {
	if d.err == nil && d.off != len(d.buf) {
		d.Fail("%d bytes left over", len(d.buf)-d.off)
	}
	return d.err
}

// take returns the next n bytes, or nil after an error.
func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.Fail("truncated: want %d bytes, %d left", n, len(d.buf)-d.off)
		return nil
	}
	p := d.buf[d.off : d.off+n]
	d.off += n
	return p
}

// Uvarint reads a uvarint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.Fail("bad uvarint")
		return 0
	}
	d.off += n
	return x
}

// Int reads a count or index written by Encoder.Int; it fails above max.
func (d *Decoder) Int(max int) int {
	x := d.Uvarint()
	if x > uint64(max) {
		d.Fail("value %d over its bound %d", x, max)
		return 0
	}
	return int(x)
}

// count reads a count of items of at least size bytes each, bounded by
// what is left.
func (d *Decoder) count(size int) int {
	return d.Int((len(d.buf) - d.off) / max(size, 1))
}

// Int64 reads 8 bytes.
func (d *Decoder) Int64() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(p))
}

// Bool reads one byte, 0 or 1.
func (d *Decoder) Bool() bool {
	p := d.take(1)
	if p == nil {
		return false
	}
	if p[0] > 1 {
		d.Fail("bad boolean %d", p[0])
	}
	return p[0] == 1
}

// Bytes reads a length-prefixed byte string; the result aliases the
// snapshot.
func (d *Decoder) Bytes() []byte { return d.take(d.count(1)) }

// String reads a length-prefixed string.
func (d *Decoder) String() string { return string(d.Bytes()) }

// Int64s reads values written by Encoder.Int64s, appending them to dst.
func (d *Decoder) Int64s(dst []int64) []int64 {
	n := d.count(8)
	p := d.take(8 * n)
	if p == nil {
		return dst
	}
	for i := 0; i < n; i++ {
		dst = append(dst, int64(binary.LittleEndian.Uint64(p[8*i:])))
	}
	return dst
}

// Int32s reads values written by Encoder.Int32s, appending them to dst.
func (d *Decoder) Int32s(dst []int32) []int32 {
	n := d.count(4)
	p := d.take(4 * n)
	if p == nil {
		return dst
	}
	for i := 0; i < n; i++ {
		dst = append(dst, int32(binary.LittleEndian.Uint32(p[4*i:])))
	}
	return dst
}

// Float64s reads values written by Encoder.Float64s, appending them to dst.
func (d *Decoder) Float64s(dst []float64) []float64 {
	n := d.count(8)
	p := d.take(8 * n)
	if p == nil {
		return dst
	}
	for i := 0; i < n; i++ {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:])))
	}
	return dst
}

// Strings reads values written by Encoder.Strings, appending them to dst.
func (d *Decoder) Strings(dst []string) []string {
	n := d.count(1)
	for i := 0; i < n && d.err == nil; i++ {
		dst = append(dst, d.String())
	}
	return dst
}

// Vector reads a vector written by Encoder.Vector, which must be of type
// t, appending its rows to v (whose Type is t). It returns the number of
// rows read.
func (d *Decoder) Vector(v *runtime.Vector, t runtime.Type) int {
	p := d.take(1)
	if p == nil {
		return 0
	}
	got := runtime.Type(p[0])
	if got == runtime.Decimal {
		ps := d.take(2)
		if ps == nil {
			return 0
		}
		got = runtime.DecimalType(int(ps[0]), int(ps[1]))
	}
	if got != t {
		d.Fail("column of type %v, want %v", got, t)
		return 0
	}
	n := d.count(1)
	n0 := v.Len()
	if d.Bool() {
		nulls := d.take(n)
		if nulls == nil {
			return 0
		}
		if v.Null == nil {
			v.Null = make([]bool, n0, n0+n)
		}
		for _, b := range nulls {
			v.Null = append(v.Null, b != 0)
		}
	} else if v.Null != nil {
		for i := 0; i < n; i++ {
			v.Null = append(v.Null, false)
		}
	}
	switch t.Physical() {
	case runtime.PhysFloat:
		q := d.take(8 * n)
		for i := 0; q != nil && i < n; i++ {
			v.F64 = append(v.F64, math.Float64frombits(binary.LittleEndian.Uint64(q[8*i:])))
		}
	case runtime.PhysString:
		for i := 0; i < n && d.err == nil; i++ {
			v.Str = append(v.Str, d.String())
		}
	default:
		q := d.take(8 * n)
		for i := 0; q != nil && i < n; i++ {
			v.I64 = append(v.I64, int64(binary.LittleEndian.Uint64(q[8*i:])))
		}
	}
	if d.err != nil {
		return 0
	}
	return n
}
