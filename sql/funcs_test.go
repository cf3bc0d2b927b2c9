package sql

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

// funcsSrc generates 1500 rows: k counts from 0, ts steps 3h7m11s from
// 2026-01-01 (so rows cover every hour and weekday and several months), s
// is random hex with NULLs.
const funcsSrc = `
CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), s VARCHAR)
WITH ('connector' = 'datagen', 'number-of-rows' = '1500', 'seed' = '5',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '3h7m11.5s',
      'fields.s.length' = '7', 'fields.s.null-rate' = '0.2');
`

// TestScalarFunctionsInAJob runs the new functions in a job's select list
// and WHERE at parallelism 1 and 3 and checks every row against Go's own
// time formatting, regexp and strings.
func TestScalarFunctionsInAJob(t *testing.T) {
	re := regexp.MustCompile("[0-9]+")
	for _, par := range []int{1, 3} {
		run(t, funcsSrc+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out
SELECT k, ts, s,
       DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS EEE') AS f,
       HOUR(ts) AS h, EXTRACT(DOW FROM ts) AS dow, DAYOFYEAR(ts) AS doy,
       REGEXP_EXTRACT(s, '[0-9]+') AS digits, LPAD(s, 9, '*') AS padded,
       SPLIT_INDEX(s, 'a', 1) AS after_a, POSITION('a' IN s) AS pos_a,
       TIMESTAMPADD(MONTH, 1, ts) AS next_month, FLOOR(ts TO DAY) AS day,
       TO_TIMESTAMP(DATE_FORMAT(ts, 'dd/MM/yyyy HH:mm'), 'dd/MM/yyyy HH:mm') AS minute,
       POWER(k, 2) AS k2, CONCAT_WS('|', s, UPPER(s)) AS ws
FROM ev
WHERE NOT REGEXP(COALESCE(s, ''), '^f') AND MOD(k, 3) <> 1;`, par)
		rows := collected("out").Rows()
		seen := 0
		for _, r := range rows {
			k, ms, s := r[0].I, r[1].I, r[2]
			tm := time.UnixMilli(ms).UTC()
			if k%3 == 1 || !s.Null && strings.HasPrefix(s.S, "f") {
				t.Fatalf("row %d passed the WHERE", k)
			}
			if want := tm.Format("2006-01-02 15:04:05.000 Mon"); r[3].S != want {
				t.Fatalf("k=%d DATE_FORMAT = %q, want %q", k, r[3].S, want)
			}
			if r[4].I != int64(tm.Hour()) || r[5].I != int64(tm.Weekday())+1 || r[6].I != int64(tm.YearDay()) {
				t.Fatalf("k=%d %s: HOUR, DOW, DAYOFYEAR = %d, %d, %d", k, tm, r[4].I, r[5].I, r[6].I)
			}
			nm := tm.AddDate(0, 1, 0)
			if nm.Day() != tm.Day() { // Jan 31 + 1 month: the last of February
				nm = time.Date(tm.Year(), tm.Month()+2, 0, tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)
			}
			day := time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
			if r[11].I != nm.UnixMilli() || r[12].I != day.UnixMilli() || r[13].I != tm.Truncate(time.Minute).UnixMilli() {
				t.Fatalf("k=%d %s: next month %s, day %s, minute %s", k, tm, r[11], r[12], r[13])
			}
			if r[14].F != float64(k*k) {
				t.Fatalf("k=%d: POWER(k, 2) = %s", k, r[14])
			}
			if s.Null {
				for c := 7; c <= 10; c++ {
					if !r[c].Null {
						t.Fatalf("k=%d: column %d of a NULL s is %s", k, c, r[c])
					}
				}
				if !r[15].Null && r[15].S != "" {
					t.Fatalf("k=%d: CONCAT_WS of NULLs = %s", k, r[15])
				}
				continue
			}
			seen++
			wantDigits := runtime.NullValue(runtime.Varchar)
			if m := re.FindString(s.S); m != "" {
				wantDigits = runtime.StringValue(m)
			}
			wantAfter := runtime.NullValue(runtime.Varchar)
			if parts := strings.Split(s.S, "a"); len(parts) > 1 {
				wantAfter = runtime.StringValue(parts[1])
			}
			got := []string{r[7].String(), r[8].S, r[9].String(), fmt.Sprint(r[10].I), r[15].S}
			want := []string{wantDigits.String(), "**" + s.S, wantAfter.String(), fmt.Sprint(strings.Index(s.S, "a") + 1),
				s.S + "|" + strings.ToUpper(s.S)}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("k=%d s=%q: got %q, want %q", k, s.S, got, want)
			}
		}
		if len(rows) < 800 || seen < 500 {
			t.Fatalf("parallelism %d: %d rows, %d with s", par, len(rows), seen)
		}
	}
}

// TestGroupByDateFormat groups by a formatted day: the final counts of the
// changelog equal the counts of the days of the generated times.
func TestGroupByDateFormat(t *testing.T) {
	want := map[string]int{}
	for k := range 1500 {
		ms := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() + int64(k)*(3*3600_000+7*60_000+11_500)
		want[time.UnixMilli(ms).UTC().Format("Mon")]++
	}
	var wantRows []string
	for d, n := range want {
		wantRows = append(wantRows, fmt.Sprintf("%s,%d", d, n))
	}
	sort.Strings(wantRows)
	for _, par := range []int{1, 2} {
		run(t, funcsSrc+`
CREATE TABLE out WITH ('connector' = 'collect');
INSERT INTO out SELECT DATE_FORMAT(ts, 'EEE') AS d, COUNT(*) AS n FROM ev GROUP BY DATE_FORMAT(ts, 'EEE');`, par)
		final := map[string]string{}
		kinds := collected("out").Kinds()
		for i, r := range collected("out").Rows() {
			switch kinds[i] {
			case runtime.UpdateBefore, runtime.Delete:
				if final[r[0].S] != r[1].String() {
					t.Fatalf("retracts %s,%s it does not hold", r[0].S, r[1])
				}
				delete(final, r[0].S)
			default:
				final[r[0].S] = r[1].String()
			}
		}
		var got []string
		for d, n := range final {
			got = append(got, d+","+n)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(wantRows, " ") {
			t.Fatalf("parallelism %d: got %v, want %v", par, got, wantRows)
		}
	}
}
