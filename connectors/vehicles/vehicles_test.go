package vehicles_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/vehicles"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// all has every column of the connector, in another order than the docs'.
var all = runtime.NewSchema(
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "id", Type: runtime.Varchar},
	runtime.Field{Name: "lon", Type: runtime.Double},
	runtime.Field{Name: "lat", Type: runtime.Double},
	runtime.Field{Name: "speed", Type: runtime.Double},
	runtime.Field{Name: "heading", Type: runtime.Double},
)

const (
	cTS = iota
	cID
	cLon
	cLat
	cSpeed
	cHeading
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func opts(kv ...string) map[string]string {
	m := map[string]string{"connector": "vehicles"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func newSource(t testing.TB, s *runtime.Schema, o map[string]string) (func() runtime.Source, error) {
	t.Helper()
	f, ok := connectors.Lookup("vehicles")
	if !ok {
		t.Fatal("vehicles is not registered")
	}
	newSrc, _, err := f.(connectors.Source).NewSource(connectors.Table{Name: "v", Schema: s, Options: o, TimeColumn: -1})
	return newSrc, err
}

// run runs vehicles → collector with par subtasks and returns the rows.
func run(t *testing.T, s *runtime.Schema, o map[string]string, par int) [][]runtime.Value {
	t.Helper()
	newSrc, err := newSource(t, s, o)
	if err != nil {
		t.Fatal(err)
	}
	c, sink := rttest.NewCollector(s)
	g := runtime.NewGraph("vehicles")
	src := g.AddSource("v", s, par, newSrc, runtime.NoWatermarks)
	g.Connect(src, g.AddOperator("sink", s, par, 1, sink), runtime.Forward)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
	return c.Rows()
}

func rowStrings(rows [][]runtime.Value) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r)
	}
	slices.Sort(out)
	return out
}

// TestSameRowsAtParallelism1And3: a vehicle's reports depend only on the
// seed and its number, so one subtask and three emit the same rows, one
// per vehicle and tick, and another seed other ones.
func TestSameRowsAtParallelism1And3(t *testing.T) {
	o := opts("vehicles", "40", "duration", "5 min", "seed", "7")
	one, three := run(t, all, o, 1), run(t, all, o, 3)
	if len(one) != 40*300 {
		t.Fatalf("%d rows, want 40 vehicles × 300 ticks = 12000", len(one))
	}
	if a, b := rowStrings(one), rowStrings(three); !slices.Equal(a, b) {
		t.Fatalf("parallelism 1 and 3 differ: %d and %d rows", len(a), len(b))
	}
	seen := map[string]int{}
	for _, r := range one {
		key := fmt.Sprint(r[cID].S, r[cTS].I)
		seen[key]++
		if (r[cTS].I-start)%1000 != 0 || r[cTS].I < start || r[cTS].I >= start+300_000 {
			t.Fatalf("ts %d is not a tick of the 5 minutes from the start", r[cTS].I)
		}
	}
	if len(seen) != len(one) || seen[fmt.Sprint("v-0039", start+299_000)] != 1 || seen[fmt.Sprint("v-0000", start)] != 1 {
		t.Fatalf("want one report per vehicle v-0000…v-0039 and tick, got %d distinct of %d", len(seen), len(one))
	}
	other := run(t, all, opts("vehicles", "40", "duration", "5 min", "seed", "8"), 1)
	if slices.Equal(rowStrings(one), rowStrings(other)) {
		t.Fatal("seeds 7 and 8 gave the same rows")
	}
	// A BIGINT id is the vehicle's number.
	ids := run(t, runtime.NewSchema(runtime.Field{Name: "id", Type: runtime.BigInt}), opts("vehicles", "3", "number-of-rows", "7"), 2)
	var got []int64
	for _, r := range ids {
		got = append(got, r[0].I)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int64{0, 0, 0, 1, 1, 2, 2}) {
		t.Fatalf("BIGINT ids of 7 rows of 3 vehicles: %v, want 0 0 0 1 1 2 2", got)
	}
}

// haversine is the great-circle distance in metres.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

