package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	_ "github.com/sluicehq/sluice/connectors/blackhole"
	_ "github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplitterIgnoresSemicolonsInQuotesAndComments(t *testing.T) {
	var sp splitter
	var got []piece
	for _, line := range []string{
		"-- a comment; not a statement",
		"CREATE TABLE t (a INT) WITH ('print-identifier' = 'x;y', /* ; */",
		"  'connector' = 'print'); SELECT",
		"'it''s;' FROM t;",
	} {
		got = append(got, sp.feed(line)...)
	}
	if len(got) != 2 || sp.pending() {
		t.Fatalf("pieces %+v, pending %v: want two statements", got, sp.pending())
	}
	if got[0].line != 1 || got[0].col != 1 || !strings.Contains(got[0].text, "'connector' = 'print')") {
		t.Fatalf("first piece %+v", got[0])
	}
	if got[1].line != 3 || got[1].col != 26 || got[1].text != " SELECT\n'it''s;' FROM t" {
		t.Fatalf("second piece %+v: want line 3, column 26", got[1])
	}
	if src := got[1].src(); !strings.HasPrefix(src, "\n\n"+strings.Repeat(" ", 25)+" SELECT") {
		t.Fatalf("src %q does not keep the place", src)
	}
}

func TestLiveTableUpdatesAKeyInPlaceAndKeepsTheLatestAppendedRows(t *testing.T) {
	lt := newLiveTable([]string{"k", "n"}, true)
	lt.add(runtime.Insert, []string{"a", "1"})
	lt.add(runtime.Insert, []string{"b", "1"})
	lt.add(runtime.UpdateBefore, []string{"a", "1"})
	lt.add(runtime.UpdateAfter, []string{"a", "2"})
	lt.add(runtime.Delete, []string{"b", "1"})
	lt.add(runtime.Insert, []string{"c", "1"})
	if got := fmt.Sprint(lt.rows); got != "[[a 2] [c 1]]" {
		t.Fatalf("rows %s, want a's row updated where it stood, b's deleted", got)
	}
	var b strings.Builder
	v := &tableView{t: lt, w: &b, start: time.Now(), size: func() (int, int) { return 40, 10 }}
	v.draw("running", time.Now())
	v.draw("finished", time.Now())
	if want := "\r\x1b[5A\r\x1b[Jk | n\n--+--\na | 2\nc | 1\n2 rows"; !strings.Contains(b.String(), want) {
		t.Fatalf("redraw %q lacks %q", b.String(), want)
	}

	app := newLiveTable([]string{"i"}, false)
	for i := range 3 * keepRows {
		app.add(runtime.Insert, []string{strconv.Itoa(i)})
	}
	if app.count() != 3*keepRows || len(app.rows) > 2*keepRows || app.rows[len(app.rows)-1][0] != strconv.Itoa(3*keepRows-1) {
		t.Fatalf("append-only: count %d, %d rows kept, last %v", app.count(), len(app.rows), app.rows[len(app.rows)-1])
	}
	b.Reset()
	v = &tableView{t: app, w: &b, start: time.Now(), size: func() (int, int) { return 40, 10 }}
	v.draw("running", time.Now())
	if lines := strings.Count(b.String(), "\n"); lines != 10-5+3 {
		t.Fatalf("%d lines drawn on a 10-line terminal, want 8 (header, rule, 5 rows, status):\n%s", lines, b.String())
	}
	if !strings.Contains(b.String(), "\n2999\n3000 rows (the latest 5 shown)") {
		t.Fatalf("the latest rows and the count are not shown:\n%s", b.String())
	}
}

func TestRunPipedSessionPrintsResultsAndEndsItsGoroutines(t *testing.T) {
	in := strings.NewReader(`CREATE TABLE n (id INT) WITH ('connector' = 'datagen', 'number-of-rows' = '4',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '4');
CREATE TABLE sink (id INT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT id FROM n;
SELECT id * 10 AS x FROM n WHERE id > 2;
SELECT nope FROM n;
`)
	var out, errb strings.Builder
	err := Run(context.Background(), Options{Parallelism: 1, In: in, Out: &out, Err: &errb})
	if err == nil || err.Error() != "1 statement(s) failed" {
		t.Fatalf("Run: %v, want one failed statement\n%s", err, errb.String())
	}
	if out.String() != "x\n30\n40\n" {
		t.Fatalf("stdout %q", out.String())
	}
	for _, want := range []string{"[job 1] submitted: INSERT INTO sink SELECT id FROM n", "[job 1] finished",
		`error: <stdin>:6:8: unknown column "nope"`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}
