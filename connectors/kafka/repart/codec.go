package repart

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicehq/sluice/runtime"
)

// version is the first byte of every record value.
const version = 1

// kind is what a record carries.
type kind uint8

const (
	kData      kind = 1 + iota // rows and their changelog kinds
	kWatermark                 // the producer's watermark
	kIdle                      // the producer holds back nothing
	kActive                    // the producer holds back the watermark again
	kEnd                       // the producer's input has ended
	kCommit                    // checkpoint N of an attempt counts: release [M, N)
)

var kindNames = [...]string{"?", "DATA", "WATERMARK", "IDLE", "ACTIVE", "END", "COMMIT"}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// header is the part of a record every kind has (see the package doc).
type header struct {
	kind     kind
	producer int
	attempt  string
	label    int64 // the segment label; COMMIT: the checkpoint N
	prev     int64 // COMMIT: the previous commit M
	seq      uint64
	wm       int64 // WATERMARK
}

// appendHeader appends the encoding of h to dst.
func appendHeader(dst []byte, h header) []byte {
	dst = append(dst, version, byte(h.kind))
	dst = binary.AppendUvarint(dst, uint64(h.producer))
	dst = binary.AppendUvarint(dst, uint64(len(h.attempt)))
	dst = append(dst, h.attempt...)
	dst = binary.AppendUvarint(dst, uint64(h.label))
	if h.kind == kCommit {
		return binary.AppendUvarint(dst, uint64(h.prev))
	}
	dst = binary.AppendUvarint(dst, h.seq)
	if h.kind == kWatermark {
		dst = binary.AppendVarint(dst, h.wm)
	}
	return dst
}

// reader decodes bytes, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.b = nil
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or bad %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or bad %s", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// nonNeg is uvarint for a value that must fit an int64.
func (r *reader) nonNeg(what string) int64 {
	v := r.uvarint(what)
	if v > math.MaxInt64 {
		r.fail("%s %d out of range", what, v)
		return 0
	}
	return int64(v)
}

func (r *reader) bytes(n uint64, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("truncated %s (%d bytes, %d left)", what, n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte1(what string) byte {
	if b := r.bytes(1, what); len(b) == 1 {
		return b[0]
	}
	return 0
}

// decodeHeader decodes the header of a record value and returns the rest
// (a DATA record's rows).
func decodeHeader(v []byte) (header, []byte, error) {
	var h header
	r := &reader{b: v}
	if ver := r.byte1("version"); r.err == nil && ver != version {
		return h, nil, fmt.Errorf("unknown record version %d (this build reads %d)", ver, version)
	}
	h.kind = kind(r.byte1("kind"))
	if r.err == nil && (h.kind < kData || h.kind > kCommit) {
		return h, nil, fmt.Errorf("unknown record kind %d", uint8(h.kind))
	}
	p := r.uvarint("producer")
	if p > math.MaxInt32 {
		r.fail("producer %d out of range", p)
	}
	h.producer = int(p)
	h.attempt = string(r.bytes(r.uvarint("attempt length"), "attempt"))
	h.label = r.nonNeg("label")
	if h.kind == kCommit {
		h.prev = r.nonNeg("previous commit")
	} else {
		h.seq = r.uvarint("sequence number")
		if h.kind == kWatermark {
			h.wm = r.varint("watermark")
		}
	}
	if r.err != nil {
		return h, nil, r.err
	}
	if h.kind != kData && len(r.b) > 0 {
		return h, nil, fmt.Errorf("%d bytes after a %s record", len(r.b), h.kind)
	}
	return h, r.b, nil
}

// appendRows appends the DATA body of the present rows of b to dst:
// uvarint rows, uvarint columns, a kinds byte (0: all +I; 1: one kind byte
// per row follows), then per column its storage class byte, a nulls byte
// (0: none; 1: a bitmap of ceil(rows/8) bytes follows) and the values of
// its non-NULL rows (integers: zigzag varints; floats: 8 bytes little
// endian; strings: uvarint length and bytes).
func appendRows(dst []byte, b *runtime.Batch) []byte {
	n := b.Len()
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = binary.AppendUvarint(dst, uint64(len(b.Cols)))
	if b.Kinds == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		for i := range n {
			dst = append(dst, byte(b.Kinds[b.Row(i)]))
		}
	}
	for c := range b.Cols {
		v := &b.Cols[c]
		phys := v.Type.Physical()
		dst = append(dst, byte(phys))
		hasNull := false
		if v.Null != nil {
			for i := range n {
				if v.Null[b.Row(i)] {
					hasNull = true
					break
				}
			}
		}
		if hasNull {
			dst = append(dst, 1)
			start := len(dst)
			dst = append(dst, make([]byte, (n+7)/8)...)
			for i := range n {
				if v.Null[b.Row(i)] {
					dst[start+i/8] |= 1 << (i % 8)
				}
			}
		} else {
			dst = append(dst, 0)
		}
		for i := range n {
			r := b.Row(i)
			if hasNull && v.Null[r] {
				continue
			}
			switch phys {
			case runtime.PhysFloat:
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.F64[r]))
			case runtime.PhysString:
				dst = binary.AppendUvarint(dst, uint64(len(v.Str[r])))
				dst = append(dst, v.Str[r]...)
			default:
				dst = binary.AppendVarint(dst, v.I64[r])
			}
		}
	}
	return dst
}

