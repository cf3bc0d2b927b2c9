package nexmark

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sql/parser"
)

func TestEveryQueryIsThereAsWritten(t *testing.T) {
	for _, q := range Queries() {
		s, err := Query(q)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s, "${") || !strings.Contains(s, "INSERT INTO nexmark_"+q) {
			t.Errorf("%s: a ${…} placeholder left, or no INSERT INTO nexmark_%s", q, q)
		}
	}
	if _, err := Query("q23"); err == nil || !strings.Contains(err.Error(), `no Nexmark query "q23"`) {
		t.Fatalf("q23: %v", err)
	}
}

func TestDDLTableParses(t *testing.T) {
	// The table parses today; the views (CREATE VIEW) come with the new planner.
	table, views, ok := strings.Cut(DDL(), "CREATE VIEW")
	if !ok || strings.Count(views, "CREATE VIEW") != 2 {
		t.Fatal("ddl.sql: want the table, then three views")
	}
	stmts, err := parser.ParseScript(table)
	if err != nil {
		t.Fatal(err)
	}
	ct := stmts[len(stmts)-1].Node.(*parser.CreateTable)
	if got := strings.Join(ct.Schema().Names(), ","); !strings.HasPrefix(got, "event_type,person.id,person.name,") ||
		!strings.HasSuffix(got, "bid.dateTime,bid.extra,dateTime") {
		t.Fatalf("columns %s", got)
	}
}

func TestFlinkFiguresCoverEveryQuery(t *testing.T) {
	figs, err := FlinkFigures()
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != len(Queries()) {
		t.Fatalf("%d figures, want %d", len(figs), len(Queries()))
	}
	for i, f := range figs {
		if f.Query != Queries()[i] {
			t.Fatalf("row %d is %s, want %s", i, f.Query, Queries()[i])
		}
		if (f.V1PerCore == 0 || f.V2PerCore == 0) != (f.Query == "q6") {
			t.Errorf("%s: %v, %v events/s per core (only q6 has none)", f.Query, f.V1PerCore, f.V2PerCore)
		}
	}
	// Spot checks against GUIDE_V1.md and GUIDE_V2.md.
	if figs[0].V1PerCore != 155020 || figs[5].V1PerCore != 22140 || figs[22].V2PerCore != 211688 {
		t.Fatalf("q0 %v, q5 %v, q22 v2 %v", figs[0].V1PerCore, figs[5].V1PerCore, figs[22].V2PerCore)
	}
	if h := FlinkHardware(); !strings.Contains(h, "3 workers of 8 cores") || !strings.Contains(h, "4 workers of 16 cores") {
		t.Fatalf("hardware:\n%s", h)
	}
}
