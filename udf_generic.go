package sluice

import (
	"time"
	"unsafe"

	rt "github.com/sluicehq/sluice/runtime"
)

// The generic fast paths below call a func of up to two value parameters
// of the mapped types without reflection: one instantiation per signature,
// chosen once at registration.

// goScalar are the Go types RegisterFunction maps to SQL types.
type goScalar interface {
	int64 | int32 | float64 | string | bool | time.Time
}

type evalFunc = func([]*rt.Vector, *rt.Vector, []bool, func(int, error))

// as reinterprets x as T, which the caller knows is x's type.
func as[T, X any](x X) T { return *(*T)(unsafe.Pointer(&x)) }

// getter reads row i of a vector as a T.
func getter[T goScalar]() func(v *rt.Vector, i int) T {
	var zero T
	switch any(zero).(type) {
	case int64:
		return func(v *rt.Vector, i int) T { return as[T](v.I64[i]) }
	case int32:
		return func(v *rt.Vector, i int) T { return as[T](int32(v.I64[i])) }
	case float64:
		return func(v *rt.Vector, i int) T { return as[T](v.F64[i]) }
	case string:
		return func(v *rt.Vector, i int) T { return as[T](v.Str[i]) }
	case bool:
		return func(v *rt.Vector, i int) T { return as[T](v.I64[i] != 0) }
	}
	return func(v *rt.Vector, i int) T { return as[T](time.UnixMilli(v.I64[i]).UTC()) }
}

// setter writes x to row i of out.
func setter[T goScalar]() func(out *rt.Vector, i int, x T) {
	var zero T
	switch any(zero).(type) {
	case int64:
		return func(out *rt.Vector, i int, x T) { out.I64[i] = as[int64](x) }
	case int32:
		return func(out *rt.Vector, i int, x T) { out.I64[i] = int64(as[int32](x)) }
	case float64:
		return func(out *rt.Vector, i int, x T) { out.F64[i] = as[float64](x) }
	case string:
		return func(out *rt.Vector, i int, x T) { out.Str[i] = as[string](x) }
	case bool:
		return func(out *rt.Vector, i int, x T) { out.I64[i] = b2i(as[bool](x)) }
	}
	return func(out *rt.Vector, i int, x T) { out.I64[i] = as[time.Time](x).UnixMilli() }
}

func fast0[R goScalar](fn any) evalFunc {
	set := setter[R]()
	switch f := fn.(type) {
	case func() R:
		return func(_ []*rt.Vector, out *rt.Vector, null []bool, _ func(int, error)) {
			for i := range null {
				set(out, i, f())
			}
		}
	case func() (R, error):
		return func(_ []*rt.Vector, out *rt.Vector, null []bool, fail func(int, error)) {
			for i := range null {
				r, err := f()
				if err != nil {
					fail(i, err)
					continue
				}
				set(out, i, r)
			}
		}
	}
	return nil
}

func fast1[A, R goScalar](fn any) evalFunc {
	get, set := getter[A](), setter[R]()
	switch f := fn.(type) {
	case func(A) R:
		return func(a []*rt.Vector, out *rt.Vector, null []bool, _ func(int, error)) {
			for i := range null {
				if !null[i] {
					set(out, i, f(get(a[0], i)))
				}
			}
		}
	case func(A) (R, error):
		return func(a []*rt.Vector, out *rt.Vector, null []bool, fail func(int, error)) {
			for i := range null {
				if null[i] {
					continue
				}
				r, err := f(get(a[0], i))
				if err != nil {
					fail(i, err)
					continue
				}
				set(out, i, r)
			}
		}
	}
	return nil
}

func fast2[A, B, R goScalar](fn any) evalFunc {
	getA, getB, set := getter[A](), getter[B](), setter[R]()
	switch f := fn.(type) {
	case func(A, B) R:
		return func(a []*rt.Vector, out *rt.Vector, null []bool, _ func(int, error)) {
			for i := range null {
				if !null[i] {
					set(out, i, f(getA(a[0], i), getB(a[1], i)))
				}
			}
		}
	case func(A, B) (R, error):
		return func(a []*rt.Vector, out *rt.Vector, null []bool, fail func(int, error)) {
			for i := range null {
				if null[i] {
					continue
				}
				r, err := f(getA(a[0], i), getB(a[1], i))
				if err != nil {
					fail(i, err)
					continue
				}
				set(out, i, r)
			}
		}
	}
	return nil
}

// firstOf returns the first non-nil of the evals it is given.
func firstOf(fs ...func() evalFunc) evalFunc {
	for _, f := range fs {
		if e := f(); e != nil {
			return e
		}
	}
	return nil
}

func byResult0(fn any) evalFunc {
	return firstOf(
		func() evalFunc { return fast0[int64](fn) }, func() evalFunc { return fast0[int32](fn) },
		func() evalFunc { return fast0[float64](fn) }, func() evalFunc { return fast0[string](fn) },
		func() evalFunc { return fast0[bool](fn) }, func() evalFunc { return fast0[time.Time](fn) })
}

func byResult1[A goScalar](fn any) evalFunc {
	return firstOf(
		func() evalFunc { return fast1[A, int64](fn) }, func() evalFunc { return fast1[A, int32](fn) },
		func() evalFunc { return fast1[A, float64](fn) }, func() evalFunc { return fast1[A, string](fn) },
		func() evalFunc { return fast1[A, bool](fn) }, func() evalFunc { return fast1[A, time.Time](fn) })
}

func byResult2[A, B goScalar](fn any) evalFunc {
	return firstOf(
		func() evalFunc { return fast2[A, B, int64](fn) }, func() evalFunc { return fast2[A, B, int32](fn) },
		func() evalFunc { return fast2[A, B, float64](fn) }, func() evalFunc { return fast2[A, B, string](fn) },
		func() evalFunc { return fast2[A, B, bool](fn) }, func() evalFunc { return fast2[A, B, time.Time](fn) })
}

func bySecond[A goScalar](fn any) evalFunc {
	return firstOf(
		func() evalFunc { return byResult2[A, int64](fn) }, func() evalFunc { return byResult2[A, int32](fn) },
		func() evalFunc { return byResult2[A, float64](fn) }, func() evalFunc { return byResult2[A, string](fn) },
		func() evalFunc { return byResult2[A, bool](fn) }, func() evalFunc { return byResult2[A, time.Time](fn) })
}

// genericEval returns an Eval for a func of zero, one or two value
// parameters (no pointers), or nil.
func genericEval(fn any, params int) evalFunc {
	switch params {
	case 0:
		return byResult0(fn)
	case 1:
		return firstOf(
			func() evalFunc { return byResult1[int64](fn) }, func() evalFunc { return byResult1[int32](fn) },
			func() evalFunc { return byResult1[float64](fn) }, func() evalFunc { return byResult1[string](fn) },
			func() evalFunc { return byResult1[bool](fn) }, func() evalFunc { return byResult1[time.Time](fn) })
	case 2:
		return firstOf(
			func() evalFunc { return bySecond[int64](fn) }, func() evalFunc { return bySecond[int32](fn) },
			func() evalFunc { return bySecond[float64](fn) }, func() evalFunc { return bySecond[string](fn) },
			func() evalFunc { return bySecond[bool](fn) }, func() evalFunc { return bySecond[time.Time](fn) })
	}
	return nil
}
