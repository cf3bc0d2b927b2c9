package snap

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestVectorKeepsDecimalType checks that a DECIMAL vector round-trips with
// its precision and scale, and that restoring it as another DECIMAL type
// fails naming both types instead of reading values at the wrong scale.
func TestVectorKeepsDecimalType(t *testing.T) {
	typ := runtime.DecimalType(12, 3)
	v := runtime.Vector{Type: typ}
	v.AppendInt(384087632)
	v.AppendNull()
	v.AppendInt(-5)
	e := NewEncoder("test", 64)
	e.Vector(&v, nil)
	e.Int64(42)
	data := e.Finish()

	d, err := Open("test", data)
	if err != nil {
		t.Fatal(err)
	}
	got := runtime.Vector{Type: typ}
	if n := d.Vector(&got, typ); n != 3 || d.Int64() != 42 || d.Done() != nil {
		t.Fatalf("read %d rows, err %v", n, d.Err())
	}
	if got.Value(0).String() != "384087.632" || !got.IsNull(1) || got.Value(2).String() != "-0.005" {
		t.Fatalf("read back %v %v %v", got.Value(0), got.Value(1), got.Value(2))
	}

	d, _ = Open("test", data)
	other := runtime.Vector{Type: runtime.DecimalType(12, 2)}
	d.Vector(&other, other.Type)
	if err := d.Err(); err == nil || !strings.Contains(err.Error(), "DECIMAL(12, 3)") || !strings.Contains(err.Error(), "DECIMAL(12, 2)") {
		t.Fatalf("restoring as DECIMAL(12, 2): error %v", err)
	}
}