// TestVehiclesStayInTheBoxAtTheirSpeed: every report is inside the
// bounding box, its speed is 0 (parked) or within [speed.min, speed.max],
// its heading one of the four street directions, and the next report of
// the vehicle is at most speed × interval away (and, summed over the run,
// close to it: vehicles do drive at their speed).
func TestVehiclesStayInTheBoxAtTheirSpeed(t *testing.T) {
	const minLon, minLat, maxLon, maxLat = -122.52, 37.70, -122.35, 37.83 // San Francisco
	o := opts("vehicles", "50", "duration", "20 min", "interval", "2 s", "bbox", "-122.52, 37.70,-122.35,37.83",
		"speed.min", "20", "speed.max", "60", "stop.probability", "0.5", "stop.max", "1 min")
	rows := run(t, all, o, 2)
	byID := map[string][][]runtime.Value{}
	for _, r := range rows {
		byID[r[cID].S] = append(byID[r[cID].S], r)
	}
	if len(byID) != 50 {
		t.Fatalf("%d vehicles, want 50", len(byID))
	}
	var driven, budget float64
	var parked, moving int
	for id, rs := range byID {
		slices.SortFunc(rs, func(a, b []runtime.Value) int { return int(a[cTS].I - b[cTS].I) })
		if len(rs) != 600 {
			t.Fatalf("%s: %d reports, want 600", id, len(rs))
		}
		for i, r := range rs {
			lat, lon, speed, heading := r[cLat].F, r[cLon].F, r[cSpeed].F, r[cHeading].F
			if lat < minLat || lat > maxLat || lon < minLon || lon > maxLon {
				t.Fatalf("%s at %d: (%v, %v) is outside the box", id, r[cTS].I, lat, lon)
			}
			if speed != 0 && (speed < 20 || speed > 60) {
				t.Fatalf("%s at %d: speed %v is neither 0 nor in [20, 60]", id, r[cTS].I, speed)
			}
			if !slices.Contains([]float64{0, 90, 180, 270}, heading) {
				t.Fatalf("%s at %d: heading %v", id, r[cTS].I, heading)
			}
			if i == len(rs)-1 {
				break
			}
			next := rs[i+1]
			if next[cTS].I != r[cTS].I+2000 {
				t.Fatalf("%s: reports at %d and %d, want 2 s apart", id, r[cTS].I, next[cTS].I)
			}
			d, max := haversine(lat, lon, next[cLat].F, next[cLon].F), speed/3.6*2
			if d > max*(1+1e-9)+1e-6 {
				t.Fatalf("%s at %d: moved %.3f m in 2 s at %v km/h (at most %.3f m)", id, r[cTS].I, d, speed, max)
			}
			driven += d
			budget += max
			if speed == 0 {
				parked++
			} else {
				moving++
			}
		}
	}
	if driven < 0.9*budget {
		t.Errorf("vehicles drove %.0f m of the %.0f m their speeds allow", driven, budget)
	}
	if parked == 0 || moving < 10*parked {
		t.Errorf("%d parked and %d moving reports: want some stops, mostly driving", parked, moving)
	}
}