// decodeRows appends the rows of a DATA body to out, whose columns must
// be those the rows were written with. On error out may hold part of them.
func decodeRows(body []byte, out *runtime.Batch) error {
	r := &reader{b: body}
	n64 := r.uvarint("row count")
	cols := r.uvarint("column count")
	if r.err != nil {
		return r.err
	}
	// Every row takes at least one byte (of a column or of its kind) or
	// one bit of a NULL bitmap: a count beyond that is corrupt.
	if n64 > 8*uint64(len(r.b))+8 {
		return fmt.Errorf("row count %d in %d bytes", n64, len(r.b))
	}
	n := int(n64)
	if cols != uint64(len(out.Cols)) {
		return fmt.Errorf("%d columns, the table has %d", cols, len(out.Cols))
	}
	base := out.N
	var kinds []byte
	switch r.byte1("kinds flag") {
	case 0:
	case 1:
		kinds = r.bytes(uint64(n), "row kinds")
	default:
		if r.err == nil {
			return errors.New("bad kinds flag")
		}
	}
	if r.err != nil {
		return r.err
	}
	for _, k := range kinds {
		if k > byte(runtime.Delete) {
			return fmt.Errorf("bad row kind %d", k)
		}
	}
	for c := range out.Cols {
		v := &out.Cols[c]
		phys := runtime.Physical(r.byte1("column class"))
		if r.err == nil && phys != v.Type.Physical() {
			return fmt.Errorf("column %d (%s) holds values of class %d, the table's are %s", c, out.Schema.Fields[c].Name, phys, v.Type)
		}
		var nulls []byte
		switch r.byte1("nulls flag") {
		case 0:
		case 1:
			nulls = r.bytes(uint64((n+7)/8), "null bitmap")
		default:
			if r.err == nil {
				return errors.New("bad nulls flag")
			}
		}
		if r.err != nil {
			return r.err
		}
		for i := range n {
			if nulls != nil && nulls[i/8]&(1<<(i%8)) != 0 {
				v.AppendNull()
				continue
			}
			switch phys {
			case runtime.PhysFloat:
				b := r.bytes(8, "float")
				if r.err != nil {
					return r.err
				}
				v.AppendFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
			case runtime.PhysString:
				s := r.bytes(r.uvarint("string length"), "string")
				if r.err != nil {
					return r.err
				}
				v.AppendString(string(s))
			default:
				x := r.varint("integer")
				if r.err != nil {
					return r.err
				}
				v.AppendInt(x)
			}
		}
	}
	if len(r.b) > 0 {
		return fmt.Errorf("%d bytes after the rows", len(r.b))
	}
	if kinds != nil {
		for i, k := range kinds {
			out.SetKind(base+i, runtime.RowKind(k))
		}
	} else if out.Kinds != nil {
		for i := range n {
			out.SetKind(base+i, runtime.Insert)
		}
	}
	out.N += n
	return nil
}

// appendKey appends the bytes the partition of a row's key is computed
// from: per key column a NULL byte 0, or 1 and the value (integers 8 bytes
// big endian, floats their IEEE bits with -0 as 0, strings uvarint length
// and bytes). The same values give the same bytes in every process.
func appendKey(dst []byte, b *runtime.Batch, r int, cols []int) []byte {
	for _, c := range cols {
		v := &b.Cols[c]
		if v.IsNull(r) {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		switch v.Type.Physical() {
		case runtime.PhysFloat:
			f := v.F64[r]
			if f == 0 {
				f = 0
			}
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
		case runtime.PhysString:
			dst = binary.AppendUvarint(dst, uint64(len(v.Str[r])))
			dst = append(dst, v.Str[r]...)
		default:
			dst = binary.BigEndian.AppendUint64(dst, uint64(v.I64[r]))
		}
	}
	return dst
}
