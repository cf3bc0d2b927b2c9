package kafka

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/file"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// TestBoundedEarliest reads every partition from its start to the end
// offsets seen when the source opened, at several parallelisms.
func TestBoundedEarliest(t *testing.T) {
	addr := startCluster(t, 3)
	want := fill(t, addr, 3, 200)
	for _, par := range []int{1, 2, 4} {
		d := openSources(t, table(addr, map[string]string{"scan.bounded.mode": "latest-offset"}), par, nil)
		if got := d.poll(t, -1); !slices.Equal(got, want) {
			t.Fatalf("parallelism %d: read %d rows, want %d", par, len(got), len(want))
		}
		d.close()
	}
}

// TestWindowedJob runs a SQL job counting clicks per user in 10-second
// tumbling windows over a 3-partition topic whose partitions are each in
// event-time order but far apart from one another (partition 2 is minutes
// ahead of partition 0): with one watermark per partition no row is late,
// and every window count is exact.
func TestWindowedJob(t *testing.T) {
	addr := startCluster(t, 3)
	// Each partition spans 300 s of event time, 120 s after the one
	// before, in more records than one hand-over holds, so that hand-overs
	// of the partitions interleave.
	const per = 3 * 2048
	want := map[string]int{} // user|window start → count
	for p := range 3 {
		var vals [][]byte
		for i := range per {
			ms := int64(p)*120_000 + int64(i)*50
			u := fmt.Sprint("u", i%3)
			vals = append(vals, click(u, i, ms))
			want[fmt.Sprintf("%s|%d", u, (base+ms)/10_000*10_000)]++
		}
		produce(t, addr, "clicks", p, vals[:per/2], nil)
		produce(t, addr, "clicks", p, vals[per/2:], nil)
	}
	dir := t.TempDir()
	job := fmt.Sprintf(`
CREATE TABLE clicks (user VARCHAR, n BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '%s',
        'scan.bounded.mode' = 'latest-offset', 'scan.watermark.idle-timeout' = '5 s');
CREATE TABLE counts (user VARCHAR, w TIMESTAMP(3), c BIGINT) WITH ('connector' = 'file', 'path' = '%s/out.json');
INSERT INTO counts SELECT user, TUMBLE_START(ts, INTERVAL '10' SECOND) AS w, COUNT(*) AS c
  FROM clicks GROUP BY user, TUMBLE(ts, INTERVAL '10' SECOND);
`, addr, dir)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Metrics: set}); err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "out.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			User string
			W    string
			C    int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		w, err := time.Parse(time.RFC3339Nano, r.W)
		if err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s|%d", r.User, w.UnixMilli())] += r.C
	}
	if !maps.Equal(got, want) {
		t.Fatalf("window counts differ: got %d windows, want %d\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	var prom bytes.Buffer
	set.WritePrometheus(&prom)
	for _, line := range strings.Split(prom.String(), "\n") {
		if strings.HasPrefix(line, "sluice_operator_late_rows_dropped_total{") && !strings.HasSuffix(line, " 0") {
			t.Fatalf("rows dropped as late: %s", line)
		}
	}
}

// TestStartupModes: where each startup mode starts, and where the bounded
// modes end.
func TestStartupModes(t *testing.T) {
	addr := startCluster(t, 2)
	t0 := time.UnixMilli(base)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	var all []string
	for p := range 2 {
		vals := make([][]byte, 10)
		for i := range vals {
			vals[i] = click(fmt.Sprint("u", p), p*1000+i, int64(i))
			all = append(all, clickRow(fmt.Sprint("u", p), p*1000+i, int64(i)))
		}
		produce(t, addr, "clicks", p, vals, at)
	}
	rows := func(p int, from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, clickRow(fmt.Sprint("u", p), p*1000+i, int64(i)))
		}
		return out
	}
	f := func(name string, opts map[string]string, want []string) {
		t.Helper()
		opts["scan.bounded.mode"] = cmp.Or(opts["scan.bounded.mode"], "latest-offset")
		d := openSources(t, table(addr, opts), 2, nil)
		got := d.poll(t, -1)
		d.close()
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: read %v\nwant %v", name, got, want)
		}
	}
	f("earliest", map[string]string{"scan.startup.mode": "earliest-offset"}, slices.Clone(all))
	f("default", map[string]string{}, slices.Clone(all))
	f("latest", map[string]string{"scan.startup.mode": "latest-offset"}, nil)
	f("timestamp", map[string]string{"scan.startup.mode": "timestamp",
		"scan.startup.timestamp-millis": fmt.Sprint(at(6).UnixMilli())}, append(rows(0, 6, 10), rows(1, 6, 10)...))
	f("timestamp after all", map[string]string{"scan.startup.mode": "timestamp",
		"scan.startup.timestamp-millis": fmt.Sprint(at(60).UnixMilli())}, nil)
	f("specific", map[string]string{"scan.startup.mode": "specific-offsets",
		"scan.startup.specific-offsets": "partition:0,offset:7;partition:1,offset:2"}, append(rows(0, 7, 10), rows(1, 2, 10)...))
	f("bounded timestamp", map[string]string{"scan.bounded.mode": "timestamp",
		"scan.bounded.timestamp-millis": fmt.Sprint(at(4).UnixMilli())}, append(rows(0, 0, 4), rows(1, 0, 4)...))
	f("timestamp to timestamp", map[string]string{"scan.startup.mode": "timestamp", "scan.startup.timestamp-millis": fmt.Sprint(at(2).UnixMilli()),
		"scan.bounded.mode": "timestamp", "scan.bounded.timestamp-millis": fmt.Sprint(at(5).UnixMilli())}, append(rows(0, 2, 5), rows(1, 2, 5)...))

	// group-offsets: nothing committed yet, the default reset is earliest;
	// after a commit (of a checkpoint of a source with the group), the
	// group's offsets.
	f("group, none committed", map[string]string{"properties.group.id": "g"}, slices.Clone(all))
	f("group, none committed, latest", map[string]string{"properties.group.id": "g", "properties.auto.offset.reset": "latest"}, nil)
	d := openSources(t, table(addr, map[string]string{"properties.group.id": "g", "scan.startup.mode": "specific-offsets",
		"scan.startup.specific-offsets": "partition:0,offset:3;partition:1,offset:8", "scan.bounded.mode": "latest-offset"}), 1, nil)
	d.poll(t, -1)
	d.snapshot(t)
	if err := d.srcs[0].(runtime.CheckpointListener).NotifyCheckpointComplete(1); err != nil {
		t.Fatal(err)
	}
	d.close()
	f("group after commit", map[string]string{"properties.group.id": "g"}, nil)
	produce(t, addr, "clicks", 1, [][]byte{click("u1", 1010, 10)}, nil)
	f("group after commit and a new record", map[string]string{"properties.group.id": "g"}, []string{clickRow("u1", 1010, 10)})
}

