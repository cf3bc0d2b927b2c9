package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/apps/dashboards"
	"github.com/sluicehq/sluice/connectors/dashboard"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// runJobUntil runs the command line args in-process (as `sluice ARGS…`),
// calling ready every 20 ms until it returns true, then stops the job with
// a signal's cancellation and waits for it; a job that ends by itself, or
// is not ready within limit, fails the test. It returns what the job
// printed to standard output.
func runJobUntil(t *testing.T, limit time.Duration, ready func() bool, args ...string) string {
	t.Helper()
	var jobErr error
	ended, ok := false, false
	out := captureStdout(t, func() {
		ended, ok, jobErr = runUntil(limit, ready, args)
	})
	switch {
	case jobErr != nil && !errors.Is(jobErr, context.Canceled):
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), jobErr)
	case ended && !ok:
		t.Fatalf("sluice %s ended by itself before its dashboards filled", strings.Join(args, " "))
	case !ok:
		t.Fatalf("sluice %s: the dashboards did not fill within %v", strings.Join(args, " "), limit)
	}
	return out
}

// captureStdout returns what f writes to standard output.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&out, r)
	}()
	stdout := os.Stdout
	os.Stdout = w
	restore := func() {
		os.Stdout = stdout
		w.Close()
		<-copied
		r.Close()
	}
	defer func() {
		if os.Stdout == w { // f failed the test
			restore()
		}
	}()
	f()
	restore()
	return out.String()
}

// runUntil runs the command line args until ready, the job's end or limit.
// The dashboards already in dashboard.Default — an earlier job's, full of
// its rows — stay there until the job's compilation replaces them, which
// on a busy machine can be after ready's first calls: rowsOf ignores them
// from here on, so that ready sees the rows of this job's dashboards only.
func runUntil(limit time.Duration, ready func() bool, args []string) (ended, ok bool, jobErr error) {
	earlier.mark()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		c, ok := lookupCommand(args[0])
		if !ok {
			done <- fmt.Errorf("no command %q", args[0])
			return
		}
		done <- c.run(ctx, args[1:])
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	deadline := time.After(limit)
wait:
	for {
		select {
		case jobErr = <-done:
			ended = true
			break wait
		case <-tick.C:
			if ready() {
				ok = true
				break wait
			}
		case <-deadline:
			break wait
		}
	}
	tick.Stop()
	cancel()
	if !ended {
		jobErr = <-done
	}
	return ended, ok, jobErr
}

// earlier are the dashboards of the jobs run before the latest runUntil's.
var earlier dashboardSet

// dashboardSet is a set of dashboards, by identity (a job's dashboard
// replaces an earlier one of the same id).
type dashboardSet struct {
	mu     sync.Mutex
	boards map[*dashboard.Dashboard]bool
}

// mark makes the set the dashboards now in dashboard.Default.
func (s *dashboardSet) mark() {
	boards := map[*dashboard.Dashboard]bool{}
	for _, m := range dashboard.Default.List() {
		if d, ok := dashboard.Default.Get(m.ID); ok {
			boards[d] = true
		}
	}
	s.mu.Lock()
	s.boards = boards
	s.mu.Unlock()
}

func (s *dashboardSet) has(d *dashboard.Dashboard) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boards[d]
}

// rowsOf returns the current rows of a dashboard of the job run last (none
// when it has no such dashboard, or not yet).
func rowsOf(id string) [][]any {
	d, ok := dashboard.Default.Get(id)
	if !ok || earlier.has(d) {
		return nil
	}
	return d.Snapshot().Rows
}

// metaOf returns the description of a dashboard, failing the test when there is none.
func metaOf(t *testing.T, id string) dashboard.Meta {
	t.Helper()
	d, ok := dashboard.Default.Get(id)
	if !ok || earlier.has(d) {
		t.Fatalf("no dashboard %q", id)
	}
	return d.Meta
}

