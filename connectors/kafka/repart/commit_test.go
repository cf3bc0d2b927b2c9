package repart

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestFailedCommitIsRetriedWhileTheTaskRuns: the COMMIT of a checkpoint
// that counted cannot be written (the broker drops the connection); it is
// written once the broker is back, without waiting for another
// checkpoint.
func TestFailedCommitIsRetriedWhileTheTaskRuns(t *testing.T) {
	defer func(a int, e time.Duration) { commitAttempts, commitRetryEvery = a, e }(commitAttempts, commitRetryEvery)
	commitAttempts, commitRetryEvery = 1, 20*time.Millisecond
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := testConfig(t, c.ListenAddrs()[0], "j-12-repartition", 1)
	var failing atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if failing.Load() {
			return nil, errors.New("broker away"), true
		}
		return nil, nil, false
	})

	ctx := rttest.NewContext("repartition", 0, 1)
	ctx.Task = &runtime.TaskInfo{ID: 0, Count: 1, Attempt: "a"}
	s := NewSink(cfg)()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := rttest.NewBatch(schema, genRow(0, 1))
	if err := s.ProcessBatch(0, b, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.(runtime.BarrierHandler).OnBarrier(runtime.Barrier{ID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.(runtime.Snapshotter).SnapshotState(1); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if err := s.(runtime.CheckpointListener).NotifyCheckpointComplete(1); err == nil {
		t.Fatal("the commit was written while the broker was away")
	}
	failing.Store(false)
	cl, tr := cfg.Client()
	defer tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for !hasCommit(t, cl, cfg.Topic, 1) {
		if time.Now().After(deadline) {
			t.Fatal("the commit of checkpoint 1 was not written within 5 s of the broker's return")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasCommit says whether partition 0 of topic holds the COMMIT of
// checkpoint n.
func hasCommit(t *testing.T, cl *kafka.Client, topic string, n int64) bool {
	t.Helper()
	res, err := cl.Fetch(context.Background(), &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := res.Records.ReadRecord()
		if err != nil {
			return false
		}
		v, _ := io.ReadAll(r.Value)
		if h, _, err := decodeHeader(v); err == nil && h.kind == kCommit && h.label == n {
			return true
		}
	}
}
