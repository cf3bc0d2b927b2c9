package sql

import (
	"errors"
	"fmt"
	"github.com/sluicehq/sluice/runtime/state"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/nexmark"
	"github.com/sluicehq/sluice/runtime"
)

// TestQualifiedStarSelectsTheRowOrTheRelation checks that bid.* is the
// fields of the ROW column bid, and that t.* over a join is t's columns
// alone, by running both.
func TestQualifiedStarSelectsTheRowOrTheRelation(t *testing.T) {
	var want []string
	for _, e := range nexmarkEvents(20000) {
		if e.Type == nexmark.BidEvent && e.Bid.Price > 1_000_000 {
			b := e.Bid
			want = append(want, fmt.Sprintf("%d,%d,%d,%s", b.Auction, b.Bidder, b.Price, b.Channel))
		}
	}
	sort.Strings(want)
	for _, par := range []int{1, 2} {
		run(t, nexmarkDDL+`
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT bid.* FROM nexmark WHERE event_type = 2 AND bid.price > 1000000;`, par)
		var got []string
		for _, r := range collected("out").Rows() {
			if len(r) != 7 {
				t.Fatalf("parallelism %d: bid.* has %d columns, want the 7 fields of bid", par, len(r))
			}
			got = append(got, fmt.Sprintf("%v,%v,%v,%v", r[0], r[1], r[2], r[3]))
		}
		sort.Strings(got)
		if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: %d rows, want %d", par, len(got), len(want))
		}
	}
	src := `
CREATE TABLE a (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '5',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '10', 'fields.v.end' = '14');
CREATE TABLE b (k BIGINT, w BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '2', 'fields.k.end' = '4',
      'fields.w.kind' = 'sequence', 'fields.w.start' = '7', 'fields.w.end' = '9');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT x.*, y.w FROM a AS x JOIN b AS y ON x.k = y.k;`
	for _, par := range []int{1, 3} {
		run(t, src, par)
		if got := strings.Join(collected("out").Sorted(), " "); got != "2,11,7 3,12,8 4,13,9" {
			t.Fatalf("parallelism %d: x.*, y.w = %s", par, got)
		}
	}
}

// TestUnknownStarQualifierIsAnErrorAtTheStar checks that foo.* names its
// place and the nearest table or ROW column.
func TestUnknownStarQualifierIsAnErrorAtTheStar(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT foo.* FROM nexmark":             `job.sql:13:24: unknown table or ROW column "foo" (tables and ROW columns: nexmark, person, auction, bid) in "foo.*"`,
		"SELECT event_type, bdi.* FROM nexmark": `job.sql:13:36: unknown table or ROW column "bdi" (did you mean "bid"?) in "bdi.*"`,
		"SELECT nexmark.* FROM nexmark AS n":    `job.sql:13:24: table nexmark is called n in this query: write n.* in "nexmark.*"`,
	} {
		_, err := Compile(nexmarkDDL+"CREATE TABLE out WITH ('connector' = 'append');\nINSERT INTO out "+q+";", Options{File: "job.sql", Parallelism: 1})
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", q, err, want)
		}
	}
}

