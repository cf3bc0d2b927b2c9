package delivery

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestParquetDecimalColumn checks that a DECIMAL(p, s) column is written
// as Parquet's DECIMAL over INT64 with its precision and scale, holding
// the unscaled value.
func TestParquetDecimalColumn(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "price", Type: runtime.DecimalType(10, 2), Nullable: true})
	pq, leaf, opt := parquetSchema("t", s)
	l, _ := pq.Lookup("price")
	typ := l.Node.Type()
	if lt := typ.LogicalType(); lt == nil || lt.String() != "DECIMAL(10,2)" || !strings.Contains(typ.Kind().String(), "INT64") {
		t.Fatalf("price is %v (%v)", typ, typ.Kind())
	}
	e := &encoder{pq: pq, leaf: leaf, optional: opt}
	b := runtime.NewBatch(s)
	b.AppendValues(runtime.DecimalValue(-38408763, 10, 2))
	row, err := e.parquetRow(nil, b, 0)
	if err != nil || row[leaf[0]].Int64() != -38408763 {
		t.Fatalf("row %v, %v", row, err)
	}
}
