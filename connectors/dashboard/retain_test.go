package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// windowJob counts 20,000 rows, one a millisecond from 2026-01-01, by page
// (id % 3) in tumbling windows of 1 s: 20 windows of 3 rows, into a line
// chart with retain r.
func windowJob(id, r string) string {
	return fmt.Sprintf(`CREATE TABLE gen (id INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen',
  'number-of-rows' = '20000', 'fields.id.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:00Z', 'fields.ts.step' = '1ms');
CREATE TABLE %s (window_end TIMESTAMP(3), page BIGINT, views BIGINT) WITH ('connector' = 'dashboard', 'chart' = 'line',
  'x' = 'window_end', 'y' = 'views', 'series' = 'page', 'retain' = '%s');
INSERT INTO %[1]s SELECT window_end, id %% 3 AS page, COUNT(*) AS views
FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, id %% 3;`, id, r)
}

// windowRows is windowJob's result for the windows ending after t0 + from
// seconds: [window_end ms, page, views].
func windowRows(from int) []string {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var out [][]any
	for w := from + 1; w <= 20; w++ {
		for page := range 3 {
			n := 0
			for i := (w - 1) * 1000; i < w*1000; i++ {
				if i%3 == page {
					n++
				}
			}
			out = append(out, []any{t0 + int64(w)*1000, page, n})
		}
	}
	return sorted(out)
}

// TestRetainWindowsKeepsTheLastWindows: 'retain' = '5 windows' keeps the
// rows of the last 5 window ends of 20, at parallelism 1 and 2.
func TestRetainWindowsKeepsTheLastWindows(t *testing.T) {
	srv := httptest.NewServer(Default)
	defer srv.Close()
	for _, par := range []int{1, 2} {
		run(t, windowJob("rw", "5 windows"), par)
		if got, want := sorted(getSnapshot(t, srv.URL, "rw").Rows), windowRows(15); !slices.Equal(got, want) {
			t.Errorf("parallelism %d: rows %v, want %v", par, got, want)
		}
	}
}

// TestRetainTimeSpanKeepsRowsWithinItOfTheNewestX: 'retain' = '3 s' on a
// TIMESTAMP x keeps the windows ending within 3 s of the last end.
func TestRetainTimeSpanKeepsRowsWithinItOfTheNewestX(t *testing.T) {
	srv := httptest.NewServer(Default)
	defer srv.Close()
	for _, par := range []int{1, 2} {
		run(t, windowJob("rt", "3 s"), par)
		if got, want := sorted(getSnapshot(t, srv.URL, "rt").Rows), windowRows(17); !slices.Equal(got, want) {
			t.Errorf("parallelism %d: rows %v, want %v", par, got, want)
		}
	}
}