// TestAliasNamedLikeARowColumnWins checks FROM nexmark AS person: person.x
// is the table's column x, and person.id says how to reach the ROW.
func TestAliasNamedLikeARowColumnWins(t *testing.T) {
	_, err := Compile(nexmarkDDL+"CREATE TABLE out WITH ('connector' = 'append');\nINSERT INTO out SELECT person.id FROM nexmark AS person;", Options{File: "job.sql", Parallelism: 1})
	want := `job.sql:13:24: unknown column "person.id": person is the name of table nexmark here, not its ROW column person (write person.person.id) in "person.id"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if _, err := Compile(nexmarkDDL+"CREATE TABLE out WITH ('connector' = 'append');\nINSERT INTO out SELECT person.event_type, person.person.id FROM nexmark AS person;", Options{File: "job.sql", Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
}

// TestUnionAllOfUpdatingBranchesKeepsRetractionsWithTheirRows checks that
// a UNION ALL of updating branches without keys (global aggregates, at
// parallelism 1) reaches the union's subtasks keyed by all columns, so that
// each -U meets the +I it retracts, and that the final result is right at
// parallelism 4.
func TestUnionAllOfUpdatingBranchesKeepsRetractionsWithTheirRows(t *testing.T) {
	src := `
CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '999',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '1000');
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT n, total FROM (
    SELECT COUNT(*) AS n, SUM(v) AS total FROM src
    UNION ALL
    SELECT COUNT(*) AS n, MAX(v) AS total FROM src WHERE k < 500);`
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	ex := plan.Explain()
	_, union, ok := strings.Cut(ex, `operator "union"`)
	if !ok {
		t.Fatalf("no union:\n%s", ex)
	}
	union, _, _ = strings.Cut(union, "\noperator ")
	if strings.Contains(union, "REBALANCE") || !strings.Contains(union, "HASH(n, total)") {
		t.Fatalf("the updating branches must reach the union keyed:\n%s", union)
	}
	run(t, src, 4)
	final := map[string]int{}
	c := collected("out")
	kinds := c.Kinds()
	for i, r := range c.Strings() {
		if k := kinds[i]; k == runtime.UpdateBefore || k == runtime.Delete {
			final[r]--
		} else {
			final[r]++
		}
	}
	var got []string
	for r, n := range final {
		for ; n > 0; n-- {
			got = append(got, r)
		}
		if n < 0 {
			t.Fatalf("%s retracted more often than added", r)
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "1000,500500 500,500" {
		t.Fatalf("final result %v", got)
	}
}

// TestAggregateTypeErrorsPointAtTheCall checks that an aggregate whose
// argument has the wrong type is reported at its call, in a GROUP BY, a
// global aggregate and a window.
func TestAggregateTypeErrorsPointAtTheCall(t *testing.T) {
	ddl := "CREATE TABLE t (k BIGINT, s VARCHAR, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');\n"
	for q, want := range map[string]string{
		"SELECT k,\n  LISTAGG(k) AS l FROM t GROUP BY k":                                    `job.sql:3:3: LISTAGG(k): k is BIGINT, want VARCHAR (CAST it) in "LISTAGG(k)"`,
		"SELECT COUNT(*) AS n, BOOL_AND(k) AS b FROM t":                                     `job.sql:2:38: BOOL_AND(k): k is BIGINT, want BOOLEAN in "BOOL_AND(k)"`,
		"SELECT COUNT(*) AS n, SUM(s) AS x FROM t GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)": `job.sql:2:38: SUM(s): cannot sum VARCHAR in "SUM(s)"`,
	} {
		_, err := Compile(ddl+"SELECT * FROM ("+q+");", Options{File: "job.sql", Parallelism: 1})
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", q, err, want)
		}
	}
}

// TestGroupByWarnsOnlyWhenNothingBoundsItsState checks that the warning
// about state kept forever is left out when SET 'sluice.state.max-keys' or
// SET 'table.exec.state.ttl' bounds it, and names both settings otherwise.
func TestGroupByWarnsOnlyWhenNothingBoundsItsState(t *testing.T) {
	for set, warns := range map[string]bool{
		"":                                      true,
		"SET 'sluice.state.max-keys' = '1000';": false,
		"SET 'table.exec.state.ttl' = '1 h';":   false,
	} {
		plan, err := Compile(keysSrc+set+"\n"+perKey, Options{File: "job.sql", Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !warns {
			if len(plan.Warnings) != 0 {
				t.Errorf("%s: warnings %q", set, plan.Warnings)
			}
			continue
		}
		if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "SET 'table.exec.state.ttl'") ||
			!strings.Contains(plan.Warnings[0], "SET 'sluice.state.max-keys'") {
			t.Errorf("no setting: warnings %q", plan.Warnings)
		}
	}
}

// TestGroupWindowsResolveRowFields checks that the time column of TUMBLE
// resolves as everywhere: r.ts and t.r.ts are the ROW's field (not the
// top-level ts), refused as not the event time, and a misspelt field is
// an unknown field.
func TestGroupWindowsResolveRowFields(t *testing.T) {
	ddl := "CREATE TABLE e (k BIGINT, r ROW<ts TIMESTAMP(3), v BIGINT>, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen');\n"
	for w, want := range map[string]string{
		"r.ts":   `job.sql:2:33: TUMBLE(r.ts, …): r.ts is a ROW's field, not the event time of the rows, which is ts in "TUMBLE(r.ts, INTERVAL '1' SECOND)"`,
		"e.r.ts": `job.sql:2:33: TUMBLE(e.r.ts, …): e.r.ts is a ROW's field, not the event time of the rows, which is ts in "TUMBLE(e.r.ts, INTERVAL '1' SECOND)"`,
		"r.tss":  `job.sql:2:40: ROW column r has no field "tss" (did you mean "r.ts"?) in "r.tss"`,
		"e.ts":   "",
	} {
		_, err := Compile(ddl+"SELECT COUNT(*) FROM e GROUP BY TUMBLE("+w+", INTERVAL '1' SECOND);", Options{File: "job.sql", Parallelism: 1})
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != want) {
			t.Errorf("TUMBLE(%s):\n got %v\nwant %s", w, err, want)
		}
	}
}

