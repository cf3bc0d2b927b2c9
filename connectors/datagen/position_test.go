package datagen_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/datagen"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// pollRows polls src for up to batches non-empty batches (or until
// io.EOF) and returns their rows.
func pollRows(t *testing.T, src *datagen.Source, batches int) (rows []string, eof bool) {
	t.Helper()
	for got := 0; got < batches; {
		b, _, err := src.Poll(context.Background())
		if err == io.EOF {
			return rows, true
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue // throttled
		}
		if err := rttest.CheckBatch(b, schema); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rttest.Strings(b)...)
		got++
	}
	return rows, false
}

// restoredSubtasks makes par fresh subtasks, gives each every position and
// opens them.
func restoredSubtasks(t *testing.T, o map[string]string, par int, positions [][]byte) ([]*datagen.Source, error) {
	t.Helper()
	newSrc, err := newSource(t, schema, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []*datagen.Source
	for sub := range par {
		src := newSrc().(*datagen.Source)
		t.Cleanup(func() { src.Close() })
		if err := src.RestorePositions(positions); err != nil {
			return nil, err
		}
		if err := src.Open(rttest.NewContext("gen", sub, par)); err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// TestCheckpointedPositions: subtasks polled part-way, snapshotted, polled
// on (rows after the snapshot); fresh subtasks restored from the positions
// emit exactly the rows the first ones emitted after the snapshot, so rows
// before the snapshot and rows after the restore are every row once.
func TestCheckpointedPositions(t *testing.T) {
	const blocks = 7
	rows := blocks*runtime.DefaultBatchRows + 123
	for _, tc := range []struct {
		name string
		o    map[string]string
		par  int
	}{
		{"bounded/1", everything(rows), 1},
		{"bounded/3", everything(rows), 3},
		{"unbounded/1", unbounded(), 1},
		{"unbounded/3", unbounded(), 3},
		// Throttled: batches end inside blocks, so positions do too.
		{"throttled/3", withOpts(everything(rows), "rows-per-second", "50000"), 3},
		{"throttled-unbounded/2", withOpts(unbounded(), "rows-per-second", "50000"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bounded := !strings.Contains(tc.name, "unbounded")
			const limit = 12 // batches per subtask after the snapshot when unbounded
			var before, after []string
			undisturbed := make([][]string, tc.par) // per subtask, after the snapshot
			var positions [][]byte
			for sub := range tc.par {
				src := open(t, tc.o, sub, tc.par)
				head, _ := pollRows(t, src, 1+sub%2)
				before = append(before, head...)
				p, err := src.SnapshotPosition()
				if err != nil {
					t.Fatal(err)
				}
				positions = append(positions, p)
				tail, _ := pollRows(t, src, limit) // after the snapshot
				undisturbed[sub] = append(undisturbed[sub], tail...)
				if bounded {
					rest, eof := pollRows(t, src, 1000)
					if !eof {
						t.Fatal("bounded subtask did not end")
					}
					undisturbed[sub] = append(undisturbed[sub], rest...)
				}
			}
			restored, err := restoredSubtasks(t, tc.o, tc.par, positions)
			if err != nil {
				t.Fatal(err)
			}
			for sub, src := range restored {
				n := limit
				if bounded {
					n = 1000
				}
				got, eof := pollRows(t, src, n)
				if bounded && !eof {
					t.Fatal("restored bounded subtask did not end")
				}
				after = append(after, got...)
				// Throttled batches end where the clock says: compare the
				// rows both emitted.
				common := min(len(got), len(undisturbed[sub]))
				if bounded && len(got) != len(undisturbed[sub]) || !bounded && common == 0 ||
					!slices.Equal(got[:common], undisturbed[sub][:common]) {
					t.Fatalf("subtask %d: restored, it emitted %d rows; undisturbed, %d after the snapshot (or others)",
						sub, len(got), len(undisturbed[sub]))
				}
			}
			all := append(slices.Clone(before), after...)
			index := map[int64]int{}
			for _, r := range all {
				var i int64
				if _, err := fmt.Sscan(strings.SplitN(r, ",", 2)[0], &i); err != nil {
					t.Fatalf("row %q: %v", r, err)
				}
				index[i]++
			}
			if bounded {
				if len(all) != rows || len(index) != rows {
					t.Fatalf("%d rows (%d distinct) before the snapshot and after the restore, want %d once each", len(all), len(index), rows)
				}
			}
			for i, n := range index {
				if n != 1 || i < 0 || bounded && i >= int64(rows) {
					t.Fatalf("row %d emitted %d times", i, n)
				}
			}
			// The rows are those of a run without the restore.
			if bounded {
				want := run(t, schema, tc.o, 1)
				byI := map[string]bool{}
				for _, r := range want {
					byI[rttest.Format(r)] = true
				}
				for _, r := range all {
					if !byI[r] {
						t.Fatalf("row %q is not one of an undisturbed run", r)
					}
				}
			}
		})
	}
}

// withOpts returns o with more options.
func withOpts(o map[string]string, kv ...string) map[string]string {
	o = maps.Clone(o)
	for i := 0; i < len(kv); i += 2 {
		o[kv[i]] = kv[i+1]
	}
	return o
}

// unbounded is everything without an end.
func unbounded() map[string]string {
	o := everything(0)
	delete(o, "number-of-rows")
	return o
}

// TestRestoreOtherParallelism: positions of 3 subtasks are refused by a
// job of 2, naming the table and both parallelisms; broken positions are
// refused too.
func TestRestoreOtherParallelism(t *testing.T) {
	o := everything(10 * runtime.DefaultBatchRows)
	var positions [][]byte
	for sub := range 3 {
		src := open(t, o, sub, 3)
		pollRows(t, src, 1)
		p, err := src.SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, p)
	}
	_, err := restoredSubtasks(t, o, 2, positions)
	if err == nil || !strings.Contains(err.Error(), "table gen:") || !strings.Contains(err.Error(), "3 datagen subtasks") ||
		!strings.Contains(err.Error(), "now runs 2") {
		t.Fatalf("restore of 3 subtasks' positions with 2: %v", err)
	}
	for _, bad := range [][][]byte{
		{[]byte("{")},
		{[]byte(`{"table":"gen","subtask":3,"parallelism":3,"next":0}`)},
		{[]byte(`{"table":"gen","subtask":0,"parallelism":2,"next":0}`), []byte(`{"table":"gen","subtask":1,"parallelism":3,"next":0}`)},
		{positions[0], positions[0]},
	} {
		if _, err := restoredSubtasks(t, o, 3, bad); err == nil || !strings.Contains(err.Error(), "table gen:") {
			t.Fatalf("positions %q: %v", bad, err)
		}
	}
	// A subtask whose position is missing.
	if _, err := restoredSubtasks(t, o, 3, positions[:2]); err == nil || !strings.Contains(err.Error(), "no position of datagen subtask 2") {
		t.Fatalf("missing position: %v", err)
	}
}

// TestRestoreRefusesPositionsDealtInOtherBlocks: a throttled source deals
// smaller blocks than a fast one, so a position of one cannot be restored
// into the other.
func TestRestoreRefusesPositionsDealtInOtherBlocks(t *testing.T) {
	fast := everything(10 * runtime.DefaultBatchRows)
	var positions [][]byte
	for sub := range 2 {
		src := open(t, fast, sub, 2)
		pollRows(t, src, 1)
		p, err := src.SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, p)
	}
	throttled := everything(10 * runtime.DefaultBatchRows)
	throttled["rows-per-second"] = "1000"
	_, err := restoredSubtasks(t, throttled, 2, positions)
	if err == nil || !strings.Contains(err.Error(), "blocks of 2048 and the job now deals blocks of 10") {
		t.Fatalf("a fast source's position restored into a throttled one: %v", err)
	}
}
