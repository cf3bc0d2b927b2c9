package gostreams

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestDecimalColumnsConvertExactly checks that Go values convert into a
// DECIMAL column exactly (text, integers, floats by their shortest form)
// and come out as the exact decimal text.
func TestDecimalColumnsConvertExactly(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "d", Type: runtime.DecimalType(10, 2), Nullable: true})
	b := runtime.NewBatch(s)
	for _, x := range []any{"384087.632", 7, 0.1, int64(-3), nil} {
		if err := DefaultToRow(map[string]any{"d": x}, b); err != nil {
			t.Fatalf("%v: %v", x, err)
		}
	}
	want := []any{"384087.63", "7.00", "0.10", "-3.00", nil}
	for i, w := range want {
		if got := DefaultFromRow(b, i).(map[string]any)["d"]; got != w {
			t.Errorf("row %d: %#v, want %#v", i, got, w)
		}
	}
	for _, bad := range []any{"abc", 123456789012, 1e12, true} {
		if err := DefaultToRow(map[string]any{"d": bad}, b); err == nil {
			t.Errorf("%v converted", bad)
		}
	}
}