// drive polls src to the end (or max rows) and returns the rows as strings.
func drive(t *testing.T, src runtime.Source, max int) []string {
	t.Helper()
	var out []string
	for len(out) < max {
		b, _, err := src.Poll(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range b.Len() {
			var row []string
			for c := range b.Cols {
				row = append(row, fmt.Sprint(b.Cols[c].Value(b.Row(i))))
			}
			out = append(out, strings.Join(row, " "))
		}
	}
	return out
}

// testRestore drives the subtasks of o part-way, takes their positions,
// drives them on (to limit rows) and checks that subtasks restored from the
// positions emit the same rows.
func testRestore(t *testing.T, o map[string]string, limit int) (func() runtime.Source, [][]byte) {
	t.Helper()
	const par = 2
	newSrc, err := newSource(t, all, o)
	if err != nil {
		t.Fatal(err)
	}
	open := func(sub int, restore [][]byte) runtime.Source {
		src := newSrc()
		if restore != nil {
			if err := src.(runtime.CheckpointedSource).RestorePositions(restore); err != nil {
				t.Fatal(err)
			}
		}
		if err := src.Open(&runtime.Context{Subtask: sub, Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		return src
	}
	var positions [][]byte
	var rest [][]string
	for sub := range par {
		src := open(sub, nil)
		drive(t, src, 2048*(sub+1)) // 2048 rows of 38 or 37 vehicles: mid-tick
		p, err := src.(runtime.CheckpointedSource).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, p)
		rest = append(rest, drive(t, src, limit))
		src.Close()
	}
	for sub := range par {
		src := open(sub, positions)
		got := drive(t, src, limit)
		src.Close()
		if limit < math.MaxInt {
			n := min(len(got), len(rest[sub]))
			got, rest[sub] = got[:n], rest[sub][:n]
		}
		if len(got) == 0 || len(got) < min(limit, 1000) || !slices.Equal(got, rest[sub]) {
			t.Fatalf("subtask %d: restored, it emits %d rows; undisturbed, %d after the position (equal: %v)",
				sub, len(got), len(rest[sub]), slices.Equal(got, rest[sub]))
		}
	}
	return newSrc, positions
}

// TestRestoreContinuesExactly: subtasks restored from their positions
// (taken in the middle of a tick) emit exactly what the undisturbed
// subtasks emitted after those positions.
func TestRestoreContinuesExactly(t *testing.T) {
	// Unbounded: the rows after the position are compared up to limit.
	unbounded := opts("vehicles", "75", "stop.max", "20 s", "stop.probability", "0.5")
	testRestore(t, unbounded, 6000)
	o := opts("vehicles", "75", "duration", "3 min", "stop.max", "20 s", "stop.probability", "0.5")
	newSrc, positions := testRestore(t, o, math.MaxInt)
	// Unreadable, invalid or doubled positions are refused.
	for _, c := range []struct {
		positions [][]byte
		want      string
	}{
		{[][]byte{[]byte("x")}, "table v: checkpointed position 0 of the vehicles source is not readable"},
		{[][]byte{[]byte(`{"subtask":2,"parallelism":2}`)}, "not valid: subtask 2 of 2"},
		{[][]byte{positions[0], positions[0]}, "two positions of vehicles subtask 0"},
	} {
		err := newSrc().(runtime.CheckpointedSource).RestorePositions(c.positions)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RestorePositions(%q): %v, want an error with %q", c.positions, err, c.want)
		}
	}
	// Another parallelism is refused.
	src := newSrc()
	if err := src.(runtime.CheckpointedSource).RestorePositions(positions); err != nil {
		t.Fatal(err)
	}
	err := src.Open(&runtime.Context{Subtask: 0, Parallelism: 3})
	src.Close()
	if err == nil || !strings.Contains(err.Error(), "parallelism of its checkpoint (2)") {
		t.Fatalf("restored at parallelism 3: %v", err)
	}
}

// windows is a sink connector ('vehicle_windows') keeping rows in memory.
type windows struct {
	mu   sync.Mutex
	rows []string
}

func (*windows) Name() string                         { return "vehicle_windows" }
func (*windows) Options() []connectors.Option         { return nil }
func (*windows) AcceptsUpdates(connectors.Table) bool { return false }
func (w *windows) NewSink(connectors.Table) (func() runtime.Operator, int, error) {
	return func() runtime.Operator { return windowSink{w: w} }, 1, nil
}

type windowSink struct {
	runtime.Base
	w *windows
}

func (s windowSink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	for i := range b.Len() {
		var row []string
		for c := range b.Cols {
			row = append(row, fmt.Sprint(b.Cols[c].Value(b.Row(i))))
		}
		s.w.rows = append(s.w.rows, strings.Join(row, " "))
	}
	return nil
}

var collected = &windows{}

func init() { connectors.Register(collected) }

// TestSQLTumbleCountPerVehicle: a vehicles table in SQL, counted per
// vehicle in 10 s tumbling windows, gives every vehicle 10 reports in each
// of the 6 windows of one minute, at parallelism 1 and 3.
func TestSQLTumbleCountPerVehicle(t *testing.T) {
	for _, par := range []int{1, 3} {
		collected.mu.Lock()
		collected.rows = nil
		collected.mu.Unlock()
		job := `CREATE TABLE v (ts TIMESTAMP(3), id VARCHAR, lat DOUBLE, lon DOUBLE, WATERMARK FOR ts AS ts)
WITH ('connector' = 'vehicles', 'vehicles' = '25', 'duration' = '1 min');
CREATE TABLE out (id VARCHAR, window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'vehicle_windows');
INSERT INTO out SELECT id, window_start, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY id, window_start, window_end;`
		plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for v := range 25 {
			for w := range 6 {
				want = append(want, fmt.Sprintf("v-%04d 2026-01-01 00:00:%02d.000 10", v, 10*w))
			}
		}
		got := slices.Clone(collected.rows)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("parallelism %d: %d windows, want %d; first: %q", par, len(got), len(want), got[:min(3, len(got))])
		}
	}
}

