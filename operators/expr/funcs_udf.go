package expr

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/runtime"
)

// Func is a user-defined scalar function as Compile calls it: a batch of
// rows at a time. Register one with RegisterFunction (the root package's
// sluice.RegisterFunction builds one from a plain Go func).
type Func struct {
	// Params are the types of the arguments. An argument of a narrower
	// numeric type is widened (INT → BIGINT → DOUBLE); any other mismatch
	// is a compile error naming the function and the argument.
	Params []runtime.Type
	// Result is the type of the values.
	Result runtime.Type
	// NullArgs makes Eval see the rows whose arguments are NULL (in the
	// vectors' Null). When false, such a row is NULL without Eval
	// computing it (null[i] is true when Eval is called): NULL in, NULL
	// out.
	NullArgs bool
	// Volatile stops constant folding: a call with constant arguments is
	// evaluated for every row rather than once at compile time.
	Volatile bool
	// Eval computes rows [0, len(null)) from args (one vector per
	// parameter, of the parameter's type, compact: row i of each is row i
	// of the batch) into out, whose I64, F64 or Str (by Result's storage)
	// has len(null) rows. It skips the rows whose null[i] is true on entry
	// and sets null[i] for a NULL result. A row that fails is reported to
	// fail (its result is then ignored) and makes the evaluation fail with
	// a *FuncError; Eval carries on with the other rows. Eval is called by
	// many subtasks at once, so it must be safe for concurrent use, and it
	// must not keep args or out.
	Eval func(args []*runtime.Vector, out *runtime.Vector, null []bool, fail func(row int, err error))
}

// FuncError is the error of an evaluation in which a user-defined function
// failed for a row: Row is the physical row of the evaluated batch, Expr
// the text of the call and Err what the function returned.
type FuncError struct {
	Func string
	Expr string
	Row  int
	Err  error
}

func (e *FuncError) Error() string {
	return fmt.Sprintf("function %s failed in %q: %v", e.Func, e.Expr, e.Err)
}

func (e *FuncError) Unwrap() error { return e.Err }

// ErrFunctionExists is wrapped by the error of RegisterFunction for a name
// that is taken.
var ErrFunctionExists = errors.New("function already exists")

var (
	udfMu    sync.RWMutex
	udfs     = map[string]*udf{}
	reserved = map[string]string{} // names RegisterFunction refuses, and what they are
)

// ReserveFunctionNames makes RegisterFunction refuse names (in any case),
// saying they are what: a front end reserves the names it gives a meaning
// of its own (SQL's aggregate and window functions, its aliases).
func ReserveFunctionNames(what string, names ...string) {
	udfMu.Lock()
	defer udfMu.Unlock()
	for _, n := range names {
		reserved[strings.ToUpper(n)] = what
	}
}

type udf struct {
	Func
	name string
}

// RegisterFunction makes f callable as name (case-insensitive) in every
// expression compiled afterwards. name must be an identifier (letters,
// digits, underscores, not starting with a digit) and neither a built-in
// function nor one registered before (the error then wraps
// ErrFunctionExists).
func RegisterFunction(name string, f Func) error {
	if !isIdent(name) {
		return fmt.Errorf("function name %q is not an identifier (letters, digits and _, not starting with a digit)", name)
	}
	if f.Eval == nil {
		return fmt.Errorf("function %s: Eval is nil", name)
	}
	for i, t := range append(append([]runtime.Type(nil), f.Params...), f.Result) {
		if t == runtime.Invalid || t > runtime.Timestamp {
			what := "the result"
			if i < len(f.Params) {
				what = "parameter " + fmt.Sprint(i+1)
			}
			return fmt.Errorf("function %s: %s has invalid type %s", name, what, t)
		}
	}
	up := strings.ToUpper(name)
	if _, ok := functions[up]; ok {
		return fmt.Errorf("%w: %s is a built-in function", ErrFunctionExists, up)
	}
	udfMu.Lock()
	defer udfMu.Unlock()
	if what, ok := reserved[up]; ok {
		return fmt.Errorf("%w: %s is %s", ErrFunctionExists, up, what)
	}
	if _, ok := udfs[up]; ok {
		return fmt.Errorf("%w: %s is registered already", ErrFunctionExists, up)
	}
	f.Params = append([]runtime.Type(nil), f.Params...)
	udfs[up] = &udf{Func: f, name: up}
	return nil
}

var classes = map[string]string{} // identifier → function name (upper case); guarded by udfMu

// RegisterClass lets CREATE FUNCTION name AS 'identifier' name the
// function fn (built in or registered) by an identifier of another
// system's, such as the Java class of a UDF whose Go version a package
// ships. Identifiers are case-sensitive.
func RegisterClass(identifier, fn string) error {
	if !IsFunction(fn) {
		return fmt.Errorf("class %s: no function %s", identifier, fn)
	}
	udfMu.Lock()
	defer udfMu.Unlock()
	if prev, ok := classes[identifier]; ok && prev != strings.ToUpper(fn) {
		return fmt.Errorf("%w: class %s names %s", ErrFunctionExists, identifier, prev)
	}
	classes[identifier] = strings.ToUpper(fn)
	return nil
}

// ClassFunction returns the function RegisterClass gave identifier.
func ClassFunction(identifier string) (string, bool) {
	udfMu.RLock()
	defer udfMu.RUnlock()
	fn, ok := classes[identifier]
	return fn, ok
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func lookupUDF(name string) *udf {
	udfMu.RLock()
	defer udfMu.RUnlock()
	return udfs[name]
}

// widens reports whether a value of type from is passed as a parameter of
// type to (numbers widen, never narrow).
func widens(from, to runtime.Type) bool {
	switch {
	case from == to:
		return true
	case from == runtime.Int:
		return to == runtime.BigInt || to == runtime.Double
	case from == runtime.BigInt:
		return to == runtime.Double
	}
	return false
}

func (u *udf) compile(c *compiler, e *callExpr, args []*node) (*node, error) {
	for i, a := range args {
		p := u.Params[i]
		if !isNullConst(a) && !widens(a.typ, p) {
			return nil, errorf(e, "%s's %s argument is %s, not %s", e.name, ordinal(i+1), a.typ, p)
		}
		args[i] = retype(c.coerce(a, p), p)
	}
	n := &node{typ: u.Result, nullable: true, col: -1, faults: c.f}
	vs := make([]vec, len(args))
	parts := make([]*runtime.Vector, len(args))
	text := e.String()
	var cur *runtime.Batch
	fail := func(row int, err error) {
		if cur == nil || row < 0 || row >= cur.Len() {
			return
		}
		if err == nil {
			err = errors.New("failed")
		}
		c.f.list = append(c.f.list, fault{row: int32(cur.Row(row)), expr: text, typ: u.Result, fn: u.name, err: err})
	}
	n.eval = func(b *runtime.Batch, dst *vec) *runtime.Vector {
		nn := b.Len()
		out := dst.reset(u.Result, nn)
		null := dst.nulls(nn)
		for k, a := range args {
			parts[k] = a.eval(b, &vs[k])
			if !u.NullArgs && parts[k].Null != nil {
				orBools(null, null, parts[k].Null)
			}
		}
		cur = b
		u.Eval(parts, out, null, fail)
		cur = nil
		return out
	}
	if u.Volatile {
		return n, nil
	}
	return fold(n, args...), nil
}
