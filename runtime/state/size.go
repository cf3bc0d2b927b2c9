package state

import (
	"reflect"
	"unsafe"
)

// Sizer may be implemented by state value types to report their size in
// bytes; it replaces the reflection-based estimate used for types that are
// neither fixed-size nor strings or byte slices.
type Sizer interface {
	StateSize() int
}

// sizerFor returns a function estimating the bytes a value of T holds:
// unsafe.Sizeof for types without pointers, header plus length for strings
// and byte slices, StateSize for Sizers, and a reflective walk otherwise.
func sizerFor[T any]() func(T) int64 {
	t := reflect.TypeFor[T]()
	if fixed(t) {
		n := int64(t.Size())
		return func(T) int64 { return n }
	}
	if t.Implements(reflect.TypeFor[Sizer]()) {
		return func(v T) int64 { return int64(any(v).(Sizer).StateSize()) }
	}
	switch {
	case t.Kind() == reflect.String:
		return func(v T) int64 { return 16 + int64(len(*(*string)(unsafe.Pointer(&v)))) }
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return func(v T) int64 { return 24 + int64(len(*(*[]byte)(unsafe.Pointer(&v)))) }
	}
	return func(v T) int64 { return int64(t.Size()) + deepSize(reflect.ValueOf(&v).Elem(), 0) }
}

// fixed reports whether values of t hold no pointers (their size is
// t.Size()).
func fixed(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return fixed(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !fixed(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// deepSize estimates the memory v refers to beyond its own inline size.
// It stops at a small depth: an estimate, not an accounting of cycles.
func deepSize(v reflect.Value, depth int) int64 {
	if depth > 8 {
		return 0
	}
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		et := v.Type().Elem()
		n := int64(v.Cap()) * int64(et.Size())
		if !fixed(et) {
			for i := range v.Len() {
				n += deepSize(v.Index(i), depth+1)
			}
		}
		return n
	case reflect.Array:
		if fixed(v.Type().Elem()) {
			return 0
		}
		var n int64
		for i := range v.Len() {
			n += deepSize(v.Index(i), depth+1)
		}
		return n
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			n += deepSize(v.Field(i), depth+1)
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + deepSize(e, depth+1)
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		kt, vt := v.Type().Key(), v.Type().Elem()
		n := int64(v.Len()) * (int64(kt.Size()) + int64(vt.Size()) + 8)
		if !fixed(kt) || !fixed(vt) {
			it := v.MapRange()
			for it.Next() {
				n += deepSize(it.Key(), depth+1) + deepSize(it.Value(), depth+1)
			}
		}
		return n
	}
	return 0
}
