package file

import (
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

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// splitFile is a generated JSON-lines file: its text, the ids of its good
// records in file order, and the line numbers of its bad ones.
type splitFile struct {
	text string
	good []int64
	bad  []int64
}

// drawSplitFile draws a file of up to maxLines lines: good records padded
// with spaces to random lengths (some longer than a range), bad records,
// empty and blank lines, "\n" or "\r\n" line breaks, with or without a
// final line break.
func drawSplitFile(t *rapid.T, maxLines int) splitFile {
	n := rapid.IntRange(0, maxLines).Draw(t, "lines")
	long := rapid.IntRange(0, 300).Draw(t, "long")
	var sb strings.Builder
	var f splitFile
	for i := range n {
		kind := rapid.IntRange(0, 9).Draw(t, "kind")
		switch kind {
		case 0:
		case 1:
			sb.WriteString(strings.Repeat(" ", rapid.IntRange(1, 3).Draw(t, "blank")))
		case 2:
			fmt.Fprintf(&sb, `{"id":%d,"ts":"never"}`, i)
			f.bad = append(f.bad, int64(i+1))
		default:
			pad := rapid.IntRange(0, 4).Draw(t, "pad")
			if kind == 3 {
				pad = long
			}
			fmt.Fprintf(&sb, `{"id":%d,%s"ts":%d}`, i, strings.Repeat(" ", pad), base+int64(i))
			f.good = append(f.good, int64(i))
		}
		if i < n-1 || rapid.Bool().Draw(t, "final break") {
			if rapid.Bool().Draw(t, "crlf") {
				sb.WriteString("\r\n")
			} else {
				sb.WriteString("\n")
			}
		}
	}
	f.text = sb.String()
	return f
}

// pollAll polls src to its end and returns the ids of its rows in order.
func pollAll(t interface {
	Helper()
	Fatal(...any)
}, src *Source) []int64 {
	t.Helper()
	var ids []int64
	for {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			return ids
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		for i := range b.Len() {
			ids = append(ids, b.Cols[0].I64[b.Row(i)])
		}
	}
}

func mustR(t *rapid.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// openSubtasks is subtasks for a rapid test.
func openSubtasks(t *rapid.T, newSrc func() runtime.Source, par int, positions [][]byte) []*Source {
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

// TestSplitFileReadsEveryLineOnceInOrder: a file split into ranges of 1 to
// 64 bytes, read by 1 to 4 subtasks, gives every good record exactly once,
// each subtask's in file order (so that its watermark only moves forward),
// and reports every bad record once, at its line in the file.
func TestSplitFileReadsEveryLineOnceInOrder(tt *testing.T) {
	dir := tt.TempDir()
	var runs int
	rapid.Check(tt, func(t *rapid.T) {
		runs++
		f := drawSplitFile(t, 40)
		split := rapid.IntRange(1, 64).Draw(t, "split size")
		par := rapid.IntRange(1, 4).Draw(t, "par")
		path := filepath.Join(dir, fmt.Sprintf("in-%d.json", runs))
		errPath := filepath.Join(dir, fmt.Sprintf("errors-%d.jsonl", runs))
		mustR(t, os.WriteFile(path, []byte(f.text), 0o644))
		newSrc, _, err := connector(tt).NewSource(table(map[string]string{"path": path, "errors.path": errPath,
			"source.split-size": strconv.Itoa(split)}))
		mustR(t, err)
		var all []int64
		for _, src := range openSubtasks(t, newSrc, par, nil) {
			ids := pollAll(t, src)
			if !slices.IsSorted(ids) {
				t.Fatalf("a subtask read %v: not in file order", ids)
			}
			all = append(all, ids...)
			mustR(t, src.Close())
		}
		slices.Sort(all)
		if !slices.Equal(all, f.good) {
			t.Fatalf("read %v, want %v", all, f.good)
		}
		var lines []int64
		for k, n := range badReports(tt, errPath) {
			l, _ := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 10, 64)
			for range n {
				lines = append(lines, l)
			}
		}
		slices.Sort(lines)
		if !slices.Equal(lines, f.bad) {
			t.Fatalf("bad records reported at lines %v, want %v", lines, f.bad)
		}
	})
}

// TestSplitFileRestoresAtAnotherParallelism: subtasks reading a split file
// stop after a few batches (a crash: what they read after the snapshot is
// lost); subtasks restored from the snapshot — at another parallelism and
// split size — read the rest, so that every good record is read exactly
// once over the two runs.
func TestSplitFileRestoresAtAnotherParallelism(tt *testing.T) {
	dir := tt.TempDir()
	var runs int
	rapid.Check(tt, func(t *rapid.T) {
		runs++
		f := drawSplitFile(t, 600)
		batchRows = rapid.IntRange(1, 100).Draw(t, "batch rows")
		defer func() { batchRows = runtime.DefaultBatchRows }()
		path := filepath.Join(dir, fmt.Sprintf("in-%d.json", runs))
		mustR(t, os.WriteFile(path, []byte(f.text), 0o644))
		source := func(label string) func() runtime.Source {
			split := rapid.IntRange(32, 8192).Draw(t, label+" split size")
			newSrc, _, err := connector(tt).NewSource(table(map[string]string{"path": path, "source.split-size": strconv.Itoa(split)}))
			mustR(t, err)
			return newSrc
		}
		par := rapid.IntRange(1, 4).Draw(t, "par")
		seen := map[int64]int{}
		var positions [][]byte
		for i, src := range openSubtasks(t, source("first"), par, nil) {
			for range rapid.IntRange(0, 8).Draw(t, fmt.Sprintf("batches %d", i)) {
				b, _, err := src.Poll(context.Background())
				if err == io.EOF {
					break
				}
				mustR(t, err)
				for r := range b.Len() {
					seen[b.Cols[0].I64[b.Row(r)]]++
				}
			}
			p, err := src.SnapshotPosition()
			mustR(t, err)
			positions = append(positions, p)
			pollAll(t, src) // lost in the crash
			mustR(t, src.Close())
		}
		again := rapid.IntRange(1, 4).Draw(t, "restored par")
		for _, src := range openSubtasks(t, source("restored"), again, positions) {
			ids := pollAll(t, src)
			if !slices.IsSorted(ids) {
				t.Fatalf("a restored subtask read out of file order")
			}
			for _, id := range ids {
				seen[id]++
			}
			mustR(t, src.Close())
		}
		for _, id := range f.good {
			if seen[id] != 1 {
				t.Fatalf("record %d read %d times", id, seen[id])
			}
		}
		if len(seen) != len(f.good) {
			t.Fatalf("%d distinct records read, want %d", len(seen), len(f.good))
		}
	})
}

// TestWholeFilePositionRestoresIntoASplittingRun: the position of a whole
// file, as checkpoints hold it when the file is not split (and as every
// checkpoint held it before files were split), restores into a run that
// would split the file: one subtask reads the rest of it, every record
// once.
func TestWholeFilePositionRestoresIntoASplittingRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.json")
	want := inputs(t, path, "json", 0, 10_000, 4000)
	one, _, err := connector(t).NewSource(table(map[string]string{"path": path}))
	must(t, err)
	src := subtasks(t, one, 1, nil)[0]
	before := map[int64]int{}
	pollIDs(t, src, 2, before)
	p, err := src.SnapshotPosition()
	must(t, err)
	must(t, src.Close())
	var old struct {
		Files []map[string]any `json:"files"`
	}
	must(t, json.Unmarshal(p, &old))
	if len(old.Files) != 1 || old.Files[0]["start"] != nil || old.Files[0]["end"] != nil || old.Files[0]["offset"] == 0.0 {
		t.Fatalf("position %s: want one whole file part-read", p)
	}
	split, _, err := connector(t).NewSource(table(map[string]string{"path": path, "source.split-size": "1kb"}))
	must(t, err)
	for _, src := range subtasks(t, split, 3, [][]byte{p}) {
		pollIDs(t, src, 1000, before)
		must(t, src.Close())
	}
	for _, id := range want {
		if before[id] != 1 {
			t.Fatalf("record %d read %d times", id, before[id])
		}
	}
	if len(before) != len(want) {
		t.Fatalf("%d distinct records, want %d", len(before), len(want))
	}
}

// TestSplitFileIsDealtToEverySubtask: a file larger than the split size is
// read by every subtask of a bounded source, in as many ranges each; a
// following source, one subtask, or 'off' read it whole.
func TestSplitFileIsDealtToEverySubtask(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.json")
	inputs(t, path, "json", 0, 1000)
	st, err := os.Stat(path)
	must(t, err)
	spans := func(opts map[string]string, par int) []int {
		opts["path"] = path
		newSrc, _, err := connector(t).NewSource(table(opts))
		must(t, err)
		var n []int
		for _, src := range subtasks(t, newSrc, par, nil) {
			k := 0
			for _, fs := range src.files {
				k += len(fs.spans)
			}
			n = append(n, k)
			must(t, src.Close())
		}
		return n
	}
	size := st.Size()
	if got := spans(map[string]string{"source.split-size": strconv.FormatInt(size/5, 10)}, 3); !slices.Equal(got, []int{2, 2, 2}) {
		t.Errorf("split in 5 or more, 3 subtasks: ranges %v, want 2 each", got)
	}
	if got := spans(map[string]string{}, 3); !slices.Equal(got, []int{1, 0, 0}) {
		t.Errorf("smaller than the default split size: %v, want one subtask reading it whole", got)
	}
	if got := spans(map[string]string{"source.split-size": "off"}, 2); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("off: %v", got)
	}
	if got := spans(map[string]string{"source.split-size": "1kb"}, 1); !slices.Equal(got, []int{1}) {
		t.Errorf("one subtask: %v", got)
	}
	if got := spans(map[string]string{"source.split-size": "1kb", "source.monitor-interval": "1 s"}, 2); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("following: %v", got)
	}
}

