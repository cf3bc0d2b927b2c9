package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicehq/sluice/runtime"
)

// Key encoding: per key column, a tag byte — the column's runtime.Type,
// with the high bit set for NULL — then, unless NULL, 8 bytes big endian
// for integer-class types and DOUBLE (whose -0 is stored as +0, as the
// exchange hashes it), or a uvarint length and
// the bytes for VARCHAR. A DECIMAL's tag is followed by its precision and
// scale bytes. Tags and lengths make the encoding unambiguous.
const nullTag = 0x80

// EncodeKey appends the encoding of the key columns cols of physical row
// row of b to buf and returns it. Equal keys (as the keyed exchange sees
// them) encode to equal bytes and different keys to different bytes.
func EncodeKey(b *runtime.Batch, row int, cols []int, buf []byte) []byte {
	for _, c := range cols {
		v := &b.Cols[c]
		t := v.Type
		if v.Null != nil && v.Null[row] {
			buf = append(buf, byte(t)|nullTag)
			if t.IsDecimal() {
				buf = append(buf, byte(t.Precision()), byte(t.Scale()))
			}
			continue
		}
		buf = append(buf, byte(t))
		if t.IsDecimal() {
			buf = append(buf, byte(t.Precision()), byte(t.Scale()))
		}
		switch t.Physical() {
		case runtime.PhysString:
			buf = binary.AppendUvarint(buf, uint64(len(v.Str[row])))
			buf = append(buf, v.Str[row]...)
		case runtime.PhysFloat:
			buf = binary.BigEndian.AppendUint64(buf, floatBits(v.F64[row]))
		default:
			buf = binary.BigEndian.AppendUint64(buf, uint64(v.I64[row]))
		}
	}
	return buf
}

func floatBits(f float64) uint64 {
	if f == 0 {
		return 0
	}
	return math.Float64bits(f)
}

// DecodeKey returns the column values of a key made by EncodeKey, for
// debugging, error messages and timers that emit their key.
func DecodeKey(key string) ([]runtime.Value, error) {
	var out []runtime.Value
	for i := 0; i < len(key); {
		tag := key[i]
		t := runtime.Type(tag &^ nullTag)
		if t == runtime.Decimal && i+2 < len(key) {
			t = runtime.DecimalType(int(key[i+1]), int(key[i+2]))
			i += 2
		}
		if !t.Valid() {
			return nil, fmt.Errorf("bad key: unknown type tag %#x at byte %d", tag, i)
		}
		i++
		if tag&nullTag != 0 {
			out = append(out, runtime.NullValue(t))
			continue
		}
		switch t.Physical() {
		case runtime.PhysString:
			n, w := binary.Uvarint([]byte(key[i:min(len(key), i+binary.MaxVarintLen64)]))
			var canon [binary.MaxVarintLen64]byte
			if w <= 0 || n > uint64(len(key)-i-w) || w != len(binary.AppendUvarint(canon[:0], n)) {
				return nil, fmt.Errorf("bad key: string length at byte %d", i)
			}
			i += w
			out = append(out, runtime.Value{Type: t, S: key[i : i+int(n)]})
			i += int(n)
		default:
			if len(key)-i < 8 {
				return nil, errors.New("bad key: truncated number")
			}
			x := binary.BigEndian.Uint64([]byte(key[i : i+8]))
			i += 8
			if t.Physical() == runtime.PhysFloat {
				out = append(out, runtime.Value{Type: t, F: math.Float64frombits(x)})
			} else {
				out = append(out, runtime.Value{Type: t, I: int64(x)})
			}
		}
	}
	return out, nil
}

// KeyString formats a key made by EncodeKey as comma-separated values, or
// quotes its bytes when it is not such a key.
func KeyString(key string) string {
	vals, err := DecodeKey(key)
	if err != nil {
		return fmt.Sprintf("%q", key)
	}
	buf := make([]byte, 0, len(key)+8)
	for i, v := range vals {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, v.String()...)
	}
	return string(buf)
}
