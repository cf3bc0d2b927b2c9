package oracle

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

func TestFormatQuotesTextAsSQLiteDoes(t *testing.T) {
	sqlite := needSQLite(t)
	texts := []string{"a-b", "a_b", "a:b/c?d&e=f", "a'b", `a"b`, "é", "a;b", "a b", " a", "", "a,b", "tab\tx", "x~", "a\x7fb"}
	var sel []string
	for _, s := range texts {
		sel = append(sel, "'"+strings.ReplaceAll(s, "'", "''")+"'")
	}
	out, err := run(sqlite, "SELECT "+strings.Join(sel, ", ")+", NULL, 12;", "-csv", "-nullvalue", Null, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	var row []runtime.Value
	for _, s := range texts {
		row = append(row, runtime.StringValue(s))
	}
	row = append(row, runtime.NullValue(runtime.Varchar), runtime.IntValue(12))
	if got, want := Format("q0", row), strings.TrimSuffix(string(out), "\n"); got != want {
		t.Fatalf("Format:\n%s\nsqlite3:\n%s", got, want)
	}
	// q1's price is a DECIMAL; q0's dateTime a TIMESTAMP.
	if got := Format("q1", []runtime.Value{runtime.IntValue(1), runtime.IntValue(2), runtime.FloatValue(908.0004), runtime.TimeValue(1436918400000)}); got != "1,2,908.000,1436918400000" {
		t.Fatalf("q1 row: %s", got)
	}
}

func TestApplyKeepsTheFinalStateAndRefusesStrayRetractions(t *testing.T) {
	I, UB, UA, D := runtime.Insert, runtime.UpdateBefore, runtime.UpdateAfter, runtime.Delete
	got, err := Apply([]string{"a,1", "b,1", "a,1", "a,2", "b,1", "c,1", "c,1"}, []runtime.RowKind{I, I, UB, UA, D, I, I})
	if err != nil || strings.Join(got, ";") != "a,2;c,1;c,1" {
		t.Fatalf("Apply: %v, %v", got, err)
	}
	if _, err := Apply([]string{"a,1", "a,1"}, []runtime.RowKind{I, D, D}); err == nil {
		t.Fatal("Apply took 3 kinds for 2 rows")
	}
	_, err = Apply([]string{"a,1", "a,2"}, []runtime.RowKind{I, UB})
	if err == nil || err.Error() != "row 1 (-U) retracts a,2, which the result does not hold" {
		t.Fatalf("a stray retraction: %v", err)
	}
}
