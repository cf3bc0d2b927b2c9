package state

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"reflect"
)

// Codec encodes the values of a state for snapshots.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the result.
	Append(dst []byte, v T) ([]byte, error)
	// Decode decodes a value from exactly the bytes Append produced. It
	// must not keep src. Bad input is an error, never a panic.
	Decode(src []byte) (T, error)
}

// Built-in codecs.
var (
	Int64Codec   Codec[int64]   = int64Codec{}
	IntCodec     Codec[int]     = intCodec{}
	Float64Codec Codec[float64] = float64Codec{}
	StringCodec  Codec[string]  = stringCodec{}
	BoolCodec    Codec[bool]    = boolCodec{}
	BytesCodec   Codec[[]byte]  = bytesCodec{}
)

// DefaultCodec returns the built-in codec for T when there is one (int64,
// int, float64, string, bool, []byte) and GobCodec[T] otherwise.
func DefaultCodec[T any]() Codec[T] {
	var c any
	switch reflect.TypeFor[T]() {
	case reflect.TypeFor[int64]():
		c = Int64Codec
	case reflect.TypeFor[int]():
		c = IntCodec
	case reflect.TypeFor[float64]():
		c = Float64Codec
	case reflect.TypeFor[string]():
		c = StringCodec
	case reflect.TypeFor[bool]():
		c = BoolCodec
	case reflect.TypeFor[[]byte]():
		c = BytesCodec
	default:
		return GobCodec[T]()
	}
	return c.(Codec[T])
}

// GobCodec encodes values of any type gob can encode (exported struct
// fields, maps, slices, ...). Each value carries its own type description,
// so it is compact only for small types: prefer a built-in or hand-written
// codec on hot state.
func GobCodec[T any]() Codec[T] { return gobCodec[T]{} }

type gobCodec[T any] struct{}

func (gobCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(&v); err != nil {
		return dst, fmt.Errorf("gob: cannot encode %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

func (gobCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if err := gob.NewDecoder(bytes.NewReader(src)).Decode(&v); err != nil {
		return v, fmt.Errorf("gob: cannot decode %T: %w", v, err)
	}
	return v, nil
}

type int64Codec struct{}

func (int64Codec) Append(dst []byte, v int64) ([]byte, error) {
	return binary.AppendVarint(dst, v), nil
}

func (int64Codec) Decode(src []byte) (int64, error) {
	v, n := binary.Varint(src)
	if n <= 0 || n != len(src) {
		return 0, fmt.Errorf("bad int64 encoding (%d bytes)", len(src))
	}
	return v, nil
}

type intCodec struct{}

func (intCodec) Append(dst []byte, v int) ([]byte, error) {
	return binary.AppendVarint(dst, int64(v)), nil
}

func (intCodec) Decode(src []byte) (int, error) {
	v, err := int64Codec{}.Decode(src)
	if err != nil || int64(int(v)) != v {
		return 0, fmt.Errorf("bad int encoding (%d bytes)", len(src))
	}
	return int(v), nil
}

type float64Codec struct{}

func (float64Codec) Append(dst []byte, v float64) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)), nil
}

func (float64Codec) Decode(src []byte) (float64, error) {
	if len(src) != 8 {
		return 0, fmt.Errorf("bad float64 encoding (%d bytes)", len(src))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(src)), nil
}

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringCodec) Decode(src []byte) (string, error)           { return string(src), nil }

type boolCodec struct{}

func (boolCodec) Append(dst []byte, v bool) ([]byte, error) {
	if v {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}

func (boolCodec) Decode(src []byte) (bool, error) {
	if len(src) != 1 || src[0] > 1 {
		return false, fmt.Errorf("bad bool encoding (%d bytes)", len(src))
	}
	return src[0] == 1, nil
}

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }

// Decode returns nil for an empty value: a snapshot does not tell an empty
// slice from a nil one.
func (bytesCodec) Decode(src []byte) ([]byte, error) {
	if len(src) == 0 {
		return nil, nil
	}
	return bytes.Clone(src), nil
}