// TestStateTTLForgetsIdleKeysOfEveryKeyedOperator checks that SET
// 'table.exec.state.ttl' reaches regular joins, Top-N, deduplication and
// OVER aggregates (GROUP BY: TestStateTTLDropsIdleKeys): 20 keys arriving
// 50 ms apart exceed a cap of 8 keys without a TTL, and fit under it with
// a 100 ms TTL, which forgets each key soon after it was last seen.
func TestStateTTLForgetsIdleKeysOfEveryKeyedOperator(t *testing.T) {
	src := `
CREATE TABLE keys (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts, pt AS PROCTIME())
WITH ('connector' = 'datagen', 'number-of-rows' = '20', 'rows-per-second' = '20',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '19',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '20',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '50ms');
CREATE TABLE out WITH ('connector' = 'collect');
SET 'sluice.state.max-keys' = '8';
`
	for name, c := range map[string]struct{ query, op string }{
		"join": {"INSERT INTO out SELECT a.k, b.v FROM keys AS a JOIN keys AS b ON a.k = b.k;", "join"},
		"top-n": {"INSERT INTO out SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM keys) WHERE rn <= 2;",
			"top"},
		"dedup": {"INSERT INTO out SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY pt) AS rn FROM keys) WHERE rn = 1;",
			"dedup"},
		"over": {"INSERT INTO out SELECT k, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM keys;",
			"over"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := runPlan(t, src+c.query, Options{}); !errors.Is(err, state.ErrStateLimit) {
				t.Fatalf("without a TTL: got %v, want the state-limit error", err)
			}
			plan, err := runPlan(t, src+"SET 'table.exec.state.ttl' = '100 ms';\n"+c.query, Options{})
			if err != nil {
				t.Fatalf("with a TTL of 100 ms: %v", err)
			}
			if n := collected("out").Len(); n < 20 {
				t.Fatalf("%d rows, want at least 20", n)
			}
			if ex := plan.Explain(); !strings.Contains(ex, "TTL 100ms") {
				t.Fatalf("explain does not show the TTL:\n%s", ex)
			}
		})
	}
}

// TestRowIsNullWhenEveryFieldIs checks row IS [NOT] NULL on a flattened
// ROW: NULL when every field is, NOT NULL when one is not. Nexmark's
// events fill the ROW of their type alone.
func TestRowIsNullWhenEveryFieldIs(t *testing.T) {
	bids, others := 0, 0
	for _, e := range nexmarkEvents(20000) {
		if e.Type == nexmark.BidEvent {
			bids++
		} else {
			others++
		}
	}
	for _, par := range []int{1, 2} {
		run(t, nexmarkDDL+`
CREATE TABLE nobid WITH ('connector' = 'append');
CREATE TABLE bids WITH ('connector' = 'append');
INSERT INTO nobid SELECT event_type FROM nexmark WHERE bid IS NULL;
INSERT INTO bids SELECT event_type, n.bid IS NULL AS b FROM nexmark AS n WHERE n.bid IS NOT NULL;`, par)
		for _, r := range collected("nobid").Strings() {
			if r == "2" {
				t.Fatalf("parallelism %d: a bid has bid IS NULL", par)
			}
		}
		for _, r := range collected("bids").Strings() {
			if r != "2,FALSE" {
				t.Fatalf("parallelism %d: bids has %s", par, r)
			}
		}
		if a, b := collected("nobid").Len(), collected("bids").Len(); a != others || b != bids {
			t.Fatalf("parallelism %d: %d rows without a bid and %d with, want %d and %d", par, a, b, others, bids)
		}
	}
	_, err := Compile(nexmarkDDL+"SELECT event_type FROM nexmark WHERE bidd IS NULL;", Options{File: "job.sql", Parallelism: 1})
	if want := `unknown column "bidd" (did you mean "bid"?)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// TestAggregationReadsARepeatedArgumentOnce checks that the projection
// before an aggregation computes a repeated argument or FILTER condition
// once (Nexmark q15 repeats both), and that the results stay right at
// parallelism 1 and 3, for a GROUP BY and for a window whose time column
// is also an argument.
func TestAggregationReadsARepeatedArgumentOnce(t *testing.T) {
	src := `
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'datagen', 'number-of-rows' = '100',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '99',
      'fields.v.kind' = 'sequence', 'fields.v.start' = '1', 'fields.v.end' = '100',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '100ms');
CREATE TABLE per WITH ('connector' = 'collect');
CREATE TABLE win WITH ('connector' = 'append');
INSERT INTO per SELECT k % 3 AS g, COUNT(*) FILTER (WHERE v < 50) AS a, SUM(v) FILTER (WHERE v < 50) AS b,
    MAX(v) AS c, MIN(v) AS d, COUNT(DISTINCT v) FILTER (WHERE v < 50) AS e
