package window

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestCumulateWindowsGrowByStep(t *testing.T) {
	h := newHarness(t, kvSpec(Cumulate(10*ms, 30*ms)))
	h.batch(kv(1, 5, 1), kv(1, 12, 2), kv(2, 29, 3), kv(1, 30, 4))
	h.watermark(9)
	h.expect("the first step", "1,0,10,1,1")
	h.watermark(29)
	h.expect("the rest of the period",
		"1,0,20,2,3",
		"1,0,30,2,3",
		"2,0,30,1,3")
	h.finish()
	h.expect("the next period",
		"1,30,40,1,4",
		"1,30,50,1,4",
		"1,30,60,1,4")
	checkStateFreed(t, h.op)
}

func TestCumulateSpecIsChecked(t *testing.T) {
	for _, w := range []Assigner{Cumulate(0, time.Second), Cumulate(time.Second, 0), Cumulate(3*time.Second, 10*time.Second)} {
		if _, _, err := New(kvSpec(w)); err == nil || !strings.Contains(err.Error(), "cumulating window") {
			t.Fatalf("%s: got %v", w, err)
		}
	}
}

func TestCumulateRestoreContinuesWindows(t *testing.T) {
	spec := kvSpec(Cumulate(10*ms, 40*ms))
	spec.Window.Offset = 3
	before := []step{rows(kv(1, 5, 1), kv(1, 14, 2), kv(2, 20, 3)), wmark(13)}
	after := []step{rows(kv(1, 21, 4), kv(2, 44, 5)), wmark(30), rows(kv(3, 41, 6)), wmark(runtime.MaxWatermark)}
	if got := checkRestore(t, spec, before, after); len(got) == 0 {
		t.Fatal("no rows after the restore")
	}
}

// needSQLite returns the path of sqlite3, or skips the test when it is not
// installed (fails with SLUICE_REQUIRE_TOOLS=1).
func needSQLite(t tb) string {
	t.Helper()
	path, err := exec.LookPath("sqlite3")
	if err != nil {
		const msg = "sqlite3 not installed: apt-get install -y sqlite3"
		if os.Getenv("SLUICE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s (SLUICE_REQUIRE_TOOLS=1 requires it)", msg)
		}
		if s, ok := t.(interface{ Skip(...any) }); ok {
			s.Skip("SKIPPING THE DIFFERENTIAL TEST AGAINST SQLITE: " + msg)
		}
	}
	return path
}

// cumulateWindows lists the windows of a CUMULATE row at ts, the slow way:
// every period start near ts, every end of it after ts.
func cumulateWindows(w Assigner, ts int64) (starts, ends []int64) {
	for s := ts - 2*w.Size; s <= ts; s++ {
		if (s-w.Offset)%w.Size != 0 {
			continue
		}
		for e := s + w.Slide; e <= s+w.Size; e += w.Slide {
			if s <= ts && ts < e {
				starts, ends = append(starts, s), append(ends, e)
			}
		}
	}
	return starts, ends
}

// sqliteCumulate aggregates rows (kvSchema) by key and cumulating window
// with sqlite3: one row per key and window, "k|start|end|count|sum".
func sqliteCumulate(t tb, sqlite string, w Assigner, rows [][]runtime.Value) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("CREATE TABLE t(k INTEGER, ws INTEGER, we INTEGER, v INTEGER);\n")
	val := func(v runtime.Value) string {
		if v.Null {
			return "NULL"
		}
		return strconv.FormatInt(v.I, 10)
	}
	n := 0
	for _, r := range rows {
		starts, ends := cumulateWindows(w, r[1].I)
		for i := range starts {
			fmt.Fprintf(&b, "INSERT INTO t VALUES (%s, %d, %d, %s);\n", val(r[0]), starts[i], ends[i], val(r[2]))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	b.WriteString(".nullvalue NULL\nSELECT k, ws, we, count(*), sum(v) FROM t GROUP BY k, ws, we;\n")
	cmd := exec.Command(sqlite, "-batch", ":memory:")
	cmd.Stdin = strings.NewReader(b.String())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("sqlite3: %v: %s", err, stderr.String())
	}
	out := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	slices.Sort(out)
	return out
}