// TestOptionErrors: bad options and columns are refused with errors that
// name the option (and its range) or the column and the known columns.
func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		schema *runtime.Schema
		kv     []string
		want   []string
	}{
		{all, []string{"vehicles", "0"}, []string{`"vehicles"`, "1"}},
		{all, []string{"bbox", "13,52,12,53"}, []string{`"bbox"`, "minLon 13 is not less than maxLon 12"}},
		{all, []string{"bbox", "13,52,14"}, []string{`"bbox"`, "minLon,minLat,maxLon,maxLat"}},
		{all, []string{"bbox", "13,52,x,53"}, []string{`"bbox"`, `"x" is not a number`}},
		{all, []string{"speed.min", "70", "speed.max", "60"}, []string{`"speed.min"`, "greater than speed.max 60"}},
		{all, []string{"speed.max", "-1"}, []string{`"speed.max"`, "0"}},
		{all, []string{"stop.probability", "1.5"}, []string{`"stop.probability"`, "1"}},
		{all, []string{"interval", "1500us"}, []string{`"interval"`, "whole milliseconds"}},
		{all, []string{"number-of-rows", "10", "duration", "1 min"}, []string{`"duration"`, "not both"}},
		{all, []string{"start", "yesterday"}, []string{`"start"`, "RFC 3339"}},
		{all, []string{"rows-per-second", "0"}, []string{`"rows-per-second"`, "positive"}},
		{all, []string{"vehicle", "10"}, []string{`"vehicle"`, `"vehicles"`}},
		{runtime.NewSchema(runtime.Field{Name: "altitude", Type: runtime.Double}), nil,
			[]string{"column altitude", "id VARCHAR or BIGINT, lat DOUBLE, lon DOUBLE, speed DOUBLE, heading DOUBLE, ts TIMESTAMP(3)"}},
		{runtime.NewSchema(runtime.Field{Name: "speeed", Type: runtime.Double}), nil, []string{"column speeed", `did you mean "speed"`}},
		{all, []string{"vehicles", "1000001"}, []string{`"vehicles"`, "1000000"}},
		{runtime.NewSchema(runtime.Field{Name: "lat", Type: runtime.Int}), nil, []string{"column lat is INT", "lat DOUBLE"}},
		{runtime.NewSchema(runtime.Field{Name: "ts", Type: runtime.BigInt}), nil, []string{"column ts is BIGINT", "ts TIMESTAMP(3)"}},
	} {
		_, err := newSource(t, c.schema, opts(c.kv...))
		if err == nil {
			t.Errorf("%v: no error", c.kv)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", c.kv, err, w)
			}
		}
	}
}

// TestThrottledSourceKeepsItsRate: with rows-per-second, 400 rows take
// about 0.2 s at 2000 rows/s, whatever the parallelism.
func TestThrottledSourceKeepsItsRate(t *testing.T) {
	t0 := time.Now()
	rows := run(t, all, opts("vehicles", "20", "number-of-rows", "400", "rows-per-second", "2000"), 2)
	if el := time.Since(t0); len(rows) != 400 || el < 150*time.Millisecond || el > 5*time.Second {
		t.Fatalf("%d rows in %v, want 400 in about 200ms", len(rows), el)
	}
}

