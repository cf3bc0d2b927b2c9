package nexmark

import (
	"strings"
	"unicode/utf8"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
)

// CountCharClass is the Java class of Nexmark's CountChar UDF, which its
// q14 creates with CREATE FUNCTION count_char AS '…'. The package ships the
// function in Go as NEXMARK_COUNT_CHAR and registers it under this class,
// so that q14 runs as written.
const CountCharClass = "com.github.nexmark.flink.udf.CountChar"

func init() {
	err := expr.RegisterFunction("NEXMARK_COUNT_CHAR", expr.Func{
		Params:   []runtime.Type{runtime.Varchar, runtime.Varchar},
		Result:   runtime.BigInt,
		NullArgs: true,
		Eval:     countChar,
	})
	if err == nil {
		err = expr.RegisterClass(CountCharClass, "NEXMARK_COUNT_CHAR")
	}
	if err != nil {
		panic(err) // a name clash between packages of this module: a bug
	}
}

// countChar is NEXMARK_COUNT_CHAR(s, c): how many times the first character
// of c occurs in s, as Nexmark's Java CountChar counts it: 0 for a NULL s,
// NULL for a NULL or empty c.
func countChar(args []*runtime.Vector, out *runtime.Vector, null []bool, _ func(int, error)) {
	s, c := args[0], args[1]
	for i := range null {
		if null[i] {
			continue
		}
		if c.IsNull(i) || c.Str[i] == "" {
			null[i] = true
			continue
		}
		if s.IsNull(i) {
			out.I64[i] = 0
			continue
		}
		_, n := utf8.DecodeRuneInString(c.Str[i])
		out.I64[i] = int64(strings.Count(s.Str[i], c.Str[i][:n]))
	}
}