// TestSplitCSVFile: a CSV file split between subtasks is read exactly once
// with its header skipped once; a quoted field with a line break across a
// range boundary fails the job, naming the option that reads it whole.
func TestSplitCSVFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.csv")
	writeFile(t, path, "id,name,score,ok,ts\n")
	want := inputs(t, path, "csv", 0, 3000)
	opts := map[string]string{"path": path, "format": "csv", "csv.ignore-first-line": "true", "source.split-size": "2kb"}
	got, _, err := read(t, opts, 3)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}

	var sb strings.Builder
	for i := range 400 {
		fmt.Fprintf(&sb, "%d,\"two\nlines\",,,%d\n", i, base+int64(i))
	}
	writeFile(t, path, sb.String())
	_, _, err = read(t, opts, 2)
	if err == nil || !strings.Contains(err.Error(), "quoted CSV field holds a line break") || !strings.Contains(err.Error(), "'source.split-size' = 'off'") {
		t.Fatalf("quoted line breaks across a split: %v", err)
	}
	opts["source.split-size"] = "off"
	got, _, err = read(t, opts, 2)
	if err != nil || len(got) != 399 { // the first line is taken for a header
		t.Fatalf("read whole: %d rows, %v", len(got), err)
	}
}

// TestSplitPositionsRestoreIntoAFollowingRun: the ranges of a bounded run,
// part read, restore into a run that follows the file: it reads the rest
// of every range once, then lines appended to the file.
func TestSplitPositionsRestoreIntoAFollowingRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.json")
	want := inputs(t, path, "json", 0, 20_000)
	bounded, _, err := connector(t).NewSource(table(map[string]string{"path": path, "source.split-size": "64kb"}))
	must(t, err)
	seen := map[int64]int{}
	var positions [][]byte
	for _, src := range subtasks(t, bounded, 2, nil) {
		pollIDs(t, src, 2, seen)
		p, err := src.SnapshotPosition()
		must(t, err)
		positions = append(positions, p)
		must(t, src.Close())
	}
	if !strings.Contains(string(positions[0]), `"end"`) {
		t.Fatalf("position %s: want ranges", positions[0])
	}
	following, _, err := connector(t).NewSource(table(map[string]string{"path": path, "source.monitor-interval": "1ms"}))
	must(t, err)
	srcs := subtasks(t, following, 3, positions)
	for _, src := range srcs {
		pollIDs(t, src, 1000, seen)
	}
	want = append(want, inputs(t, path, "json", 20_000, 20_100)...)
	for _, src := range srcs {
		pollIDs(t, src, 1000, seen)
		must(t, src.Close())
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Fatalf("record %d read %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct records, want %d", len(seen), len(want))
	}
}
