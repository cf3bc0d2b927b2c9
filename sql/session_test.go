package sql

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

const sessionTable = `CREATE TABLE t (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '5')`

func TestSessionKeepsTablesAndSettingsBetweenPieces(t *testing.T) {
	var got *rttest.Collector
	var updating bool
	s, err := NewSession(Options{Parallelism: 2, Collect: func(schema *runtime.Schema, upd bool) func() runtime.Operator {
		var newOp func() runtime.Operator
		got, newOp = rttest.NewCollector(schema)
		updating = upd
		return newOp
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if plan, err := s.Compile("a", sessionTable); err != nil || plan.Graph != nil {
		t.Fatalf("CREATE TABLE: plan %v, err %v", plan, err)
	}
	if _, err := s.Compile("b", "SET 'sluice.state.max-keys' = '7'"); err != nil {
		t.Fatal(err)
	}
	plan, err := s.Compile("c", "SELECT id % 2 AS k, COUNT(*) AS n FROM t GROUP BY id % 2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Explain(), "'sluice.state.max-keys' = '7'") || !strings.Contains(plan.Explain(), `"sink collect", parallelism 1`) {
		t.Fatalf("the SELECT's plan lacks the session's SET or the collect sink:\n%s", plan.Explain())
	}
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	if !updating {
		t.Fatal("a GROUP BY without a window was not collected as updating")
	}
	final := map[string]bool{}
	for _, l := range got.Changelog() {
		final[l] = true
	}
	if !(final["+I1,3"] || final["+U1,3"]) || !(final["+I0,2"] || final["+U0,2"]) {
		t.Fatalf("changelog %v lacks the final counts (1: 3, 0: 2)", got.Changelog())
	}
	if err := s.Reset(""); err != nil || len(s.Settings()) != 0 {
		t.Fatalf("RESET left %v (err %v)", s.Settings(), err)
	}
	if err := s.Reset("table.exec.state.tll"); err == nil || !strings.Contains(err.Error(), "table.exec.state.ttl") {
		t.Fatalf("RESET of an unknown key: %v, want the keys listed", err)
	}
}

func TestSessionErrorKeepsEarlierStatementsOfThePiece(t *testing.T) {
	s, err := NewSession(Options{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Compile("<stdin>", sessionTable+";\nSELECT idd FROM t")
	if err == nil || !strings.Contains(err.Error(), `<stdin>:3:8: unknown column "idd"`) {
		t.Fatalf("err %v, want <stdin>:3:8", err)
	}
	if _, err := s.Compile("<stdin>", "DESCRIBE t"); err != nil {
		t.Fatalf("the table created before the error is gone: %v", err)
	}
}
