package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/kafka"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/sql"
)

// collected keeps the rows of the 'upsert-test-collect' sink, by table.
var collected = struct {
	sync.Mutex
	m map[string]*rttest.Collector
}{m: map[string]*rttest.Collector{}}

// collectSink is a sink connector that keeps an updating result in memory.
type collectSink struct{}

func (collectSink) Name() string                         { return "upsert-test-collect" }
func (collectSink) Options() []connectors.Option         { return nil }
func (collectSink) AcceptsUpdates(connectors.Table) bool { return true }
func (collectSink) NewSink(t connectors.Table) (func() runtime.Operator, int, error) {
	c, newOp := rttest.NewCollector(t.Schema)
	collected.Lock()
	collected.m[t.Name] = c
	collected.Unlock()
	return newOp, 0, nil
}

func init() { connectors.Register(collectSink{}) }

// finalState applies a changelog (+I/+U add a row, -U/-D remove one) and
// returns the rows held, sorted.
func finalState(t *testing.T, c *rttest.Collector) []string {
	t.Helper()
	held := map[string]int{}
	for i, r := range c.Strings() {
		switch c.Kinds()[i] {
		case runtime.Insert, runtime.UpdateAfter:
			held[r]++
		default:
			if held[r] == 0 {
				t.Fatalf("%s retracts a row not held", r)
			}
			held[r]--
		}
	}
	var out []string
	for r, n := range held {
		for range n {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// userRecord is one record of the users topic: a nil city is a tombstone.
type userRecord struct {
	user string
	city *string
}

func city(s string) *string { return &s }

// usersLog is an upsert log of users and their cities: moves, deletes, a
// user deleted and back, a delete of a user never seen.
var usersLog = []userRecord{
	{"ann", city("oslo")}, {"bob", city("rome")}, {"cy", city("oslo")}, {"dee", city("lima")},
	{"ann", city("rome")}, {"bob", nil}, {"eve", city("lima")}, {"dee", nil}, {"zed", nil},
	{"cy", city("rome")}, {"bob", city("oslo")}, {"eve", city("oslo")}, {"fay", city("lima")}, {"fay", nil},
}

// usersFinal is what usersLog leaves: user → city.
func usersFinal() map[string]string {
	m := map[string]string{}
	for _, r := range usersLog {
		if r.city == nil {
			delete(m, r.user)
		} else {
			m[r.user] = *r.city
		}
	}
	return m
}

// startUsers starts a broker with topics "users" and "counts" (2
// partitions each) and writes usersLog to "users", each user's records to
// one partition, keyed by {"user":…}.
func startUsers(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "users", "counts"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	produceUsers(t, addr, usersLog)
	return addr
}

// produceUsers writes records to "users", each user's to one partition.
func produceUsers(t *testing.T, addr string, log []userRecord) {
	t.Helper()
	parts := [2][]kafka.Record{}
	for _, r := range log {
		key, _ := json.Marshal(map[string]string{"user": r.user})
		rec := kafka.Record{Key: kafka.NewBytes(key)}
		if r.city != nil {
			v, _ := json.Marshal(map[string]string{"user": r.user, "city": *r.city})
			rec.Value = kafka.NewBytes(v)
		}
		p := int(r.user[0]) % 2
		parts[p] = append(parts[p], rec)
	}
	tr := &kafka.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
	for p, recs := range parts {
		if len(recs) == 0 {
			continue
		}
		res, err := cl.Produce(context.Background(), &kafka.ProduceRequest{Topic: "users", Partition: p,
			RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...)})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func usersTable(addr, bounded string) string {
	return fmt.Sprintf(`CREATE TABLE users (user VARCHAR, city VARCHAR, PRIMARY KEY (user) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = 'users', 'properties.bootstrap.servers' = '%s',
      'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = '%s');
`, addr, bounded)
}

func runJob(t *testing.T, job string, par int) {
	t.Helper()
	plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: par})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
}

// wantCounts is the users per city that usersLog leaves, as "city,n".
func wantCounts() []string {
	n := map[string]int{}
	for _, c := range usersFinal() {
		n[c]++
	}
	var out []string
	for c, k := range n {
		out = append(out, fmt.Sprintf("%s,%d", c, k))
	}
	slices.Sort(out)
	return out
}

// TestUpsertKafkaSourceFeedsAGroupBy: an upsert-kafka topic (upserts by
// key, tombstones for deletes) read through SQL is a changelog of its
// PRIMARY KEY: a GROUP BY over it ends with the counts of the last row of
// every key not deleted, at parallelism 1 and 2.
func TestUpsertKafkaSourceFeedsAGroupBy(t *testing.T) {
	addr := startUsers(t)
	for _, par := range []int{1, 2} {
		runJob(t, usersTable(addr, "latest-offset")+`CREATE TABLE by_city WITH ('connector' = 'upsert-test-collect');
INSERT INTO by_city SELECT city, COUNT(*) AS n FROM users GROUP BY city;`, par)
		collected.Lock()
		c := collected.m["by_city"]
		collected.Unlock()
		if got, want := finalState(t, c), wantCounts(); !slices.Equal(got, want) {
			t.Errorf("parallelism %d: final state %v, want %v", par, got, want)
		}
	}
}

// readTopic returns the records of every partition of topic, in offset
// order per partition: key and value (nil for a tombstone).
func readTopic(t *testing.T, addr, topic string) [][2][]byte {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: tr}
	var out [][2][]byte
	for p := range 2 {
		// A fetch may stop at a record batch: fetch again after the last
		// record until the partition's end.
		for offset := int64(0); ; {
			res, err := cl.Fetch(context.Background(), &kafka.FetchRequest{Topic: topic, Partition: p, Offset: offset,
				MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
			if err == nil && res.Error != nil {
				err = res.Error
			}
			if err != nil {
				t.Fatal(err)
			}
			for {
				r, err := res.Records.ReadRecord()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				var kv [2][]byte
				kv[0], _ = io.ReadAll(r.Key)
				if r.Value != nil {
					kv[1], _ = io.ReadAll(r.Value)
					if kv[1] == nil {
						kv[1] = []byte{}
					}
				}
				out = append(out, kv)
				offset = r.Offset + 1
			}
			if offset >= res.HighWatermark {
				break
			}
		}
	}
	return out
}

// lastPerKey reads "counts" as a compacted topic would keep it: the last
// record of each city, "city,n", sorted, without the cities whose last
// record is a tombstone; and the number of tombstones.
func lastPerKey(t *testing.T, addr string) ([]string, int) {
	t.Helper()
	recs := readTopic(t, addr, "counts")
	last := map[string][]byte{}
	tombstones := 0
	for _, kv := range recs {
		var key struct{ City string }
		if err := json.Unmarshal(kv[0], &key); err != nil {
			t.Fatalf("key %q: %v", kv[0], err)
		}
		if kv[1] == nil {
			tombstones++
		} else if strings.Contains(string(kv[1]), `"n":0`) {
			t.Fatalf("a count of 0 written: %s", kv[1])
		}
		last[key.City] = kv[1]
	}
	var got []string
	for _, c := range slices.Sorted(maps.Keys(last)) {
		if last[c] == nil {
			continue
		}
		var row struct {
			City string
			N    int
		}
		if err := json.Unmarshal(last[c], &row); err != nil || row.City != c {
			t.Fatalf("value %q under key %s: %v", last[c], c, err)
		}
		got = append(got, fmt.Sprintf("%s,%d", row.City, row.N))
	}
	return got, tombstones
}

// TestUpsertKafkaSinkWritesAGroupByAsUpsertsAndTombstones: a GROUP BY
// written to an upsert-kafka table becomes records keyed by the PRIMARY
// KEY — the row for +I/+U, a tombstone for -D, nothing for -U — so that
// the last record of each key (a compacted topic) is the result. The job
// runs unbounded: the first users are read and written, then the rest
// come, and the city all of whose users left ends with a tombstone.
func TestUpsertKafkaSinkWritesAGroupByAsUpsertsAndTombstones(t *testing.T) {
	for _, par := range []int{1, 2} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "users", "counts"))
		if err != nil {
			t.Fatal(err)
		}
		addr := c.ListenAddrs()[0]
		plan, err := sql.Compile(usersTable(addr, "unbounded")+fmt.Sprintf(`CREATE TABLE counts (city VARCHAR, n BIGINT, PRIMARY KEY (city) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'properties.bootstrap.servers' = '%s',
      'key.format' = 'json', 'value.format' = 'json', 'sink.buffer-flush.interval' = '10 ms');
INSERT INTO counts SELECT city, COUNT(*) AS n FROM users GROUP BY city;`, addr), sql.Options{File: "job.sql", Parallelism: par})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par}) }()
		waitFor := func(what string, ok func(got []string, tombstones int) bool) {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for {
				got, tombstones := lastPerKey(t, addr)
				if ok(got, tombstones) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("parallelism %d: %s: the topic holds %v and %d tombstones", par, what, got, tombstones)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		produceUsers(t, addr, usersLog[:4]) // ann oslo, bob rome, cy oslo, dee lima
		waitFor("the first users", func(got []string, _ int) bool {
			return slices.Equal(got, []string{"lima,1", "oslo,2", "rome,1"})
		})
		produceUsers(t, addr, usersLog[4:])
		want := wantCounts()
		waitFor("all users", func(got []string, tombstones int) bool { return slices.Equal(got, want) && tombstones > 0 })
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		c.Close()
	}
}

