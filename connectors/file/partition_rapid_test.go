package file

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestPartitionedSinkRandomCrashes: random rows over random partitions
// fed to one or two subtasks with checkpoints, notifications that may be
// lost and crashes at any step, each followed by a restore from the last
// complete checkpoint and a replay of the rows after it (as sources do):
// at the end every partition holds each of its rows exactly once, has its
// success file, and nothing hidden is left; published rows never hold a
// duplicate along the way.
func TestPartitionedSinkRandomCrashes(t *testing.T) {
	f := connector(t)
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "sluice-partition-*")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		par := rapid.IntRange(1, 2).Draw(rt, "par")
		trigger := rapid.SampledFrom([]string{triggerProcessTime, triggerPartitionTime}).Draw(rt, "trigger")
		hms := []string{"10:00", "10:01", "10:02", "10:03"}
		tb := tableOf(partSchema, map[string]string{"path": dir, "format": "csv", "sink.rolling-policy.file-size": "96b",
			"sink.partition-commit.trigger": trigger, "partition.time-extractor.timestamp-pattern": "$dt $hm:00"})
		tb.PartitionKeys = []string{"dt", "hm"}
		newSink, _, err := f.NewSink(tb)
		if err != nil {
			rt.Fatal(err)
		}
		open := func() []*sink {
			ops := make([]*sink, par)
			for i := range ops {
				ops[i] = newSink().(*sink)
			}
			for i, op := range ops {
				ctx := rttest.NewContext("file", i, par)
				ctx.Checkpointing = true
				if err := op.Open(ctx); err != nil {
					rt.Fatal(err)
				}
			}
			return ops
		}
		ops := open()
		input := make([][][]runtime.Value, par) // per subtask, the rows of its source, in order
		cursor := make([]int, par)              // rows of input fed in this run
		var lastID int64
		lastStates := make([][]byte, par)
		lastPos := make([]int, par)
		next := 0
		feedTo := func(s, to int) {
			if to > cursor[s] {
				if err := ops[s].ProcessBatch(0, rttest.NewBatch(partSchema, input[s][cursor[s]:to]...), nil); err != nil {
					rt.Fatal(err)
				}
				cursor[s] = to
			}
		}
		fresh := false // a crash before any checkpoint: the next run starts afresh
		steps := rapid.IntRange(1, 8).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 3).Draw(rt, "step") {
			case 0, 1: // rows: replayed ones first, then new ones
				s := rapid.IntRange(0, par-1).Draw(rt, "subtask")
				for range rapid.IntRange(0, 8).Draw(rt, "rows") {
					hm := rapid.SampledFrom(hms).Draw(rt, "hm")
					input[s] = append(input[s], []runtime.Value{runtime.IntValue(int64(next)), runtime.StringValue("2015-07-15"), runtime.StringValue(hm)})
					next++
				}
				feedTo(s, len(input[s]))
			case 2: // a checkpoint, its notifications maybe lost
				lastID++
				for s, op := range ops {
					st, err := op.SnapshotState(lastID)
					if err != nil {
						rt.Fatal(err)
					}
					lastStates[s], lastPos[s] = st, cursor[s]
				}
				if rapid.Bool().Draw(rt, "notify") {
					for _, op := range ops {
						if err := op.NotifyCheckpointComplete(lastID); err != nil {
							rt.Fatal(err)
						}
					}
				}
				checkNoDuplicates(rt, dir)
			case 3: // crash, restore from the last checkpoint
				for _, op := range ops {
					crash(op)
				}
				fresh = fresh || lastID == 0
				ops = open()
				for s, op := range ops {
					if lastID > 0 {
						if err := op.RestoreState(lastStates[s]); err != nil {
							rt.Fatal(err)
						}
					}
					cursor[s] = lastPos[s]
				}
				checkNoDuplicates(rt, dir)
			}
		}
		for s, op := range ops {
			feedTo(s, len(input[s]))
			if err := op.Finish(nil); err != nil {
				rt.Fatal(err)
			}
			if _, err := op.SnapshotState(runtime.EndCheckpoint); err != nil {
				rt.Fatal(err)
			}
			if err := op.Close(); err != nil {
				rt.Fatal(err)
			}
		}
		for _, op := range ops {
			if err := op.NotifyCheckpointComplete(runtime.EndCheckpoint); err != nil {
				rt.Fatal(err)
			}
		}
		want := map[string][]string{}
		for _, rows := range input {
			for _, r := range rows {
				folder := "dt=2015-07-15/hm=" + strings.ReplaceAll(r[2].S, ":", "%3A")
				want[folder] = append(want[folder], fmt.Sprint(r[0].I))
			}
		}
		got := readTreeRapid(rt, dir)
		for folder, rows := range want {
			sort.Strings(rows)
			if !slices.Equal(got.rows[folder], rows) {
				rt.Fatalf("%s: rows %v, want each of %v once", folder, got.rows[folder], rows)
			}
		}
		// A run started afresh (no checkpoint to restore) leaves the failed
		// attempt's hidden files, as an unpartitioned sink does: readers skip them.
		if len(got.rows) != len(want) || !slices.Equal(got.success, keys(want)) || (len(got.hidden) != 0 && !fresh) {
			rt.Fatalf("partitions %v (want %v), success files %v, hidden %v", keys(got.rows), keys(want), got.success, got.hidden)
		}
	})
}

func readTreeRapid(rt *rapid.T, dir string) tree {
	tr, err := scanTree(dir)
	if err != nil {
		rt.Fatal(err)
	}
	return tr
}

func checkNoDuplicates(rt *rapid.T, dir string) {
	for folder, rows := range readTreeRapid(rt, dir).rows {
		for i := 1; i < len(rows); i++ {
			if rows[i] == rows[i-1] {
				rt.Fatalf("%s: row %s published twice", folder, rows[i])
			}
		}
	}
}
