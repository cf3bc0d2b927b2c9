package runtime

import (
	"fmt"
	"testing"
)

// TestTruncateKeepsTheFirstRows: Truncate keeps the first n rows and their
// nulls, and clears the strings it cuts off.
func TestTruncateKeepsTheFirstRows(t *testing.T) {
	for _, typ := range []Type{BigInt, Double, Varchar} {
		v := Vector{Type: typ}
		for i := 0; i < 5; i++ {
			if i == 1 {
				v.AppendNull()
				continue
			}
			v.AppendValue(Value{Type: typ, I: int64(i), F: float64(i), S: fmt.Sprint(i)})
		}
		want := []Value{v.Value(0), v.Value(1), v.Value(2)}
		full := v.Str
		v.Truncate(3)
		if v.Len() != 3 || len(v.Null) > 3 {
			t.Fatalf("%s: %d rows, %d null flags after Truncate(3)", typ, v.Len(), len(v.Null))
		}
		for i, w := range want {
			if got := v.Value(i); got.String() != w.String() {
				t.Fatalf("%s: row %d is %s, want %s", typ, i, got, w)
			}
		}
		if typ == Varchar && (full[3] != "" || full[4] != "") {
			t.Fatalf("strings cut off are kept: %q", full[3:5])
		}
	}
}
