package kafka

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// readBack returns the records of a partition as "key|value" strings.
func readBack(t *testing.T, addr, topic string, part int) []string {
	t.Helper()
	res, err := testClient(t, addr).Fetch(context.Background(), &kafka.FetchRequest{Topic: topic, Partition: part, Offset: 0,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		r, err := res.Records.ReadRecord()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		k, _ := io.ReadAll(orEmpty(r.Key))
		v, _ := io.ReadAll(orEmpty(r.Value))
		out = append(out, string(k)+"|"+string(v))
	}
}

func orEmpty(b kafka.Bytes) io.Reader {
	if b == nil {
		return &io.LimitedReader{}
	}
	return b
}

func openSink(t *testing.T, addr string, opts map[string]string, subtask, par int) *sink {
	t.Helper()
	newSink, _, err := factory{}.NewSink(table(addr, opts))
	if err != nil {
		t.Fatal(err)
	}
	s := newSink().(*sink)
	if err := s.Open(rttest.NewContext("sink", subtask, par)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sinkRows(n int) *runtime.Batch {
	var rows [][]runtime.Value
	for i := range n {
		rows = append(rows, []runtime.Value{runtime.StringValue(fmt.Sprint("k", i%5)), runtime.IntValue(int64(i)), runtime.TimeValue(base + int64(i))})
	}
	return rttest.NewBatch(schema, rows...)
}

// TestSinkKeysAndPartitions: records carry the key columns as a JSON
// object and go to the partition the murmur2 hash of the key picks; rows
// become visible at the barrier, not before (the buffer is not full and
// its interval has not passed), and read back as they were written.
func TestSinkKeysAndPartitions(t *testing.T) {
	addr := startCluster(t, 3)
	s := openSink(t, addr, map[string]string{"key.fields": "user", "sink.buffer-flush.interval": "1 h"}, 0, 1)
	b := sinkRows(50)
	if err := s.ProcessBatch(0, b, nil); err != nil {
		t.Fatal(err)
	}
	for p := range 3 {
		if got := readBack(t, addr, "clicks", p); len(got) != 0 {
			t.Fatalf("partition %d holds %d records before the barrier", p, len(got))
		}
	}
	if err := s.OnBarrier(runtime.Barrier{ID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	want := make([][]string, 3)
	for i := range 50 {
		key := fmt.Sprintf(`{"user":"k%d"}`, i%5)
		p := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte(key)}, 0, 1, 2)
		want[p] = append(want[p], key+"|"+fmt.Sprintf(`{"user":"k%d","n":%d,"ts":"%s"}`, i%5, i, time.UnixMilli(base+int64(i)).UTC().Format("2006-01-02T15:04:05.000Z")))
	}
	for p := range 3 {
		if got := readBack(t, addr, "clicks", p); !slices.Equal(got, want[p]) {
			t.Fatalf("partition %d:\n got %v\nwant %v", p, got, want[p])
		}
	}
}

// TestSinkPartitioners: fixed writes subtask i's rows to partition i mod
// n; round-robin spreads them evenly; raw writes the text of the column,
// raw keys the text of the key column; the buffer is written when it
// holds max-rows rows and at Finish.
func TestSinkPartitioners(t *testing.T) {
	addr := startCluster(t, 3)
	s := openSink(t, addr, map[string]string{"sink.partitioner": "fixed", "format": "csv"}, 4, 5)
	if err := s.ProcessBatch(0, sinkRows(10), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, addr, "clicks", 1); len(got) != 10 || got[3] != "|k3,3,2026-09-21T14:13:20.003Z" {
		t.Fatalf("fixed: partition 1 holds %v", got)
	}

	addr = startCluster(t, 3)
	s = openSink(t, addr, map[string]string{"sink.partitioner": "round-robin", "sink.buffer-flush.max-rows": "9",
		"sink.buffer-flush.interval": "1 h", "key.fields": "n", "key.format": "raw"}, 0, 1)
	if err := s.ProcessBatch(0, sinkRows(10), nil); err != nil {
		t.Fatal(err)
	}
	// 9 rows were written when the buffer filled; the 10th waits.
	for p := range 3 {
		got := readBack(t, addr, "clicks", p)
		if len(got) != 3 {
			t.Fatalf("round-robin: partition %d holds %d records, want 3", p, len(got))
		}
		if k := got[0][:1]; k != fmt.Sprint(p) {
			t.Fatalf("round-robin: partition %d starts with key %q", p, k)
		}
	}
}

// TestSinkWriteFailure: a write the broker refuses fails the job, naming
// the broker, topic and partition.
func TestSinkWriteFailure(t *testing.T) {
	c, addr := startClusterC(t, 1)
	s := openSink(t, addr, nil, 0, 1)
	c.ControlKey(0, func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.(*kmsg.ProduceRequest).ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	if err := s.ProcessBatch(0, sinkRows(3), nil); err != nil {
		t.Fatal(err)
	}
	err := s.OnBarrier(runtime.Barrier{ID: 1}, nil)
	if err == nil || !strings.Contains(err.Error(), `table t: kafka topic "clicks" partition 0 on broker 127.0.0.1:`) || !strings.Contains(err.Error(), "Authorization") {
		t.Fatalf("err = %v", err)
	}
}

// TestTopicPattern reads every topic whose name matches the pattern.
func TestTopicPattern(t *testing.T) {
	addr := startCluster(t, 2, kfake.SeedTopics(1, "clicks-eu"), kfake.SeedTopics(1, "other"))
	want := fill(t, addr, 2, 20)
	produce(t, addr, "clicks-eu", 0, [][]byte{click("eu", 1, 1)}, nil)
	produce(t, addr, "other", 0, [][]byte{click("no", 1, 1)}, nil)
	want = append(want, clickRow("eu", 1, 1))
	slices.Sort(want)
	tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset"})
	delete(tab.Options, "topic")
	tab.Options["topic-pattern"] = "clicks.*"
	for _, par := range []int{1, 3} {
		d := openSources(t, tab, par, nil)
		if got := d.poll(t, -1); !slices.Equal(got, want) {
			t.Fatalf("parallelism %d: read %v\nwant %v", par, got, want)
		}
		d.close()
	}
}
