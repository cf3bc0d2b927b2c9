package query

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

func TestRowFieldsResolveUnlessATableHasTheName(t *testing.T) {
	events := runtime.NewSchema(
		runtime.Field{Name: "event_type", Type: runtime.Int},
		runtime.Field{Name: "person.id", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "person.name", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "bid.price", Type: runtime.BigInt, Nullable: true},
	)
	person := runtime.NewSchema(runtime.Field{Name: "id", Type: runtime.BigInt}, runtime.Field{Name: "city", Type: runtime.Varchar})
	one, err := NewScope(Relation{Name: "nexmark", Schema: events})
	if err != nil {
		t.Fatal(err)
	}
	// A table called person wins over the ROW column person, as in Flink.
	two, err := NewScope(Relation{Name: "nexmark", Alias: "n", Schema: events}, Relation{Name: "people", Alias: "person", Schema: person})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s               *Scope
		qualifier, name string
		want            int
		err             string
	}{
		{one, "person", "id", 1, ""},
		{one, "PERSON", "Name", 2, ""},
		{one, "", "bid.price", 3, ""},
		{one, "nexmark", "person.id", 1, ""}, // nexmark.person.id
		{one, "bid", "prize", -1, `ROW column bid has no field "prize" (did you mean "bid.price"?)`},
		{one, "", "person", -1, "column person is a ROW: select its fields (person.id, person.name)"},
		{one, "nexmark", "person", -1, "column nexmark.person is a ROW: select its fields (person.id, person.name)"},
		{one, "auction", "id", -1, `unknown table or ROW column "auction" (tables and ROW columns: nexmark, person, bid)`},
		{one, "bdi", "price", -1, `unknown table or ROW column "bdi" (did you mean "bid"?)`},
		{two, "person", "id", 4, ""},
		{two, "person", "name", -1, `unknown column "person.name" (columns of person: id, city)`},
		{two, "n", "person.name", 2, ""},
		{two, "", "bid.price", 3, ""},
	} {
		i, err := c.s.Resolve(c.qualifier, c.name)
		switch {
		case c.err == "" && (err != nil || i != c.want):
			t.Errorf("Resolve(%q, %q) = %d, %v; want %d", c.qualifier, c.name, i, err, c.want)
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("Resolve(%q, %q): error %v, want %s", c.qualifier, c.name, err, c.err)
		}
	}
}

func TestStarNamesARelationOrTheFieldsOfARow(t *testing.T) {
	events := runtime.NewSchema(
		runtime.Field{Name: "event_type", Type: runtime.Int},
		runtime.Field{Name: "person.id", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "bid.price", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "bid.url", Type: runtime.Varchar, Nullable: true},
	)
	people := runtime.NewSchema(runtime.Field{Name: "id", Type: runtime.BigInt}, runtime.Field{Name: "city", Type: runtime.Varchar})
	s, err := NewScope(Relation{Name: "nexmark", Alias: "n", Schema: events}, Relation{Name: "people", Alias: "p", Schema: people})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ qualifier, want string }{
		{"bid", "[[bid price] [bid url]]"},
		{"BID", "[[BID price] [BID url]]"},
		{"p", "[[p id] [p city]]"},
		{"n", "[[n event_type] [n person.id] [n bid.price] [n bid.url]]"},
		{"foo", `unknown table or ROW column "foo" (tables and ROW columns: n, p, person, bid)`},
		{"bdi", `unknown table or ROW column "bdi" (did you mean "bid"?)`},
		{"people", "table people is called p in this query: write p.*"},
	} {
		cols, err := s.Star(c.qualifier)
		got := fmt.Sprint(cols)
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("Star(%q) = %s, want %s", c.qualifier, got, c.want)
		}
		// Every column a star names resolves to a column of the scope.
		for _, parts := range cols {
			if _, err := s.Resolve(parts[0], parts[1]); err != nil {
				t.Errorf("Star(%q): %v does not resolve: %v", c.qualifier, parts, err)
			}
		}
	}
}

func TestAliasNamedLikeARowSuggestsTheRowThroughTheAlias(t *testing.T) {
	events := runtime.NewSchema(
		runtime.Field{Name: "event_type", Type: runtime.Int},
		runtime.Field{Name: "person.id", Type: runtime.BigInt, Nullable: true},
	)
	s, err := NewScope(Relation{Name: "nexmark", Alias: "person", Schema: events})
	if err != nil {
		t.Fatal(err)
	}
	if i, err := s.Resolve("person", "event_type"); err != nil || i != 0 {
		t.Fatalf("person.event_type: %d, %v", i, err)
	}
	if i, err := s.Resolve("person", "person.id"); err != nil || i != 1 {
		t.Fatalf("person.person.id: %d, %v", i, err)
	}
	_, err = s.Resolve("person", "id")
	want := `unknown column "person.id": person is the name of table nexmark here, not its ROW column person (write person.person.id)`
	if err == nil || err.Error() != want {
		t.Fatalf("person.id: %v, want %s", err, want)
	}
}