// TestRetainTimeSpanWithoutTimestampXIsArrivalTime: a table chart with
// 'retain' = '500 ms' keeps the rows that arrived within 500 ms, also when
// no row arrives after them: a watching client is sent their removal.
func TestRetainTimeSpanWithoutTimestampXIsArrivalTime(t *testing.T) {
	h := NewHub()
	d := testBoard(t, h, "ra", map[string]string{"retain": "500 ms"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan event, 100)
	go func() { _ = readEvents(ctx, srv.URL+"/api/v1/dashboards/ra/events", events) }()
	<-events
	d.write(batch(runtime.Insert, [2]int64{1, 1}, [2]int64{2, 2}))
	time.Sleep(600 * time.Millisecond)
	d.write(batch(runtime.Insert, [2]int64{3, 3}))
	if got := fmt.Sprint(d.Snapshot().Rows); got != "[[3 3]]" {
		t.Errorf("rows %s, want [[3 3]]", got)
	}
	// Nothing reads the dashboard now but the client's stream.
	rows, held := map[string]int{}, false
	for deadline := time.After(5 * time.Second); !held || len(rows) > 0; {
		select {
		case ev := <-events:
			apply(t, rows, ev)
			held = held || rows["[3 3]"] > 0
		case <-deadline:
			t.Fatalf("the client holds %v, want [3 3] and then no rows", rows)
		}
	}
}

// TestFinishedJobsDashboardStaysDoneWithItsJob: after its job ends a
// dashboard keeps its rows, names its job and is done, in the list, the
// snapshot and a last delta to a client that was watching; a new job
// with the same table replaces it.
func TestFinishedJobsDashboardStaysDoneWithItsJob(t *testing.T) {
	srv := httptest.NewServer(Default)
	defer srv.Close()
	plan, err := sql.Compile(fmt.Sprintf(source, 99)+`CREATE TABLE fin (id INT) WITH ('connector' = 'dashboard', 'chart' = 'table');
INSERT INTO fin SELECT id FROM src;`, sql.Options{File: "finished.sql", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := Default.Get("fin")
	if m := d.Info(); m.Done || m.Job != "" {
		t.Errorf("before the job: %+v, want not done, no job", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan event, 100)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = readEvents(ctx, srv.URL+"/api/v1/dashboards/fin/events", events) })
	<-events
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	for {
		var ev event
		select {
		case ev = <-events:
		case <-time.After(5 * time.Second):
			t.Fatal("no event says the job is done")
		}
		var dl Delta
		if err := json.Unmarshal([]byte(ev.data), &dl); err != nil {
			t.Fatal(err)
		}
		if dl.Done {
			break
		}
	}
	var list []Meta
	for _, m := range Default.List() {
		if m.ID == "fin" {
			list = append(list, m)
		}
	}
	if len(list) != 1 || !list[0].Done || list[0].Job != plan.Graph.Name || list[0].Job == "" {
		t.Errorf("listed %+v, want done, job %q", list, plan.Graph.Name)
	}
	if s := getSnapshot(t, srv.URL, "fin"); !s.Done || len(s.Rows) != 100 {
		t.Errorf("snapshot: done %v, %d rows, want done, 100 rows", s.Done, len(s.Rows))
	}
	if _, err := sql.Compile(fmt.Sprintf(source, 9)+`CREATE TABLE fin (id INT) WITH ('connector' = 'dashboard', 'chart' = 'table');
INSERT INTO fin SELECT id FROM src;`, sql.Options{File: "again.sql", Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	if s := getSnapshot(t, srv.URL, "fin"); s.Done || len(s.Rows) != 0 {
		t.Errorf("replaced: done %v, %d rows, want a new, empty dashboard", s.Done, len(s.Rows))
	}
}

// TestNumberChartHasATrend: an updating single figure (a global COUNT)
// shows its current value and, in trend, its recent values over time, the
// last equal to the figure.
func TestNumberChartHasATrend(t *testing.T) {
	srv := httptest.NewServer(Default)
	defer srv.Close()
	for _, par := range []int{1, 2} {
		run(t, fmt.Sprintf(source, 49999)+`CREATE TABLE total (n BIGINT) WITH ('connector' = 'dashboard', 'chart' = 'number', 'value' = 'n');
INSERT INTO total SELECT COUNT(*) AS n FROM src;`, par)
		s := getSnapshot(t, srv.URL, "total")
		if fmt.Sprint(s.Rows) != "[[50000]]" {
			t.Errorf("parallelism %d: rows %v, want [[50000]]", par, s.Rows)
		}
		if len(s.Trend) == 0 || fmt.Sprint(s.Trend[len(s.Trend)-1][1]) != "50000" {
			t.Errorf("parallelism %d: trend %v, want its last value 50000", par, s.Trend)
		}
		for i := 1; i < len(s.Trend); i++ {
			a, _ := s.Trend[i-1][0].(json.Number).Int64()
			b, _ := s.Trend[i][0].(json.Number).Int64()
			if b/1000 <= a/1000 {
				t.Errorf("parallelism %d: trend times %d, %d: want one point a second", par, a, b)
			}
		}
	}
}