// plain prints kv window results as sqliteCumulate does, sorted.
func plain(rows [][]runtime.Value) []string {
	var out []string
	for _, r := range rows {
		var f []string
		for _, v := range r {
			if v.Null {
				f = append(f, "NULL")
			} else {
				f = append(f, strconv.FormatInt(v.I, 10))
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	slices.Sort(out)
	return out
}

// drawCumulate draws a cumulating window and kvSchema rows none of which
// is late with the watermark delay ms behind.
func drawCumulate(t *rapid.T) (spec Spec, data [][]runtime.Value, delay int64) {
	step := rapid.Int64Range(1, 15).Draw(t, "step")
	w := Cumulate(time.Duration(step)*ms, time.Duration(step*rapid.Int64Range(1, 6).Draw(t, "steps"))*ms)
	w.Offset = rapid.Int64Range(-40, 40).Draw(t, "offset")
	spec = kvSpec(w)
	delay = rapid.Int64Range(0, 30).Draw(t, "delay")
	base := rapid.Int64Range(-200, 200).Draw(t, "start")
	n := rapid.IntRange(0, 200).Draw(t, "n")
	for i := 0; i < n; i++ {
		base += rapid.Int64Range(0, 4).Draw(t, "step")
		k := runtime.IntValue(rapid.Int64Range(0, 3).Draw(t, "k"))
		if rapid.IntRange(0, 6).Draw(t, "null key") == 0 {
			k = null
		}
		v := runtime.IntValue(rapid.Int64Range(-20, 20).Draw(t, "v"))
		if rapid.IntRange(0, 6).Draw(t, "null v") == 0 {
			v = null
		}
		data = append(data, []runtime.Value{k, runtime.TimeValue(base - rapid.Int64Range(0, delay).Draw(t, "behind")), v})
	}
	return spec, data, delay
}

// TestCumulateMatchesSQLiteGroupBy aggregates random rows in cumulating
// windows, restarting from a snapshot half way, and compares with sqlite3
// grouping the rows of every window a reference loop lists.
func TestCumulateMatchesSQLiteGroupBy(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec, data, delay := drawCumulate(t)
		want := sqliteCumulate(t, sqlite, spec.Window, data)
		h := newHarness(t, spec)
		var got [][]runtime.Value
		maxT := runtime.MinWatermark
		half := len(data) / 2
		for i := 0; i < len(data); {
			j := min(len(data), i+rapid.IntRange(1, 30).Draw(t, "chunk"))
			if i < half && j >= half {
				j = half
			}
			h.batch(data[i:j]...)
			for _, r := range data[i:j] {
				maxT = max(maxT, r[1].I)
			}
			if rapid.Bool().Draw(t, "watermark") {
				h.watermark(maxT - delay - 1)
			}
			if j == half {
				snap := h.snapshot()
				got = append(got, h.out.Rows()...)
				h = newHarness(t, spec)
				h.restore(snap)
			}
			i = j
		}
		h.finish()
		got = append(got, h.out.Rows()...)
		if g := plain(got); !slices.Equal(g, want) {
			t.Fatalf("%s: %d rows, want %d:\n%s", spec.Window, len(g), len(want), diff(g, want))
		}
		h.expectDropped(0)
		checkStateFreed(t, h.op)
	})
}

// TestCumulateJobMatchesSQLite runs the cumulating aggregation as a job
// at parallelism 1 and 3.
func TestCumulateJobMatchesSQLite(t *testing.T) {
	sqlite := needSQLite(t)
	rapid.Check(t, func(t *rapid.T) {
		spec, data, delay := drawCumulate(t)
		want := sqliteCumulate(t, sqlite, spec.Window, data)
		for _, p := range []int{1, 3} {
			chunks := rttestDeal(data, rapid.IntRange(1, 40).Draw(t, "chunk"), 3)
			newOp, out, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			got := runKeyed(t, spec.In, out, newOp, chunks, spec.KeyCols, p, delay)
			if g := plain(got); !slices.Equal(g, want) {
				t.Fatalf("p=%d %s: %d rows, want %d:\n%s", p, spec.Window, len(g), len(want), diff(g, want))
			}
		}
	})
}

func rttestDeal(rows [][]runtime.Value, size, parts int) []rttest.Chunk {
	return rttest.Deal(rows, size, parts)
}

// runKeyed runs source (p subtasks over the chunks' partitions, watermarks
// delay ms behind) → op (p subtasks, keyed by keys, or forward when keys
// is nil) → one sink, and returns the rows the sink got.
func runKeyed(t tb, in, out *runtime.Schema, newOp func() runtime.Operator, chunks []rttest.Chunk, keys []int, p int, delay int64) [][]runtime.Value {
	t.Helper()
	g := runtime.NewGraph("windows")
	src := g.AddSource("src", in, p, rttest.Source(in, chunks),
		runtime.WatermarkStrategy{TimeColumn: 1, MaxOutOfOrderness: time.Duration(delay) * time.Millisecond})
	o := g.AddOperator("op", out, p, 1, newOp)
	if keys != nil {
		g.Connect(src, o, runtime.Keyed, keys...)
	} else {
		g.Connect(src, o, runtime.Forward)
	}
	c, sink := rttest.NewCollector(out)
	k := g.AddOperator("sink", out, 1, 1, sink)
	g.Connect(o, k, runtime.Global)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, g, runtime.Options{Parallelism: p, BufferRows: 256}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return c.Rows()
}