// TestPositions: positions taken part-way through, restored into a
// source of another parallelism, give every record exactly once; the
// group commit of a completed checkpoint is visible at the broker.
func TestPositions(t *testing.T) {
	addr := startCluster(t, 3)
	want := fill(t, addr, 3, 500)
	tab := table(addr, map[string]string{"scan.bounded.mode": "latest-offset", "properties.group.id": "lag"})
	for _, pars := range [][2]int{{2, 3}, {3, 1}, {1, 2}} {
		d := openSources(t, tab, pars[0], nil)
		first := d.poll(t, 400)
		pos := d.snapshot(t)
		d.close()
		// Rows polled after the snapshot are not covered by it: a
		// restored source reads them again. Here nothing is polled after.
		d2 := openSources(t, tab, pars[1], pos)
		rest := d2.poll(t, -1)
		d2.close()
		got := append(first, rest...)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%d → %d subtasks: %d rows (%d + %d), want each of %d once", pars[0], pars[1], len(got), len(first), len(rest), len(want))
		}
	}

	// The commit of a completed checkpoint reaches the group.
	d := openSources(t, tab, 2, nil)
	n := len(d.poll(t, 700))
	d.snapshot(t)
	for _, s := range d.srcs {
		if err := s.(runtime.CheckpointListener).NotifyCheckpointComplete(7); err != nil {
			t.Fatal(err)
		}
	}
	res, err := testClient(t, addr).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: "lag", Topics: map[string][]int{"clicks": {0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range res.Topics["clicks"] {
		if p.Error != nil || p.CommittedOffset < 0 {
			t.Fatalf("partition %d: committed %d, %v", p.Partition, p.CommittedOffset, p.Error)
		}
		sum += p.CommittedOffset
	}
	if sum != int64(n) {
		t.Fatalf("committed offsets add up to %d, the source emitted %d rows", sum, n)
	}
}

// TestNewPartitions: partitions added to the topic while the job runs are
// found at the next discovery and read from their start.
func TestNewPartitions(t *testing.T) {
	addr := startCluster(t, 1)
	fill(t, addr, 1, 5)
	d := openSources(t, table(addr, map[string]string{"scan.topic-partition-discovery.interval": "100 ms"}), 2, nil)
	if got := d.poll(t, 5); len(got) != 5 {
		t.Fatalf("read %d rows", len(got))
	}
	res, err := testClient(t, addr).CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: "clicks", Count: 3}}})
	if err == nil {
		err = errors.Join(slices.Collect(maps.Values(res.Errors))...)
	}
	if err != nil {
		t.Fatalf("cannot add partitions: %v", err)
	}
	produce(t, addr, "clicks", 1, [][]byte{click("new", 1, 1)}, nil)
	produce(t, addr, "clicks", 2, [][]byte{click("new", 2, 2)}, nil)
	got := d.poll(t, 2)
	if want := []string{clickRow("new", 1, 1), clickRow("new", 2, 2)}; !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	var started []int
	for _, s := range d.srcs {
		st, _ := s.(runtime.DynamicPartitions).PartitionChanges()
		started = append(started, st...)
	}
	slices.Sort(started)
	if !slices.Equal(started, []int{1, 2}) {
		t.Fatalf("partitions started %v, want [1 2]", started)
	}
}

