package catalog

import (
	"strings"
	"testing"
	"time"
)

const rowDDL = "CREATE TABLE n (event_type INT, person ROW<id BIGINT, `dateTime` TIMESTAMP(3)>, " +
	"bid ROW(price BIGINT NOT NULL, url VARCHAR) NOT NULL, `dateTime` TIMESTAMP(3), " +
	"WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark')"

func TestRowColumnsAreFlattenedAndDescribedAsWritten(t *testing.T) {
	eachCatalog(t, func(t *testing.T, c *Catalog) {
		c.now = func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
		if err := c.Create(table(t, rowDDL), false); err != nil {
			t.Fatal(err)
		}
		tb, err := c.Get("n")
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, f := range tb.Columns {
			cols = append(cols, f.Name+" "+f.Type.String())
			if f.Name == "bid.price" && f.Nullable || f.Name == "bid.url" && !f.Nullable {
				t.Errorf("column %s: nullable %v", f.Name, f.Nullable)
			}
		}
		want := "event_type INT,person.id BIGINT,person.dateTime TIMESTAMP(3),bid.price BIGINT,bid.url VARCHAR,dateTime TIMESTAMP(3)"
		if got := strings.Join(cols, ","); got != want {
			t.Fatalf("columns\n%s\nwant\n%s", got, want)
		}
		if ct := tb.Connector(); ct.TimeColumn != 5 || ct.Schema.Index("bid.price") != 3 {
			t.Fatalf("connector table: time column %d, bid.price at %d", ct.TimeColumn, ct.Schema.Index("bid.price"))
		}
		got := tb.Describe()
		wantDesc := "column      type                                         null      key\n" +
			"event_type  INT                                          NULL\n" +
			"person      ROW<`id` BIGINT, `dateTime` TIMESTAMP(3)>    NULL\n" +
			"bid         ROW<`price` BIGINT NOT NULL, `url` VARCHAR>  NOT NULL\n" +
			"dateTime    TIMESTAMP(3)                                 NULL\n"
		if !strings.Contains(got, wantDesc) {
			t.Fatalf("describe:\n%s\nwant it to contain\n%s", got, wantDesc)
		}
	})
}

func TestRowColumnsMustBeTheirFields(t *testing.T) {
	tb := table(t, rowDDL)
	tb.Rows[0].Count = 9
	if err := validate(tb); err == nil || !strings.Contains(err.Error(), `ROW column "person": fields 1…9 are not columns of the table`) {
		t.Fatalf("error %v", err)
	}
	tb = table(t, rowDDL)
	tb.Rows[1].First = 0
	if err := validate(tb); err == nil || !strings.Contains(err.Error(), "are not columns of the table") {
		t.Fatalf("error %v", err)
	}
	tb = table(t, rowDDL)
	tb.Columns[1].Name = "persona.id"
	if err := validate(tb); err == nil || !strings.Contains(err.Error(), `column "persona.id" is not a field of ROW column "person"`) {
		t.Fatalf("error %v", err)
	}
}