// TestRunUntilSeesOnlyTheJobsDashboards: an earlier job's dashboard, full
// of rows, stays in dashboard.Default until a job of the same dashboard
// replaces it when it compiles — on a busy machine, after runUntil has
// asked ready whether the new job's dashboards have filled. ready must not
// take the earlier rows for the job's: here the job never makes the
// dashboard, so ready never sees rows.
func TestRunUntilSeesOnlyTheJobsDashboards(t *testing.T) {
	const id = "earlier_job_board"
	src := fmt.Sprintf(`CREATE TABLE g (n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE %s (n BIGINT) WITH ('connector' = 'dashboard', 'chart' = 'table');
INSERT INTO %s SELECT n FROM g;`, id, id)
	plan, err := sql.Compile(src, sql.Options{File: "earlier.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	err = runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 1})
	plan.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := dashboard.Default.Get(id); !ok || len(d.Snapshot().Rows) == 0 {
		t.Fatalf("the earlier job filled no dashboard %s", id)
	}

	job := filepath.Join(t.TempDir(), "other.sql")
	if err := os.WriteFile(job, []byte(`CREATE TABLE g (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
CREATE TABLE b (n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO b SELECT n FROM g;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var ended, ok bool
	captureStdout(t, func() {
		ended, ok, err = runUntil(300*time.Millisecond, func() bool { return len(rowsOf(id)) > 0 }, []string{"run", job})
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("sluice run %s: %v", job, err)
	}
	if ended {
		t.Fatalf("sluice run %s ended by itself", job)
	}
	if ok {
		t.Fatalf("ready saw the rows of the earlier job's dashboard %s as the new job's", id)
	}
}

// readStream reads every record of a stream of the embedded store over dir
// (which no job holds) with a bounded job into a CSV file, and returns the
// rows of the columns cols ("name TYPE, …"), a slice of fields each.
func readStream(t *testing.T, dir, stream, cols string) [][]string {
	t.Helper()
	closeStore, err := openEmbedded(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	path := filepath.Join(t.TempDir(), stream+".csv")
	src := fmt.Sprintf(`CREATE TABLE s (%s) WITH ('connector' = 'store', 'stream' = '%s', 'scan.bounded.mode' = 'latest',
  'scan.watermark.max-future' = 'off');
CREATE TABLE o (%s) WITH ('connector' = 'file', 'path' = '%s', 'format' = 'csv');
INSERT INTO o SELECT * FROM s;`, cols, stream, cols, path)
	plan, err := sql.Compile(src, sql.Options{File: "read.sql", Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close(context.Background())
	if err := runtime.Run(context.Background(), plan.Graph, runtime.Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("stream %s is empty", stream)
	}
	return rows
}

// millis parses a printed TIMESTAMP.
func millis(t *testing.T, s string) int64 {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UnixMilli()
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// jsonNum is a dashboard value that is a number.
func jsonNum(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	t.Fatalf("value %v (%T) is not a number", v, v)
	return 0
}

func end0(rows [][]any) any { return rows[0][3] }

// topMatchesViews reports whether top, the rows of top_pages (rn, page,
// views, minute_end, all of one minute), is the top 10 of that minute by
// the rows of views_per_page (page, window_end, views): a page's views in
// the minute are those of its six 10 s windows ending in it. top_pages is
// an updating result: a page's new minute retracts its old row before it
// inserts the new one, so between the two (a moment, or longer on a busy
// machine) it holds a top 10 without the page; views_per_page may not have
// the minute's last windows yet either. Only a snapshot of both that agree
// is a top 10 to check against the stream.
func topMatchesViews(top, views [][]any) bool {
	end, ok := toNum(top[0][3])
	if !ok {
		return false
	}
	minute := map[string]float64{}
	for _, r := range views {
		page, _ := r[0].(string)
		we, ok1 := toNum(r[1])
		n, ok2 := toNum(r[2])
		if ok1 && ok2 && we > end-60_000 && we <= end {
			minute[page] += n
		}
	}
	in, least := map[string]bool{}, math.Inf(1)
	for _, r := range top {
		page, _ := r[1].(string)
		n, ok := toNum(r[2])
		if !ok || n != minute[page] {
			return false
		}
		in[page], least = true, math.Min(least, n)
	}
	for page, n := range minute {
		if !in[page] && n > least {
			return false
		}
	}
	return true
}

// toNum is a dashboard value that is a number.
func toNum(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestClickstreamDashboardMatchesItsClicks runs sluice run
// clickstream-dashboard (event time 50 times the wall clock's speed) until
// its four dashboards fill, then reads back every click of the store's
// stream and checks each dashboard row against counts computed here from
// those clicks: views per page and window, distinct users, latency by
// region, and the top 10 pages of the last minute — which never holds more
// than 10 rows, and whose pages out of it have no more views.
func TestClickstreamDashboardMatchesItsClicks(t *testing.T) {
	for _, par := range []string{"1", "2"} {
		t.Run("parallelism "+par, func(t *testing.T) {
			dir := t.TempDir()
			var top [][]any
			rate, deadline := "10000", 20*time.Second
			if raceEnabled { // some 10 times slower
				rate, deadline = "2000", 90*time.Second
			}
			runJobUntil(t, deadline, func() bool {
				rows := rowsOf("top_pages")
				if len(rows) > 10 {
					t.Errorf("top_pages holds %d rows: %v", len(rows), rows)
				}
				if n := len(rowsOf("latency_by_region")); n > 5 {
					t.Errorf("latency_by_region holds %d rows, for 5 regions", n)
				}
				if len(rows) < 10 || len(rowsOf("distinct_users")) < 4 || len(rowsOf("latency_by_region")) < 5 {
					return false
				}
				for _, r := range rows[1:] {
					if r[3] != rows[0][3] { // a new minute coming in
						return false
					}
				}
				if !topMatchesViews(rows, rowsOf("views_per_page")) {
					return false // top_pages or views_per_page between two updates
				}
				top = rows
				return true
			}, "run", "clickstream-dashboard", "--store-dir", dir, "--parallelism", par, "--speedup", "50", "--clicks-per-second", rate)
			for id, chart := range map[string]string{"views_per_page": "line", "top_pages": "table", "distinct_users": "number", "latency_by_region": "bar"} {
				if m := metaOf(t, id); m.Chart != chart {
					t.Errorf("dashboard %s: chart %q, want %q", id, m.Chart, chart)
				}
			}

			// What the dashboards should show, from the clicks of the stream.
			const win = 10_000
			type pageWin struct {
				page string
				end  int64
			}
			views := map[pageWin]int{}
			users := map[int64]map[string]bool{}
			type stat struct {
				sum float64
				n   int
				max float64
			}
			regions := map[pageWin]*stat{}
			for _, c := range readStream(t, dir, dashboards.ClicksStream, "user_id BIGINT, page VARCHAR, region VARCHAR, latency_ms BIGINT, ts TIMESTAMP(3)") {
				ts := millis(t, c[4])
				end := ts - ts%win + win
				views[pageWin{c[1], end}]++
				if users[end] == nil {
					users[end] = map[string]bool{}
				}
				users[end][c[0]] = true
				s := regions[pageWin{c[2], end}]
				if s == nil {
					s = &stat{}
					regions[pageWin{c[2], end}] = s
				}
				lat := num(t, c[3])
				s.sum, s.n, s.max = s.sum+lat, s.n+1, math.Max(s.max, lat)
			}

			t.Logf("top_pages of the minute ending %d: %v", end0(top), top)
			vpp := rowsOf("views_per_page")
			if len(vpp) < 20 {
				t.Fatalf("views_per_page has %d rows", len(vpp))
			}
			for _, r := range vpp { // page, window_end, views
				k := pageWin{r[0].(string), int64(jsonNum(t, r[1]))}
				if got := jsonNum(t, r[2]); got != float64(views[k]) {
					t.Errorf("views_per_page %v: %v views, the stream has %d", k, got, views[k])
				}
			}
			du := rowsOf("distinct_users")
			for _, r := range du { // window_end, users
				end := int64(jsonNum(t, r[0]))
				if got := jsonNum(t, r[1]); got != float64(len(users[end])) || got == 0 {
					t.Errorf("distinct_users of the window ending %d: %v, COUNT(DISTINCT user_id) of the stream's clicks %d", end, got, len(users[end]))
				}
			}
			for _, r := range rowsOf("latency_by_region") { // region, window_end, avg_ms, max_ms
				s := regions[pageWin{r[0].(string), int64(jsonNum(t, r[1]))}]
				if s == nil || !near(jsonNum(t, r[2]), s.sum/float64(s.n)) || jsonNum(t, r[3]) != s.max {
					t.Errorf("latency_by_region row %v: the stream has %+v", r, s)
				}
			}
			// The top 10 of the minute ending at minute_end.
			minute := func(page string, end int64) int {
				n := 0
				for e := end - 50_000; e <= end; e += win {
					n += views[pageWin{page, e}]
				}
				return n
			}
			end := int64(jsonNum(t, top[0][3]))
			in, least := map[string]bool{}, math.MaxInt
			ranks := map[float64]bool{}
			for _, r := range top { // rn, page, views, minute_end
				page, got := r[1].(string), int(jsonNum(t, r[2]))
				ranks[jsonNum(t, r[0])] = true
				if want := minute(page, end); got != want {
					t.Errorf("top_pages: %s has %d views in the minute ending %d; the stream has %d", page, got, end, want)
				}
				in[page] = true
				least = min(least, got)
			}
			for rank := 1.0; rank <= 10; rank++ {
				if !ranks[rank] {
					t.Errorf("top_pages has no rank %v: %v", rank, top)
				}
			}
			byRank := slices.Clone(top)
			sort.Slice(byRank, func(i, j int) bool { return jsonNum(t, byRank[i][0]) < jsonNum(t, byRank[j][0]) })
			for i := 1; i < len(byRank); i++ {
				if jsonNum(t, byRank[i][2]) > jsonNum(t, byRank[i-1][2]) {
					t.Errorf("top_pages ranks %v above %v", byRank[i-1], byRank[i])
				}
			}
			for k := range views {
				if !in[k.page] && minute(k.page, end) > least {
					t.Errorf("top_pages leaves out %s, with %d views in the minute ending %d, more than %d: %v", k.page, minute(k.page, end), end, least, top)
				}
			}
		})
	}
}

// geohash encodes (lat, lon) as a geohash of prec characters.
func geohash(lat, lon float64, prec int) string {
	const base32 = "0123456789bcdefghjkmnpqrstuvwxyz"
	latR, lonR := [2]float64{-90, 90}, [2]float64{-180, 180}
	var b []byte
	bit, ch, even := 0, 0, true
	for len(b) < prec {
		r, v := &latR, lat
		if even {
			r, v = &lonR, lon
		}
		mid := (r[0] + r[1]) / 2
		ch <<= 1
		if v >= mid {
			ch |= 1
			r[0] = mid
		} else {
			r[1] = mid
		}
		even = !even
		if bit++; bit == 5 {
			b = append(b, base32[ch])
			bit, ch = 0, 0
		}
	}
	return string(b)
}

// inFence tells whether (lat, lon) is inside the location job's geofence
// (a point in polygon by ray casting; the fence is one ring).
func inFence(t *testing.T, lat, lon float64) bool {
	t.Helper()
	nums := regexp.MustCompile(`[0-9.]+ [0-9.]+`).FindAllString(dashboards.Fence, -1)
	var xs, ys []float64
	for _, p := range nums {
		f := strings.Fields(p)
		xs, ys = append(xs, num(t, f[0])), append(ys, num(t, f[1]))
	}
	in := false
	for i, j := 0, len(xs)-1; i < len(xs); j, i = i, i+1 {
		if (ys[i] > lat) != (ys[j] > lat) && lon < (xs[j]-xs[i])*(lat-ys[i])/(ys[j]-ys[i])+xs[i] {
			in = !in
		}
	}
	return in
}

// TestLocationDashboardMatchesItsPositions runs sluice run
// location-dashboard (event time 30 times as fast as the wall clock) until
// its maps show a window and vehicles have entered the geofence, then reads
// back every position of the store's stream and checks: each map cell is a
// geohash of 6 characters inside the city's box, with the vehicles and
// average speed of that cell and window; all cells are of one window, the
// latest; every entry is a vehicle inside the fence whose previous report
// was outside, every such report up to then is an entry, and each entry
// was published to the topic as the OK → ALARM notification of the alarm
// Geofence.
func TestLocationDashboardMatchesItsPositions(t *testing.T) {
	dir := t.TempDir()
	var cells [][]any
	var entries [][]any
	// About 4 entries a minute of event time: usually 8 s.
	vehicles, deadline := "1000", 40*time.Second
	if raceEnabled { // some 10 times slower
		vehicles, deadline = "300", 90*time.Second
	}
	out := runJobUntil(t, deadline, func() bool {
		m, e := rowsOf("vehicles_map"), rowsOf("geofence_entries")
		if len(m) < 100 || len(rowsOf("speed_map")) < 100 || len(e) < 2 {
			return false
		}
		cells, entries = m, e
		return true
	}, "run", "location-dashboard", "--store-dir", dir, "--parallelism", "2", "--speedup", "30", "--vehicles", vehicles)
	for id, chart := range map[string]string{"vehicles_map": "map", "speed_map": "map", "geofence_entries": "table"} {
		if m := metaOf(t, id); m.Chart != chart {
			t.Errorf("dashboard %s: chart %q, want %q", id, m.Chart, chart)
		}
	}

	type report struct {
		lat, lon, speed float64
	}
	type idAt struct {
		id string
		ts int64
	}
	reports := map[idAt]report{}
	type cellWin struct {
		cell string
		end  int64
	}
	type cellStat struct {
		ids   map[string]bool
		speed float64
		n     int
	}
	stats := map[cellWin]*cellStat{}
	var box [4]float64
	for i, f := range strings.Split(dashboards.BBox, ",") {
		box[i] = num(t, f)
	}
	for _, p := range readStream(t, dir, dashboards.PositionsStream, "id VARCHAR, lat DOUBLE, lon DOUBLE, speed DOUBLE, ts TIMESTAMP(3)") {
		r, ts := report{num(t, p[1]), num(t, p[2]), num(t, p[3])}, millis(t, p[4])
		reports[idAt{p[0], ts}] = r
		k := cellWin{geohash(r.lat, r.lon, 6), ts - ts%10_000 + 10_000}
		s := stats[k]
		if s == nil {
			s = &cellStat{ids: map[string]bool{}}
			stats[k] = s
		}
		s.ids[p[0]] = true
		s.speed += r.speed
		s.n++
	}

	end := jsonNum(t, cells[0][3])
	for _, c := range cells { // cell, vehicles, avg_kmh, window_end
		cell := c[0].(string)
		s := stats[cellWin{cell, int64(jsonNum(t, c[3]))}]
		switch {
		case len(cell) != 6 || strings.Trim(cell, "0123456789bcdefghjkmnpqrstuvwxyz") != "":
			t.Errorf("vehicles_map: cell %q is not a geohash of 6 characters", cell)
		case !strings.HasPrefix(cell, "u33") && !strings.HasPrefix(cell, "u32") && !strings.HasPrefix(cell, "u36") && !strings.HasPrefix(cell, "u37"):
			t.Errorf("vehicles_map: cell %q is not in Berlin's box %s", cell, dashboards.BBox)
		case jsonNum(t, c[3]) != end:
			t.Errorf("vehicles_map: cells of two windows, ending %v and %v", end, c[3])
		case s == nil:
			t.Errorf("vehicles_map: cell %v, which no position of the stream is in", c)
		case jsonNum(t, c[1]) != float64(len(s.ids)) || !near(jsonNum(t, c[2]), s.speed/float64(s.n)):
			t.Errorf("vehicles_map: cell %v; the stream has %d vehicles at %v km/h", c, len(s.ids), s.speed/float64(s.n))
		}
	}
	// Entries: inside now, outside a second before.
	var last int64
	got := map[idAt]bool{}
	for _, e := range entries { // id, entered_at, lat, lon, speed
		k := idAt{e[0].(string), int64(jsonNum(t, e[1]))}
		got[k] = true
		last = max(last, k.ts)
		r, ok := reports[k]
		prev, hadPrev := reports[idAt{k.id, k.ts - 1000}]
		switch {
		case !ok || r.lat != jsonNum(t, e[2]) || r.lon != jsonNum(t, e[3]):
			t.Errorf("geofence_entries: %v is not a report of the stream (%v)", e, r)
		case !inFence(t, r.lat, r.lon):
			t.Errorf("geofence_entries: %v is outside the fence", e)
		case !hadPrev || inFence(t, prev.lat, prev.lon):
			t.Errorf("geofence_entries: %v, but its previous report %v (found %v) was not outside the fence", e, prev, hadPrev)
		}
		if r.lat < box[1] || r.lat > box[3] || r.lon < box[0] || r.lon > box[2] {
			t.Errorf("geofence_entries: %v is outside the box %s", e, dashboards.BBox)
		}
	}
	// Every entry up to the last shown, 60 s of event time back (the
	// watermark's lag), is there.
	for k, r := range reports {
		if k.ts > last-60_000 || got[k] || !inFence(t, r.lat, r.lon) {
			continue
		}
		if prev, ok := reports[idAt{k.id, k.ts - 1000}]; ok && !inFence(t, prev.lat, prev.lon) {
			t.Errorf("geofence_entries lacks %s entering at %d", k.id, k.ts)
		}
	}
	// The alarm's notifications, printed by the subscription: one per entry.
	notes := regexp.MustCompile(`"NewStateValue": "ALARM",[\s\S]*?"StateChangeTime": "([^"]+)"[\s\S]*?"OldStateValue": "OK",\s*"Dimensions": \{\s*"id": "([^"]+)"`).FindAllStringSubmatch(out, -1)
	published := map[idAt]bool{}
	for _, n := range notes {
		at, err := time.Parse(time.RFC3339Nano, n[1])
		if err != nil {
			t.Fatal(err)
		}
		published[idAt{n[2], at.UnixMilli()}] = true
	}
	var missing []string
	for k := range got {
		if k.ts <= last-60_000 && !published[k] {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	for k := range published {
		if !got[k] && k.ts <= last-60_000 {
			missing = append(missing, fmt.Sprint("notification without an entry: ", k))
		}
	}
	t.Logf("%d reports, %d cells of the window ending %v, %d entries, %d Geofence notifications", len(reports), len(cells), end, len(entries), len(notes))
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("entries and Geofence notifications differ: %v\n%d notifications in:\n%.2000s", missing, len(notes), out)
	}
}

// TestDashboardSinksRunAsOneSubtask: a dashboard's changes reach it in the
// order they were made, so a Top-N's table never shows 11 rows of a top 10.
func TestDashboardSinksRunAsOneSubtask(t *testing.T) {
	out, errOut, code := sluiceExit(t, "explain", "clickstream-dashboard", "--parallelism", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, id := range dashboards.ClickstreamDashboards {
		if want := fmt.Sprintf("operator \"sink %s\", parallelism 1\n", id); !strings.Contains(out, want) {
			t.Errorf("want %q in\n%s", want, out)
		}
	}
}

// TestPrintSQLIsAJobFile: --print-sql (before or after the job's name)
// prints the job's SQL with the flags applied, a job file that plans as is
// and reads the records put after it starts.
func TestPrintSQLIsAJobFile(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--print-sql", "location-dashboard", "--vehicles", "7"},
		{"run", "clickstream-dashboard", "--clicks-per-second", "7", "--print-sql"},
	} {
		out, errOut, code := sluiceExit(t, args...)
		if code != 0 || !strings.Contains(out, "'7'") || !strings.Contains(out, "'connector' = 'dashboard'") ||
			!strings.Contains(out, "'scan.startup.mode' = 'latest'") {
			t.Fatalf("sluice %v: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
		}
		cmd := exec.Command(binary, "explain", "-")
		cmd.Stdin = strings.NewReader(out)
		if plan, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(plan), "sink") {
			t.Errorf("sluice explain - of the SQL of %v: %v\n%s", args, err, plan)
		}
	}
}

// TestDashboardJobFlagMistakes: a dashboard job's own flags are checked
// like the others, exit status 2 naming the flag.
func TestDashboardJobFlagMistakes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "clickstream-dashboard", "--speedup", "0"}, "--speedup 0: want from 1 to 1000"},
		{[]string{"run", "clickstream-dashboard", "--clicks-per-second", "0"}, "--clicks-per-second 0: want from 1 to 10000000"},
		{[]string{"run", "location-dashboard", "--vehicles", "2000000"}, "--vehicles 2000000: want from 1 to 1000000"},
		{[]string{"run", "location-dashboard", "--vehicle", "3"}, "unknown flag --vehicle (did you mean --vehicles?)"},
		{[]string{"run", "location-dashboard", "--store-on-corruption", "maybe"}, "--store-on-corruption"},
		{[]string{"run", "location-dashboard", "--catalog", "cat"}, "--catalog is for job files (FILE.sql)"},
	} {
		_, errOut, code := sluiceExit(t, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("sluice %v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestRunFileWithADashboardTable: sluice run FILE.sql takes the dashboard
// connector; its sink keeps the table's state in the process (here an
// updating count per key, +I/-U/+U applied) when no console serves it.
func TestRunFileWithADashboardTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.sql")
	src := `CREATE TABLE t (id BIGINT) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.end' = '99');
CREATE TABLE file_counts (k BIGINT, n BIGINT) WITH ('connector' = 'dashboard', 'chart' = 'bar', 'x' = 'k', 'y' = 'n');
INSERT INTO file_counts SELECT MOD(id, 3) AS k, COUNT(*) AS n FROM t GROUP BY MOD(id, 3);
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := lookupCommand("run")
	if err := c.run(context.Background(), []string{path, "--parallelism", "2"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rowsOf("file_counts") {
		got = append(got, fmt.Sprint(r...))
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "0 34,1 33,2 33" {
		t.Errorf("file_counts holds %v, want the final count per key: 0 34, 1 33, 2 33", got)
	}
}
