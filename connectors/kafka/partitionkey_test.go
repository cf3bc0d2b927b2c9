package kafka

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestSourceKeyFieldsIsThePartitionKey: 'key.fields' on a source names
// the partition key (as the schema spells the columns, in the option's
// order), none without it; a column that is not the table's is an error
// naming the option, when the source is built as when the key is asked.
func TestSourceKeyFieldsIsThePartitionKey(t *testing.T) {
	for _, c := range []struct {
		fields string
		want   []string
	}{{"", nil}, {"user", []string{"user"}}, {"N, User", []string{"n", "user"}}} {
		opts := map[string]string{"connector": "kafka"}
		if c.fields != "" {
			opts["key.fields"] = c.fields
		}
		tab := table("127.0.0.1:9092", opts)
		got, err := connectors.PartitionKey(tab)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("key.fields %q: partition key %v, %v; want %v", c.fields, got, err, c.want)
		}
		if _, _, err := (factory{}).NewSource(tab); err != nil {
			t.Errorf("key.fields %q: the source does not build: %v", c.fields, err)
		}
	}
	tab := table("127.0.0.1:9092", map[string]string{"connector": "kafka", "key.fields": "user, nope"})
	const want = `table t: option "key.fields": "nope" is not a column of table t`
	if _, err := connectors.PartitionKey(tab); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("PartitionKey: err = %v, want %q", err, want)
	}
	if _, _, err := (factory{}).NewSource(tab); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewSource: err = %v, want %q", err, want)
	}
}

// TestUpsertKafkaPartitionKeyIsThePrimaryKey: an upsert-kafka topic is
// keyed, and partitioned, by its PRIMARY KEY.
func TestUpsertKafkaPartitionKeyIsThePrimaryKey(t *testing.T) {
	tab := connectors.Table{Name: "u", Schema: schema, TimeColumn: -1, PrimaryKey: []string{"USER"}, Options: map[string]string{
		"connector": "upsert-kafka", "topic": "users", "properties.bootstrap.servers": "127.0.0.1:9092", "key.format": "json", "value.format": "json"}}
	if got, err := connectors.PartitionKey(tab); err != nil || !slices.Equal(got, []string{"user"}) {
		t.Fatalf("partition key %v, %v; want [user]", got, err)
	}
	tab.PrimaryKey = nil
	if _, err := connectors.PartitionKey(tab); err == nil || !strings.Contains(err.Error(), "needs a PRIMARY KEY") {
		t.Fatalf("without a PRIMARY KEY: err = %v", err)
	}
}

// TestSourceWithKeyFieldsReadsWhatASinkKeyedAlikeWrote: a sink with
// 'key.fields' = 'user' puts all rows of a user in one partition; a source
// declaring the same 'key.fields' reads them back unchanged (it decodes
// the values, which hold every column), each user's rows from one
// partition — what its partition key promises the planner.
func TestSourceWithKeyFieldsReadsWhatASinkKeyedAlikeWrote(t *testing.T) {
	addr := startCluster(t, 3)
	s := openSink(t, addr, map[string]string{"key.fields": "user"}, 0, 1)
	rows := sinkRows(60)
	if err := s.ProcessBatch(0, rows, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(nil); err != nil {
		t.Fatal(err)
	}
	d := openSources(t, table(addr, map[string]string{"key.fields": "user", "scan.bounded.mode": "latest-offset"}), 3, nil)
	var all []string
	partOf := map[string]int{} // user → the subtask (partition) that read it
	for i := range d.srcs {
		one := &driven{srcs: d.srcs[i : i+1], ctxs: d.ctxs[i : i+1]}
		got := one.poll(t, -1)
		for _, r := range got {
			user, _, _ := strings.Cut(r, ",")
			if p, ok := partOf[user]; ok && p != i {
				t.Fatalf("user %s read from partitions %d and %d", user, p, i)
			}
			partOf[user] = i
		}
		all = append(all, got...)
	}
	want := rttest.Strings(rows)
	slices.Sort(want)
	slices.Sort(all)
	if !slices.Equal(all, want) {
		t.Fatalf("read\n%v\nwant\n%v", all, want)
	}
	if len(partOf) != 5 {
		t.Fatalf("read %d users, want 5", len(partOf))
	}
}
