package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// inputs writes, in the wanted format, lines from … to-1 to file path
// (appending), with a bad record at each line index in bad; it returns the
// ids of the good records.
func inputs(t *testing.T, path, format string, from, to int, bad ...int) []int64 {
	t.Helper()
	var sb strings.Builder
	var ids []int64
	for i := from; i < to; i++ {
		switch {
		case slices.Contains(bad, i) && format == "csv":
			fmt.Fprintf(&sb, "%d,too,few\n", i)
		case slices.Contains(bad, i):
			fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":\"never\"}\n", i)
		case format == "csv":
			fmt.Fprintf(&sb, "%d,,,,%d\n", i, base+int64(i))
			ids = append(ids, int64(i))
		default:
			fmt.Fprintf(&sb, "{\"id\":%d,\"ts\":%d}\n", i, base+int64(i))
			ids = append(ids, int64(i))
		}
		if i%1000 == 999 {
			sb.WriteString("\n") // a blank line
		}
	}
	appendFile(t, path, sb.String())
	return ids
}

// subtasks makes par subtasks of the source (sharing a listing), gives
// them positions when not nil, and opens them.
func subtasks(t *testing.T, newSrc func() runtime.Source, par int, positions [][]byte) []*Source {
	t.Helper()
	out := make([]*Source, par)
	for i := range out {
		out[i] = newSrc().(*Source)
		if positions != nil {
			if err := out[i].RestorePositions(positions); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, src := range out {
		if err := src.Open(rttest.NewContext("src", i, par)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// pollIDs polls src for up to batches batches with rows (or until io.EOF,
// or, when following, until nothing more comes for a while) and adds the
// ids of their rows to ids.
func pollIDs(t *testing.T, src *Source, batches int, ids map[int64]int) {
	t.Helper()
	idle := 0
	for got := 0; got < batches; {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			if idle++; idle > 50 {
				return // following: nothing more now
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		idle = 0
		for i := range b.Len() {
			ids[b.Cols[0].I64[b.Row(i)]]++
		}
		got++
	}
}

// badReports returns the file:line of each bad-record report in errors.path,
// counted.
func badReports(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			File string `json:"file"`
			Line int64  `json:"line"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("errors.path line %q: %v", sc.Text(), err)
		}
		out[filepath.Base(r.File)+":"+strconv.FormatInt(r.Line, 10)]++
	}
	return out
}

// TestCheckpointedSource drives source subtasks by hand: polled part-way,
// snapshotted, polled on; then fresh subtasks restored from every position
// read the rest. Rows before the snapshot and after the restore are every
// good record exactly once, and every bad record is reported once.
func TestCheckpointedSource(t *testing.T) {
	for _, format := range []string{"json", "csv"} {
		for _, par := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", format, par), func(t *testing.T) {
				checkpointedSource(t, format, par)
			})
		}
	}
}

func checkpointedSource(t *testing.T, format string, par int) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	must(t, os.Mkdir(in, 0o755))
	errPath := filepath.Join(dir, "errors.jsonl")
	ext := "." + format
	var want []int64
	// Bad records at lines before the first batch ends (before the
	// snapshot) and after it; line numbers are 1-based, plus a header in
	// CSV files and a blank line after each 1000 records.
	header := 0
	if format == "csv" {
		header = 1
		for _, n := range []string{"a", "b", "c", "d"} {
			writeFile(t, filepath.Join(in, n+ext), "id,name,score,ok,ts\n")
		}
	}
	want = append(want, inputs(t, filepath.Join(in, "a"+ext), format, 0, 5000, 100, 3000)...)
	want = append(want, inputs(t, filepath.Join(in, "b"+ext), format, 10000, 13000, 10010, 12500)...)
	want = append(want, inputs(t, filepath.Join(in, "c"+ext), format, 20000, 20010)...)
	want = append(want, inputs(t, filepath.Join(in, "d"+ext), format, 30000, 34500, 34400)...)
	line := func(i, first int) string { return strconv.Itoa(header + i - first + 1 + (i-first)/1000) }
	allBad := map[string]int{"a" + ext + ":" + line(100, 0): 1, "a" + ext + ":" + line(3000, 0): 1,
		"b" + ext + ":" + line(10010, 10000): 1, "b" + ext + ":" + line(12500, 10000): 1, "d" + ext + ":" + line(34400, 30000): 1}
	opts := map[string]string{"path": in, "format": format, "errors.path": errPath}
	if format == "csv" {
		opts["csv.ignore-first-line"] = "true"
	}
	newSrc, _, err := connector(t).NewSource(table(opts))
	must(t, err)

	before, undisturbed := map[int64]int{}, map[int64]int{}
	first := subtasks(t, newSrc, par, nil)
	for _, src := range first {
		pollIDs(t, src, 1, before)
	}
	badBefore := badReports(t, errPath)
	var positions [][]byte
	for _, src := range first {
		p, err := src.SnapshotPosition()
		must(t, err)
		positions = append(positions, p)
	}
	for _, src := range first {
		pollIDs(t, src, 1000, undisturbed)
		must(t, src.Close())
	}
	must(t, os.Remove(errPath))

	after := map[int64]int{}
	for _, src := range subtasks(t, newSrc, par, positions) {
		pollIDs(t, src, 1000, after)
		must(t, src.Close())
	}
	badAfter := badReports(t, errPath)

	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("%d ids before the snapshot, %d after the restore: want some of both", len(before), len(after))
	}
	if fmt.Sprint(after) != fmt.Sprint(undisturbed) {
		t.Fatalf("after the restore %d ids; undisturbed, %d after the snapshot", len(after), len(undisturbed))
	}
	seen := before
	for id, n := range after {
		seen[id] += n
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("record %d read %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct ids read, want %d", len(seen), len(want))
	}
	for k, n := range badAfter {
		badBefore[k] += n
	}
	if fmt.Sprint(badBefore) != fmt.Sprint(allBad) {
		t.Fatalf("bad records reported %v, want %v once each", badBefore, allBad)
	}
}

// TestCheckpointedSourceFollowing: a following source restored after its
// files grew (a line half written at the snapshot, more lines, a new file)
// resumes right after the last line it emitted.
func TestCheckpointedSourceFollowing(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(strconv.Itoa(par), func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
			want := inputs(t, a, "json", 0, 3000, 2500)
			want = append(want, inputs(t, b, "json", 5000, 5100)...)
			appendFile(t, a, `{"id":3000,`) // half written
			newSrc, _, err := connector(t).NewSource(table(map[string]string{"path": dir, "source.monitor-interval": "1ms"}))
			must(t, err)

			before := map[int64]int{}
			first := subtasks(t, newSrc, par, nil)
			for _, src := range first {
				pollIDs(t, src, 1, before)
			}
			var positions [][]byte
			for _, src := range first {
				p, err := src.SnapshotPosition()
				must(t, err)
				positions = append(positions, p)
			}
			for _, src := range first {
				pollIDs(t, src, 1000, map[int64]int{}) // after the snapshot: replayed after the restore
				must(t, src.Close())
			}

			appendFile(t, a, fmt.Sprintf("\"ts\":%d}\n", base))
			want = append(want, 3000)
			want = append(want, inputs(t, a, "json", 3001, 4000, 3500)...)
			want = append(want, inputs(t, filepath.Join(dir, "c.json"), "json", 7000, 7050)...)

			after := map[int64]int{}
			for _, src := range subtasks(t, newSrc, par, positions) {
				pollIDs(t, src, 1000, after)
				must(t, src.Close())
			}
			for id, n := range after {
				before[id] += n
			}
			for _, id := range want {
				if before[id] != 1 {
					t.Fatalf("record %d read %d times", id, before[id])
				}
			}
			if len(before) != len(want) {
				t.Fatalf("%d distinct ids read, want %d", len(before), len(want))
			}
		})
	}
}

// TestCheckpointedSourceDone: a bounded source restored does not read again
// a file it had read to its end, even one that has grown since.
func TestCheckpointedSourceDone(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	inputs(t, a, "json", 0, 10)
	newSrc, _, err := connector(t).NewSource(table(map[string]string{"path": dir}))
	must(t, err)
	src := subtasks(t, newSrc, 1, nil)[0]
	ids := map[int64]int{}
	pollIDs(t, src, 1000, ids)
	p, err := src.SnapshotPosition()
	must(t, err)
	must(t, src.Close())
	inputs(t, a, "json", 10, 20)
	again := subtasks(t, newSrc, 1, [][]byte{p})[0]
	after := map[int64]int{}
	pollIDs(t, again, 1000, after)
	must(t, again.Close())
	if len(ids) != 10 || len(after) != 0 {
		t.Fatalf("%d rows, then %d after the restore; want 10, then none", len(ids), len(after))
	}
	if err := newSrc().(*Source).RestorePositions([][]byte{[]byte("[")}); err == nil || !strings.Contains(err.Error(), "table t:") {
		t.Fatalf("a broken position: %v", err)
	}
}
