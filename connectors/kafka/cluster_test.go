package kafka

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestTaskReadsItsPartitionAndLeavesTheCommitToItsOwner: a source subtask
// that is task 2 of a shared job reads partition 2 only, reports the
// offsets of its snapshots to the task's owner, and commits nothing itself.
func TestTaskReadsItsPartitionAndLeavesTheCommitToItsOwner(t *testing.T) {
	addr := startCluster(t, 3)
	fill(t, addr, 3, 40)
	tab := table(addr, map[string]string{"properties.group.id": "g", "scan.startup.mode": "earliest-offset"})
	newSrc, _, err := factory{}.NewSource(tab)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	offsets := map[string]int64{}
	task := &runtime.TaskInfo{ID: 2, Count: 3, Attempt: "a1", Offsets: func(topic string, part int, next int64) {
		mu.Lock()
		offsets[topic+"/"+string(rune('0'+part))] = next
		mu.Unlock()
	}}
	ctx := rttest.NewContext("src", 2, 3)
	ctx.Task = task
	src := newSrc()
	if err := src.Open(ctx); err != nil {
		t.Fatal(err)
	}
	d := &driven{srcs: []runtime.Source{src}, ctxs: []*runtime.Context{ctx}}
	defer d.close()
	rows := d.poll(t, 40)
	for _, r := range rows {
		if !strings.HasPrefix(r, "u2,") {
			t.Fatalf("task 2 read %q, a row of another partition", r)
		}
	}
	if _, err := src.(runtime.CheckpointedSource).SnapshotPosition(); err != nil {
		t.Fatal(err)
	}
	if err := src.(runtime.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(offsets) != 1 || offsets["clicks/2"] != 40 {
		t.Errorf("offsets reported = %v, want clicks/2 at 40", offsets)
	}
	mu.Unlock()
	res, err := testClient(t, addr).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: "g", Topics: map[string][]int{"clicks": {0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Topics["clicks"] {
		if p.CommittedOffset >= 0 {
			t.Errorf("partition %d has a commit (%d): the task's owner commits, not the source", p.Partition, p.CommittedOffset)
		}
	}
}

// TestInputOfNeedsNamedTopicsAndAGroup: a table a shared job reads names
// its topics and its group.
func TestInputOfNeedsNamedTopicsAndAGroup(t *testing.T) {
	ok := table("127.0.0.1:9092", map[string]string{"properties.group.id": "g"})
	in, err := InputOf(ok)
	if err != nil || in.GroupID != "g" || len(in.Topics) != 1 || in.Topics[0] != "clicks" {
		t.Fatalf("InputOf = %+v, %v", in, err)
	}
	for opt, tab := range map[string]connectors.Table{
		"properties.group.id": table("127.0.0.1:9092", nil),
		"topic-pattern": {Name: "t", Schema: schema, TimeColumn: 2, Options: map[string]string{"topic-pattern": "cl.*",
			"properties.bootstrap.servers": "127.0.0.1:9092", "properties.group.id": "g"}},
	} {
		if _, err := InputOf(tab); err == nil || !strings.Contains(err.Error(), opt) {
			t.Errorf("InputOf without %s = %v, want an error naming it", opt, err)
		}
	}
}
