package query

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/sql/parser"
)

// item0 parses SELECT sql FROM t and returns the first item's expression.
func item0(t *testing.T, sql string) parser.Expr {
	t.Helper()
	return mustParse(t, "SELECT "+sql+" FROM t").Selects[0].Items[0].Expr
}

func TestAggregateCall(t *testing.T) {
	f := func(sql, want string) {
		t.Helper()
		fn, arg, distinct, star, ok := AggregateCall(item0(t, sql))
		got := "not an aggregate"
		if ok {
			a := "<nil>"
			if arg != nil {
				a = arg.String()
			}
			got = fmt.Sprintf("%s arg=%s distinct=%v star=%v", fn, a, distinct, star)
		}
		if got != want {
			t.Errorf("AggregateCall(%s) = %s, want %s", sql, got, want)
		}
	}
	f("COUNT(*)", "COUNT arg=<nil> distinct=false star=true")
	f("count(user)", "COUNT arg=`user` distinct=false star=false")
	f("COUNT(DISTINCT user)", "COUNT arg=`user` distinct=true star=false")
	f("SUM(ms * 2)", "SUM arg=`ms` * 2 distinct=false star=false")
	f("Min(ts)", "MIN arg=`ts` distinct=false star=false")
	f("MAX(CAST(x AS DOUBLE))", "MAX arg=CAST(`x` AS DOUBLE) distinct=false star=false")
	f("AVG(ms)", "AVG arg=`ms` distinct=false star=false")
	f("SUM(*)", "not an aggregate")
	f("COUNT(a, b)", "not an aggregate")
	f("COUNT()", "not an aggregate")
	f("COUNT(a) FILTER (WHERE a > 1)", "COUNT arg=`a` distinct=false star=false") // AggregateFilter has the condition
	f("COUNT(a) OVER (PARTITION BY b)", "not an aggregate")
	f("UPPER(a)", "not an aggregate")
	f("a + 1", "not an aggregate")
	f("COUNT(*) + 1", "not an aggregate")
}

func TestWindowCalls(t *testing.T) {
	f := func(sql, want string) {
		t.Helper()
		e := item0(t, sql)
		got := "no"
		if kind, col, ds, ok := WindowCall(e); ok {
			got = fmt.Sprintf("window %s %s %v", kind, col, ds)
		}
		if kind, bound, col, ds, ok := WindowBoundCall(e); ok {
			if got != "no" {
				t.Errorf("%s is both a window and a bound", sql)
			}
			got = fmt.Sprintf("bound %s %s %s %v", kind, bound, col, ds)
		}
		if got != want {
			t.Errorf("%s: got %s, want %s", sql, got, want)
		}
	}
	f("TUMBLE(ts, INTERVAL '1' MINUTE)", "window TUMBLE `ts` [1m0s]")
	f("tumble(ts, interval 90 second)", "window TUMBLE `ts` [1m30s]")
	f("HOP(ts, INTERVAL '10' SECOND, INTERVAL '1' HOUR)", "window HOP `ts` [10s 1h0m0s]")
	f("SESSION(c.ts, INTERVAL '1.5' SECOND)", "window SESSION `c`.`ts` [1.5s]")
	f("TUMBLE_START(ts, INTERVAL '1' DAY)", "bound TUMBLE START `ts` [24h0m0s]")
	f("tumble_end(ts, INTERVAL '1' MINUTE)", "bound TUMBLE END `ts` [1m0s]")
	f("HOP_START(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)", "bound HOP START `ts` [1m0s 5m0s]")
	f("HOP_END(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)", "bound HOP END `ts` [1m0s 5m0s]")
	f("SESSION_START(ts, INTERVAL '10' MINUTE)", "bound SESSION START `ts` [10m0s]")
	f("SESSION_END(ts, INTERVAL '10' MINUTE)", "bound SESSION END `ts` [10m0s]")
	// Malformed calls are not recognised (Scalar says what is wrong).
	f("TUMBLE(ts)", "no")
	f("TUMBLE(ts, INTERVAL '1' MINUTE, INTERVAL '1' MINUTE)", "no")
	f("HOP(ts, INTERVAL '1' MINUTE)", "no")
	f("TUMBLE(1, INTERVAL '1' MINUTE)", "no")
	f("TUMBLE(ts, 60000)", "no")
	f("TUMBLE(ts, INTERVAL '-1' MINUTE)", "no")
	f("TUMBLE(ts, INTERVAL '1' MONTH)", "no")
	f("TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE)", "bound TUMBLE ROWTIME `ts` [1m0s]")
	f("TUMBLE_PROCTIME(ts, INTERVAL '1' MINUTE)", "no")
	f("SESSION_START(ts)", "no")
	f("COUNT(*)", "no")
	f("ts", "no")
}

func TestIntervalMillis(t *testing.T) {
	f := func(sql string, want int64, wantErr string) {
		t.Helper()
		iv, ok := item0(t, sql).(*parser.Interval)
		if !ok {
			t.Fatalf("%s is not an interval", sql)
		}
		ms, err := intervalMillis(iv)
		switch {
		case err != nil && err.Error() != wantErr, err == nil && wantErr != "":
			t.Errorf("%s: error %v, want %s", sql, err, wantErr)
		case err == nil && ms != want:
			t.Errorf("%s = %d, want %d", sql, ms, want)
		}
	}
	f("INTERVAL '10' MINUTE", 600_000, "")
	f("INTERVAL 10 MINUTE", 600_000, "")
	f("INTERVAL ' 3 ' SECONDS", 3_000, "")
	f("INTERVAL '-5' SECOND", -5_000, "")
	f("INTERVAL '0.25' SECOND", 250, "")
	f("INTERVAL 1.5 HOUR", 5_400_000, "")
	f("INTERVAL '250' MILLISECOND", 250, "")
	f("INTERVAL '2' DAY", 172_800_000, "")
	f("INTERVAL '106751991168' DAY", 0, `bad INTERVAL value "106751991168": too large`)
	f("INTERVAL '1.0000' DAY", 86_400_000, "")
	f("INTERVAL '1.' SECOND", 1_000, "")
	f("INTERVAL '.' SECOND", 0, `bad INTERVAL value ".": not a number`)
	f("INTERVAL '' SECOND", 0, `bad INTERVAL value "": not a number`)
	f("INTERVAL '1e3' SECOND", 0, `bad INTERVAL value "1e3": not a number`)
	f("INTERVAL '1' WEEK", 0, `INTERVAL … WEEK is not supported: use DAY, HOUR, MINUTE or SECOND`)
}
