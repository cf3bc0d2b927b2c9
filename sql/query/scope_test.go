package query

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

var (
	orders = runtime.NewSchema(
		runtime.Field{Name: "id", Type: runtime.BigInt},
		runtime.Field{Name: "amount", Type: runtime.Double},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "Region", Type: runtime.Varchar},
	)
	shipments = runtime.NewSchema(
		runtime.Field{Name: "id", Type: runtime.BigInt},
		runtime.Field{Name: "order_id", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
	)
)

func TestResolve(t *testing.T) {
	s, err := NewScope(Relation{Name: "orders", Alias: "o", Schema: orders}, Relation{Name: "shipments", Schema: shipments})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Schema().Names(), ","); got != "id,amount,ts,Region,id,order_id,ts" {
		t.Errorf("schema %s", got)
	}
	if s.Offset(1) != 4 {
		t.Errorf("offset of shipments %d", s.Offset(1))
	}
	f := func(qualifier, name string, want int, wantErr string) {
		t.Helper()
		i, err := s.Resolve(qualifier, name)
		switch {
		case err != nil && err.Error() != wantErr, err == nil && wantErr != "":
			t.Errorf("Resolve(%q, %q) error %v, want %s", qualifier, name, err, wantErr)
		case err == nil && i != want:
			t.Errorf("Resolve(%q, %q) = %d, want %d", qualifier, name, i, want)
		}
	}
	f("", "amount", 1, "")
	f("", "REGION", 3, "")
	f("", "order_id", 5, "")
	f("O", "Amount", 1, "")
	f("o", "ts", 2, "")
	f("shipments", "ts", 6, "")
	f("shipments", "id", 4, "")
	f("", "ts", 0, `column "ts" is ambiguous: both o and shipments have it (write o.ts or shipments.ts)`)
	f("", "amout", 0, `unknown column "amout" (did you mean "amount"?)`)
	f("", "qqqqqqqq", 0, `unknown column "qqqqqqqq" (columns: id, amount, ts, Region, id, order_id, ts)`)
	f("orders", "ts", 0, `table orders is called o in this query: write o.ts`)
	f("shipment", "ts", 0, `unknown table "shipment" (did you mean "shipments"?)`)
	f("zzzz", "ts", 0, `unknown table "zzzz" (tables: o, shipments)`)
	f("o", "order_id", 0, `unknown column "o.order_id" (columns of o: id, amount, ts, Region)`)
	f("shipments", "amount", 0, `unknown column "shipments.amount" (columns of shipments: id, order_id, ts)`)

	none, err := NewScope()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Resolve("", "x"); err == nil || err.Error() != `unknown column "x": the query has no FROM` {
		t.Errorf("no FROM: %v", err)
	}
	if _, err := NewScope(Relation{Name: "t", Schema: orders}, Relation{Name: "u", Alias: "T", Schema: orders}); err == nil ||
		err.Error() != `table name "T" is used twice: give one of them an alias` {
		t.Errorf("same refs: %v", err)
	}
}

// TestJoinScope resolves the columns of a join through a parsed query: a
// column both sides have is referred to by position, any other by name.
func TestJoinScope(t *testing.T) {
	q := mustParse(t, `SELECT o.ts, amount * 2, s.id
FROM orders o JOIN shipments s ON o.id = s.order_id
WHERE ts > o.ts`)
	sel := q.Selects[0]
	scope, err := sel.From.Scope(orders, shipments)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range sel.Items {
		sc, err := q.Scalar(scope, it.Expr, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, sc.Expr.String())
	}
	on, err := q.Predicate(scope, sel.From.On, Options{Clause: "ON"})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, on.Expr.String())
	if want := "$2|amount * 2|$4|$0 = order_id"; strings.Join(got, "|") != want {
		t.Errorf("got %s, want %s", strings.Join(got, "|"), want)
	}
	_, err = q.Predicate(scope, sel.Where, Options{Clause: "WHERE"})
	if want := `line 9:7: column "ts" is ambiguous: both o and s have it (write o.ts or s.ts) in "ts"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if _, err := sel.From.Scope(orders); err == nil {
		t.Error("Scope with one schema for two tables")
	}
	if s, err := (*From)(nil).Scope(); err != nil || s.Schema().Len() != 0 {
		t.Errorf("scope of no FROM: %v %v", s, err)
	}
}

// TestTableOfAnUnaliasedSubqueryQualifiesItsColumnsOutside checks Inner
// names: over (SELECT A.id, B.ts AS ts, B.amount AS price, * FROM …)
// without an alias, A.id and B.ts name its columns (Nexmark q6), an
// aliased item or one after * does not, a relation called A wins, and two
// subqueries that both define A.id make it unknown.
func TestTableOfAnUnaliasedSubqueryQualifiesItsColumnsOutside(t *testing.T) {
	q, err := Parse("SELECT 1 FROM (SELECT A.id, B.ts AS ts, B.amount AS price, *, A.Region FROM orders A, shipments B)", Pos{Line: 1, Col: 1})
	if err != nil {
		t.Fatal(err)
	}
	inner := q.Selects[0].From.Sub.InnerColumns()
	if len(inner) != 2 || inner["a.id"] != 0 || inner["b.ts"] != 1 {
		t.Fatalf("inner names %v, want a.id → 0, b.ts → 1", inner)
	}
	sub := Relation{Name: "$subquery1", Schema: orders, Inner: inner}
	s, err := NewScope(sub)
	if err != nil {
		t.Fatal(err)
	}
	if i, err := s.Resolve("a", "ID"); err != nil || i != 0 {
		t.Errorf("A.id: %d, %v", i, err)
	}
	if i, err := s.Resolve("B", "ts"); err != nil || i != 1 {
		t.Errorf("B.ts: %d, %v", i, err)
	}
	if _, err := s.Resolve("B", "amount"); err == nil || !strings.Contains(err.Error(), `unknown table "B"`) {
		t.Errorf("B.amount (aliased price): %v", err)
	}
	s, _ = NewScope(Relation{Name: "orders", Alias: "A", Schema: shipments}, sub)
	if i, err := s.Resolve("A", "id"); err != nil || i != 0 {
		t.Errorf("A.id with a relation A: %d, %v", i, err)
	}
	s, _ = NewScope(sub, Relation{Name: "$subquery2", Schema: orders, Inner: inner})
	if _, err := s.Resolve("A", "id"); err == nil {
		t.Error("A.id of two subqueries resolved")
	}
	if q.Selects[0].From.Sub.Name != "$subquery1" {
		t.Fatal(q.Selects[0].From.Sub.Name)
	}
	named, _ := Parse("SELECT 1 FROM (SELECT A.id FROM orders A) AS s", Pos{Line: 1, Col: 1})
	if named.Selects[0].From.Sub.InnerColumns() != nil {
		t.Error("an aliased subquery has inner names")
	}
}
