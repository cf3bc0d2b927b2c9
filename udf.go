package sluice

import (
	"fmt"
	"reflect"
	"time"

	"github.com/sluicehq/sluice/operators/expr"
	rt "github.com/sluicehq/sluice/runtime"
)

// RegisterFunction makes the Go function fn callable as name from SQL
// (sql.Compile, the sluice command's jobs) and from expressions
// (expr.Call(name, …)) compiled afterwards. Names are case-insensitive
// and may not be taken by a built-in or an earlier registration. Register
// at program start, before compiling jobs; fn is called by many subtasks
// at once, so it must be safe for concurrent use.
//
// fn's parameters and result map to SQL types: int64 BIGINT, int32 INT,
// float64 DOUBLE, string VARCHAR, bool BOOLEAN and time.Time TIMESTAMP(3)
// (milliseconds, UTC). An argument of a narrower number type is widened
// (INT → BIGINT → DOUBLE). A call with a NULL argument is NULL without
// calling fn, unless the parameter is a pointer (*int64, *string, …),
// which is nil for NULL; a pointer result returns NULL as nil. fn may
// return an error as its last result: the row then fails the job's
// evaluation (an *expr.FuncError naming the function and the row), as an
// integer overflow does. A call with constant arguments is evaluated once,
// at compile time, so fn must be deterministic.
//
//	sluice.RegisterFunction("count_char", func(s, c string) int64 {
//		return int64(strings.Count(s, c))
//	})
//
//	SELECT count_char(extra, 'c') FROM bid
func RegisterFunction(name string, fn any) error {
	f, err := goFunc(name, fn)
	if err != nil {
		return err
	}
	return expr.RegisterFunction(name, f)
}

// goType maps a parameter or result type of a Go func to its SQL type.
var goTypes = map[reflect.Type]rt.Type{
	reflect.TypeFor[int64]():     rt.BigInt,
	reflect.TypeFor[int32]():     rt.Int,
	reflect.TypeFor[float64]():   rt.Double,
	reflect.TypeFor[string]():    rt.Varchar,
	reflect.TypeFor[bool]():      rt.Boolean,
	reflect.TypeFor[time.Time](): rt.Timestamp,
}

var errorType = reflect.TypeFor[error]()

func sqlTypeOf(t reflect.Type) (rt.Type, bool, bool) {
	ptr := t.Kind() == reflect.Pointer
	if ptr {
		t = t.Elem()
	}
	st, ok := goTypes[t]
	return st, ptr, ok
}

const goTypeList = "int64, int32, float64, string, bool, time.Time, or pointers to them"

// goFunc checks fn's signature, once, and builds the engine's Func for it:
// a loop over the batch without reflection for funcs of up to two value
// parameters (udf_generic.go), else one through reflect (pointers, more
// parameters).
func goFunc(name string, fn any) (expr.Func, error) {
	v := reflect.ValueOf(fn)
	if fn == nil || v.Kind() != reflect.Func || v.IsNil() {
		return expr.Func{}, fmt.Errorf("function %s: %T is not a func", name, fn)
	}
	t := v.Type()
	if t.IsVariadic() {
		return expr.Func{}, fmt.Errorf("function %s: variadic funcs are not supported", name)
	}
	var f expr.Func
	ptrs := make([]bool, t.NumIn())
	for i := range t.NumIn() {
		st, ptr, ok := sqlTypeOf(t.In(i))
		if !ok {
			return expr.Func{}, fmt.Errorf("function %s: parameter %d has type %s (types: %s)", name, i+1, t.In(i), goTypeList)
		}
		f.Params = append(f.Params, st)
		ptrs[i] = ptr
		f.NullArgs = f.NullArgs || ptr
	}
	nout := t.NumOut()
	hasErr := nout == 2 && t.Out(1) == errorType
	if nout == 0 || nout > 2 || nout == 2 && !hasErr {
		return expr.Func{}, fmt.Errorf("function %s: it must return one value, optionally followed by an error", name)
	}
	rtyp, rptr, ok := sqlTypeOf(t.Out(0))
	if !ok {
		return expr.Func{}, fmt.Errorf("function %s: the result has type %s (types: %s)", name, t.Out(0), goTypeList)
	}
	f.Result = rtyp
	if !f.NullArgs && !rptr {
		if g := genericEval(fn, len(f.Params)); g != nil {
			f.Eval = g
			return f, nil
		}
	}
	f.Eval = reflectEval(v, ptrs, rptr, hasErr)
	return f, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// reflectEval calls fn through reflection, reusing the argument values of
// a batch (they are settable copies, made once per call of Eval).
func reflectEval(fn reflect.Value, ptrs []bool, rptr, hasErr bool) func([]*rt.Vector, *rt.Vector, []bool, func(int, error)) {
	t := fn.Type()
	return func(a []*rt.Vector, out *rt.Vector, null []bool, fail func(int, error)) {
		in := make([]reflect.Value, len(a))
		vals := make([]reflect.Value, len(a)) // the settable values (the pointees of pointers)
		for k := range a {
			pt := t.In(k)
			if ptrs[k] {
				p := reflect.New(pt.Elem())
				vals[k], in[k] = p.Elem(), p
			} else {
				vals[k] = reflect.New(pt).Elem()
				in[k] = vals[k]
			}
		}
		nilArgs := make([]reflect.Value, len(a))
		for k := range a {
			if ptrs[k] {
				nilArgs[k] = reflect.Zero(t.In(k))
			}
		}
		args := make([]reflect.Value, len(a))
	rows:
		for i := range null {
			if null[i] {
				continue
			}
			for k, v := range a {
				if v.Null != nil && v.Null[i] {
					if !ptrs[k] { // NULL into a value parameter: NULL
						null[i] = true
						continue rows
					}
					args[k] = nilArgs[k]
					continue
				}
				setValue(vals[k], v, i)
				args[k] = in[k]
			}
			res := fn.Call(args)
			if hasErr {
				if err, _ := res[1].Interface().(error); err != nil {
					fail(i, err)
					continue
				}
			}
			r := res[0]
			if rptr {
				if r.IsNil() {
					null[i] = true
					continue
				}
				r = r.Elem()
			}
			getValue(r, out, i)
		}
	}
}

func setValue(dst reflect.Value, v *rt.Vector, i int) {
	switch v.Type {
	case rt.Boolean:
		dst.SetBool(v.I64[i] != 0)
	case rt.Int, rt.BigInt:
		dst.SetInt(v.I64[i])
	case rt.Double:
		dst.SetFloat(v.F64[i])
	case rt.Varchar:
		dst.SetString(v.Str[i])
	case rt.Timestamp:
		dst.Set(reflect.ValueOf(time.UnixMilli(v.I64[i]).UTC()))
	}
}

func getValue(r reflect.Value, out *rt.Vector, i int) {
	switch out.Type {
	case rt.Boolean:
		out.I64[i] = b2i(r.Bool())
	case rt.Int, rt.BigInt:
		out.I64[i] = r.Int()
	case rt.Double:
		out.F64[i] = r.Float()
	case rt.Varchar:
		out.Str[i] = r.String()
	case rt.Timestamp:
		out.I64[i] = r.Interface().(time.Time).UnixMilli()
	}
}

// ErrFunctionExists is wrapped by the error of RegisterFunction for a name
// a built-in or an earlier registration has.
var ErrFunctionExists = expr.ErrFunctionExists
