package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// pollChanges polls every subtask until all have ended and returns the
// rows with their kinds, in the order each subtask gave them.
func (d *driven) pollChanges(t *testing.T) []string {
	t.Helper()
	var out []string
	ended := make([]bool, len(d.srcs))
	deadline := time.Now().Add(20 * time.Second)
	for slices.Contains(ended, false) {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d rows before the deadline", len(out))
		}
		for i, s := range d.srcs {
			if ended[i] {
				continue
			}
			b, _, err := s.Poll(context.Background())
			if errors.Is(err, io.EOF) {
				ended[i] = true
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				continue
			}
			rows := rttest.Strings(b)
			for j, r := range rows {
				out = append(out, b.Kind(b.Row(j)).String()+r)
			}
		}
	}
	return out
}

// produceRecords writes values to partition 0 of "clicks"; a nil value is
// a record without one (a tombstone).
func produceRecords(t *testing.T, addr string, values ...[]byte) {
	t.Helper()
	recs := make([]kafka.Record, len(values))
	for i, v := range values {
		if v != nil {
			recs[i].Value = kafka.NewBytes(v)
		}
	}
	res, err := testClient(t, addr).Produce(context.Background(), &kafka.ProduceRequest{Topic: "clicks", Partition: 0,
		RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(recs...)})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		t.Fatal(err)
	}
}

func changelogTable(addr string, opts map[string]string) connectors.Table {
	o := map[string]string{"scan.bounded.mode": "latest-offset"}
	for k, v := range opts {
		o[k] = v
	}
	tab := table(addr, o)
	tab.Updates = true
	return tab
}

// readErrors returns the errors.path lines by offset.
func readErrors(t *testing.T, path string) map[int64]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var e struct {
			Topic     string
			Partition int
			Offset    int64
			Error     string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Topic != "clicks" || e.Partition != 0 {
			t.Fatalf("errors.path line %s (%v)", l, err)
		}
		out[e.Offset] = e.Error
	}
	return out
}

// TestKafkaChangelogJSON reads changelog-json records: kinds and rows in
// order, bad records to errors.path with their offsets.
func TestKafkaChangelogJSON(t *testing.T) {
	addr := startCluster(t, 1)
	produceRecords(t, addr,
		[]byte(`{"op":"+I","row":{"user":"a","n":1,"ts":1790000000001}}`),
		[]byte(`{"op":"-U","row":{"user":"a","n":1,"ts":1790000000001}}`),
		[]byte(`{"op":"+U","row":{"user":"a","n":2,"ts":1790000000002}}`),
		[]byte(`{"op":"-X","row":{"user":"a","n":2,"ts":1790000000002}}`),
		nil,
		[]byte(`{"op":"-D","row":{"user":"a","n":2,"ts":1790000000002}}`),
	)
	path := filepath.Join(t.TempDir(), "errors.jsonl")
	d := openSources(t, changelogTable(addr, map[string]string{"format": "changelog-json", "errors.path": path}), 1, nil)
	got := d.pollChanges(t)
	want := []string{"+I" + clickRow("a", 1, 1), "-U" + clickRow("a", 1, 1), "+U" + clickRow("a", 2, 2), "-D" + clickRow("a", 2, 2)}
	if !slices.Equal(got, want) {
		t.Fatalf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d.close()
	errs := readErrors(t, path)
	if len(errs) != 2 || !strings.Contains(errs[3], `at offset 6: bad "op" "-X"`) || !strings.Contains(errs[4], "the record has no value") {
		t.Fatalf("errors.path by offset %v", errs)
	}
}

// TestKafkaDebeziumJSON reads Debezium events with the schema envelope:
// an update as -U then +U, a delete as -D, tombstones skipped, and an
// update without its before image to errors.path.
func TestKafkaDebeziumJSON(t *testing.T) {
	addr := startCluster(t, 1)
	ev := func(before, after, op string) []byte {
		return []byte(`{"schema":{"type":"struct","optional":false},"payload":{"before":` + before + `,"after":` + after +
			`,"source":{"connector":"mysql","db":"shop","table":"clicks"},"op":"` + op + `","ts_ms":1790000000000}}`)
	}
	a1 := `{"user":"a","n":1,"ts":1790000000001}`
	a2 := `{"user":"a","n":2,"ts":1790000000002}`
	produceRecords(t, addr,
		ev("null", a1, "r"),
		ev(a1, a2, "u"),
		ev("null", a2, "u"),
		ev(a2, "null", "d"),
		nil,
		[]byte(`{"before":null,"after":`+a1+`,"op":"c"}`),
	)
	path := filepath.Join(t.TempDir(), "errors.jsonl")
	d := openSources(t, changelogTable(addr, map[string]string{"format": "debezium-json",
		"debezium-json.schema-include": "true", "errors.path": path}), 1, nil)
	got := d.pollChanges(t)
	want := []string{"+I" + clickRow("a", 1, 1), "-U" + clickRow("a", 1, 1), "+U" + clickRow("a", 2, 2), "-D" + clickRow("a", 2, 2)}
	if !slices.Equal(got, want) {
		t.Fatalf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d.close()
	errs := readErrors(t, path)
	if len(errs) != 2 || !strings.Contains(errs[2], `an update event without "before"`) ||
		!strings.Contains(errs[5], `want "payload" to be a JSON object ('debezium-json.schema-include' is true)`) {
		t.Fatalf("errors.path by offset %v", errs)
	}

	// With 'debezium-json.ignore-parse-errors' the bad events are skipped
	// without a report.
	path2 := filepath.Join(t.TempDir(), "errors.jsonl")
	d = openSources(t, changelogTable(addr, map[string]string{"format": "debezium-json", "debezium-json.schema-include": "true",
		"debezium-json.ignore-parse-errors": "true", "errors.path": path2}), 1, nil)
	if got := d.pollChanges(t); !slices.Equal(got, want) {
		t.Fatalf("read\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d.close()
	if _, err := os.Stat(path2); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("errors.path written with ignore-parse-errors: %v", err)
	}
}

func TestKafkaChangelogOptions(t *testing.T) {
	addr := "127.0.0.1:1"
	for _, tc := range []struct {
		opts map[string]string
		sink bool
		want string
	}{
		{map[string]string{"format": "changelog-json"}, true, `changelog-json can only be read`},
		{map[string]string{"format": "debezium-json"}, true, `debezium-json can only be read`},
		{map[string]string{"debezium-json.schema-include": "true"}, false, `debezium-json.schema-include`},
		// The README quotes this message.
		{map[string]string{"format": "jsn"}, false, `option "format": "jsn" is not one of json, csv, raw, changelog-json, debezium-json (did you mean "json"?)`},
	} {
		var err error
		if tc.sink {
			_, _, err = factory{}.NewSink(table(addr, tc.opts))
		} else {
			_, _, err = factory{}.NewSource(table(addr, tc.opts))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	// A reader that does not take updating streams cannot build the source.
	_, _, err := factory{}.NewSource(table(addr, map[string]string{"format": "debezium-json"}))
	if err == nil || !strings.Contains(err.Error(), `option "format": debezium-json is an updating stream`) {
		t.Errorf("got %v, want the updating-stream refusal", err)
	}
	if !connectors.ProducesUpdates(table(addr, map[string]string{"connector": "kafka", "format": "changelog-json"})) ||
		connectors.ProducesUpdates(table(addr, map[string]string{"connector": "kafka", "format": "json"})) {
		t.Error("ProducesUpdates does not follow the format")
	}
}