// TestUpsertKafkaNeedsAPrimaryKey: a table without a PRIMARY KEY, or whose
// raw key is not one VARCHAR key column, is refused naming why.
func TestUpsertKafkaNeedsAPrimaryKey(t *testing.T) {
	f, _ := connectors.Lookup("upsert-kafka")
	s := runtime.NewSchema(runtime.Field{Name: "user", Type: runtime.Varchar, Nullable: true}, runtime.Field{Name: "n", Type: runtime.BigInt, Nullable: true})
	opts := func(key string) map[string]string {
		return map[string]string{"connector": "upsert-kafka", "topic": "t", "properties.bootstrap.servers": "127.0.0.1:1",
			"key.format": key, "value.format": "json"}
	}
	for _, c := range []struct {
		tab  connectors.Table
		want string
	}{
		{connectors.Table{Name: "T", Schema: s, Options: opts("json"), TimeColumn: -1}, "needs a PRIMARY KEY"},
		{connectors.Table{Name: "T", Schema: s, Options: opts("raw"), TimeColumn: -1, PrimaryKey: []string{"n"}}, `option "key.format": raw keys are one VARCHAR PRIMARY KEY column`},
	} {
		if _, _, err := f.(connectors.Sink).NewSink(c.tab); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("sink: %v, want %s", err, c.want)
		}
		c.tab.Updates = true
		if _, _, err := f.(connectors.Source).NewSource(c.tab); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("source: %v, want %s", err, c.want)
		}
	}
}