// TestCopyJobWithCheckpoints copies a topic to another with SQL, taking
// checkpoints: every row arrives (at least once; here, with no failure,
// exactly once), and the checkpoint recording the end of the job commits
// the end offsets to the source's group.
func TestCopyJobWithCheckpoints(t *testing.T) {
	addr := startCluster(t, 3, kfake.SeedTopics(2, "copy"))
	want := fill(t, addr, 3, 300)
	job := fmt.Sprintf(`
CREATE TABLE clicks (user VARCHAR, n BIGINT, ts TIMESTAMP(3))
  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '%[1]s',
        'properties.group.id' = 'copier', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE copy (user VARCHAR, n BIGINT, ts TIMESTAMP(3))
  WITH ('connector' = 'kafka', 'topic' = 'copy', 'properties.bootstrap.servers' = '%[1]s', 'key.fields' = 'user');
INSERT INTO copy SELECT user, n, ts FROM clicks;
`, addr)
	plan, err := sql.Compile(job, sql.Options{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp := &runtime.CheckpointOptions{Dir: t.TempDir(), Interval: 5 * time.Millisecond}
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Checkpoints: cp}); err != nil {
		t.Fatal(err)
	}
	if err := plan.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := openSources(t, connectors.Table{Name: "copy", Schema: schema, TimeColumn: 2, Options: map[string]string{
		"topic": "copy", "properties.bootstrap.servers": addr, "scan.bounded.mode": "latest-offset"}}, 1, nil)
	if got := d.poll(t, -1); !slices.Equal(got, want) {
		t.Fatalf("copied %d rows, want %d", len(got), len(want))
	}
	res, err := testClient(t, addr).OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: "copier", Topics: map[string][]int{"clicks": {0, 1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Topics["clicks"] {
		if p.CommittedOffset != 300 {
			t.Fatalf("partition %d: committed offset %d, want 300", p.Partition, p.CommittedOffset)
		}
	}
}
