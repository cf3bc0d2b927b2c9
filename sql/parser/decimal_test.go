package parser

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// TestDecimalColumnTypes checks that DDL declares DECIMAL(p, s) columns,
// with Flink's defaults for DECIMAL and DECIMAL(p).
func TestDecimalColumnTypes(t *testing.T) {
	stmts, err := ParseScript("CREATE TABLE t (a DECIMAL(10, 2), b NUMERIC, c DEC(5), d decimal(18, 18), e ROW<x DECIMAL(4, 1)>)")
	if err != nil {
		t.Fatal(err)
	}
	cols := stmts[0].Node.(*CreateTable).Columns
	want := []runtime.Type{runtime.DecimalType(10, 2), runtime.DecimalType(10, 0), runtime.DecimalType(5, 0), runtime.DecimalType(18, 18)}
	for i, w := range want {
		if cols[i].Type != w {
			t.Errorf("column %s is %s, want %s", cols[i].Name, cols[i].Type, w)
		}
	}
	if got := cols[4].TypeString(); got != "ROW<`x` DECIMAL(4, 1)>" {
		t.Errorf("ROW column is %s", got)
	}
}

// Flink's DDL writes DECIMAL(23, 3) (Nexmark q1's sink): it is taken as
// written and held as DECIMAL(18, 3).
func TestWideDecimalIsKeptAt18Digits(t *testing.T) {
	stmts, err := ParseScript("CREATE TABLE t (a DECIMAL(23, 3), b DECIMAL(38, 30))")
	if err != nil {
		t.Fatal(err)
	}
	cols := stmts[0].Node.(*CreateTable).Columns
	if cols[0].Type != runtime.DecimalType(18, 3) || cols[1].Type != runtime.DecimalType(18, 18) {
		t.Fatalf("got %v, %v; want DECIMAL(18, 3), DECIMAL(18, 18)", cols[0].Type, cols[1].Type)
	}
}