// TestUpsertKafkaJobKilledAndRestoredEndsWithTheSameResult: a checkpointed
// job upsert-kafka → GROUP BY → upsert-kafka, killed (cancelled, no
// savepoint) after the first users and restored from its latest
// checkpoint, goes on from its positions and the normalize and GROUP BY
// state: records since that checkpoint are read and written again
// (at-least-once), which upserts by key make harmless — the last record
// per key is the result of the whole log.
func TestUpsertKafkaJobKilledAndRestoredEndsWithTheSameResult(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "users", "counts"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	job := usersTable(addr, "unbounded") + fmt.Sprintf(`CREATE TABLE counts (city VARCHAR, n BIGINT, PRIMARY KEY (city) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'properties.bootstrap.servers' = '%s',
      'key.format' = 'json', 'value.format' = 'json', 'sink.buffer-flush.interval' = '10 ms');
INSERT INTO counts SELECT city, COUNT(*) AS n FROM users GROUP BY city;`, addr)
	dir := t.TempDir()
	start := func(restore *runtime.Checkpoint) (stop func()) {
		plan, err := sql.Compile(job, sql.Options{File: "job.sql", Parallelism: 2})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2,
				Checkpoints: &runtime.CheckpointOptions{Dir: dir, Interval: 20 * time.Millisecond, Restore: restore}})
		}()
		return func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
	}
	waitFor := func(what string, ok func(got []string, tombstones int) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, tombstones := lastPerKey(t, addr)
			if ok(got, tombstones) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the topic holds %v and %d tombstones", what, got, tombstones)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stop := start(nil)
	produceUsers(t, addr, usersLog[:6])
	// ann rome, bob deleted, cy oslo, dee lima.
	waitFor("the first users", func(got []string, _ int) bool {
		return slices.Equal(got, []string{"lima,1", "oslo,1", "rome,1"})
	})
	time.Sleep(100 * time.Millisecond) // a checkpoint after them
	stop()
	cp, _, err := runtime.LatestCheckpoint(dir)
	if err != nil || cp == nil {
		t.Fatalf("no checkpoint to restore: %v", err)
	}
	produceUsers(t, addr, usersLog[6:])
	stop = start(cp)
	defer stop()
	want := wantCounts()
	waitFor("all users after the restore", func(got []string, tombstones int) bool { return slices.Equal(got, want) && tombstones > 0 })
}
