package parser

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

func TestRowColumnsParseBothSpellings(t *testing.T) {
	ct := parseCreate(t, "CREATE TABLE n (k INT, person ROW<id BIGINT NOT NULL, `dateTime` TIMESTAMP(3)>, "+
		"bid ROW(price BIGINT NOT NULL, at ROW<x DOUBLE, y VARCHAR(10)>) NOT NULL)")
	if len(ct.Columns) != 3 {
		t.Fatalf("%d columns, want 3", len(ct.Columns))
	}
	person, bid := ct.Columns[1], ct.Columns[2]
	if person.Type != runtime.Invalid || len(person.Fields) != 2 || person.Fields[0].Nullable || !person.Fields[1].Nullable ||
		person.Fields[1].Type != runtime.Timestamp {
		t.Fatalf("person: %+v", person)
	}
	if got := bid.TypeString(); got != "ROW<`price` BIGINT NOT NULL, `at` ROW<`x` DOUBLE, `y` VARCHAR>>" || bid.Nullable {
		t.Fatalf("bid: %s, nullable %v", got, bid.Nullable)
	}
	var flat []string
	for _, c := range Flatten(ct.Columns) {
		null := ""
		if !c.Nullable {
			null = " NOT NULL"
		}
		flat = append(flat, c.Name+" "+c.Type.String()+null)
	}
	want := "k INT,person.id BIGINT,person.dateTime TIMESTAMP(3),bid.price BIGINT NOT NULL,bid.at.x DOUBLE,bid.at.y VARCHAR"
	if got := strings.Join(flat, ","); got != want {
		t.Fatalf("flattened:\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(ct.Schema().Names(), ","); got != "k,person.id,person.dateTime,bid.price,bid.at.x,bid.at.y" {
		t.Fatalf("schema %s", got)
	}
	// The canonical form parses back to the same table.
	again := parseCreate(t, ct.String())
	if again.String() != ct.String() || !strings.Contains(ct.String(), "`person` ROW<`id` BIGINT NOT NULL, `dateTime` TIMESTAMP(3)>") {
		t.Fatalf("round trip:\n%s\n%s", ct.String(), again.String())
	}
}

func TestRowColumnErrors(t *testing.T) {
	for src, want := range map[string]string{
		"CREATE TABLE n (p ROW<>)":                "line 1:19: a ROW needs at least one field",
		"CREATE TABLE n (p ROW<a INT, a BIGINT>)": `line 1:30: duplicate field "a"`,
		"CREATE TABLE n (p ROW<a INT b INT>)":     "line 1:29: expected , or > after a ROW field",
		"CREATE TABLE n (p ROW(a INT>)":           "line 1:28: expected , or ) after a ROW field",
		"CREATE TABLE n (p ROW a INT)":            "line 1:23: expected < or ( after ROW",
		"CREATE TABLE n (p ROW<a TINYINT>)":       "line 1:25: unsupported type",
		"CREATE TABLE n (p ROW<a INT NOT>)":       "line 1:32: expected NULL after NOT",
		"CREATE TABLE n (p ROW<a INT>, p INT)":    "line 1:31: duplicate column",
	} {
		_, err := ParseScript(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}