FROM src GROUP BY k % 3;
INSERT INTO win SELECT TUMBLE_START(ts, INTERVAL '5' SECOND) AS ws, MIN(ts) AS first, MAX(ts) AS last, COUNT(*) AS n
FROM src GROUP BY TUMBLE(ts, INTERVAL '5' SECOND);`
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: 3})
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(plan.Explain(), "\noperator ")
	var pres []string
	for i, b := range blocks[1:] {
		if strings.HasPrefix(b, `"group aggregate"`) || strings.HasPrefix(b, `"window TUMBLE`) {
			_, project, _ := strings.Cut(blocks[i], "project: ")
			project, _, _ = strings.Cut(project, "\n")
			pres = append(pres, project)
		}
	}
	want := []string{"k % 3 AS k % 3, v < 50 AS FILTER v < 50, v AS v", "$2 AS ts"}
	if strings.Join(pres, " | ") != strings.Join(want, " | ") {
		t.Fatalf("pre-projections\n%q\nwant\n%q", pres, want)
	}
	var wantPer []string
	for g := int64(0); g < 3; g++ {
		var a, b, e int64
		c, d := int64(0), int64(1000)
		for k := g; k < 100; k += 3 {
			v := k + 1
			if v < 50 {
				a, b, e = a+1, b+v, e+1
			}
			c, d = max(c, v), min(d, v)
		}
		wantPer = append(wantPer, fmt.Sprintf("%d,%d,%d,%d,%d,%d", g, a, b, c, d, e))
	}
	for _, par := range []int{1, 3} {
		run(t, src, par)
		c := collected("per")
		final := map[string]int{}
		kinds := c.Kinds()
		for i, r := range c.Strings() {
			if k := kinds[i]; k == runtime.UpdateBefore || k == runtime.Delete {
				final[r]--
			} else {
				final[r]++
			}
		}
		var got []string
		for r, n := range final {
			if n != 0 {
				got = append(got, r)
			}
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(wantPer, " ") {
			t.Fatalf("parallelism %d: GROUP BY\n%v\nwant\n%v", par, got, wantPer)
		}
		win := collected("win").Sorted()
		for _, w := range win {
			parts := strings.Split(w, ",")
			if len(parts) != 4 || parts[3] != "50" || parts[0] != parts[1] {
				t.Fatalf("parallelism %d: window %s, want 50 rows from its start", par, w)
			}
		}
		if len(win) != 2 {
			t.Fatalf("parallelism %d: windows %v", par, win)
		}
	}
}

// TestRepeatedSelectItemIsComputedOnce checks a select list that repeats
// a column and an expression: explain says each repeat is computed once,
// and every column holds its value.
func TestRepeatedSelectItemIsComputedOnce(t *testing.T) {
	var want []string
	for _, e := range nexmarkEvents(20000) {
		if e.Type == nexmark.BidEvent && e.Bid.Price > 1_000_000 {
			p := e.Bid.Price
			want = append(want, fmt.Sprintf("%d,%d,%d,%d", p, p, 2*p, 2*p))
		}
	}
	sort.Strings(want)
	src := nexmarkDDL + `
CREATE TABLE out WITH ('connector' = 'append');
INSERT INTO out SELECT bid.price AS a, bid.price AS b, bid.price * 2 AS c, bid.price * 2 AS d
FROM nexmark WHERE event_type = 2 AND bid.price > 1000000;`
	plan, err := Compile(src, Options{File: "job.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ex := plan.Explain(); !strings.Contains(ex, "`bid.price` AS b (computed once, as a)") || !strings.Contains(ex, "`bid.price` * 2 AS d (computed once, as c)") {
		t.Fatalf("explain:\n%s", ex)
	}
	for _, par := range []int{1, 2} {
		run(t, src, par)
		if got := collected("out").Sorted(); len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("parallelism %d: %d rows, want %d", par, len(got), len(want))
		}
	}
}

// TestWindowTableFunctionResolvesRowFields checks DESCRIPTOR(row.field):
// the field resolves as everywhere, then is refused as not a time
// attribute, and a misspelt field suggests the right one.
func TestWindowTableFunctionResolvesRowFields(t *testing.T) {
	for d, want := range map[string]string{
		"bid.dateTime": `job.sql:12:80: DESCRIPTOR(bid.dateTime): bid.dateTime is a ROW's field, not the event time of the rows, which is dateTime in "bid.dateTime"`,
		"bid.dateTme":  `job.sql:12:80: ROW column bid has no field "dateTme" (did you mean "bid.dateTime"?) in "bid.dateTme"`,
		"dateTime":     "",
	} {
		_, err := Compile(nexmarkDDL+"SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE nexmark, DESCRIPTOR("+d+
			"), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;", Options{File: "job.sql", Parallelism: 1})
		if want == "" && err != nil || want != "" && (err == nil || err.Error() != want) {
			t.Errorf("DESCRIPTOR(%s):\n got %v\nwant %s", d, err, want)
		}
	}
}
