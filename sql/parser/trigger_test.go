package parser

import (
	"strings"
	"testing"
)

func TestCreateAndDropFunctionTrigger(t *testing.T) {
	stmts, err := ParseScript("CREATE FUNCTION TRIGGER IF NOT EXISTS notify ON STREAM orders\n  WITH ('endpoint' = 'http://127.0.0.1:9000/fn', 'batch.size' = '10');\n" +
		"DROP FUNCTION TRIGGER IF EXISTS notify;\nDROP FUNCTION TRIGGER notify;\nCREATE FUNCTION trigger AS 'go:x'")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := stmts[0].Node.(*CreateTrigger)
	if !ok || c.Name != "notify" || !c.IfNotExists || c.OnQueue || c.Source != "orders" || c.SourcePos != (Pos{1, 56}) || len(c.Options) != 2 ||
		c.Options[1].Key != "batch.size" || c.Options[1].Value != "10" || stmts[0].Kind != KindCreateTrigger || stmts[0].Kind.String() != "CREATE FUNCTION TRIGGER" {
		t.Fatalf("%+v", stmts[0].Node)
	}
	d, ok := stmts[1].Node.(*DropTrigger)
	if !ok || d.Name != "notify" || !d.IfExists || stmts[1].Kind != KindDropTrigger {
		t.Fatalf("%+v", stmts[1].Node)
	}
	if d := stmts[2].Node.(*DropTrigger); d.Name != "notify" || d.IfExists {
		t.Fatalf("%+v", d)
	}
	q, err := ParseScript("CREATE FUNCTION TRIGGER work ON QUEUE jobs WITH ('command' = 'cat')")
	if err != nil {
		t.Fatal(err)
	}
	if c := q[0].Node.(*CreateTrigger); !c.OnQueue || c.Source != "jobs" || c.SourcePos != (Pos{1, 39}) {
		t.Fatalf("%+v", c)
	}
	q, err = ParseScript("CREATE FUNCTION TRIGGER work ON QUEUE orders.fifo WITH ('command' = 'cat');\nCREATE FUNCTION TRIGGER w2 ON QUEUE `a.fifo` WITH ('command' = 'cat')")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := q[0].Node.(*CreateTrigger), q[1].Node.(*CreateTrigger); a.Source != "orders.fifo" || b.Source != "a.fifo" {
		t.Fatalf("%+v %+v", a, b)
	}
	// A function called "trigger" is still a function.
	if f, ok := stmts[3].Node.(*CreateFunction); !ok || f.Name != "trigger" {
		t.Fatalf("%+v", stmts[3].Node)
	}
}

// TestFunctionTriggerErrorsNameThePlace: parse errors carry line:column.
func TestFunctionTriggerErrorsNameThePlace(t *testing.T) {
	for src, want := range map[string]string{
		"CREATE FUNCTION TRIGGER f STREAM s WITH ('a' = 'b')":      `line 1:27: expected ON`,
		"CREATE FUNCTION TRIGGER f ON TOPIC s WITH ('a' = 'b')":    `line 1:30: expected STREAM or QUEUE after ON`,
		"CREATE FUNCTION TRIGGER f ON QUEUE q":                     `line 1:37: expected WITH`,
		"CREATE FUNCTION TRIGGER f ON STREAM s":                    `line 1:38: expected WITH`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH ('a' = b)":     `line 1:51: option values are quoted strings`,
		"CREATE FUNCTION TRIGGER f ON STREAM s WITH ('a' = 'b') x": `line 1:56:`,
		"DROP FUNCTION TRIGGER f g":                                `line 1:25:`,
	} {
		_, err := ParseScript(src)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v, want %s…", src, err, want)
		}
	}
}
