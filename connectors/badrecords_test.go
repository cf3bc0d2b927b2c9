package connectors

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
)

func TestInsaneEventTimeRowIsRemovedFromTheBatch(t *testing.T) {
	s := runtime.NewSchema(
		runtime.Field{Name: "name", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "score", Type: runtime.Double, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
	)
	e, err := NewEventTime(Table{Name: "t", Schema: s, TimeColumn: 2, Options: map[string]string{"scan.watermark.max-future": "1 h"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	e.Refresh(now)
	b := runtime.NewBatch(s)
	defer b.Release()
	add := func(name runtime.Value, ts int64) error {
		b.AppendValues(name, runtime.NullValue(runtime.Double), runtime.TimeValue(ts))
		return e.CheckLast(b)
	}
	ok := now.UnixMilli() + time.Hour.Milliseconds()
	for i, c := range []struct {
		ts   int64
		want string
	}{
		{ok, ""},
		{ok + 1, `column "ts": event time 2026-12-05 13:00:00.001 is more than 1h0m0s ahead of the wall clock 2026-12-05 12:00:00.000`},
		{math.MinInt64, `column "ts": event time -9223372036854775808 ms is outside the years 0001-9999`},
		{runtime.MinEventTime, ""},
		{runtime.MinEventTime - 1, "outside the years 0001-9999"},
		{math.MaxInt64, "outside the years 0001-9999"},
	} {
		err := add(runtime.StringValue("row"), c.ts)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Fatalf("case %d: got %v, want %q", i, err, c.want)
		}
	}
	if err := add(runtime.NullValue(runtime.Varchar), 0); err != nil {
		t.Fatal(err)
	}
	// The batch holds the three sane rows, every column the same length.
	if b.N != 3 || len(b.Cols[0].Str) != 3 || len(b.Cols[1].F64) != 3 || len(b.Cols[2].I64) != 3 ||
		b.Cols[2].I64[1] != runtime.MinEventTime || !b.Cols[0].IsNull(2) || b.Cols[0].IsNull(1) {
		t.Fatalf("batch: N %d, columns %+v", b.N, b.Cols)
	}

	if _, err := NewEventTime(Table{Name: "t", Schema: s, TimeColumn: 2, Options: map[string]string{"scan.watermark.max-future": "-1 s"}}); err == nil ||
		!strings.Contains(err.Error(), `option "scan.watermark.max-future"`) {
		t.Fatalf("negative max-future: %v", err)
	}
}

func TestBadRecordSummaryGroupsPlaces(t *testing.T) {
	var log bytes.Buffer
	r, err := NewBadRecords(Table{Name: "summary-test"})
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("bad")
	l := slog.New(runtime.NewLineHandler(&log, nil))
	r.Report(l, Where{File: "/a.jsonl", Line: 3}, bad, nil)
	r.Report(l, Where{File: "/b.jsonl", Line: 1}, bad, nil)
	r.Report(l, Where{File: "/a.jsonl", Line: 9}, bad, nil)
	if got, want := r.Summary(), "table summary-test: 3 bad records skipped (/a.jsonl lines 3, 9; /b.jsonl line 1)"; got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
	if got := log.String(); strings.Count(got, "\n") != 3 || !strings.Contains(got, "sluice: table summary-test: /a.jsonl:9: bad (skipped)\n") {
		t.Fatalf("log %q", got)
	}
}