// BenchmarkPoll measures one subtask's reports per second.
func BenchmarkPoll(b *testing.B) {
	newSrc, err := newSource(b, all, opts("vehicles", "10000"))
	if err != nil {
		b.Fatal(err)
	}
	src := newSrc()
	if err := src.Open(&runtime.Context{Parallelism: 1}); err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	rows := 0
	b.ResetTimer()
	for range b.N {
		batch, _, err := src.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		rows += batch.Len()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// TestREADMEExampleCountsEveryVehicleInEachWindow: the README's query of
// vehicles per area, bounded to 30 s of event time, plans and counts each
// of the 1000 vehicles in at least one cell of each 10 s window (in two
// when it crossed a cell border).
func TestREADMEExampleCountsEveryVehicleInEachWindow(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "**`vehicles`**")
	if !ok {
		t.Fatal("README.md has no vehicles section")
	}
	_, block, _ := strings.Cut(section, "```sql\n")
	query, _, _ := strings.Cut(block, "```")
	live := "'start' = 'now', 'rows-per-second' = '1000'"
	if !strings.Contains(query, live) || !strings.Contains(query, "\nSELECT ") {
		t.Fatalf("README.md's vehicles example has changed:\n%s", query)
	}
	query = strings.Replace(query, live, "'duration' = '30 s'", 1)
	query = strings.Replace(query, "\nSELECT ", "\nCREATE TABLE out WITH ('connector' = 'vehicle_windows');\nINSERT INTO out SELECT ", 1)
	collected.mu.Lock()
	collected.rows = nil
	collected.mu.Unlock()
	plan, err := sql.Compile(query, sql.Options{File: "README.md", Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	perWindow := map[string]int{}
	for _, row := range collected.rows {
		f := strings.Fields(row) // date time lat lon vehicles avg
		var n int
		fmt.Sscan(f[4], &n)
		perWindow[f[1]] += n
	}
	if len(perWindow) != 3 {
		t.Fatalf("windows %v, want 3", perWindow)
	}
	for w, n := range perWindow {
		if n < 1000 || n > 1100 {
			t.Errorf("window %s: %d vehicles over the cells, want 1000 (a few more for border crossings)", w, n)
		}
	}
}

// TestSavepointAndRestoreEmitEveryRowOnce: a job stopped with a savepoint
// part-way and restored from it emits, over both runs, exactly the rows of
// an undisturbed run.
func TestSavepointAndRestoreEmitEveryRowOnce(t *testing.T) {
	const par = 2
	o := opts("vehicles", "30", "duration", "1 min", "rows-per-second", "3000")
	want := rowStrings(run(t, all, o, 1))
	dir := t.TempDir()
	runOnce := func(cp *runtime.CheckpointOptions) ([][]runtime.Value, error) {
		newSrc, err := newSource(t, all, o)
		if err != nil {
			t.Fatal(err)
		}
		c, sink := rttest.NewCollector(all)
		g := runtime.NewGraph("vehicles")
		src := g.AddSource("v", all, par, newSrc, runtime.NoWatermarks)
		g.Connect(src, g.AddOperator("sink", all, par, 1, sink), runtime.Forward)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = runtime.Run(ctx, g, runtime.Options{Parallelism: par, Checkpoints: cp})
		return c.Rows(), err
	}
	stop := make(chan struct{})
	go func() { time.Sleep(200 * time.Millisecond); close(stop) }()
	first, err := runOnce(&runtime.CheckpointOptions{Dir: dir, StopWithSavepoint: stop})
	var sp *runtime.SavepointError
	if !errors.As(err, &sp) {
		t.Fatalf("first run: %v, want it stopped with a savepoint", err)
	}
	cp, err := runtime.LoadCheckpoint(sp.Path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := runOnce(&runtime.CheckpointOptions{Dir: dir, Restore: cp})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 || len(second) == 0 {
		t.Fatalf("%d rows before the savepoint and %d after: want both parts", len(first), len(second))
	}
	if got := rowStrings(append(first, second...)); !slices.Equal(got, want) {
		t.Fatalf("%d + %d rows over both runs; an undisturbed run has %d (or other rows)", len(first), len(second), len(want))
	}
}
